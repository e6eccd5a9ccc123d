"""Boundary files of the demo county, in the formats users bring to geogrid."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import pyogrio

from geogrid.demo.county import DemoCounty

logger = logging.getLogger(__name__)


def write_boundaries(county: DemoCounty, folder: Path) -> list[Path]:
    """Write the boundaries in the formats users bring to geogrid.

    Parameters
    ----------
    county
        A generated county.
    folder
        Where to write; created when missing. A file that already holds the
        same features is left untouched (its bytes and date); others are
        replaced.

    Returns
    -------
    list of Path
        ``demo_county.geojson`` (FeatureCollection, WGS84),
        ``demo_towns.shp`` (attributes in GBK, with a ``.cpg``; the column
        ``parent_code`` is shortened to ``parent`` by the 10-character limit),
        ``demo_villages.gpkg`` and ``demo_villages_gcj02.geojson`` (villages
        shifted to GCJ-02 as Chinese web maps publish them).
    """
    from geogrid.crs import convert_gdf

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [
        folder / "demo_county.geojson",
        folder / "demo_towns.shp",
        folder / "demo_villages.gpkg",
        folder / "demo_villages_gcj02.geojson",
    ]
    # written aside first: a file whose content is already there stays as it
    # was (Shapefile and GeoPackage stamp the date they were written, which
    # would show a tracked copy as changed after every demo build)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".demo-") as scratch:
        fresh = [Path(scratch) / path.name for path in paths]
        pyogrio.write_dataframe(county.county, fresh[0], driver="GeoJSON")
        towns = county.towns.rename(columns={"parent_code": "parent"})
        pyogrio.write_dataframe(towns, fresh[1], encoding="GBK")
        pyogrio.write_dataframe(county.villages, fresh[2], layer="villages")
        gcj02 = convert_gdf(county.villages, "wgs84", "gcj02")
        pyogrio.write_dataframe(gcj02, fresh[3], driver="GeoJSON")

        unchanged = 0
        for new, old in zip(fresh, paths, strict=True):
            if _same_dataset(new, old):
                unchanged += 1
                continue
            _remove_dataset(old)
            for part in _dataset_files(new):
                shutil.move(part, folder / part.name)

    logger.info(
        "Wrote %d boundary files to %s (%d already held the same features and "
        "were left as they were)",
        len(paths),
        folder,
        unchanged,
    )
    return paths


def _dataset_files(path: Path) -> list[Path]:
    """The files of one dataset: a Shapefile's sidecars, or the file alone."""
    suffixes = (".shp", ".shx", ".dbf", ".prj", ".cpg") if path.suffix == ".shp" else ()
    return [path.with_suffix(s) for s in suffixes or (path.suffix,)]


def _remove_dataset(path: Path) -> None:
    for part in _dataset_files(path):
        part.unlink(missing_ok=True)


def _same_dataset(new: Path, old: Path) -> bool:
    """Whether ``old`` exists and holds exactly the features of ``new``."""
    if not all(part.exists() for part in _dataset_files(old)):
        return False
    try:
        a = pyogrio.read_dataframe(new)
        b = pyogrio.read_dataframe(old)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError):
        return False
    if list(a.columns) != list(b.columns) or len(a) != len(b) or a.crs != b.crs:
        return False
    attributes = a.drop(columns="geometry").equals(b.drop(columns="geometry"))
    return bool(attributes and a.geometry.geom_equals_exact(b.geometry, 0).all())
