"""Shape and balance figures of grids: Polsby-Popper, contiguity, workload balance.

Every length and area is measured in metres, in the UTM zone of the data
(`geogrid.crs.utm_crs_for`), never in degrees. Geometries without a CRS are
taken to be in EPSG:4326.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geogrid.crs import utm_crs_for
from geogrid.errors import InvalidInput

# gaps narrower than this between the villages of a grid do not break it apart
CONTIGUITY_TOLERANCE_M = 1.0


def to_metres(geoms: gpd.GeoSeries | gpd.GeoDataFrame) -> gpd.GeoSeries:
    """The geometries projected to the UTM zone of their centre.

    Parameters
    ----------
    geoms
        Shapes in any CRS; without one they are taken to be in EPSG:4326.

    Returns
    -------
    geopandas.GeoSeries
        The same shapes in metres, with the same index.
    """
    series = geoms.geometry if isinstance(geoms, gpd.GeoDataFrame) else geoms
    if series.crs is None:
        series = series.set_crs(4326)
    return series.to_crs(utm_crs_for(series))


def polsby_popper(geoms: gpd.GeoSeries | gpd.GeoDataFrame) -> pd.Series:
    """Compactness 4πA/P² of each shape, from 0 (a thread) to 1 (a disc).

    Parameters
    ----------
    geoms
        Polygons or multipolygons in any CRS (EPSG:4326 when unset). Area and
        perimeter are taken in metres in the UTM zone of the data.

    Returns
    -------
    pandas.Series
        One figure per shape, with the index of ``geoms``; 0 for empty shapes.
    """
    metric = to_metres(geoms)
    area_m2 = metric.area.to_numpy()
    perimeter_m = metric.length.to_numpy()

    with np.errstate(divide="ignore", invalid="ignore"):
        score = 4.0 * math.pi * area_m2 / perimeter_m**2
    score = np.where(perimeter_m > 0, score, 0.0)
    return pd.Series(score, index=metric.index, name="polsby_popper")


def is_contiguous(
    geom: BaseGeometry,
    *,
    crs: object = 4326,
    tolerance_m: float = CONTIGUITY_TOLERANCE_M,
) -> bool:
    """Whether a shape is one piece once gaps under ``tolerance_m`` are closed.

    Parameters
    ----------
    geom
        A polygon or multipolygon, for instance the union of a grid's villages.
    crs
        The CRS of ``geom``; EPSG:4326 by default.
    tolerance_m
        Slivers and gaps narrower than this (in metres) are closed before the
        pieces are counted, so digitising noise between villages is forgiven.

    Returns
    -------
    bool
        True when the shape is a single polygon after closing the gaps.
    """
    series = gpd.GeoSeries([geom], crs=crs)
    return bool(contiguity(series, tolerance_m=tolerance_m).iloc[0])


def contiguity(
    geoms: gpd.GeoSeries, *, tolerance_m: float = CONTIGUITY_TOLERANCE_M
) -> pd.Series:
    """`is_contiguous` for many shapes at once.

    Parameters
    ----------
    geoms
        Polygons or multipolygons in any CRS (EPSG:4326 when unset).
    tolerance_m
        Gaps narrower than this (in metres) are closed first.

    Returns
    -------
    pandas.Series
        One boolean per shape, with the index of ``geoms``.
    """
    metric = to_metres(geoms).to_numpy()
    closed = shapely.buffer(metric, tolerance_m / 2.0)
    pieces = shapely.get_num_geometries(closed)
    one_piece = (pieces == 1) & ~shapely.is_empty(closed)
    return pd.Series(one_piece, index=geoms.index, name="contiguous")


def workload_balance(
    workload: pd.Series, grid: pd.Series | None = None
) -> pd.DataFrame:
    """Workload of each grid and its ratio to the mean grid.

    Parameters
    ----------
    workload
        Workload per village (when ``grid`` is given) or per grid (when not).
    grid
        The grid of each village, aligned with ``workload``.

    Returns
    -------
    pandas.DataFrame
        Indexed by grid, with columns ``workload``, ``ratio_to_mean`` and
        ``deviation`` (``ratio_to_mean - 1``). The largest absolute
        ``deviation`` is the balance figure of a proposal.

    Raises
    ------
    InvalidInput
        When there is no grid or the grids carry no workload at all.
    """
    per_grid = workload if grid is None else workload.groupby(grid, sort=True).sum()
    per_grid = per_grid.astype(float)
    mean = float(per_grid.mean()) if len(per_grid) else 0.0
    if not mean > 0:
        raise InvalidInput(
            "workload_balance needs at least one grid with a positive workload; "
            f"received {len(per_grid)} grids with a total of {per_grid.sum():g}. "
            "Check that the workload columns are filled in.",
        )

    ratio = per_grid / mean
    return pd.DataFrame(
        {"workload": per_grid, "ratio_to_mean": ratio, "deviation": ratio - 1.0}
    )


def max_deviation(ratio_to_mean: pd.Series) -> float:
    """The largest ``|ratio - 1|`` among grids: 0.05 means every grid is ±5%.

    Parameters
    ----------
    ratio_to_mean
        Workload of each grid divided by the mean grid workload.

    Returns
    -------
    float
        The balance figure; 0 for an empty input.
    """
    if len(ratio_to_mean) == 0:
        return 0.0
    return float((ratio_to_mean.astype(float) - 1.0).abs().max())
