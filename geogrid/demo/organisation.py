"""The county's rural commercial bank: branches, staff, grids, posts and targets.

One branch per town; each second-level grid is a contiguous group of whole
villages of one town, one grid per account manager, grown to similar
household counts. Each grid has liaison officers and yearly targets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from geogrid.demo._arrays import Floats, Ints, has, stream
from geogrid.demo._plane import detached
from geogrid.demo.geography import Geography
from geogrid.demo.households import Households
from geogrid.demo.identity import mobile_numbers, person_names, surnames
from geogrid.demo.people import People
from geogrid.store.models import PRODUCTS, TARGET_METRICS

HOUSEHOLDS_PER_MANAGER = 1_400
MIN_MANAGERS_PER_BRANCH = 2
B_POST_SHARE = 0.6
GRIDS_WITH_ONE_LIAISON = 2


@dataclass
class Organisation:
    """The bank as the later stages need it.

    Branch points are in the plane (metres); `managers` lists each branch's
    account managers; grids are second-level grids with their branch index,
    villages and A and B post (None when a grid has no B post).
    """

    branch_code: list[str]
    branch_xy: Floats
    staff: pd.DataFrame
    managers: list[list[str]]
    grid_branch: Ints
    grid_code: list[str]
    grid_name: list[str]
    grid_villages: list[list[int]]
    village_grid: Ints
    a_post: list[str]
    b_post: list[str | None]


def build_organisation(seed: int, geo: Geography, counts: Ints) -> Organisation:
    """Branches, staff, grids and posts, managers in proportion to households."""
    rng = stream(seed, "organisation")
    towns, villages = geo.towns, geo.villages
    n_towns = len(towns.code)
    branch_code = [f"B{t + 1:02d}" for t in range(n_towns)]
    branch_xy = _branch_points(rng, geo)

    town_households = np.bincount(villages.town, weights=counts, minlength=n_towns)
    town_villages = np.bincount(villages.town, minlength=n_towns)
    n_managers = np.clip(
        np.round(town_households / HOUSEHOLDS_PER_MANAGER),
        MIN_MANAGERS_PER_BRANCH,
        town_villages,
    ).astype(int)
    staff, managers = _staff(stream(seed, "staff"), branch_code, n_managers)

    grid_branch: list[int] = []
    grid_code: list[str] = []
    grid_name: list[str] = []
    grid_villages: list[list[int]] = []
    village_grid = np.full(len(villages.town), -1, dtype=np.int64)
    for t in range(n_towns):
        members = np.flatnonzero(villages.town == t)
        weight = counts[members].astype(np.float64) + 1.0
        labels = _grow_regions(geo, members, weight, int(n_managers[t]))
        for k in range(int(n_managers[t])):
            region = members[labels == k]
            village_grid[region] = len(grid_code)
            grid_branch.append(t)
            grid_code.append(f"G{t + 1:02d}-{k + 1:02d}")
            grid_name.append(f"{towns.short[t]}{k + 1}号网格")
            grid_villages.append(region.tolist())

    a_post, b_post = _posts(rng, managers, np.array(grid_branch))
    return Organisation(
        branch_code,
        branch_xy,
        staff,
        managers,
        np.array(grid_branch, dtype=np.int64),
        grid_code,
        grid_name,
        grid_villages,
        village_grid,
        a_post,
        b_post,
    )


def _branch_points(rng: np.random.Generator, geo: Geography) -> Floats:
    """A spot 120-350 m from each town seat, inside the seat's village."""
    points = []
    for seat in geo.towns.seat_xy:
        at_seat = np.hypot(*(geo.villages.seed_xy - seat).T) < 1e-6
        cell = geo.villages.cell_m[np.flatnonzero(at_seat)[0]]
        spot = seat
        for _ in range(200):
            angle, distance_m = rng.uniform(0, 2 * np.pi), rng.uniform(120, 350)
            candidate = seat + distance_m * np.array([np.cos(angle), np.sin(angle)])
            if shapely.contains_xy(cell, *candidate):
                spot = candidate
                break
        points.append(spot)
    return np.array(points)


def _staff(
    rng: np.random.Generator, branch_code: list[str], n_managers: npt.NDArray[np.int_]
) -> tuple[pd.DataFrame, list[list[str]]]:
    rows: list[tuple[str, str, str | None]] = [
        ("ho_01", "head_office", None),
        ("ho_02", "head_office", None),
        ("planner_01", "planner", None),
    ]
    managers: list[list[str]] = []
    for code, n in zip(branch_code, n_managers, strict=True):
        low = code.lower()
        rows.append((f"bh_{low}", "branch_head", code))
        usernames = [f"am_{low}_{k + 1:02d}" for k in range(int(n))]
        rows += [(u, "account_manager", code) for u in usernames]
        managers.append(usernames)

    ages = rng.uniform(24, 55, len(rows))
    female = rng.random(len(rows)) < 0.45
    staff = pd.DataFrame(
        {
            "username": [r[0] for r in rows],
            "name": person_names(rng, surnames(rng, len(rows)), female, ages < 45),
            "role": [r[1] for r in rows],
            "branch_code": pd.Series([r[2] for r in rows], dtype=object),
            "phone": mobile_numbers(rng, len(rows)),
        }
    )
    return staff, managers


def _grow_regions(geo: Geography, members: Ints, weight: Floats, k: int) -> Ints:
    """Split a town's villages into `k` contiguous regions of similar weight.

    Seeds are spread by farthest-point sampling; the lightest region that can
    still grow takes the unassigned neighbour closest to its seed. Border
    villages then move to lighter neighbours while that lowers the heavier of
    the two and keeps both regions in one piece.
    """
    xy = geo.villages.seed_xy[members]
    local = {int(v): i for i, v in enumerate(members)}
    neighbours = [[local[n] for n in geo.adjacency[v] if n in local] for v in members]

    centre = xy.mean(axis=0)
    seeds = [int(np.argmax(np.hypot(*(xy - centre).T)))]
    while len(seeds) < k:
        gap = np.hypot(*(xy[:, None, :] - xy[None, seeds, :]).transpose(2, 0, 1))
        seeds.append(int(np.argmax(gap.min(axis=1))))

    labels = np.full(len(members), -1, dtype=np.int64)
    labels[seeds] = np.arange(k)
    totals = weight[seeds].astype(float)
    while np.any(labels < 0):
        for region in np.argsort(totals, kind="stable"):
            border = {
                n for i in np.flatnonzero(labels == region) for n in neighbours[i]
            }
            options = sorted(n for n in border if labels[n] < 0)
            if options:
                seed_xy = xy[seeds[region]]
                gap = np.hypot(*(xy[options] - seed_xy).T)
                pick = options[int(np.argmin(gap))]
                labels[pick] = region
                totals[region] += weight[pick]
                break
        else:
            # unreachable villages (never in a contiguous town) join the nearest seed
            for i in np.flatnonzero(labels < 0):
                labels[i] = int(np.argmin(np.hypot(*(xy[seeds] - xy[i]).T)))

    _rebalance(labels, neighbours, weight, k)
    return labels


def _rebalance(
    labels: Ints, neighbours: list[list[int]], weight: Floats, k: int
) -> None:
    """Move border villages to lighter regions while the heavier side shrinks."""
    totals = np.bincount(labels, weights=weight, minlength=k)
    for _ in range(20 * len(labels)):
        moves = sorted(
            (max(totals[labels[i]] - weight[i], totals[labels[n]] + weight[i]), i, n)
            for i in range(len(labels))
            for n in neighbours[i]
            if labels[n] != labels[i]
        )
        for heavier_after, i, n in moves:
            source, target = int(labels[i]), int(labels[n])
            if heavier_after >= totals[source] - 1e-9:
                continue
            rest = np.flatnonzero(labels == source)
            rest = rest[rest != i]
            if len(rest) == 0 or detached(rest, neighbours, anchor=int(rest[0])):
                continue
            labels[i] = target
            totals[source] -= weight[i]
            totals[target] += weight[i]
            break
        else:
            return


def _posts(
    rng: np.random.Generator, managers: list[list[str]], grid_branch: Ints
) -> tuple[list[str], list[str | None]]:
    """Each grid's own manager on post A; 60% of grids get a colleague on post B."""
    n_grids = len(grid_branch)
    with_b = np.zeros(n_grids, dtype=bool)
    with_b[rng.choice(n_grids, size=round(B_POST_SHARE * n_grids), replace=False)] = (
        True
    )

    a_post: list[str] = []
    b_post: list[str | None] = []
    position = np.zeros(len(managers), dtype=int)
    for g, t in enumerate(grid_branch):
        team = managers[t]
        k = int(position[t])
        position[t] += 1
        a_post.append(team[k])
        b_post.append(team[(k + 1) % len(team)] if with_b[g] else None)
    return a_post, b_post


def build_liaison(
    seed: int, geo: Geography, org: Organisation
) -> tuple[pd.DataFrame, list[str]]:
    """2-5 liaison officers per grid, except two grids left with one."""
    rng = stream(seed, "liaison")
    n_grids = len(org.grid_code)
    count = rng.integers(2, 6, n_grids)
    short = rng.choice(
        n_grids, size=min(GRIDS_WITH_ONE_LIAISON, n_grids), replace=False
    )
    count[short] = 1

    grid = np.repeat(np.arange(n_grids), count)
    village = np.array(
        [int(rng.choice(org.grid_villages[g])) for g in grid], dtype=np.int64
    )
    community = geo.villages.is_community[village]
    urban_kind = rng.choice(
        ["property_manager", "village_cadre", "other"],
        size=len(grid),
        p=[0.5, 0.35, 0.15],
    )
    rural_kind = rng.choice(
        ["village_cadre", "coop_member", "other"], size=len(grid), p=[0.6, 0.3, 0.1]
    )
    female = rng.random(len(grid)) < 0.4
    frame = pd.DataFrame(
        {
            "grid_code": np.array(org.grid_code)[grid],
            "name": person_names(
                rng, surnames(rng, len(grid)), female, rng.random(len(grid)) < 0.5
            ),
            "kind": np.where(community, urban_kind, rural_kind),
            "phone": mobile_numbers(rng, len(grid)),
            "village_code": np.array(geo.villages.code)[village],
        }
    )
    return frame, sorted(org.grid_code[g] for g in short)


def build_targets(
    seed: int,
    org: Organisation,
    hh: Households,
    people: People,
    year: int,
) -> tuple[pd.DataFrame, list[str]]:
    """Yearly targets 5-15% above what each grid holds now; one grid has none."""
    rng = stream(seed, "targets")
    n_grids = len(org.grid_code)
    grid = org.village_grid[hh.village[people.household]]
    frame = people.frame
    current = {
        "deposits": np.bincount(grid, weights=frame["deposit_own"], minlength=n_grids),
        "loans": np.bincount(grid, weights=frame["loan_own"], minlength=n_grids),
    }
    for metric, product in (
        ("mobile_banking", "mobile_banking"),
        ("pos", "pos"),
        ("payments", "payment"),
    ):
        held = has(people.products, PRODUCTS, product)
        current[metric] = np.bincount(grid, weights=held, minlength=n_grids)

    missing = int(rng.integers(n_grids))
    rows = []
    for metric in TARGET_METRICS:
        growth = rng.uniform(1.05, 1.15, n_grids)
        if metric in ("deposits", "loans"):
            target = np.maximum(np.round(current[metric] * growth, -4), 100_000.0)
        else:
            target = np.ceil(current[metric] * growth) + 5
        rows.append(
            pd.DataFrame(
                {
                    "grid_code": org.grid_code,
                    "year": year,
                    "metric": metric,
                    "target": target,
                }
            )
        )
    targets = pd.concat(rows, ignore_index=True)
    targets = targets[targets["grid_code"] != org.grid_code[missing]]
    targets = targets.sort_values(["grid_code", "metric"], kind="stable")
    return targets.reset_index(drop=True), [org.grid_code[missing]]
