"""Automatic design of second-level grids: villages into balanced, compact grids.

The algorithm, in short:

1. **Workload.** Each workload column is divided by its total over the input
   villages, then the columns are mixed with the given weights (divided by
   their sum), so a village's workload is its share of the branch's work and
   the weights of unlike columns (households, area, travel) are comparable.
2. **Splitting.** A village whose workload alone exceeds `SPLIT_THRESHOLD`
   times the mean grid workload is cut into ``ceil(workload / mean)`` parts by
   straight lines perpendicular to the long side of its minimum rotated
   rectangle, placed so the parts hold equal numbers of household points (or
   equal areas when no points are given). Parts are units named
   ``<village>#1``, ``<village>#2``...; the cut lines are returned.
3. **Adjacency.** Units are neighbours when they share a stretch of border
   (libpysal rook contiguity, strict geometric test, with the length of the
   shared border kept). Island units and detached groups are linked to their
   nearest unit, so every unit can join a grid.
4. **Initial partition.** Recursive bisection along random spanning trees of
   the adjacency graph (in the spirit of the ReCom proposal of GerryChain):
   each cut is the tree edge that best splits the workload in proportion to
   the number of grids on each side, with a small bonus for compact halves
   (`CUT_COMPACTNESS_WEIGHT`), keeping locked villages on the side of their
   grid. Both sides of a tree cut are connected, so every grid is.
5. **Refinement.** A local search moves boundary units between neighbouring
   grids, never disconnecting the grid a unit leaves, to minimise the sum
   over grids of ``d**2 + OVERLOAD_PENALTY * max(0, |d| - TARGET_DEVIATION)**2
   + COMPACTNESS_WEIGHT * (1 - Polsby-Popper)``, where ``d`` is the grid's
   ``ratio_to_mean - 1`` and perimeters are tracked exactly through shared
   border lengths: a greedy descent, simulated annealing (seeded), and a
   last descent from the best state seen.

`design_partitioned` runs the same design per partition (a branch, say) and
merges the results, so a distributed driver can map the partitions.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from libpysal.graph import Graph
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from shapely.geometry.base import BaseGeometry

from geogrid.crs import utm_crs_for
from geogrid.errors import InvalidInput
from geogrid.grids.metrics import contiguity, max_deviation, workload_balance

logger = logging.getLogger(__name__)

DEFAULT_WEIGHTS: Mapping[str, float] = {"households": 1.0}

# a village is cut when it alone exceeds this many mean grid workloads
SPLIT_THRESHOLD = 1.1

# deviation from the mean grid workload the search treats as acceptable
TARGET_DEVIATION = 0.05

# weight of (1 - Polsby-Popper) against the squared workload deviation
COMPACTNESS_WEIGHT = 0.2

# beyond TARGET_DEVIATION, each squared unit of deviation costs this much more
OVERLOAD_PENALTY = 1000.0

# spanning trees drawn per bisection step; weight of (2 - PP of both halves)
# against the cut's workload error in mean grid workloads
TREES_PER_CUT = 8
CUT_COMPACTNESS_WEIGHT = 0.3

# the search's effort: designs of fewer than START_BUDGET_UNITS / 2 units are
# started several times over, and the best result is kept
MAX_PASSES = 60
ANNEAL_STEPS_PER_UNIT = 100
ANNEAL_MIN_STEPS = 2_000
ANNEAL_MAX_STEPS = 1_500_000
START_BUDGET_UNITS = 640
MAX_STARTS = 16

# villages closer than this count as touching; a shared border must be longer
SNAP_TOLERANCE_M = 1.0
MIN_SHARED_BORDER_M = 10.0

_POLYGONAL = ("Polygon", "MultiPolygon")


# --- the result ---------------------------------------------------------------


@dataclass
class Proposal:
    """Proposed second-level grids, with the figures to judge them by.

    Attributes
    ----------
    assignment
        One row per unit (a whole village, or a part of a split village):
        ``code`` (unit code, ``<village>#<n>`` for parts), ``village_code``
        and ``grid`` (the grid label).
    grids
        One row per grid, EPSG:4326: ``grid``, ``geometry`` (dissolved),
        ``workload`` (share of the total), ``ratio_to_mean``,
        ``polsby_popper``, ``contiguous`` (one piece, gaps under 1 m
        forgiven), ``connected`` (one group through shared borders and island
        links), ``n_villages``, ``n_units``, ``n_locked``, ``area_km2`` and
        the sum of each workload column (``households``...).
    units
        The units as designed, EPSG:4326, with their workload and grid.
    split_lines
        The cut lines of split villages, EPSG:4326: ``village_code``,
        ``cut`` (1, 2...) and ``geometry``. Empty when nothing was split.
    max_deviation
        The largest ``|ratio_to_mean - 1|``: 0.05 means every grid is ±5%.
    comparison
        Figures of the current grids when ``current`` was given: their
        ``current_max_deviation``, ``current_mean_polsby_popper``, the
        proposal's own figures and ``villages_changed`` (villages whose grid
        would change) out of ``villages_compared``.
    seed
        The seed the proposal was designed with.
    elapsed_s
        Wall-clock time of the design, in seconds.
    """

    assignment: pd.DataFrame
    grids: gpd.GeoDataFrame
    units: gpd.GeoDataFrame
    split_lines: gpd.GeoDataFrame
    max_deviation: float
    comparison: dict[str, Any] | None = None
    seed: int = 0
    elapsed_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        """The headline figures of the proposal as a plain dict.

        Returns
        -------
        dict
            ``k``, ``n_villages``, ``n_units``, ``villages_split``,
            ``max_deviation``, ``mean_polsby_popper``,
            ``min_polsby_popper``, ``all_contiguous``, ``noncontiguous``
            (labels), ``locked_units``, ``seed``, ``elapsed_s`` and, with a
            current layout, ``comparison``.
        """
        grids = self.grids
        noncontiguous = grids.loc[~grids["contiguous"], "grid"].tolist()
        figures: dict[str, Any] = {
            "k": len(grids),
            "n_villages": int(self.assignment["village_code"].nunique()),
            "n_units": len(self.assignment),
            "villages_split": int(self.split_lines["village_code"].nunique()),
            "max_deviation": round(self.max_deviation, 4),
            "mean_polsby_popper": round(float(grids["polsby_popper"].mean()), 4),
            "min_polsby_popper": round(float(grids["polsby_popper"].min()), 4),
            "all_contiguous": not noncontiguous,
            "noncontiguous": noncontiguous,
            "locked_units": int(grids["n_locked"].sum()),
            "seed": self.seed,
            "elapsed_s": round(self.elapsed_s, 2),
        }
        if self.comparison is not None:
            figures["comparison"] = dict(self.comparison)
        return figures

    def report(self) -> str:
        """The summary as a few lines of text for a planner.

        Returns
        -------
        str
            Balance, compactness, contiguity and, when known, how the
            proposal compares with the current grids.
        """
        s = self.summary()
        lines = [
            f"{s['k']} grids from {s['n_villages']} villages "
            f"({s['villages_split']} split into {s['n_units']} units)",
            f"workload within ±{s['max_deviation']:.1%} of the mean grid",
            f"Polsby-Popper mean {s['mean_polsby_popper']:.3f}, "
            f"min {s['min_polsby_popper']:.3f}",
            "all grids contiguous"
            if s["all_contiguous"]
            else f"not contiguous: {', '.join(map(str, s['noncontiguous']))}",
        ]
        comparison = s.get("comparison") or {}
        if "current_max_deviation" in comparison:
            lines.append(
                f"current grids: ±{comparison['current_max_deviation']:.1%}, "
                "Polsby-Popper mean "
                f"{comparison['current_mean_polsby_popper']:.3f}; "
                f"{comparison['villages_changed']} of "
                f"{comparison['villages_compared']} villages would change grid"
            )
        return "\n".join(lines)


# --- public entry points ------------------------------------------------------


def design_grids(
    villages: gpd.GeoDataFrame,
    k: int,
    *,
    weights: Mapping[str, float] | None = None,
    locked: Mapping[str, str] | None = None,
    seed: int = 0,
    current: Mapping[str, str] | None = None,
    max_split: bool = True,
    households: gpd.GeoDataFrame | None = None,
    label_prefix: str = "",
    starts: int | None = None,
) -> Proposal:
    """Propose ``k`` contiguous, compact, balanced grids made of whole villages.

    Parameters
    ----------
    villages
        One branch's villages: ``code``, Polygon or MultiPolygon ``geometry``
        (EPSG:4326; another CRS is reprojected) and the workload columns
        named in ``weights``. ``area_km2`` is computed in metres when absent.
    k
        Number of grids (account managers).
    weights
        Workload column → weight; ``{"households": 1.0}`` by default. Each
        column is divided by its total before weighting (see module doc).
    locked
        Village code → grid label. Those villages stay in that grid; the rest
        is designed around them. To keep a whole existing grid, lock all its
        villages to its code. Locked villages are never split.
    seed
        Seed of the random spanning trees and visiting order; the same
        inputs and seed give the same proposal.
    current
        Village code → current grid code, to compare with and to name the
        new grids after the current grid they overlap most.
    max_split
        Split a village that alone exceeds `SPLIT_THRESHOLD` mean workloads.
        With False such a village stays whole and its grid stays overloaded.
    households
        Optional household points (``village_code`` and Point ``geometry``)
        used to place cut lines so parts hold equal numbers of households.
    label_prefix
        Put before generated grid labels (``G01``...), to keep them unique
        when several partitions are merged.
    starts
        Independent starts of the search, the best one kept. By default
        ``START_BUDGET_UNITS // units``, between 1 and `MAX_STARTS`: 16 for a
        branch of 40 villages, 1 from 320 units up. Fewer is faster.

    Returns
    -------
    Proposal
        Assignment, grid shapes and figures.

    Raises
    ------
    InvalidInput
        On a bad ``k``, geometry, weight column, locked code or household
        frame; each message says what to change.
    """
    started = time.perf_counter()
    villages = _checked_villages(villages)
    k = _checked_k(k)
    metric_crs = utm_crs_for(villages)
    metric = villages.to_crs(metric_crs)
    if "area_km2" not in metric.columns:
        metric["area_km2"] = metric.area.to_numpy() / 1e6
    weights = _checked_weights(weights, metric)
    locked_labels = _checked_locked(locked, metric["code"])
    points = _checked_households(households, metric_crs)

    # workload, then splitting of villages that exceed one manager's load
    metric["workload"] = village_workload(metric, weights).to_numpy()
    mean_workload = float(metric["workload"].sum()) / k
    units, lines = _split_heavy_villages(
        metric, weights, locked_labels, points, mean_workload, enabled=max_split
    )
    _check_k_fits(k, len(units), len(metric))

    # grid labels: locked ones first, then generated (or current) names
    lock_names = sorted(set(locked_labels.values()))
    _check_lock_count(lock_names, k)
    lock_index = _lock_index(units, locked_labels, lock_names)
    graph = _adjacency(units.geometry)

    # the partition itself
    targets = np.full(k, mean_workload)
    workload = units["workload"].to_numpy(dtype=float)
    xy = np.column_stack([units.centroid.x, units.centroid.y])
    if starts is None:
        starts = min(MAX_STARTS, max(1, START_BUDGET_UNITS // len(units)))
    starts = _checked_starts(starts)
    labels = _best_of_starts(
        graph, workload, xy, targets, lock_index, np.random.default_rng(seed), starts
    )

    # reporting
    names = _grid_names(k, lock_names, labels, units, current, label_prefix)
    units["grid"] = [names[i] for i in labels]
    proposal = _build_proposal(units, lines, graph, labels, names, lock_index)
    proposal.seed = seed
    if current is not None:
        proposal.comparison = _compare_with_current(proposal, metric, current)
    proposal.elapsed_s = time.perf_counter() - started
    in_pieces = int((~proposal.grids["connected"]).sum())
    if in_pieces:
        logger.warning(
            "Left %d grids in pieces: their locked villages do not border one "
            "another, and locked villages never move",
            in_pieces,
        )
    logger.info(
        "Designed %d grids from %d villages (%d split) in %.1f s; max deviation %.1f%%",
        k,
        len(metric),
        lines["village_code"].nunique(),
        proposal.elapsed_s,
        100 * proposal.max_deviation,
    )
    return proposal


def design_partitioned(
    villages: gpd.GeoDataFrame,
    k: int | Mapping[Hashable, int],
    *,
    by: str,
    weights: Mapping[str, float] | None = None,
    locked: Mapping[str, str] | None = None,
    seed: int = 0,
    current: Mapping[str, str] | None = None,
    max_split: bool = True,
    households: gpd.GeoDataFrame | None = None,
    starts: int | None = None,
) -> Proposal:
    """Design grids partition by partition (branch by branch), then merge them.

    Each partition is designed on its own with `design_grids` (the map step;
    a distributed driver can run them anywhere) and `merge_proposals` joins
    the results (the reduce step). Balance figures are relative to the mean
    grid of each partition, the rule each branch is held to.

    Parameters
    ----------
    villages
        Villages of several partitions, with the column named by ``by``.
    k
        Total number of grids, shared among partitions in proportion to
        their workload (largest remainders, at least one each), or a mapping
        partition → number of grids.
    by
        Column naming the partition of each village, such as ``branch``.
    weights, locked, seed, current, max_split, households, starts
        As for `design_grids`.

    Returns
    -------
    Proposal
        The merged proposal; ``grids`` has a ``partition`` column.

    Raises
    ------
    InvalidInput
        When ``by`` is missing or ``k`` cannot give each partition a grid.
    """
    villages = _checked_villages(villages)
    if by not in villages.columns:
        raise InvalidInput(
            f"by names the column {by!r}, which villages does not have "
            f"(columns: {', '.join(map(str, villages.columns))}); add the "
            "partition column or pass another name.",
            parameter="by",
        )
    counts = _partition_counts(villages, k, by, weights)

    parts: list[Proposal] = []
    keys: list[Hashable] = []
    for key, group in villages.groupby(by, sort=True):
        codes = set(group["code"])
        parts.append(
            design_grids(
                group,
                int(counts[key]),
                weights=weights,
                locked=_restricted(locked, codes),
                seed=seed,
                current=_restricted(current, codes),
                max_split=max_split,
                households=_households_of(households, codes),
                label_prefix=f"{key}/",
                starts=starts,
            )
        )
        keys.append(key)
    return merge_proposals(parts, keys)


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


def merge_proposals(parts: Sequence[Proposal], keys: Sequence[Hashable]) -> Proposal:
    """Join the proposals of several partitions into one.

    Parameters
    ----------
    parts
        One proposal per partition, with grid labels unique across them.
    keys
        The partition of each proposal, written to ``grids["partition"]``.

    Returns
    -------
    Proposal
        Concatenated frames; ``max_deviation`` is the worst partition's and
        the comparison figures are added up (maxima and grid-weighted means).
    """
    grids = []
    for key, part in zip(keys, parts, strict=True):
        frame = part.grids.copy()
        frame.insert(1, "partition", key)
        grids.append(frame)

    merged = Proposal(
        assignment=pd.concat([p.assignment for p in parts], ignore_index=True),
        grids=_concat_frames(grids),
        units=_concat_frames([p.units for p in parts]),
        split_lines=_concat_frames([p.split_lines for p in parts]),
        max_deviation=max((p.max_deviation for p in parts), default=0.0),
        seed=parts[0].seed if parts else 0,
        elapsed_s=sum(p.elapsed_s for p in parts),
    )
    merged.comparison = _merged_comparison(parts)
    return merged


def village_workload(
    villages: pd.DataFrame, weights: Mapping[str, float] | None = None
) -> pd.Series:
    """Workload of each village as its share of the total, weights applied.

    ``workload = sum_c weight_c * x_c / total(x_c) / sum_c weight_c``, so the
    workloads of all villages add up to 1 and the weights of unlike columns
    (households, customers, area, travel) are comparable.

    Parameters
    ----------
    villages
        Frame holding every column named in ``weights``.
    weights
        Column → weight; ``{"households": 1.0}`` by default.

    Returns
    -------
    pandas.Series
        One share per village, with the index of ``villages``.

    Raises
    ------
    InvalidInput
        When a column is missing, not numeric, negative, empty or all zero.
    """
    weights = _checked_weights(weights, villages)
    total_weight = sum(weights.values())
    workload = pd.Series(0.0, index=villages.index, name="workload")
    for column, weight in weights.items():
        values = villages[column].astype(float)
        workload += weight * values / float(values.sum())
    return workload / total_weight


# --- input checks -------------------------------------------------------------


def _checked_villages(villages: Any) -> gpd.GeoDataFrame:
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


def _checked_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InvalidInput(
            f"k must be a whole number of grids, at least 1; received {k!r}. "
            "Pass the number of account managers of the branch.",
            parameter="k",
        )
    return int(k)


def _checked_starts(starts: Any) -> int:
    whole = isinstance(starts, int | np.integer) and not isinstance(starts, bool)
    if not whole or starts < 1:
        raise InvalidInput(
            "starts must be a whole number of search starts, at least 1; "
            f"received {starts!r}. Pass None for the default.",
            parameter="starts",
        )
    return int(starts)


def _check_k_fits(k: int, n_units: int, n_villages: int) -> None:
    if k > n_units:
        raise InvalidInput(
            f"k must not exceed the number of units to share out: received "
            f"k={k} for {n_villages} villages ({n_units} units after "
            "splitting heavy villages). Lower k or add villages.",
            parameter="k",
        )


def _checked_weights(
    weights: Mapping[str, float] | None, villages: pd.DataFrame
) -> dict[str, float]:
    chosen = dict(DEFAULT_WEIGHTS if weights is None else weights)
    if not chosen or any(
        not isinstance(w, int | float) or not math.isfinite(w) or w < 0
        for w in chosen.values()
    ):
        raise InvalidInput(
            "weights must map workload columns to finite weights of at least "
            f"0, one of them positive; received {chosen!r}. For instance "
            "{'households': 1.0}.",
            parameter="weights",
        )
    if sum(chosen.values()) <= 0:
        raise InvalidInput(
            f"weights must have a positive total; received {chosen!r}. Give "
            "at least one column a weight above 0.",
            parameter="weights",
        )
    for column in chosen:
        _check_weight_column(villages, column)
    return {column: float(w) for column, w in chosen.items()}


def _check_weight_column(villages: pd.DataFrame, column: str) -> None:
    if column not in villages.columns:
        raise InvalidInput(
            f"weights names the column {column!r}, which villages does not "
            f"have (columns: {', '.join(map(str, villages.columns))}). Add "
            "the column or drop it from weights.",
            parameter="weights",
        )
    values = pd.to_numeric(villages[column], errors="coerce")
    if values.isna().any() or not np.isfinite(values.to_numpy(float)).all():
        raise InvalidInput(
            f"workload column {column!r} must hold a number for every village; "
            f"{int(values.isna().sum())} values are missing or not numbers. "
            "Fill them in (0 when there is none).",
            parameter="weights",
        )
    if (values < 0).any() or values.sum() <= 0:
        raise InvalidInput(
            f"workload column {column!r} must be at least 0 everywhere with a "
            f"positive total; received a minimum of {values.min():g} and a "
            f"total of {values.sum():g}. Fix the column or drop it from weights.",
            parameter="weights",
        )


def _checked_locked(
    locked: Mapping[str, str] | None, codes: pd.Series
) -> dict[str, str]:
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


def _check_lock_count(lock_names: list[str], k: int) -> None:
    if len(lock_names) > k:
        raise InvalidInput(
            f"locked uses {len(lock_names)} grid labels but k={k}; every "
            "locked label is one of the k grids. Raise k or lock fewer grids.",
            parameter="locked",
        )


def _checked_households(
    households: gpd.GeoDataFrame | None, metric_crs: Any
) -> gpd.GeoDataFrame | None:
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


# --- splitting heavy villages -------------------------------------------------


def _split_heavy_villages(
    metric: gpd.GeoDataFrame,
    weights: Mapping[str, float],
    locked: Mapping[str, str],
    points: gpd.GeoDataFrame | None,
    mean_workload: float,
    *,
    enabled: bool,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    columns = list(dict.fromkeys([*weights, "area_km2"]))
    if "households" in metric.columns:
        columns = list(dict.fromkeys([*columns, "households"]))

    units = metric[["code", "geometry", "workload", *columns]].copy()
    units.insert(1, "village_code", units["code"])
    units.insert(2, "part", 0)
    heavy = metric["workload"] > SPLIT_THRESHOLD * mean_workload
    if not enabled:
        heavy &= False
    kept_locked = heavy & metric["code"].isin(list(locked))
    if kept_locked.any():
        logger.warning(
            "Kept %d locked villages whole although each exceeds %.1f mean "
            "workloads; their grids will be overloaded",
            int(kept_locked.sum()),
            SPLIT_THRESHOLD,
        )
    heavy &= ~kept_locked
    if not heavy.any():
        return units, _empty_lines(metric.crs)
    totals = {column: float(metric[column].sum()) for column in weights}

    pieces: list[gpd.GeoDataFrame] = [units[~heavy]]
    lines: list[dict[str, Any]] = []
    for row in units[heavy].to_dict("records"):
        n_parts = math.ceil(row["workload"] / mean_workload)
        village_points = None
        if points is not None:
            mask = points["village_code"] == row["code"]
            village_points = shapely.get_coordinates(points.geometry[mask].to_numpy())
        parts, cuts, shares = cut_polygon(row["geometry"], n_parts, village_points)
        part_units = _part_units(row, parts, shares, columns, metric.crs)
        part_units["workload"] = _mixed_workload(part_units, weights, totals)
        pieces.append(part_units)
        lines += [
            {"village_code": row["code"], "cut": i + 1, "geometry": line}
            for i, line in enumerate(cuts)
        ]

    split_units = pd.concat(pieces, ignore_index=True)
    logger.info(
        "Split %d heavy villages into %d parts along %d cut lines",
        int(heavy.sum()),
        int((split_units["part"] > 0).sum()),
        len(lines),
    )
    return (
        gpd.GeoDataFrame(split_units, geometry="geometry", crs=metric.crs),
        gpd.GeoDataFrame(lines, geometry="geometry", crs=metric.crs),
    )


def _part_units(
    row: dict[str, Any],
    parts: list[BaseGeometry],
    shares: np.ndarray,
    columns: list[str],
    crs: Any,
) -> gpd.GeoDataFrame:
    areas = np.array([p.area for p in parts])
    area_shares = areas / areas.sum()
    records = []
    for i, (part, share) in enumerate(zip(parts, shares, strict=True)):
        record: dict[str, Any] = {
            "code": f"{row['code']}#{i + 1}",
            "village_code": row["code"],
            "part": i + 1,
            "geometry": part,
        }
        for column in columns:
            column_share = area_shares[i] if column == "area_km2" else share
            record[column] = row[column] * column_share
        records.append(record)
    return gpd.GeoDataFrame(records, geometry="geometry", crs=crs)


def _mixed_workload(
    units: pd.DataFrame, weights: Mapping[str, float], totals: Mapping[str, float]
) -> np.ndarray:
    # the same mix as village_workload, against the totals of all villages
    mixed = sum(w * units[c].to_numpy() / totals[c] for c, w in weights.items())
    return np.asarray(mixed) / sum(weights.values())


def cut_polygon(
    polygon: BaseGeometry, n_parts: int, points_xy: np.ndarray | None = None
) -> tuple[list[BaseGeometry], list[BaseGeometry], np.ndarray]:
    """Cut a shape into parts by parallel straight lines across its long axis.

    The lines are perpendicular to the long side of the shape's minimum
    rotated rectangle, so a planner sees simple bands. They are placed so the
    parts hold equal numbers of ``points_xy`` when at least ``n_parts``
    points are given, else equal areas.

    Parameters
    ----------
    polygon
        The shape, in a metric CRS.
    n_parts
        Number of parts, at least 2.
    points_xy
        Optional ``(m, 2)`` coordinates of the households in the shape.

    Returns
    -------
    parts
        ``n_parts`` shapes, in order along the axis.
    lines
        ``n_parts - 1`` cut lines clipped to the shape.
    shares
        Share of the households (or of the area) of each part.
    """
    axis = _long_axis(polygon)
    normal = np.array([-axis[1], axis[0]])
    coords = shapely.get_coordinates(polygon)
    along, across = coords @ axis, coords @ normal
    low, high = float(along.min()), float(along.max())
    middle = float(across.min() + across.max()) / 2.0
    reach = high - low + float(np.ptp(across))
    frame = (axis, normal, middle, reach)

    by_points = points_xy is not None and len(points_xy) >= n_parts
    if by_points:
        assert points_xy is not None
        cuts = _point_cuts(points_xy @ axis, n_parts)
    else:
        cuts = _area_cuts(polygon, frame, low, high, n_parts)

    bounds = [low - 1.0, *cuts, high + 1.0]
    parts = [
        polygon.intersection(_band(frame, a, b)) for a, b in itertools.pairwise(bounds)
    ]
    lines = [polygon.intersection(_cut_line(frame, t)) for t in cuts]

    if by_points:
        assert points_xy is not None
        counts = np.histogram(points_xy @ axis, bins=bounds)[0]
        shares = counts / counts.sum()
    else:
        areas = np.array([p.area for p in parts])
        shares = areas / areas.sum()
    return parts, lines, shares


def _long_axis(polygon: BaseGeometry) -> np.ndarray:
    rectangle = shapely.oriented_envelope(polygon)
    corners = shapely.get_coordinates(rectangle)[:3]
    sides = np.diff(corners, axis=0)
    longest = sides[np.argmax(np.hypot(sides[:, 0], sides[:, 1]))]
    length = float(np.hypot(*longest))
    if length == 0:
        return np.array([1.0, 0.0])
    return longest / length


def _point_cuts(along: np.ndarray, n_parts: int) -> list[float]:
    ordered = np.sort(along)
    cuts = []
    for i in range(1, n_parts):
        at = round(i * len(ordered) / n_parts)
        cuts.append(float((ordered[at - 1] + ordered[at]) / 2.0))
    return cuts


def _area_cuts(
    polygon: BaseGeometry,
    frame: tuple[np.ndarray, np.ndarray, float, float],
    low: float,
    high: float,
    n_parts: int,
) -> list[float]:
    total = polygon.area
    cuts = []
    for i in range(1, n_parts):
        wanted = total * i / n_parts
        a, b = low, high
        for _ in range(40):
            middle = (a + b) / 2.0
            below = polygon.intersection(_band(frame, low - 1.0, middle))
            a, b = (middle, b) if below.area < wanted else (a, middle)
        cuts.append((a + b) / 2.0)
    return cuts


def _band(
    frame: tuple[np.ndarray, np.ndarray, float, float], start: float, stop: float
) -> BaseGeometry:
    # the strip between two cut positions along the axis, wide enough across
    axis, normal, middle, reach = frame
    corners = [
        start * axis + (middle - reach) * normal,
        stop * axis + (middle - reach) * normal,
        stop * axis + (middle + reach) * normal,
        start * axis + (middle + reach) * normal,
    ]
    return shapely.Polygon(corners)


def _cut_line(
    frame: tuple[np.ndarray, np.ndarray, float, float], at: float
) -> BaseGeometry:
    axis, normal, middle, reach = frame
    return shapely.LineString(
        [at * axis + (middle - reach) * normal, at * axis + (middle + reach) * normal]
    )


def _empty_lines(crs: Any) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"village_code": pd.Series(dtype=str), "cut": pd.Series(dtype=int)},
        geometry=gpd.GeoSeries([], crs=crs),
        crs=crs,
    )


# --- adjacency ----------------------------------------------------------------


@dataclass
class _Graph:
    """Unit adjacency: neighbour lists, shared border lengths and perimeters."""

    neighbours: list[list[int]]
    shared_m: list[list[float]]
    perimeter_m: list[float]
    area_m2: list[float]
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_gap_m: np.ndarray
    edge_shared_m: np.ndarray
    links_added: int


def _adjacency(geoms: gpd.GeoSeries) -> _Graph:
    geoms = geoms.reset_index(drop=True)
    n = len(geoms)
    focal, other, shared = _rook_pairs(geoms)

    # link islands and detached groups to their nearest unit, border length 0
    focal, other, shared, added = _link_components(geoms, n, focal, other, shared)

    neighbours: list[list[int]] = [[] for _ in range(n)]
    shared_m: list[list[float]] = [[] for _ in range(n)]
    for u, v, s in zip(focal.tolist(), other.tolist(), shared.tolist(), strict=True):
        neighbours[u].append(v)
        shared_m[u].append(s)

    # each border once, with the gap between the two centroids
    once = focal < other
    centroids = shapely.get_coordinates(geoms.centroid.to_numpy())
    gap = np.hypot(*(centroids[focal[once]] - centroids[other[once]]).T)
    return _Graph(
        neighbours=neighbours,
        shared_m=shared_m,
        perimeter_m=geoms.length.tolist(),
        area_m2=geoms.area.tolist(),
        edge_u=focal[once],
        edge_v=other[once],
        edge_gap_m=gap + 1e-3,
        edge_shared_m=shared[once],
        links_added=added,
    )


def _rook_pairs(geoms: gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # exact rook contiguity, with the length of each shared border
    rook = Graph.build_contiguity(geoms, rook=True, by_perimeter=True, strict=True)
    edges = rook.adjacency.reset_index().to_numpy()
    edges = edges[edges[:, 0] != edges[:, 1]]
    focal, other = edges[:, 0].astype(int), edges[:, 1].astype(int)
    shared = edges[:, 2].astype(float)

    # borders that miss by digitising noise (or by a cut's rounding) count too
    fuzzy = Graph.build_fuzzy_contiguity(geoms, buffer=SNAP_TOLERANCE_M).adjacency
    pairs = fuzzy.index.to_frame(index=False).to_numpy().astype(int)
    pairs = pairs[pairs[:, 0] < pairs[:, 1]]
    known = set(zip(focal.tolist(), other.tolist(), strict=True))
    extra = np.array(
        [p for p in pairs.tolist() if (p[0], p[1]) not in known], dtype=int
    ).reshape(-1, 2)
    if len(extra) == 0:
        return focal, other, shared

    shapes = geoms.to_numpy()
    near = shapely.buffer(shapes[extra[:, 1]], SNAP_TOLERANCE_M)
    length = shapely.length(
        shapely.intersection(shapely.boundary(shapes[extra[:, 0]]), near)
    )
    extra, length = (
        extra[length >= MIN_SHARED_BORDER_M],
        length[length >= MIN_SHARED_BORDER_M],
    )
    return (
        np.concatenate([focal, extra[:, 0], extra[:, 1]]),
        np.concatenate([other, extra[:, 1], extra[:, 0]]),
        np.concatenate([shared, length, length]),
    )


def _link_components(
    geoms: gpd.GeoSeries,
    n: int,
    focal: np.ndarray,
    other: np.ndarray,
    shared: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    added = 0
    tree = shapely.STRtree(geoms.to_numpy())
    while True:
        matrix = coo_matrix((np.ones(len(focal)), (focal, other)), shape=(n, n))
        n_parts, part = connected_components(matrix, directed=False)
        if n_parts <= 1:
            break
        sizes = np.bincount(part)
        new_links = []
        for group in np.argsort(sizes)[:-1]:
            members = np.flatnonzero(part == group)
            new_links.append(_nearest_outside(geoms, tree, members, part, group))
        links = np.array(sorted({tuple(sorted(link)) for link in new_links}))
        focal = np.concatenate([focal, links[:, 0], links[:, 1]])
        other = np.concatenate([other, links[:, 1], links[:, 0]])
        shared = np.concatenate([shared, np.zeros(2 * len(links))])
        added += len(links)
    if added:
        logger.warning(
            "Linked %d islands or detached groups of villages to their nearest village",
            added,
        )
    return focal, other, shared, added


def _nearest_outside(
    geoms: gpd.GeoSeries,
    tree: shapely.STRtree,
    members: np.ndarray,
    part: np.ndarray,
    group: int,
) -> tuple[int, int]:
    outside = np.flatnonzero(part != group)
    outside_tree = shapely.STRtree(geoms.to_numpy()[outside])
    pairs, gaps = outside_tree.query_nearest(
        geoms.to_numpy()[members], return_distance=True, all_matches=False
    )
    best = int(np.argmin(gaps))
    return int(members[pairs[0, best]]), int(outside[pairs[1, best]])


# --- initial partition: recursive bisection along random spanning trees -------


def _initial_partition(
    graph: _Graph,
    workload: np.ndarray,
    xy: np.ndarray,
    k: int,
    lock: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    labels = np.full(len(workload), -1)
    stack = [(np.arange(len(workload)), np.arange(k))]
    while stack:
        nodes, grids = stack.pop()
        if len(grids) == 1:
            labels[nodes] = grids[0]
            continue

        ordered = _ordered_grids(nodes, grids, xy, lock)
        piece = _piece(graph, nodes, workload, lock, ordered)
        in_first, n_first = _best_cut(piece, rng)
        stack.append((nodes[in_first], ordered[:n_first]))
        stack.append((nodes[~in_first], ordered[n_first:]))
    return labels


def _ordered_grids(
    nodes: np.ndarray, grids: np.ndarray, xy: np.ndarray, lock: np.ndarray
) -> np.ndarray:
    # locked grids in order along the main axis of the nodes, free ones between
    local_xy = xy[nodes] - xy[nodes].mean(axis=0)
    axis = np.linalg.svd(local_xy, full_matrices=False)[2][0]
    positions = {}
    for g in grids.tolist():
        mine = nodes[lock[nodes] == g]
        if len(mine):
            positions[g] = float((xy[mine] @ axis).mean())
    ordered_locked = sorted(positions, key=positions.__getitem__)
    free = [g for g in grids.tolist() if g not in positions]
    half = len(ordered_locked) // 2
    return np.array(ordered_locked[:half] + free + ordered_locked[half:])


@dataclass
class _Piece:
    """The units of one bisection step, numbered locally, with their sums.

    ``lock_rank`` is, for a locked unit, the position of its grid in the
    ordered grid list of the step, and -1 for a free unit.
    """

    work: np.ndarray
    lock_rank: np.ndarray
    perimeter_m: np.ndarray
    area_m2: np.ndarray
    starts: list[int]
    ends: list[int]
    gap_m: np.ndarray
    shared_m: list[float]
    n_grids: int


def _best_cut(piece: _Piece, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    # with locked units the grids are halved in their order; without (or when
    # no halving fits the unit counts) any count on either side may do
    flexible = not (piece.lock_rank >= 0).any()
    best_score, best_side, best_grids = math.inf, np.zeros(0, dtype=bool), 1
    while True:
        for _ in range(TREES_PER_CUT):
            order, parent = _random_tree(len(piece.work), piece, rng)
            score, side, n_grids = _cut_tree(piece, order, parent, flexible)
            if score < best_score:
                best_score, best_side, best_grids = score, side, n_grids
        if best_score < math.inf or flexible:
            return best_side, best_grids
        flexible = True


def _piece(
    graph: _Graph,
    nodes: np.ndarray,
    workload: np.ndarray,
    lock: np.ndarray,
    ordered: np.ndarray,
) -> _Piece:
    position = np.full(len(graph.neighbours), -1)
    position[nodes] = np.arange(len(nodes))
    u, v = position[graph.edge_u], position[graph.edge_v]
    inside = (u >= 0) & (v >= 0)
    rank_of = {g: i for i, g in enumerate(ordered.tolist())}
    return _Piece(
        work=workload[nodes],
        lock_rank=np.array([rank_of.get(g, -1) for g in lock[nodes].tolist()]),
        perimeter_m=np.asarray(graph.perimeter_m)[nodes],
        area_m2=np.asarray(graph.area_m2)[nodes],
        starts=u[inside].tolist(),
        ends=v[inside].tolist(),
        gap_m=graph.edge_gap_m[inside],
        shared_m=graph.edge_shared_m[inside].tolist(),
        n_grids=len(ordered),
    )


def _random_tree(
    m: int, piece: _Piece, rng: np.random.Generator
) -> tuple[list[int], list[int]]:
    # minimum spanning tree of jittered centroid gaps (Kruskal), then BFS
    starts, ends = piece.starts, piece.ends
    root_of = list(range(m))

    def find(x: int) -> int:
        while root_of[x] != x:
            root_of[x] = root_of[root_of[x]]
            x = root_of[x]
        return x

    tree: list[list[int]] = [[] for _ in range(m)]
    joined = 0
    jittered = piece.gap_m * rng.uniform(1.0, 2.0, len(piece.gap_m))
    for i in np.argsort(jittered).tolist():
        a, b = find(starts[i]), find(ends[i])
        if a != b:
            root_of[a] = b
            tree[starts[i]].append(ends[i])
            tree[ends[i]].append(starts[i])
            joined += 1
            if joined == m - 1:
                break

    root = int(rng.integers(m))
    order, parent = [root], [-1] * m
    for u in order:
        for v in tree[u]:
            if v != parent[u]:
                parent[v] = u
                order.append(v)
    return order, parent


def _cut_tree(
    piece: _Piece, order: list[int], parent: list[int], flexible: bool
) -> tuple[float, np.ndarray, int]:
    m, g = len(order), piece.n_grids
    b_work, b_n, b_l1, b_l2, b_area, b_perimeter, b_cut = _subtree_sums(
        piece, order, parent
    )
    total = float(piece.work.sum())
    unit_work = max(total / g, 1e-12)
    if flexible:
        err, below_first, g_below = _flexible_errors(b_work, b_n, m, g, total)
    else:
        err, below_first, g_below = _halved_errors(piece, b_work, b_n, b_l1, b_l2)
    err = err / unit_work
    err[order[0]] = math.inf

    # among nearly balanced cuts, prefer compact halves
    rest_area = float(piece.area_m2.sum()) - b_area
    rest_perimeter = b_perimeter[order[0]] - b_perimeter + 2.0 * b_cut
    with np.errstate(divide="ignore", invalid="ignore"):
        pp_below = 4.0 * math.pi * b_area / b_perimeter**2
        pp_rest = 4.0 * math.pi * rest_area / rest_perimeter**2
    err += CUT_COMPACTNESS_WEIGHT * np.nan_to_num(2.0 - pp_below - pp_rest)

    # the units of the chosen subtree, and the side the first grids get
    cut = int(np.argmin(err))
    inside = [False] * m
    inside[cut] = True
    for v in order:
        if parent[v] >= 0 and inside[parent[v]]:
            inside[v] = True
    side = np.array(inside)
    if below_first[cut]:
        return float(err[cut]), side, int(g_below[cut])
    return float(err[cut]), ~side, g - int(g_below[cut])


def _flexible_errors(
    b_work: np.ndarray, b_n: np.ndarray, m: int, g: int, total: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # the subtree takes the grid count nearest its workload share that leaves
    # at least one unit per grid on both sides, and a third of the grids or
    # more on each side so the bisection stays shallow
    least = max(1, g // 3)
    lower = np.maximum(least, g - (m - b_n))
    upper = np.minimum(b_n, g - least)
    ideal = np.rint(b_work / max(total, 1e-12) * g)
    g_below = np.clip(ideal, lower, np.maximum(lower, upper)).astype(int)
    err = np.abs(b_work - total * g_below / g)
    err[lower > upper] = math.inf
    return err, np.ones(len(b_work), dtype=bool), g_below


def _halved_errors(
    piece: _Piece,
    b_work: np.ndarray,
    b_n: np.ndarray,
    b_l1: np.ndarray,
    b_l2: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # the subtree takes either the first half of the ordered grids or the
    # second, and should hold all the locked units of that half and no other
    m, g = len(b_work), piece.n_grids
    n_first, n_second = g // 2, g - g // 2
    total = float(piece.work.sum())
    l1_total = float(((piece.lock_rank >= 0) & (piece.lock_rank < n_first)).sum())
    l2_total = float((piece.lock_rank >= n_first).sum())

    penalty = 10.0 * total
    err_first = np.abs(b_work - total * n_first / g)
    err_first += penalty * ((b_l1 < l1_total) | (b_l2 > 0))
    err_first[(b_n < n_first) | (m - b_n < n_second)] = math.inf
    err_second = np.abs(b_work - total * n_second / g)
    err_second += penalty * ((b_l2 < l2_total) | (b_l1 > 0))
    err_second[(b_n < n_second) | (m - b_n < n_first)] = math.inf

    below_first = err_first <= err_second
    err = np.where(below_first, err_first, err_second)
    g_below = np.where(below_first, n_first, n_second)
    return err, below_first, g_below


def _subtree_sums(
    piece: _Piece, order: list[int], parent: list[int]
) -> tuple[np.ndarray, ...]:
    m = len(order)

    # each border is inside a subtree when the meeting point of its two ends
    # (their lowest common ancestor) is; borders hang on that ancestor
    inner = [0.0] * m
    touching = [0.0] * m
    meeting = _common_ancestors(order, parent, piece.starts, piece.ends)
    edges = zip(piece.starts, piece.ends, piece.shared_m, meeting, strict=True)
    for a, b, s, c in edges:
        touching[a] += s
        touching[b] += s
        inner[c] += s

    # sums over each subtree, children before parents
    n_first = piece.n_grids // 2
    rank = piece.lock_rank
    sums = [
        piece.work.tolist(),
        [1.0] * m,
        ((rank >= 0) & (rank < n_first)).astype(float).tolist(),
        (rank >= n_first).astype(float).tolist(),
        piece.area_m2.tolist(),
        piece.perimeter_m.tolist(),
        touching,
        inner,
    ]
    for v in reversed(order[1:]):
        p = parent[v]
        for column in sums:
            column[p] += column[v]
    work, n, l1, l2, area, perimeter, touch, inside = (np.array(c) for c in sums)

    # perimeter of the subtree, and its border with the rest
    cut = touch - 2.0 * inside
    return work, n, l1, l2, area, perimeter - 2.0 * inside, cut


def _common_ancestors(
    order: list[int], parent: list[int], starts: list[int], ends: list[int]
) -> list[int]:
    # Tarjan's offline lowest common ancestors: one depth-first pass over the
    # tree, merging each finished subtree into its parent's set
    m = len(order)
    children: list[list[int]] = [[] for _ in range(m)]
    for v in order[1:]:
        children[parent[v]].append(v)
    asked: list[list[tuple[int, int]]] = [[] for _ in range(m)]
    for i, (a, b) in enumerate(zip(starts, ends, strict=True)):
        asked[a].append((b, i))
        asked[b].append((a, i))

    group, top = list(range(m)), list(range(m))
    done = [False] * m
    answer = [0] * len(starts)

    def find(x: int) -> int:
        while group[x] != x:
            group[x] = group[group[x]]
            x = group[x]
        return x

    stack, next_child = [order[0]], [0] * m
    while stack:
        u = stack[-1]
        if next_child[u] < len(children[u]):
            stack.append(children[u][next_child[u]])
            next_child[u] += 1
            continue
        stack.pop()
        done[u] = True
        for w, i in asked[u]:
            if done[w]:
                answer[i] = top[find(w)]
        if parent[u] >= 0:
            root = find(parent[u])
            group[find(u)] = root
            top[root] = parent[u]
    return answer


def _lock_index(
    units: gpd.GeoDataFrame, locked: Mapping[str, str], lock_names: list[str]
) -> np.ndarray:
    position = {name: i for i, name in enumerate(lock_names)}
    return np.array(
        [
            position[locked[code]] if part == 0 and code in locked else -1
            for code, part in zip(units["village_code"], units["part"], strict=True)
        ]
    )


def _force_locks(
    graph: _Graph,
    labels: np.ndarray,
    lock: np.ndarray,
    workload: np.ndarray,
    targets: np.ndarray,
) -> np.ndarray:
    if (lock < 0).all() or (labels[lock >= 0] == lock[lock >= 0]).all():
        return labels
    labels = labels.copy()
    labels[lock >= 0] = lock[lock >= 0]
    return _reconnect(graph, labels, lock, workload, targets)


def _reconnect(
    graph: _Graph,
    labels: np.ndarray,
    lock: np.ndarray,
    workload: np.ndarray,
    targets: np.ndarray,
) -> np.ndarray:
    # keep the main piece of each grid; free units of other pieces are re-homed
    for g in range(len(targets)):
        pieces = _pieces(graph, labels, g)
        if len(pieces) <= 1:
            continue
        main = max(pieces, key=lambda p: ((lock[p] == g).sum(), workload[p].sum()))
        for piece in pieces:
            if piece is not main:
                free = piece[lock[piece] < 0]
                labels[free] = -1

    # attach orphans to the lightest neighbouring grid, from the edges inward
    load = np.bincount(labels[labels >= 0], workload[labels >= 0], len(targets))
    orphans = set(np.flatnonzero(labels < 0).tolist())
    while orphans:
        attached = []
        for u in sorted(orphans):
            options = {labels[v] for v in graph.neighbours[u] if labels[v] >= 0}
            if options:
                g = min(options, key=lambda h: load[h] / targets[h])
                labels[u] = g
                load[g] += workload[u]
                attached.append(u)
        orphans -= set(attached)
    return labels


def _pieces(graph: _Graph, labels: np.ndarray, g: int) -> list[np.ndarray]:
    members = np.flatnonzero(labels == g)
    seen: set[int] = set()
    pieces = []
    for start in members.tolist():
        if start in seen:
            continue
        piece = [start]
        seen.add(start)
        for u in piece:
            for v in graph.neighbours[u]:
                if labels[v] == g and v not in seen:
                    seen.add(v)
                    piece.append(v)
        pieces.append(np.array(piece))
    return pieces


# --- refinement: local search over boundary units -----------------------------


def _best_of_starts(
    graph: _Graph,
    workload: np.ndarray,
    xy: np.ndarray,
    targets: np.ndarray,
    lock: np.ndarray,
    rng: np.random.Generator,
    starts: int,
) -> np.ndarray:
    # every start has its own random stream; the best refined one is kept
    best_labels, best_cost = np.zeros(0, dtype=int), math.inf
    for stream in rng.spawn(starts):
        labels = _initial_partition(graph, workload, xy, len(targets), lock, stream)
        labels = _force_locks(graph, labels, lock, workload, targets)
        labels, cost = _refine(graph, labels, workload, targets, lock, stream)
        if cost < best_cost:
            best_labels, best_cost = labels, cost
    return best_labels


def _refine(
    graph: _Graph,
    labels: np.ndarray,
    workload: np.ndarray,
    targets: np.ndarray,
    lock: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, float]:
    search = _LocalSearch(graph, labels, workload, targets, COMPACTNESS_WEIGHT)
    movable = np.flatnonzero(lock < 0)
    if len(movable) == 0 or len(targets) == 1:
        return labels, sum(search.costs)

    # greedy descent, annealing from there, then descent from the best seen
    search.descend(movable, rng)
    steps = ANNEAL_STEPS_PER_UNIT * len(movable)
    search.anneal(movable, rng, min(max(steps, ANNEAL_MIN_STEPS), ANNEAL_MAX_STEPS))
    search.descend(movable, rng)
    return np.array(search.labels), sum(search.costs)


class _LocalSearch:
    """Grid totals kept up to date while single units change grid.

    The cost of a grid is ``d**2 + OVERLOAD_PENALTY * max(0, |d| - target)**2
    + lam * (1 - Polsby-Popper)`` with ``d = ratio_to_mean - 1``; grid
    perimeters follow from unit perimeters less twice the shared borders.
    """

    def __init__(
        self,
        graph: _Graph,
        labels: np.ndarray,
        workload: np.ndarray,
        targets: np.ndarray,
        compactness_weight: float,
    ) -> None:
        self.graph = graph
        self.labels: list[int] = labels.tolist()
        self.work: list[float] = workload.tolist()
        self.targets: list[float] = targets.tolist()
        self.lam = compactness_weight
        k = len(targets)
        self.load = [0.0] * k
        self.area = [0.0] * k
        self.perimeter = [0.0] * k
        self.size = [0] * k
        for u, g in enumerate(self.labels):
            self.load[g] += self.work[u]
            self.area[g] += graph.area_m2[u]
            self.perimeter[g] += graph.perimeter_m[u]
            self.size[g] += 1
            for v, s in zip(graph.neighbours[u], graph.shared_m[u], strict=True):
                if self.labels[v] == g:
                    self.perimeter[g] -= s
        self.costs = [
            self.cost(g, self.load[g], self.area[g], self.perimeter[g])
            for g in range(k)
        ]

    def cost(self, g: int, load: float, area: float, perimeter: float) -> float:
        deviation = load / self.targets[g] - 1.0
        excess = max(0.0, abs(deviation) - TARGET_DEVIATION)
        pp = 4.0 * math.pi * area / perimeter**2 if perimeter > 0 else 0.0
        return (
            deviation * deviation
            + OVERLOAD_PENALTY * excess * excess
            + self.lam * (1.0 - pp)
        )

    def descend(self, movable: np.ndarray, rng: np.random.Generator) -> None:
        for _ in range(MAX_PASSES):
            moved = 0
            for u in rng.permutation(movable).tolist():
                moved += self._best_move(u)
            if moved == 0:
                break

    def anneal(self, movable: np.ndarray, rng: np.random.Generator, steps: int) -> None:
        temperature = self._start_temperature(movable, rng)
        if temperature <= 0 or steps <= 0:
            return
        cooling = (1e-3) ** (1.0 / steps)
        picks = movable[rng.integers(len(movable), size=steps)].tolist()
        sides = rng.integers(1 << 30, size=steps).tolist()
        dice = rng.random(steps).tolist()

        best_total = sum(self.costs)
        best = self._snapshot()
        check_every = max(len(movable), 100)
        for step in range(steps):
            temperature *= cooling
            move = self._random_move(picks[step], sides[step])
            if move is None:
                continue
            delta, u, a, b, a_state, b_state = move
            if delta > 0 and dice[step] >= math.exp(-delta / temperature):
                continue
            if self._stays_connected(u, a):
                self._apply(u, a, b, a_state, b_state)
            if step % check_every == 0 and sum(self.costs) < best_total:
                best_total, best = sum(self.costs), self._snapshot()

        if sum(self.costs) > best_total:
            self._restore(best)

    def _start_temperature(
        self, movable: np.ndarray, rng: np.random.Generator
    ) -> float:
        worse = []
        picks = movable[rng.integers(len(movable), size=200)].tolist()
        for u, side in zip(
            picks, rng.integers(1 << 30, size=200).tolist(), strict=True
        ):
            move = self._random_move(u, side)
            if move is not None and move[0] > 0:
                worse.append(move[0])
        return float(np.median(worse)) if worse else 0.0

    def _border(self, u: int) -> dict[int, float]:
        border: dict[int, float] = {}
        labels = self.labels
        for v, s in zip(self.graph.neighbours[u], self.graph.shared_m[u], strict=True):
            g = labels[v]
            border[g] = border.get(g, 0.0) + s
        return border

    def _delta(
        self, u: int, a: int, b: int, border: dict[int, float]
    ) -> tuple[float, tuple[float, float, float], tuple[float, float, float]]:
        w_u, area_u = self.work[u], self.graph.area_m2[u]
        p_u = self.graph.perimeter_m[u]
        a_state = (
            self.load[a] - w_u,
            self.area[a] - area_u,
            self.perimeter[a] - p_u + 2.0 * border.get(a, 0.0),
        )
        b_state = (
            self.load[b] + w_u,
            self.area[b] + area_u,
            self.perimeter[b] + p_u - 2.0 * border[b],
        )
        delta = (
            self.cost(a, *a_state)
            + self.cost(b, *b_state)
            - self.costs[a]
            - self.costs[b]
        )
        return delta, a_state, b_state

    def _random_move(self, u: int, side: int) -> tuple[Any, ...] | None:
        a = self.labels[u]
        if self.size[a] <= 1:
            return None
        border = self._border(u)
        options = [g for g in border if g != a]
        if not options:
            return None
        b = options[side % len(options)]
        delta, a_state, b_state = self._delta(u, a, b, border)
        return delta, u, a, b, a_state, b_state

    def _best_move(self, u: int) -> int:
        a = self.labels[u]
        if self.size[a] <= 1:
            return 0
        border = self._border(u)
        best: tuple[Any, ...] | None = None
        for b in border:
            if b == a:
                continue
            delta, a_state, b_state = self._delta(u, a, b, border)
            if delta < -1e-12 and (best is None or delta < best[0]):
                best = (delta, b, a_state, b_state)
        if best is None or not self._stays_connected(u, a):
            return 0
        self._apply(u, a, best[1], best[2], best[3])
        return 1

    def _apply(
        self,
        u: int,
        a: int,
        b: int,
        a_state: tuple[float, float, float],
        b_state: tuple[float, float, float],
    ) -> None:
        self.labels[u] = b
        self.load[a], self.area[a], self.perimeter[a] = a_state
        self.load[b], self.area[b], self.perimeter[b] = b_state
        self.costs[a] = self.cost(a, *a_state)
        self.costs[b] = self.cost(b, *b_state)
        self.size[a] -= 1
        self.size[b] += 1

    def _snapshot(self) -> tuple[list[Any], ...]:
        return (
            self.labels[:],
            self.load[:],
            self.area[:],
            self.perimeter[:],
            self.size[:],
            self.costs[:],
        )

    def _restore(self, snapshot: tuple[list[Any], ...]) -> None:
        labels, load, area, perimeter, size, costs = snapshot
        self.labels, self.load, self.area = labels, load, area
        self.perimeter, self.size, self.costs = perimeter, size, costs

    def _stays_connected(self, u: int, a: int) -> bool:
        labels, neighbours = self.labels, self.graph.neighbours
        ends = {v for v in neighbours[u] if labels[v] == a}
        if len(ends) <= 1:
            return True
        start = ends.pop()
        seen = {u, start}
        frontier = [start]
        while frontier and ends:
            w = frontier.pop()
            for v in neighbours[w]:
                if v not in seen and labels[v] == a:
                    seen.add(v)
                    ends.discard(v)
                    frontier.append(v)
        return not ends


# --- naming, reporting and comparison -----------------------------------------


def _grid_names(
    k: int,
    lock_names: list[str],
    labels: np.ndarray,
    units: gpd.GeoDataFrame,
    current: Mapping[str, str] | None,
    prefix: str,
) -> list[str]:
    names: list[str | None] = [*lock_names, *([None] * (k - len(lock_names)))]
    taken = set(lock_names)

    # free grids take the name of the current grid they overlap most
    if current:
        for g, name in _matched_current(labels, units, current, len(lock_names)):
            if name not in taken:
                names[g] = name
                taken.add(name)

    width = max(2, len(str(k)))
    counter = 0
    for g in range(k):
        if names[g] is None:
            while True:
                counter += 1
                candidate = f"{prefix}G{counter:0{width}d}"
                if candidate not in taken:
                    break
            names[g] = candidate
            taken.add(candidate)
    return [str(name) for name in names]


def _matched_current(
    labels: np.ndarray,
    units: gpd.GeoDataFrame,
    current: Mapping[str, str],
    n_locked: int,
) -> list[tuple[int, str]]:
    now = units["village_code"].map({str(c): str(g) for c, g in current.items()})
    known = now.notna().to_numpy() & (labels >= n_locked)
    if not known.any():
        return []
    overlap = pd.crosstab(
        labels[known], now[known].to_numpy(), values=units["workload"][known],
        aggfunc="sum",
    ).fillna(0.0)  # fmt: skip
    rows, cols = linear_sum_assignment(overlap.to_numpy(), maximize=True)
    return [
        (int(overlap.index[r]), str(overlap.columns[c]))
        for r, c in zip(rows, cols, strict=True)
        if float(overlap.to_numpy()[r, c]) > 0
    ]


def _build_proposal(
    units: gpd.GeoDataFrame,
    lines: gpd.GeoDataFrame,
    graph: _Graph,
    labels: np.ndarray,
    names: list[str],
    lock: np.ndarray,
) -> Proposal:
    units = units.copy()
    units["locked"] = lock >= 0
    sums = [c for c in units.columns if c not in ("code", "village_code", "part")]
    sums = [c for c in sums if c not in ("geometry", "grid", "locked")]

    # dissolve in metres, then figures per grid
    grouped = units.groupby("grid", sort=True)
    shapes = units.dissolve(by="grid", sort=True).geometry
    frame = grouped[sums].sum()
    frame["n_villages"] = grouped["village_code"].nunique()
    frame["n_units"] = grouped.size()
    frame["n_locked"] = grouped["locked"].sum().astype(int)
    balance = workload_balance(frame["workload"])
    frame["ratio_to_mean"] = balance["ratio_to_mean"]
    frame["polsby_popper"] = 4 * math.pi * shapes.area / shapes.length**2
    frame["contiguous"] = contiguity(shapes)
    connected = {
        names[g]: len(_pieces(graph, labels, g)) == 1 for g in range(len(names))
    }
    frame["connected"] = pd.Series(connected)

    order = ["workload", "ratio_to_mean", "polsby_popper", "contiguous", "connected"]
    order += ["n_villages", "n_units", "n_locked"]
    order += [c for c in sums if c != "workload"]
    grids = gpd.GeoDataFrame(
        frame[order].reset_index(), geometry=shapes.to_numpy(), crs=units.crs
    ).to_crs(4326)

    assignment = units[["code", "village_code", "grid"]].reset_index(drop=True)
    return Proposal(
        assignment=assignment,
        grids=grids,
        units=units.to_crs(4326),
        split_lines=lines.to_crs(4326),
        max_deviation=max_deviation(balance["ratio_to_mean"]),
    )


def _compare_with_current(
    proposal: Proposal, metric: gpd.GeoDataFrame, current: Mapping[str, str]
) -> dict[str, Any]:
    now = metric["code"].map({str(c): str(g) for c, g in current.items()})
    known = now.notna()
    if not known.any():
        logger.warning("Compared with no current grid: no village code matched")
        return {"villages_compared": 0, "villages_changed": 0}

    # the current grids' own figures
    villages = metric[known].assign(grid=now[known])
    balance = workload_balance(villages["workload"], villages["grid"])
    shapes = villages.dissolve(by="grid").geometry
    current_pp = 4 * math.pi * shapes.area / shapes.length**2

    # villages whose grid (any of their parts' grids) would change
    proposed = proposal.assignment.assign(now=proposal.assignment["village_code"].map(
        dict(zip(metric["code"], now, strict=True))
    ))  # fmt: skip
    proposed = proposed[proposed["now"].notna()]
    changed = (proposed["grid"] != proposed["now"]).groupby(proposed["village_code"])
    return {
        "current_k": len(balance),
        "current_max_deviation": round(max_deviation(balance["ratio_to_mean"]), 4),
        "current_mean_polsby_popper": round(float(current_pp.mean()), 4),
        "proposed_max_deviation": round(proposal.max_deviation, 4),
        "proposed_mean_polsby_popper": round(
            float(proposal.grids["polsby_popper"].mean()), 4
        ),
        "villages_compared": int(known.sum()),
        "villages_changed": int(changed.any().sum()),
    }


def _merged_comparison(parts: Sequence[Proposal]) -> dict[str, Any] | None:
    found = [p.comparison for p in parts if p.comparison]
    found = [c for c in found if c.get("villages_compared")]
    if not found:
        return None
    current_k = sum(c["current_k"] for c in found)
    proposed_k = sum(len(p.grids) for p in parts if p.comparison)
    return {
        "current_k": current_k,
        "current_max_deviation": max(c["current_max_deviation"] for c in found),
        "current_mean_polsby_popper": round(
            sum(c["current_mean_polsby_popper"] * c["current_k"] for c in found)
            / current_k,
            4,
        ),
        "proposed_max_deviation": max(c["proposed_max_deviation"] for c in found),
        "proposed_mean_polsby_popper": round(
            sum(float(p.grids["polsby_popper"].sum()) for p in parts if p.comparison)
            / proposed_k,
            4,
        ),
        "villages_compared": sum(c["villages_compared"] for c in found),
        "villages_changed": sum(c["villages_changed"] for c in found),
    }


# --- partition helpers --------------------------------------------------------


def _partition_counts(
    villages: gpd.GeoDataFrame,
    k: int | Mapping[Hashable, int],
    by: str,
    weights: Mapping[str, float] | None,
) -> pd.Series:
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
        return pd.Series({key: _checked_k(k[key]) for key in keys})

    k = _checked_k(k)
    with_area = villages
    if "area_km2" not in villages.columns:
        with_area = villages.assign(
            area_km2=villages.to_crs(utm_crs_for(villages)).area / 1e6
        )
    workload = village_workload(with_area, weights)
    return allocate_grids(workload.groupby(villages[by]).sum().reindex(keys), k)


def _restricted(
    mapping: Mapping[str, str] | None, codes: set[str]
) -> dict[str, str] | None:
    if mapping is None:
        return None
    return {str(c): g for c, g in mapping.items() if str(c) in codes}


def _households_of(
    households: gpd.GeoDataFrame | None, codes: set[str]
) -> gpd.GeoDataFrame | None:
    if households is None or "village_code" not in households.columns:
        return households
    return households[households["village_code"].astype(str).isin(codes)]


def _concat_frames(frames: Sequence[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    if not frames:
        return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=4326), crs=4326)
    non_empty = [f for f in frames if len(f)] or [frames[0]]
    joined = pd.concat(non_empty, ignore_index=True)
    return gpd.GeoDataFrame(joined, geometry="geometry", crs=frames[0].crs)
