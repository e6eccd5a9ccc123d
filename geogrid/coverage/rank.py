"""Blind-spot areas, ranked by what reaching them is worth.

An area (village, H3 cell or grid) is a blind spot when the bank hardly
reaches it: its household penetration is below ``blind_spot_share`` times
the reference penetration p_ref (that of all loaded households unless
given), or its low penetration is significant given its neighbours (a Gi*
cold spot, `geogrid.coverage.hotspots`). Areas merely somewhat below the
average are not blind spots; their shortfall shows in the area layers.

Each blind spot gets:

- ``gap_households`` = max(0, p_ref × households − customer households): the
  customer households the area lacks to reach the reference penetration
  p_ref (that of all loaded households unless given);
- ``gap_other_yuan`` = gap_households × (other-bank deposits and loans of
  the area's uncovered households / its uncovered households): what those
  missing households are known to keep at other banks, estimated from the
  area's own uncovered households;
- ``reach`` = 1 / (1 + branch_distance_m / distance_scale_m), where
  branch_distance_m is the mean distance of the area's uncovered households
  from their nearest branch: an area as far away as ``distance_scale_m``
  counts half, as it costs more to serve;
- ``score`` = 100 × reach × ((1 − w) × gap_households / max gap_households
  + w × gap_other_yuan / max gap_other_yuan), with w = ``balance_weight``
  and the maxima taken over the ranked areas, so the score runs from 0 to
  100 within one report.

Blind spots are ranked by score, ties broken by gap_households.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RANK_COLUMNS = (
    "rank",
    "score",
    "blind_spot_reason",
    "gap_households",
    "gap_other_yuan",
    "other_yuan_per_uncovered",
    "reach",
    "reference_penetration",
    "penetration_threshold",
    "low_penetration",
)


def reference_penetration(areas: pd.DataFrame) -> float:
    """Customer households over households, over all areas together."""
    households = float(areas["households"].sum())
    if households == 0:
        return 0.0
    return float(areas["customer_households"].sum()) / households


def opportunity(
    areas: pd.DataFrame,
    *,
    reference: float,
    blind_spot_share: float,
    distance_scale_m: float,
    balance_weight: float,
) -> pd.DataFrame:
    """Pick the blind spots among areas and rank them by opportunity score.

    Parameters
    ----------
    areas
        One row per area with households, customer_households,
        uncovered_households, penetration, uncovered_other_yuan,
        branch_distance_m and, optionally, cold_spot and gi_z.
    reference
        Reference penetration p_ref, from 0 to 1.
    blind_spot_share
        Areas with a penetration below this share of `reference` are blind
        spots (and so are cold spots).
    distance_scale_m
        Distance at which the reach factor is one half, in metres.
    balance_weight
        Weight w of the balances term, from 0 to 1.

    Returns
    -------
    pandas.DataFrame
        The blind spots, best first, with their columns and the
        `RANK_COLUMNS`; ``blind_spot_reason`` says why each is one, in
        words, and ``low_penetration`` (below ``penetration_threshold``)
        with ``cold_spot`` say it as flags, for a viewer to word in its
        own language.
    """
    households = areas["households"].to_numpy(dtype=np.float64)
    customers = areas["customer_households"].to_numpy(dtype=np.float64)
    uncovered = areas["uncovered_households"].to_numpy(dtype=np.float64)
    gap = np.maximum(reference * households - customers, 0.0)

    with np.errstate(divide="ignore", invalid="ignore"):
        per_uncovered = np.where(
            uncovered > 0, areas["uncovered_other_yuan"].to_numpy() / uncovered, 0.0
        )
    gap_yuan = gap * per_uncovered
    distance_m = areas["branch_distance_m"].to_numpy(dtype=np.float64)
    reach = 1.0 / (1.0 + np.nan_to_num(distance_m, nan=0.0) / distance_scale_m)

    ranked = areas.assign(
        gap_households=gap,
        gap_other_yuan=gap_yuan,
        other_yuan_per_uncovered=per_uncovered,
        reach=reach,
        reference_penetration=reference,
    )
    low = areas["penetration"].fillna(1.0).to_numpy() < blind_spot_share * reference
    cold = (
        areas["cold_spot"].to_numpy(dtype=bool)
        if "cold_spot" in areas
        else np.zeros(len(areas), dtype=bool)
    )
    ranked = ranked.assign(
        penetration_threshold=blind_spot_share * reference, low_penetration=low
    )
    ranked = ranked[(gap > 0) & (low | cold)].copy()
    ranked["blind_spot_reason"] = _reasons(
        ranked, ranked["low_penetration"].to_numpy(), reference, blind_spot_share
    )
    ranked["score"] = (
        100.0
        * ranked["reach"]
        * (
            (1.0 - balance_weight) * _scaled(ranked["gap_households"])
            + balance_weight * _scaled(ranked["gap_other_yuan"])
        )
    )
    ranked = ranked.sort_values(
        ["score", "gap_households"], ascending=False, kind="stable"
    )
    ranked["rank"] = np.arange(1, len(ranked) + 1)
    return ranked


def _reasons(
    ranked: pd.DataFrame, low: np.ndarray, reference: float, share: float
) -> list[str]:
    reasons = []
    for k, (penetration, cold) in enumerate(
        zip(
            ranked["penetration"].to_numpy(),
            ranked.get("cold_spot", pd.Series(False, index=ranked.index)).to_numpy(),
            strict=True,
        )
    ):
        parts = []
        if low[k]:
            parts.append(
                f"penetration {penetration:.1%} is below {share:g} x "
                f"{reference:.1%} (reference)"
            )
        if cold:
            z = ranked["gi_z"].iloc[k]
            p = ranked["p_value"].iloc[k]
            parts.append(f"cold spot (Gi* z {z:+.2f}, p {p:.4f})")
        reasons.append("; ".join(parts))
    return reasons


def _scaled(values: pd.Series) -> pd.Series:
    top = float(values.max()) if len(values) else 0.0
    return values / top if top > 0 else values * 0.0
