"""Partitions of a design (branches): grids shared out, inputs restricted, joins."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd

from geogrid.crs import utm_crs_for
from geogrid.errors import InvalidInput
from geogrid.grids.design.inputs import checked_k
from geogrid.grids.design.workload import village_workload


def allocate_grids(workload_by_part: pd.Series, k: int) -> pd.Series:
    """Share ``k`` grids among partitions in proportion to their workload.

    Parameters
    ----------
    workload_by_part
        Workload of each partition (any positive scale).
    k
        Total number of grids, at least one per partition.

    Returns
    -------
    pandas.Series
        Integer number of grids per partition, summing to ``k``: the
        largest-remainder rounding of the proportional shares, with at least
        one grid each.

    Raises
    ------
    InvalidInput
        When ``k`` is smaller than the number of partitions.
    """
    n_parts = len(workload_by_part)
    if k < n_parts:
        raise InvalidInput(
            f"k must give every partition at least one grid: received k={k} "
            f"for {n_parts} partitions. Raise k or merge partitions.",
            parameter="k",
        )
    shares = workload_by_part.astype(float)
    shares = shares / shares.sum() if shares.sum() > 0 else shares * 0 + 1 / n_parts

    # one grid each, the rest by largest remainder of the proportional share
    exact = 1 + shares * (k - n_parts)
    counts = (exact // 1).astype(int)
    left = k - int(counts.sum())
    order = np.argsort(-(exact - counts).to_numpy(), kind="stable")
    counts.iloc[order[:left]] += 1
    return counts


def partition_counts(
    villages: gpd.GeoDataFrame,
    k: int | Mapping[Hashable, int],
    by: str,
    weights: Mapping[str, float] | None,
) -> pd.Series:
    """Number of grids of each partition, given or shared out by workload."""
    keys = pd.Index(sorted(villages[by].unique()))
    if isinstance(k, Mapping):
        missing = [key for key in keys if key not in k]
        if missing:
            raise InvalidInput(
                f"k must give a number of grids for every partition; "
                f"{len(missing)} have none: {', '.join(map(str, missing[:5]))}. "
                "Add them to the mapping.",
                parameter="k",
            )
        return pd.Series({key: checked_k(k[key]) for key in keys})

    k = checked_k(k)
    with_area = villages
    if "area_km2" not in villages.columns:
        with_area = villages.assign(
            area_km2=villages.to_crs(utm_crs_for(villages)).area / 1e6
        )
    workload = village_workload(with_area, weights)
    return allocate_grids(workload.groupby(villages[by]).sum().reindex(keys), k)


def restricted(
    mapping: Mapping[str, str] | None, codes: set[str]
) -> dict[str, str] | None:
    """The entries of ``mapping`` whose village code is in ``codes``."""
    if mapping is None:
        return None
    return {str(c): g for c, g in mapping.items() if str(c) in codes}


def households_of(
    households: gpd.GeoDataFrame | None, codes: set[str]
) -> gpd.GeoDataFrame | None:
    """The household points of the villages in ``codes``."""
    if households is None or "village_code" not in households.columns:
        return households
    return households[households["village_code"].astype(str).isin(codes)]


def concat_frames(frames: Sequence[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    """Frames joined in the CRS of the first, empty ones left out unless all are."""
    if not frames:
        return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=4326), crs=4326)
    non_empty = [f for f in frames if len(f)] or [frames[0]]
    joined = pd.concat(non_empty, ignore_index=True)
    return gpd.GeoDataFrame(joined, geometry="geometry", crs=frames[0].crs)
