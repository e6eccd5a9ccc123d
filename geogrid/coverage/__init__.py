"""Coverage and blind spots: where the bank does not reach, and what it is worth.

Load once, compute everything, write what is needed::

    from geogrid.coverage import CoverageParameters, coverage_report, load_inputs

    inputs = load_inputs(engine)                      # or grid_ids=[...], branch="B03"
    report = coverage_report(inputs, CoverageParameters(days=90))
    report.blind_spots.head(10)                       # GeoDataFrames, WGS84
    write_layers(report.layers(["blind_spots"]), Path("blind.xlsx"), report.parameters)
"""

from geogrid.coverage.hexes import cell_area_km2, cells_for_points
from geogrid.coverage.hotspots import contiguity_neighbours, local_gi_star
from geogrid.coverage.inputs import CoverageInputs, load_inputs
from geogrid.coverage.output import write_layers
from geogrid.coverage.params import CoverageParameters
from geogrid.coverage.rank import opportunity
from geogrid.coverage.report import LAYERS, CoverageReport, coverage_report

__all__ = [
    "LAYERS",
    "CoverageInputs",
    "CoverageParameters",
    "CoverageReport",
    "cell_area_km2",
    "cells_for_points",
    "contiguity_neighbours",
    "coverage_report",
    "load_inputs",
    "local_gi_star",
    "opportunity",
    "write_layers",
]
