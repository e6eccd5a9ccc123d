"""Checks of the inputs to grid design, each failure a message saying what to change.

Villages, the number of grids, the number of search starts, locked villages
and household points are checked here; workload columns and weights are
checked in `geogrid.grids.design.workload`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geogrid.errors import InvalidInput

logger = logging.getLogger(__name__)

_POLYGONAL = ("Polygon", "MultiPolygon")


def checked_villages(villages: Any) -> gpd.GeoDataFrame:
    """Villages checked, with string codes, a fresh index and EPSG:4326.

    Raises
    ------
    InvalidInput
        When ``villages`` is not a GeoDataFrame, lacks a ``code`` column, is
        empty, has no CRS, repeats a code or holds a row that is not a polygon.
    """
    if not isinstance(villages, gpd.GeoDataFrame):
        raise InvalidInput(
            "villages must be a GeoDataFrame of village polygons; received "
            f"{type(villages).__name__}. Build one with geopandas.",
            parameter="villages",
        )
    if "code" not in villages.columns:
        raise InvalidInput(
            "villages must have a 'code' column of village codes; received "
            f"columns {', '.join(map(str, villages.columns))}. Rename the "
            "code column to 'code'.",
            parameter="villages",
        )
    if villages.empty:
        raise InvalidInput(
            "villages is empty; pass the villages of the branch to design.",
            parameter="villages",
        )
    if villages.crs is None:
        raise InvalidInput(
            "villages has no CRS; label it, for instance with "
            "villages.set_crs(4326) for longitudes and latitudes.",
            parameter="villages",
        )

    codes = villages["code"].astype(str)
    duplicated = codes[codes.duplicated()].unique().tolist()
    if duplicated:
        raise InvalidInput(
            "villages must have one row per village code; codes "
            f"{', '.join(duplicated[:5])} appear more than once. Dissolve "
            "the duplicates first.",
            parameter="villages",
        )
    _check_polygons(villages, codes)

    checked = villages.copy()
    checked["code"] = codes
    checked = checked.reset_index(drop=True)
    if not checked.crs.equals(4326):
        checked = checked.to_crs(4326)
    return checked


def _check_polygons(villages: gpd.GeoDataFrame, codes: pd.Series) -> None:
    kinds = villages.geometry.geom_type
    empty = villages.geometry.is_empty | villages.geometry.isna()
    bad = empty | ~kinds.isin(_POLYGONAL)
    if not bad.any():
        return
    received = kinds[bad].fillna("missing").where(~empty[bad], "empty")
    sample = ", ".join(
        f"{code} ({kind})"
        for code, kind in zip(codes[bad][:5], received[:5], strict=True)
    )
    raise InvalidInput(
        "villages.geometry must hold Polygon or MultiPolygon village "
        f"boundaries; {int(bad.sum())} rows do not: {sample}. Pass boundary "
        "polygons, not points or lines, and drop empty rows.",
        parameter="villages",
    )


def checked_k(k: Any) -> int:
    """The number of grids as an int, refused unless a whole number of at least 1."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InvalidInput(
            f"k must be a whole number of grids, at least 1; received {k!r}. "
            "Pass the number of account managers of the branch.",
            parameter="k",
        )
    return int(k)


def checked_starts(starts: Any) -> int:
    """The number of search starts as an int, refused unless at least 1."""
    whole = isinstance(starts, int | np.integer) and not isinstance(starts, bool)
    if not whole or starts < 1:
        raise InvalidInput(
            "starts must be a whole number of search starts, at least 1; "
            f"received {starts!r}. Pass None for the default.",
            parameter="starts",
        )
    return int(starts)


def check_k_fits(k: int, n_units: int, n_villages: int) -> None:
    """Refuse more grids than there are units to share out."""
    if k > n_units:
        raise InvalidInput(
            f"k must not exceed the number of units to share out: received "
            f"k={k} for {n_villages} villages ({n_units} units after "
            "splitting heavy villages). Lower k or add villages.",
            parameter="k",
        )


def checked_locked(
    locked: Mapping[str, str] | None, codes: pd.Series
) -> dict[str, str]:
    """Locked village codes and grid labels as strings, all codes known."""
    if not locked:
        return {}
    chosen = {str(code): str(label) for code, label in locked.items()}
    unknown = sorted(set(chosen) - set(codes))
    if unknown:
        raise InvalidInput(
            f"locked names {len(unknown)} village codes that are not among "
            f"the villages: {', '.join(unknown[:5])}. Lock only villages of "
            "this branch.",
            parameter="locked",
        )
    return chosen


def check_lock_count(lock_names: list[str], k: int) -> None:
    """Refuse more locked grid labels than grids."""
    if len(lock_names) > k:
        raise InvalidInput(
            f"locked uses {len(lock_names)} grid labels but k={k}; every "
            "locked label is one of the k grids. Raise k or lock fewer grids.",
            parameter="locked",
        )


def checked_households(
    households: gpd.GeoDataFrame | None, metric_crs: Any
) -> gpd.GeoDataFrame | None:
    """Household points in ``metric_crs``, with a string ``village_code``.

    Rows that are not points are skipped with a warning; ``None`` stays
    ``None`` (cut lines then divide areas).
    """
    if households is None:
        return None
    if not isinstance(households, gpd.GeoDataFrame) or (
        "village_code" not in households.columns
    ):
        raise InvalidInput(
            "households must be a GeoDataFrame of points with a "
            "'village_code' column; received "
            f"{type(households).__name__}. Pass None to cut by area.",
            parameter="households",
        )
    if households.crs is None:
        raise InvalidInput(
            "households has no CRS; label it, for instance with "
            "households.set_crs(4326).",
            parameter="households",
        )
    is_point = households.geometry.geom_type == "Point"
    if not is_point.all():
        logger.warning(
            "Skipped %d household rows that are not points when placing cut "
            "lines; %d points remain",
            int((~is_point).sum()),
            int(is_point.sum()),
        )
    points = households[is_point].to_crs(metric_crs)
    return gpd.GeoDataFrame(
        {"village_code": points["village_code"].astype(str)},
        geometry=points.geometry.to_numpy(),
        crs=metric_crs,
    )
