"""A deterministic synthetic county (青溪县) with its bank, households and work.

`generate_county` builds every table the demo needs from one seed: boundaries
of the county, its towns and villages (exact coverages: neighbours share their
vertices), a connected road network, the branches of the county's rural
commercial bank with their staff, first- and second-level grids, posts,
liaison officers and targets, and the households with their members and the
visits they received. Some problems are planted on purpose (blind spots,
deposits leaking to other banks, villages nobody visits, grids short of
liaison officers or targets); `DemoCounty.planted` names them.

The geography is built in a local metric plane around (121.2°E, 28.5°N) and
turned into WGS84 degrees by one affine map, so shared vertices stay shared.
Every random draw comes from a stream named after its stage, so the
geography and the bank do not change when only the number of households does.

Each stage has its own module: `geography` (outline, towns, villages),
`roads`, `planted` (villages chosen for the planted problems),
`organisation` (branches, staff, grids, posts, liaison officers, targets),
`households`, `people` (with `identity` for names, ID and phone numbers),
`activity` (visits), `frames` (the public frames) and `files`
(`write_boundaries`); `_plane` and `_arrays` hold what they share.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

import numpy as np

from geogrid.demo._arrays import allocate
from geogrid.demo.activity import build_visits, pick_desk_managers
from geogrid.demo.county import DemoCounty
from geogrid.demo.files import write_boundaries
from geogrid.demo.frames import (
    admin_frames,
    branch_frame,
    grid_frames,
    household_frame,
    post_frame,
)
from geogrid.demo.geography import Geography, build_geography
from geogrid.demo.households import Households, build_households
from geogrid.demo.organisation import (
    Organisation,
    build_liaison,
    build_organisation,
    build_targets,
)
from geogrid.demo.people import People, build_people
from geogrid.demo.planted import Planted, plant_villages
from geogrid.demo.roads import build_roads
from geogrid.errors import InvalidInput

__all__ = ["DemoCounty", "generate_county", "write_boundaries"]

logger = logging.getLogger(__name__)

MAX_HOUSEHOLDS = 5_000_000


def generate_county(
    households: int = 150_000,
    seed: int = 7,
    year: int | None = None,
    *,
    as_of: dt.date | None = None,
) -> DemoCounty:
    """Generate the synthetic county 青溪县 with its bank and households.

    Parameters
    ----------
    households
        Number of households, from 1 to 5,000,000. Villages, towns and
        branches stay the same; village populations, managers and grids scale.
    seed
        Seed of every random draw: the same seed gives identical frames.
    year
        Year of the grid targets; the year of `as_of` when omitted.
    as_of
        The day the demo's clock reads (birth dates end before it, visits
        fall in the 365 days before it); today when omitted.

    Returns
    -------
    DemoCounty
        All frames, geometry in EPSG:4326.

    Raises
    ------
    InvalidInput
        When `households`, `seed` or `year` is out of range.
    """
    _check_arguments(households, seed, year)
    as_of = dt.date.today() if as_of is None else as_of
    year = as_of.year if year is None else year
    started = time.perf_counter()

    # geography and the bank, which do not depend on the number of households
    geo = build_geography(seed)
    planted = plant_villages(seed, geo)
    counts = allocate(geo.villages.weight, households)
    org = build_organisation(seed, geo, counts)

    # people, their files and the work done on them
    hh = build_households(seed, geo, counts)
    people = build_people(seed, geo, hh, planted, as_of)
    county = _assemble(seed, geo, org, hh, people, planted, year, as_of)
    logger.info(
        "Generated demo county with %d towns, %d villages, %d households and "
        "%d persons in %.1f s",
        len(county.towns),
        len(county.villages),
        len(county.households),
        len(county.persons),
        time.perf_counter() - started,
    )
    return county


def _assemble(
    seed: int,
    geo: Geography,
    org: Organisation,
    hh: Households,
    people: People,
    planted: Planted,
    year: int,
    as_of: dt.date,
) -> DemoCounty:
    """The public frames, in WGS84, from the internal state."""
    villages_gdf, towns_gdf, county_gdf = admin_frames(geo)
    branches = branch_frame(geo, org)
    grids_l1, grids_l2 = grid_frames(geo, org, towns_gdf)
    liaison, one_liaison = build_liaison(seed, geo, org)
    targets, no_targets = build_targets(seed, org, hh, people, year)
    desk = pick_desk_managers(seed, org)
    codes = np.array(geo.villages.code)
    return DemoCounty(
        county=county_gdf,
        towns=towns_gdf,
        villages=villages_gdf,
        roads=build_roads(seed, geo),
        branches=branches,
        staff=org.staff,
        grids_l1=grids_l1,
        grids_l2=grids_l2,
        posts=post_frame(org),
        liaison=liaison,
        targets=targets,
        households=household_frame(geo, hh),
        persons=people.frame,
        visits=build_visits(seed, geo, hh, people, org, planted, as_of, desk),
        planted={
            "blind_spot_villages": codes[planted.blind_spot].tolist(),
            "high_penetration_villages": codes[planted.high].tolist(),
            "leakage_villages": codes[planted.leakage].tolist(),
            "unvisited_villages": codes[planted.unvisited].tolist(),
            "duplicate_village_names": list(geo.duplicate_names),
            "grids_with_one_liaison": one_liaison,
            "grids_without_targets": no_targets,
            "managers_recording_at_the_branch": list(desk),
        },
        as_of=as_of,
    )


def _check_arguments(households: Any, seed: Any, year: Any) -> None:
    if not _is_int(households) or not 1 <= households <= MAX_HOUSEHOLDS:
        raise InvalidInput(
            f"households must be a whole number from 1 to {MAX_HOUSEHOLDS:,}; "
            f"received {households!r}. Pass for example households=150_000.",
            parameter="households",
            received=repr(households),
        )
    if not _is_int(seed) or seed < 0:
        raise InvalidInput(
            f"seed must be a whole number of 0 or more; received {seed!r}. "
            "Pass for example seed=7.",
            parameter="seed",
            received=repr(seed),
        )
    if year is not None and (not _is_int(year) or not 2000 <= year <= 2100):
        raise InvalidInput(
            f"year must be a whole number from 2000 to 2100 or None; received "
            f"{year!r}. Leave it out to use the current year.",
            parameter="year",
            received=repr(year),
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)
