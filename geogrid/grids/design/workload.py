"""Workload of villages: workload columns mixed as shares of their totals.

Each workload column is divided by its total over the input villages, then
the columns are mixed with the given weights (divided by their sum), so a
village's workload is its share of the branch's work and the weights of
unlike columns (households, area, travel) are comparable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from geogrid.errors import InvalidInput

DEFAULT_WEIGHTS: Mapping[str, float] = {"households": 1.0}


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
    weights = checked_weights(weights, villages)
    total_weight = sum(weights.values())
    workload = pd.Series(0.0, index=villages.index, name="workload")
    for column, weight in weights.items():
        values = villages[column].astype(float)
        workload += weight * values / float(values.sum())
    return workload / total_weight


def checked_weights(
    weights: Mapping[str, float] | None, villages: pd.DataFrame
) -> dict[str, float]:
    """Weights checked against ``villages``, the default when ``None``.

    Raises
    ------
    InvalidInput
        When a weight is negative or not finite, the total is not positive,
        or a named column is missing, not numeric, negative or all zero.
    """
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


def mixed_workload(
    units: pd.DataFrame, weights: Mapping[str, float], totals: Mapping[str, float]
) -> np.ndarray:
    """Workload of split parts, mixed against the totals of all villages."""
    # the same mix as village_workload, against the totals of all villages
    mixed = sum(w * units[c].to_numpy() / totals[c] for c, w in weights.items())
    return np.asarray(mixed) / sum(weights.values())
