"""Automatic design of second-level grids: villages into balanced, compact grids.

The algorithm, in short (each step in its own module of this package):

1. **Workload** (`workload`). Each workload column is divided by its total
   over the input villages, then the columns are mixed with the given
   weights (divided by their sum), so a village's workload is its share of
   the branch's work and the weights of unlike columns (households, area,
   travel) are comparable.
2. **Splitting** (`split`). A village whose workload alone exceeds
   `SPLIT_THRESHOLD` times the mean grid workload is cut into
   ``ceil(workload / mean)`` parts by straight lines perpendicular to the
   long side of its minimum rotated rectangle, placed so the parts hold
   equal numbers of household points (or equal areas when no points are
   given). Parts are units named ``<village>#1``, ``<village>#2``...; the cut
   lines are returned.
3. **Adjacency** (`graph`). Units are neighbours when they share a stretch
   of border (libpysal rook contiguity, strict geometric test, with the
   length of the shared border kept). Island units and detached groups are
   linked to their nearest unit, so every unit can join a grid.
4. **Initial partition** (`bisection`). Recursive bisection along random
   spanning trees of the adjacency graph (in the spirit of the ReCom
   proposal of GerryChain): each cut is the tree edge that best splits the
   workload in proportion to the number of grids on each side, with a small
   bonus for compact halves (`CUT_COMPACTNESS_WEIGHT`), keeping locked
   villages on the side of their grid (`locks`). Both sides of a tree cut
   are connected, so every grid is.
5. **Refinement** (`search`). A local search moves boundary units between
   neighbouring grids, never disconnecting the grid a unit leaves, to
   minimise the sum over grids of ``d**2 + OVERLOAD_PENALTY * max(0, |d| -
   TARGET_DEVIATION)**2 + COMPACTNESS_WEIGHT * (1 - Polsby-Popper)``, where
   ``d`` is the grid's ``ratio_to_mean - 1`` and perimeters are tracked
   exactly through shared border lengths: a greedy descent, simulated
   annealing (seeded), and a last descent from the best state seen.

Grids are then named and compared with the current ones (`compare`), and
measured into a `Proposal` here. `design_partitioned` runs the same design
per partition (a branch, say; helpers in `partition`) and merges the
results, so a distributed driver can map the partitions. Input checks live
in `inputs`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geogrid.crs import utm_crs_for
from geogrid.errors import InvalidInput
from geogrid.grids.design.bisection import (
    CUT_COMPACTNESS_WEIGHT,
    TREES_PER_CUT,
)
from geogrid.grids.design.compare import (
    compare_with_current,
    grid_names,
    merged_comparison,
)
from geogrid.grids.design.graph import (
    MIN_SHARED_BORDER_M,
    SNAP_TOLERANCE_M,
    UnitGraph,
    adjacency,
    grid_pieces,
)
from geogrid.grids.design.inputs import (
    check_k_fits,
    check_lock_count,
    checked_households,
    checked_k,
    checked_locked,
    checked_starts,
    checked_villages,
)
from geogrid.grids.design.locks import unit_locks
from geogrid.grids.design.partition import (
    allocate_grids,
    concat_frames,
    households_of,
    partition_counts,
    restricted,
)
from geogrid.grids.design.search import (
    ANNEAL_MAX_STEPS,
    ANNEAL_MIN_STEPS,
    ANNEAL_STEPS_PER_UNIT,
    COMPACTNESS_WEIGHT,
    MAX_PASSES,
    MAX_STARTS,
    OVERLOAD_PENALTY,
    START_BUDGET_UNITS,
    TARGET_DEVIATION,
    best_of_starts,
)
from geogrid.grids.design.split import (
    SPLIT_THRESHOLD,
    cut_polygon,
    split_heavy_villages,
)
from geogrid.grids.design.workload import (
    DEFAULT_WEIGHTS,
    checked_weights,
    village_workload,
)
from geogrid.grids.metrics import contiguity, max_deviation, workload_balance

__all__ = [
    "ANNEAL_MAX_STEPS",
    "ANNEAL_MIN_STEPS",
    "ANNEAL_STEPS_PER_UNIT",
    "COMPACTNESS_WEIGHT",
    "CUT_COMPACTNESS_WEIGHT",
    "DEFAULT_WEIGHTS",
    "MAX_PASSES",
    "MAX_STARTS",
    "MIN_SHARED_BORDER_M",
    "OVERLOAD_PENALTY",
    "SNAP_TOLERANCE_M",
    "SPLIT_THRESHOLD",
    "START_BUDGET_UNITS",
    "TARGET_DEVIATION",
    "TREES_PER_CUT",
    "Proposal",
    "allocate_grids",
    "cut_polygon",
    "design_grids",
    "design_partitioned",
    "merge_proposals",
    "village_workload",
]

logger = logging.getLogger(__name__)


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
    villages = checked_villages(villages)
    k = checked_k(k)
    metric_crs = utm_crs_for(villages)
    metric = villages.to_crs(metric_crs)
    if "area_km2" not in metric.columns:
        metric["area_km2"] = metric.area.to_numpy() / 1e6
    weights = checked_weights(weights, metric)
    locked_labels = checked_locked(locked, metric["code"])
    points = checked_households(households, metric_crs)

    # workload, then splitting of villages that exceed one manager's load
    metric["workload"] = village_workload(metric, weights).to_numpy()
    mean_workload = float(metric["workload"].sum()) / k
    units, lines = split_heavy_villages(
        metric, weights, locked_labels, points, mean_workload, enabled=max_split
    )
    check_k_fits(k, len(units), len(metric))

    # grid labels: locked ones first, then generated (or current) names
    lock_names = sorted(set(locked_labels.values()))
    check_lock_count(lock_names, k)
    lock_index = unit_locks(units, locked_labels, lock_names)
    graph = adjacency(units.geometry)

    # the partition itself
    targets = np.full(k, mean_workload)
    workload = units["workload"].to_numpy(dtype=float)
    xy = np.column_stack([units.centroid.x, units.centroid.y])
    if starts is None:
        starts = min(MAX_STARTS, max(1, START_BUDGET_UNITS // len(units)))
    starts = checked_starts(starts)
    labels = best_of_starts(
        graph, workload, xy, targets, lock_index, np.random.default_rng(seed), starts
    )

    # reporting
    names = grid_names(k, lock_names, labels, units, current, label_prefix)
    units["grid"] = [names[i] for i in labels]
    proposal = _build_proposal(units, lines, graph, labels, names, lock_index)
    proposal.seed = seed
    if current is not None:
        proposal.comparison = compare_with_current(proposal, metric, current)
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
    villages = checked_villages(villages)
    if by not in villages.columns:
        raise InvalidInput(
            f"by names the column {by!r}, which villages does not have "
            f"(columns: {', '.join(map(str, villages.columns))}); add the "
            "partition column or pass another name.",
            parameter="by",
        )
    counts = partition_counts(villages, k, by, weights)

    parts: list[Proposal] = []
    keys: list[Hashable] = []
    for key, group in villages.groupby(by, sort=True):
        codes = set(group["code"])
        parts.append(
            design_grids(
                group,
                int(counts[key]),
                weights=weights,
                locked=restricted(locked, codes),
                seed=seed,
                current=restricted(current, codes),
                max_split=max_split,
                households=households_of(households, codes),
                label_prefix=f"{key}/",
                starts=starts,
            )
        )
        keys.append(key)
    return merge_proposals(parts, keys)


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
        grids=concat_frames(grids),
        units=concat_frames([p.units for p in parts]),
        split_lines=concat_frames([p.split_lines for p in parts]),
        max_deviation=max((p.max_deviation for p in parts), default=0.0),
        seed=parts[0].seed if parts else 0,
        elapsed_s=sum(p.elapsed_s for p in parts),
    )
    merged.comparison = merged_comparison(parts)
    return merged


# --- the proposal's frames and figures ----------------------------------------


def _build_proposal(
    units: gpd.GeoDataFrame,
    lines: gpd.GeoDataFrame,
    graph: UnitGraph,
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
        names[g]: len(grid_pieces(graph, labels, g)) == 1 for g in range(len(names))
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
