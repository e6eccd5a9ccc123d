"""The parameters of a coverage report: defaults, allowed ranges and checks."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass
from typing import Any

from geogrid.errors import InvalidInput

H3_RESOLUTIONS = range(0, 16)
DEFAULT_RESOLUTION = 8  # average cell about 0.74 km²
MAX_DAYS = 3650
RANK_UNITS = ("village", "hex", "grid")


@dataclass(frozen=True)
class CoverageParameters:
    """Every knob of the coverage report, checked when the object is made.

    Attributes
    ----------
    days
        A household counts as unvisited when its last recorded visit is more
        than this many days before the report date (or it has none); 1-3650.
    resolution
        H3 resolution of the hexagonal layer, 0-15 (8: cells of about
        0.74 km²).
    alpha
        Significance level of the cold-spot test, above 0 and at most 0.5.
    permutations
        Conditional permutations of the cold-spot test, 99-99,999; the
        smallest possible two-sided p-value is 2 / (permutations + 1).
    seed
        Seed of the permutations: the same seed gives the same p-values.
    fdr
        Control the false discovery rate over all tested areas
        (Benjamini-Hochberg through ``esda.fdr``) instead of testing each
        area at ``alpha`` alone.
    min_households
        Areas with fewer households are left out of the cold-spot test, and
        areas with fewer customer households are never flagged for leakage:
        their shares are too noisy to say anything; 1 or more.
    leakage_share
        A customer household leaks when more than this share of its known
        deposits, or of its known loans, sits at other banks; an area leaks
        when more than this share of its customer households leak (and it
        has at least ``min_households`` of them); between 0 and 1.
    unvisited_share
        An area is flagged as unvisited when at least this share of its
        households is unvisited; between 0 and 1.
    reference_penetration
        Household penetration every area is measured against when counting
        the households it lacks; None takes that of all loaded households.
    blind_spot_share
        An area is a blind spot when its penetration is below this share of
        the reference penetration (or it is a cold spot); above 0, at most 1.
    distance_scale_m
        Distance from the nearest branch at which an area's opportunity is
        halved, in metres; above 0.
    balance_weight
        Weight of other-bank balances against uncovered households in the
        opportunity score, from 0 (households only) to 1 (balances only).
    rank_by
        Areas ranked as blind spots: ``village``, ``hex`` or ``grid``.
    """

    days: int = 180
    resolution: int = DEFAULT_RESOLUTION
    alpha: float = 0.05
    permutations: int = 9_999
    seed: int = 7
    fdr: bool = True
    min_households: int = 5
    leakage_share: float = 0.5
    unvisited_share: float = 0.9
    reference_penetration: float | None = None
    blind_spot_share: float = 0.5
    distance_scale_m: float = 5_000.0
    balance_weight: float = 0.5
    rank_by: str = "village"

    def __post_init__(self) -> None:
        _check_int("days", self.days, 1, MAX_DAYS, "days without a visit")
        check_resolution(self.resolution)
        _check_float("alpha", self.alpha, 0.0, 0.5, "significance level", low_open=True)
        _check_int("permutations", self.permutations, 99, 99_999, "permutations")
        _check_int("seed", self.seed, 0, 2**32 - 1, "random seed")
        _check_int(
            "min_households", self.min_households, 1, 10**6, "households per area"
        )
        _check_float("leakage_share", self.leakage_share, 0.0, 1.0, "share")
        _check_float(
            "unvisited_share", self.unvisited_share, 0.0, 1.0, "share", low_open=True
        )
        if self.reference_penetration is not None:
            _check_float(
                "reference_penetration",
                self.reference_penetration,
                0.0,
                1.0,
                "penetration",
                low_open=True,
            )
        _check_float(
            "blind_spot_share", self.blind_spot_share, 0.0, 1.0, "share", low_open=True
        )
        _check_float(
            "distance_scale_m",
            self.distance_scale_m,
            0.0,
            1e7,
            "distance in metres",
            low_open=True,
        )
        _check_float("balance_weight", self.balance_weight, 0.0, 1.0, "weight")
        if self.rank_by not in RANK_UNITS:
            raise InvalidInput(
                f"Parameter 'rank_by' must be one of {', '.join(RANK_UNITS)} (the "
                f"areas ranked as blind spots); received {self.rank_by!r}.",
                parameter="rank_by",
                allowed=list(RANK_UNITS),
                received=repr(self.rank_by),
            )

    def as_record(self) -> dict[str, Any]:
        """The parameters as plain JSON-ready values, for the report's outputs."""
        return asdict(self)


def check_resolution(resolution: Any) -> int:
    """Return an H3 resolution after checking it is an integer from 0 to 15.

    Raises
    ------
    InvalidInput
        When it is not.
    """
    return _check_int("resolution", resolution, 0, 15, "H3 resolution")


def check_days(days: Any) -> int:
    """Return a number of days after checking it is an integer from 1 to 3650."""
    return _check_int("days", days, 1, MAX_DAYS, "days without a visit")


def working_age_birth_bounds(
    as_of: dt.date, working_age: tuple[int, int]
) -> tuple[dt.date, dt.date]:
    """Birth dates of the working-age population on a day: (after, on or before).

    A person is of working age when born after the first date and on or
    before the second, that is aged ``working_age[0]`` to ``working_age[1]``
    in whole years on `as_of`.
    """
    youngest, oldest = working_age
    return _years_before(as_of, oldest + 1), _years_before(as_of, youngest)


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(name: str, value: Any, low: int, high: int, what: str) -> int:
    if not _is_int(value) or not low <= value <= high:
        raise InvalidInput(
            f"Parameter {name!r} must be an integer from {low:,} to {high:,} "
            f"({what}); received {value!r}.",
            parameter=name,
            allowed=f"{low}..{high}",
            received=repr(value),
        )
    return int(value)


def _check_float(
    name: str,
    value: Any,
    low: float,
    high: float,
    what: str,
    *,
    low_open: bool = False,
) -> float:
    number = value if isinstance(value, int | float) else math.nan
    below = number <= low if low_open else number < low
    if isinstance(value, bool) or not math.isfinite(number) or below or number > high:
        bracket = "(" if low_open else "["
        raise InvalidInput(
            f"Parameter {name!r} must be a number in {bracket}{low:g}, {high:g}] "
            f"({what}); received {value!r}.",
            parameter=name,
            allowed=f"{bracket}{low:g}, {high:g}]",
            received=repr(value),
        )
    return float(number)


def check_working_age(value: Any) -> tuple[int, int]:
    """Return (youngest, oldest) after checking they are whole ages in order."""
    ok = (
        isinstance(value, tuple | list)
        and len(value) == 2
        and all(_is_int(v) for v in value)
        and 0 <= value[0] <= value[1] <= 120
    )
    if not ok:
        raise InvalidInput(
            "Parameter 'working_age' must be two whole ages (youngest, oldest) "
            f"with 0 <= youngest <= oldest <= 120; received {value!r}.",
            parameter="working_age",
            allowed="0 <= youngest <= oldest <= 120",
            received=repr(value),
        )
    return int(value[0]), int(value[1])
