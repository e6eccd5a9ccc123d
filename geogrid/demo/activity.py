"""Visits to households in the year before the demo's day, who made them and why."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from geogrid.demo._arrays import Ints, Strs, days, has, stream
from geogrid.demo._plane import M_PER_DEG_LAT, M_PER_DEG_LON, lonlat
from geogrid.demo.geography import Geography
from geogrid.demo.households import Households
from geogrid.demo.organisation import Organisation
from geogrid.demo.people import People
from geogrid.demo.planted import Planted
from geogrid.store.models import PRODUCTS, VISIT_OUTCOMES, VISIT_PURPOSES

TIMEZONE = "Asia/Shanghai"

# account managers who record part of their visits from the branch
DESK_MANAGERS = 3
DESK_VISIT_SHARE = 0.4


def build_visits(
    seed: int,
    geo: Geography,
    hh: Households,
    people: People,
    org: Organisation,
    planted: Planted,
    as_of: dt.date,
    desk_managers: Sequence[str] = (),
) -> pd.DataFrame:
    """About 40% of households visited in the year before `as_of`, 1-5 times.

    Visits are recorded within a few tens of metres of the household, except
    a share of those of ``desk_managers``, recorded at their branch.
    """
    rng = stream(seed, "visits")
    n_villages, n_households = len(geo.villages.name), len(hh.village)
    rate = np.clip(rng.normal(0.44, 0.1, n_villages), 0.15, 0.7)
    rate[planted.blind_spot] = 0.05
    rate[planted.unvisited] = 0.0
    visited = np.flatnonzero(rng.random(n_households) < rate[hh.village])
    times = np.minimum(rng.geometric(0.6, len(visited)), 5)
    household = np.repeat(visited, times)
    n = len(household)

    # the grid's A post mostly, its B post sometimes
    grid = org.village_grid[hh.village[household]]
    a_post = np.array(org.a_post, dtype=object)[grid]
    b_post = np.array(org.b_post, dtype=object)[grid]
    has_b = np.array([b is not None for b in org.b_post], dtype=bool)[grid]
    username = np.where(has_b & (rng.random(n) < 0.3), b_post, a_post)

    visited_at = _visit_times(rng, hh.time_window[household], as_of)
    purpose, outcome = _purposes_and_outcomes(rng, people, household, n_households)
    lon = hh.lon[household] + rng.normal(0, 20, n) / M_PER_DEG_LON
    lat = hh.lat[household] + rng.normal(0, 20, n) / M_PER_DEG_LAT

    # a few managers log a share of their visits from their branch's desk
    desk = np.isin(username.astype(str), list(desk_managers)) & (
        rng.random(n) < DESK_VISIT_SHARE
    )
    branch_lon, branch_lat = lonlat(org.branch_xy[:, 0], org.branch_xy[:, 1])
    at_branch = org.grid_branch[grid[desk]]
    lon[desk] = branch_lon[at_branch] + rng.normal(0, 10, desk.sum()) / M_PER_DEG_LON
    lat[desk] = branch_lat[at_branch] + rng.normal(0, 10, desk.sum()) / M_PER_DEG_LAT

    frame = pd.DataFrame(
        {
            "household_no": hh.number[household],
            "username": username.astype(str),
            "visited_at": visited_at,
            "lon": lon,
            "lat": lat,
            "purpose": purpose,
            "outcome": outcome,
        }
    )
    return frame.sort_values(["visited_at", "household_no"], kind="stable").reset_index(
        drop=True
    )


def pick_desk_managers(seed: int, org: Organisation) -> list[str]:
    """A few A-post managers, drawn once, who record visits at their branch."""
    rng = stream(seed, "desk managers")
    managers = sorted(set(org.a_post))
    count = min(DESK_MANAGERS, len(managers))
    return sorted(rng.choice(managers, size=count, replace=False).tolist())


def _visit_times(
    rng: np.random.Generator, window: npt.NDArray[np.object_], as_of: dt.date
) -> pd.DatetimeIndex:
    """Office hours on some day of the last year; evenings and weekends on request."""
    n = len(window)
    day = days(as_of) - rng.integers(1, 359, n)
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
    on_weekend = (window == "weekend") & (weekday < 5)
    day = np.where(on_weekend, day - weekday - 2, day)
    hour = np.where(
        window == "evening", rng.uniform(18, 20.5, n), rng.uniform(8.5, 17.5, n)
    )
    seconds = day * 86_400 + np.floor(hour * 3600).astype(np.int64)
    local = pd.to_datetime(seconds, unit="s")
    return pd.DatetimeIndex(local).tz_localize(TIMEZONE)


def _purposes_and_outcomes(
    rng: np.random.Generator, people: People, household: Ints, n_households: int
) -> tuple[Strs, Strs]:
    """Why each visit was made (by what the household holds) and how it ended."""
    n = len(household)
    customer_hh = (
        np.bincount(
            people.household, weights=(people.products > 0), minlength=n_households
        )
        > 0
    )
    loan_hh = (
        np.bincount(
            people.household,
            weights=has(people.products, PRODUCTS, "loan"),
            minlength=n_households,
        )
        > 0
    )
    purposes = np.array(VISIT_PURPOSES)
    u = rng.random(n)
    purpose = np.select(
        [
            ~customer_hh[household] & (u < 0.55),
            ~customer_hh[household],
            loan_hh[household] & (u < 0.4),
            u < 0.2,
            u < 0.6,
        ],
        [purposes[0], purposes[1], purposes[3], purposes[2], purposes[4]],
        purposes[1],
    )
    outcome = np.array(VISIT_OUTCOMES)[
        rng.choice(len(VISIT_OUTCOMES), size=n, p=[0.15, 0.25, 0.25, 0.2, 0.15])
    ]
    return purpose, outcome
