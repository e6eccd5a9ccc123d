"""Cold spots: areas whose low penetration is significant given their neighbours.

The test is the local Getis-Ord Gi* statistic (``esda.G_Local`` with the
area itself among its neighbours, row-standardised binary weights). Its
p-value comes from conditional permutations: each area keeps its own value
while its neighbours' values are drawn at random from the other areas,
``permutations`` times, with a fixed seed. ``esda`` reports the share of
draws at least as extreme as the observed value in the direction it lies
(a "directed" pseudo p-value, at least 1 / (permutations + 1)); as every
area is tested for both cold and hot spots, the p-value used here is the
two-sided one, twice that (at most 1), as esda itself recommends.

An area is a cold spot when its Gi* z-score is negative and its p-value is
at most the cut-off: ``alpha`` itself, or with ``fdr`` the Benjamini-Hochberg
cut-off over all tested areas from ``esda.fdr`` (which falls back to the
Bonferroni bound alpha / n when nothing passes). With FDR over hundreds of
areas the cut-off falls far below 0.01, which is why the default is 9,999
permutations: with 999, no p-value can go under 0.002. Areas with fewer
than ``min_households`` households, without a penetration, or without a
tested neighbour are not tested.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import esda
import geopandas as gpd
import libpysal
import numpy as np
import pandas as pd
import pyproj
import shapely

log = logging.getLogger(__name__)

# polygons closer than this are neighbours, so slivers do not cut contiguity
NEIGHBOUR_TOLERANCE_M = 1.0

HOTSPOT_COLUMNS = (
    "tested",
    "neighbours",
    "local_mean",
    "study_mean",
    "gi_z",
    "p_value",
    "p_cutoff",
    "cold_spot",
    "hot_spot",
    "why",
)


def contiguity_neighbours(
    areas: gpd.GeoDataFrame, crs: pyproj.CRS
) -> dict[Hashable, list[Hashable]]:
    """Areas that touch (or come within 1 m of) each area, keyed by index label."""
    geoms = areas.to_crs(crs).geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="dwithin", distance=NEIGHBOUR_TOLERANCE_M)
    labels = areas.index.to_numpy()
    neighbours: dict[Hashable, list[Hashable]] = {label: [] for label in labels}
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if a != b:
            neighbours[labels[a]].append(labels[b])
    return neighbours


def local_gi_star(
    areas: pd.DataFrame,
    neighbours: Mapping[Any, Sequence[Any]],
    *,
    value: str = "penetration",
    alpha: float = 0.05,
    permutations: int = 9_999,
    seed: int = 7,
    fdr: bool = True,
    min_households: int = 5,
) -> pd.DataFrame:
    """Test each area's value against its neighbourhood with Gi*.

    Parameters
    ----------
    areas
        One row per area, indexed like `neighbours`, with `value` and
        ``households`` columns.
    neighbours
        Index labels of each area's neighbours (the area itself excluded).
    value
        Column to test (a share from 0 to 1).
    alpha, permutations, seed, fdr, min_households
        As in `CoverageParameters`.

    Returns
    -------
    pandas.DataFrame
        Indexed like `areas`, with the `HOTSPOT_COLUMNS`: ``tested``,
        ``neighbours`` (tested neighbours), ``local_mean`` (mean value over
        the area and its tested neighbours, what Gi* compares),
        ``study_mean`` (mean over all tested areas), ``gi_z``, ``p_value``,
        ``p_cutoff``, ``cold_spot``, ``hot_spot`` and ``why`` (one sentence
        for the planner).
    """
    y_all = areas[value].to_numpy(dtype=np.float64)
    eligible = np.isfinite(y_all) & (areas["households"].to_numpy() >= min_households)
    tested, links = _tested_graph(areas.index, neighbours, eligible)
    columns = _empty_columns(len(areas))
    if len(tested) < 3 or np.ptp(y_all[tested]) == 0 or y_all[tested].sum() == 0:
        log.info(
            "Tested no area for cold spots: %d had enough data and neighbours, "
            "with %d distinct values",
            len(tested),
            len(np.unique(y_all[tested])),
        )
        return pd.DataFrame(columns, index=areas.index)

    y = y_all[tested]
    stats = _g_local(y, links, permutations, seed)
    p_value = np.minimum(2.0 * stats.p_sim, 1.0)
    cutoff = float(esda.fdr(p_value, alpha)) if fdr else alpha
    significant = p_value <= cutoff
    counts = np.array([len(n) - 1 for n in links])
    local_mean = np.array([y[n].mean() for n in links])

    columns["tested"][tested] = True
    columns["neighbours"][tested] = counts
    columns["local_mean"][tested] = local_mean
    columns["study_mean"][tested] = y.mean()
    columns["gi_z"][tested] = stats.Zs
    columns["p_value"][tested] = p_value
    columns["p_cutoff"][tested] = cutoff
    columns["cold_spot"][tested] = significant & (stats.Zs < 0)
    columns["hot_spot"][tested] = significant & (stats.Zs > 0)
    columns["why"][tested] = _reasons(
        y, local_mean, counts, float(y.mean()), stats.Zs, p_value, cutoff, alpha, fdr
    )
    log.info(
        "Tested %d areas with Gi* (%d permutations): %d cold and %d hot spots at "
        "p <= %.4g",
        len(tested),
        permutations,
        int(columns["cold_spot"].sum()),
        int(columns["hot_spot"].sum()),
        cutoff,
    )
    return pd.DataFrame(columns, index=areas.index)


def _empty_columns(n: int) -> dict[str, np.ndarray]:
    return {
        "tested": np.zeros(n, dtype=bool),
        "neighbours": np.zeros(n, dtype=np.int64),
        "local_mean": np.full(n, np.nan),
        "study_mean": np.full(n, np.nan),
        "gi_z": np.full(n, np.nan),
        "p_value": np.full(n, np.nan),
        "p_cutoff": np.full(n, np.nan),
        "cold_spot": np.zeros(n, dtype=bool),
        "hot_spot": np.zeros(n, dtype=bool),
        "why": np.full(n, "", dtype=object),
    }


def _tested_graph(
    index: pd.Index, neighbours: Mapping[Any, Sequence[Any]], eligible: np.ndarray
) -> tuple[np.ndarray, list[list[int]]]:
    """Eligible areas with an eligible neighbour, and their neighbourhoods.

    Returns the positions of the tested areas, and for each the positions
    (among the tested areas) of itself followed by its tested neighbours.
    """
    position = {label: k for k, label in enumerate(index.tolist())}

    def eligible_links(k: int) -> list[int]:
        found = (position.get(n, -1) for n in neighbours.get(index[k], ()))
        return [j for j in found if j >= 0 and j != k and eligible[j]]

    # dropping isolated areas may isolate others: repeat until stable
    keep = eligible.copy()
    while True:
        kept = np.flatnonzero(keep).tolist()
        links = {k: [j for j in eligible_links(k) if keep[j]] for k in kept}
        isolated = [k for k, found in links.items() if not found]
        if not isolated:
            break
        keep[isolated] = False
    tested = np.flatnonzero(keep)
    local = {k: i for i, k in enumerate(tested.tolist())}
    graph = [[local[k]] + [local[j] for j in links[k]] for k in tested.tolist()]
    return tested, graph


def _g_local(
    y: np.ndarray, links: list[list[int]], permutations: int, seed: int
) -> esda.G_Local:
    # binary weights with the area itself among its neighbours (Gi*)
    w = libpysal.weights.W(dict(enumerate(links)), silence_warnings=True)
    with warnings.catch_warnings():
        # esda warns that its default alternative will become two-sided; the
        # directed p-value is the one wanted here (see the module docstring)
        warnings.filterwarnings(
            "ignore",
            message="The alternative hypothesis for conditional randomization",
            category=DeprecationWarning,
        )
        return esda.G_Local(
            y,
            w,
            transform="R",
            permutations=permutations,
            star=None,
            keep_simulations=False,
            n_jobs=1,
            seed=seed,
        )


def _reasons(
    y: np.ndarray,
    local_mean: np.ndarray,
    counts: np.ndarray,
    study_mean: float,
    z: np.ndarray,
    p_value: np.ndarray,
    cutoff: float,
    alpha: float,
    fdr: bool,
) -> list[str]:
    rule = f"FDR at alpha {alpha:g}" if fdr else f"alpha {alpha:g}"
    reasons = []
    for k in range(len(y)):
        verdict = "significant" if p_value[k] <= cutoff else "not significant"
        reasons.append(
            f"penetration {y[k]:.1%}; {local_mean[k]:.1%} with its {counts[k]} "
            f"neighbours; {study_mean:.1%} over all tested areas; Gi* z "
            f"{z[k]:+.2f}, p {p_value[k]:.4f} vs cut-off {cutoff:.4g} "
            f"({rule}): {verdict}"
        )
    return reasons
