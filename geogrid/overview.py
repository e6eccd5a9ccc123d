"""What the overview map shows: boundaries, grids with workload, household density."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
from sqlalchemy import Engine, text

from geogrid.errors import NotFound
from geogrid.export import read_layer

# about 200 m cells: fine enough for a county heatmap, a few thousand points
HEAT_CELL_DEG = 0.002


@dataclass
class Overview:
    """Layers of the county overview, all in WGS84."""

    county: gpd.GeoDataFrame
    towns: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    heat: pd.DataFrame

    @property
    def center(self) -> tuple[float, float]:
        """(lat, lon) of the county's centre."""
        west, south, east, north = self.county.total_bounds
        return ((south + north) / 2, (west + east) / 2)


def grids_with_workload(engine: Engine) -> gpd.GeoDataFrame:
    """Second-level grids with household counts and ratio to their branch mean."""
    sql = text(
        """
        SELECT g.code, g.name, b.code AS branch, g.geom,
               count(h.id) AS households
        FROM grid g
        JOIN branch b ON b.id = g.branch_id
        LEFT JOIN household h ON h.grid_id = g.id
        WHERE g.level = 2
        GROUP BY g.id, b.code
        ORDER BY g.code
        """
    )
    with engine.connect() as conn:
        gdf = gpd.read_postgis(sql, conn, geom_col="geom")
    gdf = gdf.rename_geometry("geometry")
    mean = gdf.groupby("branch")["households"].transform("mean")
    gdf["ratio"] = (gdf["households"] / mean.where(mean > 0)).fillna(0.0)
    return gdf


def household_density(engine: Engine, cell_deg: float = HEAT_CELL_DEG) -> pd.DataFrame:
    """Household counts on a regular lon/lat lattice: columns lon, lat, households."""
    sql = text(
        """
        SELECT ST_X(c) AS lon, ST_Y(c) AS lat, n AS households
        FROM (SELECT ST_SnapToGrid(geom, :cell) AS c, count(*) AS n
              FROM household WHERE geom IS NOT NULL GROUP BY 1) cells
        """
    )
    with engine.connect() as conn:
        return pd.read_sql(sql, conn, params={"cell": cell_deg})


def county_overview(engine: Engine) -> Overview:
    """Everything the overview map needs; raises NotFound when no county is loaded."""
    county = read_layer(engine, "county")
    if county.empty:
        raise NotFound(
            "No county boundary is loaded. Build the demo county with 'geogrid "
            "demo' or import one with 'geogrid import boundaries FILE --level "
            "county --crs ...'."
        )
    return Overview(
        county=county,
        towns=read_layer(engine, "towns"),
        villages=read_layer(engine, "villages"),
        grids=grids_with_workload(engine),
        heat=household_density(engine),
    )
