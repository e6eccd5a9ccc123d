"""Grid names and comparison of a design with the current grids.

Free grids take the name of the current grid they overlap most (by
workload); the comparison gives the current grids' balance and compactness
beside the proposal's, and how many villages would change grid.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from geogrid.grids.metrics import max_deviation, workload_balance

if TYPE_CHECKING:
    from geogrid.grids.design import Proposal

logger = logging.getLogger(__name__)


def grid_names(
    k: int,
    lock_names: list[str],
    labels: np.ndarray,
    units: gpd.GeoDataFrame,
    current: Mapping[str, str] | None,
    prefix: str,
) -> list[str]:
    """A label for each grid index: locked names, current names, then generated."""
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


def compare_with_current(
    proposal: Proposal, metric: gpd.GeoDataFrame, current: Mapping[str, str]
) -> dict[str, Any]:
    """Figures of the current grids beside the proposal's, and villages changed."""
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


def merged_comparison(parts: Sequence[Proposal]) -> dict[str, Any] | None:
    """The comparisons of partitions added up; None when none compared a village."""
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
