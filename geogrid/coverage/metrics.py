"""Coverage figures: flags per household, sums per area, and rates from the sums.

The work is split so that it can run on partitions of the households and be
merged cheaply, as a distributed engine would run it:

1. `household_flags` marks each household of a partition (customer or not,
   visited lately or not, keeping its money elsewhere or not);
2. `area_sums` (or `area_sums_by`, for several kinds of area at once) adds
   them up per area key within the partition;
3. `merge_sums` adds partial sums from several partitions;
4. `area_rates` turns the merged sums into shares and flags.

Only sums travel between steps 2 and 4, so the merge costs as little as the
number of areas.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd

# the columns `area_sums` adds up; every rate is computed from them
SUM_COLUMNS = (
    "households",
    "customer_households",
    "uncovered_households",
    "people",
    "working_age",
    "customers",
    "working_age_customers",
    "unvisited_households",
    "unvisited_customers",
    "deposit_own",
    "loan_own",
    "deposit_other",
    "loan_other",
    "customer_deposit_own",
    "customer_deposit_other",
    "customer_loan_own",
    "customer_loan_other",
    "leaking_households",
    "uncovered_deposit_other",
    "uncovered_loan_other",
    "uncovered_branch_distance_m",
    "branch_distance_m",
    "ungridded_households",
    "misfiled_households",
)


def household_flags(
    households: pd.DataFrame,
    *,
    as_of: dt.date,
    days: int,
    leakage_share: float,
) -> pd.DataFrame:
    """Flag each household of a partition; returns a copy with new columns.

    Parameters
    ----------
    households
        Rows as `load_inputs` returns them (customers, balances, last_visit).
    as_of
        Report date.
    days
        A household is unvisited when it has no visit on or after
        ``as_of - days``.
    leakage_share
        A customer household leaks when more than this share of its known
        deposits, or of its known loans, sits at other banks.

    Returns
    -------
    pandas.DataFrame
        With ``is_customer`` (some member is a customer), ``uncovered`` (no
        member is), ``unvisited``, ``unvisited_customers`` (customers living
        in an unvisited household), ``deposit_other_share``,
        ``loan_other_share`` (NaN without known balances) and ``leaking``.
    """
    out = households.copy()
    out["is_customer"] = out["customers"].to_numpy() > 0
    out["uncovered"] = ~out["is_customer"]

    since = pd.Timestamp(as_of - dt.timedelta(days=days))
    last = out["last_visit"]
    out["unvisited"] = (last.isna() | (last < since)).to_numpy()
    out["unvisited_customers"] = np.where(out["unvisited"], out["customers"], 0)

    deposit_share = _other_share(out["deposit_other"], out["deposit_own"])
    loan_share = _other_share(out["loan_other"], out["loan_own"])
    out["deposit_other_share"] = deposit_share
    out["loan_other_share"] = loan_share
    mostly_elsewhere = (np.nan_to_num(deposit_share) > leakage_share) | (
        np.nan_to_num(loan_share) > leakage_share
    )
    out["leaking"] = out["is_customer"].to_numpy() & mostly_elsewhere
    return out


def area_sums(households: pd.DataFrame, key: str) -> pd.DataFrame:
    """Sum the flagged households of a partition per value of `key`.

    Parameters
    ----------
    households
        Output of `household_flags`, with ``branch_distance_m``, ``grid_pos``
        (-1 outside every grid, located households only) and
        ``stored_grid_pos`` columns added by the report.
    key
        Column holding a non-negative integer key of each household's area
        (a position in a broadcast area table, or an H3 cell); rows where
        it is -1 are left out.

    Returns
    -------
    pandas.DataFrame
        One row per area (indexed by `key`) with the `SUM_COLUMNS`.
    """
    return area_sums_by(households, [key])[key]


def area_sums_by(households: pd.DataFrame, keys: list[str]) -> dict[str, pd.DataFrame]:
    """`area_sums` for several key columns, computing the summed values once."""
    values = _sum_values(households)
    sums = {}
    for key in keys:
        codes = households[key].to_numpy()
        valid = codes >= 0
        sums[key] = values[valid].groupby(codes[valid], sort=True).sum()
        sums[key].index.name = key
    return sums


def _sum_values(households: pd.DataFrame) -> pd.DataFrame:
    """Per household, the value each of `SUM_COLUMNS` adds up."""
    h = households
    customer = h["is_customer"].to_numpy()
    uncovered = h["uncovered"].to_numpy()
    distance_m = h["branch_distance_m"].fillna(0.0).to_numpy()
    located = np.isfinite(h["lon"].to_numpy())
    grid_pos = h["grid_pos"].to_numpy()
    stored = h["stored_grid_pos"].to_numpy()
    parts = {
        "households": np.ones(len(h), dtype=np.int64),
        "customer_households": customer.astype(np.int64),
        "uncovered_households": uncovered.astype(np.int64),
        "people": h["people"].to_numpy(np.int64),
        "working_age": h["working_age"].to_numpy(np.int64),
        "customers": h["customers"].to_numpy(np.int64),
        "working_age_customers": h["working_age_customers"].to_numpy(np.int64),
        "unvisited_households": h["unvisited"].to_numpy(np.int64),
        "unvisited_customers": h["unvisited_customers"].to_numpy(np.int64),
        "deposit_own": h["deposit_own"].to_numpy(),
        "loan_own": h["loan_own"].to_numpy(),
        "deposit_other": h["deposit_other"].to_numpy(),
        "loan_other": h["loan_other"].to_numpy(),
        "customer_deposit_own": np.where(customer, h["deposit_own"], 0.0),
        "customer_deposit_other": np.where(customer, h["deposit_other"], 0.0),
        "customer_loan_own": np.where(customer, h["loan_own"], 0.0),
        "customer_loan_other": np.where(customer, h["loan_other"], 0.0),
        "leaking_households": h["leaking"].to_numpy(np.int64),
        "uncovered_deposit_other": np.where(uncovered, h["deposit_other"], 0.0),
        "uncovered_loan_other": np.where(uncovered, h["loan_other"], 0.0),
        "uncovered_branch_distance_m": np.where(uncovered, distance_m, 0.0),
        "branch_distance_m": distance_m,
        "ungridded_households": (located & (grid_pos < 0)).astype(np.int64),
        "misfiled_households": (
            located & (grid_pos >= 0) & (stored != grid_pos)
        ).astype(np.int64),
    }
    return pd.DataFrame(parts)


def merge_sums(partials: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Add up the `area_sums` of several partitions, area by area."""
    frames = list(partials)
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames).groupby(level=0, sort=True).sum()


def area_rates(
    sums: pd.DataFrame,
    *,
    unvisited_share: float,
    leakage_share: float,
    min_households: int = 1,
) -> pd.DataFrame:
    """Shares and flags of each area from its merged sums.

    Parameters
    ----------
    sums
        Output of `area_sums` or `merge_sums`.
    unvisited_share
        Areas where at least this share of households is unvisited are
        flagged ``unvisited_area``.
    leakage_share
        Areas where more than this share of customer households leak (see
        `household_flags`) are flagged ``leakage_area``.
    min_households
        Areas with fewer customer households are never flagged for leakage.

    Returns
    -------
    pandas.DataFrame
        The sums and ``penetration`` (customer households / households),
        ``working_age_penetration`` (working-age customers / working-age
        people), ``unvisited_share``, ``leaking_share`` (leaking / customer
        households), ``deposit_other_share`` and ``loan_other_share`` (of
        the balances of customer households), ``uncovered_other_yuan``
        (other-bank deposits and loans of uncovered households),
        ``branch_distance_m`` (mean over uncovered households, or over all
        when every household is covered), ``unvisited_area`` and
        ``leakage_area``.
    """
    out = sums.copy()
    out["penetration"] = _ratio(out["customer_households"], out["households"])
    out["working_age_penetration"] = _ratio(
        out["working_age_customers"], out["working_age"]
    )
    out["unvisited_share"] = _ratio(out["unvisited_households"], out["households"])
    out["leaking_share"] = _ratio(out["leaking_households"], out["customer_households"])
    out["deposit_other_share"] = _other_share(
        out["customer_deposit_other"], out["customer_deposit_own"]
    )
    out["loan_other_share"] = _other_share(
        out["customer_loan_other"], out["customer_loan_own"]
    )
    out["uncovered_other_yuan"] = (
        out["uncovered_deposit_other"] + out["uncovered_loan_other"]
    )
    out["branch_distance_m"] = np.where(
        out["uncovered_households"] > 0,
        _ratio(out["uncovered_branch_distance_m"], out["uncovered_households"]),
        _ratio(out["branch_distance_m"], out["households"]),
    )
    out = out.drop(columns="uncovered_branch_distance_m")

    out["unvisited_area"] = out["unvisited_share"].to_numpy() >= unvisited_share
    out["leakage_area"] = (np.nan_to_num(out["leaking_share"]) > leakage_share) & (
        out["customer_households"].to_numpy() >= min_households
    )
    return out


def _ratio(numerator: pd.Series, denominator: pd.Series) -> np.ndarray:
    num = np.asarray(numerator, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _other_share(other: pd.Series, own: pd.Series) -> np.ndarray:
    """Share of known balances held at other banks; NaN when nothing is known."""
    other_ = np.asarray(other, dtype=np.float64)
    total = other_ + np.asarray(own, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, other_ / total, np.nan)
