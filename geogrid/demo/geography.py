"""The county's geography: outline, towns, villages and their natural villages.

Towns tile the county and villages tile their town (Voronoi cells of their
centres, so neighbours share their vertices). Codes follow the NBS
convention under the county prefix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from geogrid.demo import names as nm
from geogrid.demo._arrays import (
    Bools,
    Floats,
    Geoms,
    Ints,
    allocate,
    offsets_within,
    stream,
)
from geogrid.demo._plane import (
    cell_neighbours,
    detached,
    shrunk,
    spread_points,
    tile,
    to_degrees,
    uniform_in,
)

COUNTY_PREFIX = "331099"
COUNTY_CODE = COUNTY_PREFIX + "000000"
COUNTY_RADIUS_M = 15_000.0
N_VILLAGES = 250
VILLAGES_PER_SUBDISTRICT = 16
COMMUNITIES_PER_SUBDISTRICT = 11

# village names copied on purpose into other towns
DUPLICATED_NAMES = 6


@dataclass
class Towns:
    """The county's 3 subdistricts, 8 towns and 1 township, in code order.

    Seats are in the plane (metres); `short` is the name without its kind
    (街道, 镇 or 乡).
    """

    seat_xy: Floats
    code: list[str]
    name: list[str]
    short: list[str]
    kind: list[str]


@dataclass
class Villages:
    """Villages and communities, in code order once `build_geography` returns.

    Centres and cells are in the plane (metres), `cell_deg` in WGS84;
    `town` indexes `Towns` and `weight` is households at the default scale.
    """

    seed_xy: Floats
    town: Ints
    is_community: Bools
    cell_m: Geoms
    weight: Floats
    code: list[str] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    cell_deg: Geoms = field(default_factory=lambda: np.empty(0, dtype=object))


@dataclass
class Clusters:
    """Natural villages and housing estates, 1 to 4 per village, by village.

    Each has its centre in the plane, its share of the village's households,
    the scatter of their points in metres and its 村民小组 (`n_groups`,
    numbered after `group_offset` within the village).
    """

    village: Ints
    xy: Floats
    share: Floats
    sigma_m: Floats
    name: list[str]
    n_groups: Ints
    group_offset: Ints


@dataclass
class Geography:
    """Everything geographic the later stages draw on.

    Villages are in code order; `adjacency` lists each village's
    neighbours and `duplicate_names` the names planted in two towns.
    """

    outline_m: shapely.Polygon
    towns: Towns
    villages: Villages
    clusters: Clusters
    adjacency: list[list[int]]
    duplicate_names: list[str]


def build_geography(seed: int) -> Geography:
    """Outline, towns, villages and natural villages drawn from `seed`."""
    outline = _county_outline_m(stream(seed, "outline"))
    towns = _towns(stream(seed, "towns"), outline)
    villages = _village_seeds(stream(seed, "villages"), outline, towns)

    villages.cell_m = tile(outline, villages.seed_xy)
    adjacency = cell_neighbours(villages.cell_m)
    _make_towns_contiguous(villages, adjacency)
    duplicates = _name_villages(stream(seed, "names"), towns, villages)

    villages.weight = _village_weights(stream(seed, "weights"), towns, villages)
    order = np.argsort(np.array(villages.code), kind="stable")
    villages, adjacency = _reorder(villages, adjacency, order)
    villages.cell_deg = to_degrees(villages.cell_m)
    clusters = _clusters(stream(seed, "clusters"), villages)
    return Geography(outline, towns, villages, clusters, adjacency, duplicates)


def _county_outline_m(rng: np.random.Generator) -> shapely.Polygon:
    """A noisy star-shaped outline about 30 km across, stretched along a valley."""
    theta = np.linspace(0, 2 * np.pi, 240, endpoint=False)
    harmonics = np.arange(2, 13)
    amplitude = 0.2 / harmonics**0.8 * rng.uniform(0.4, 1.0, harmonics.size)
    phase = rng.uniform(0, 2 * np.pi, harmonics.size)
    wobble = (
        amplitude[:, None] * np.cos(np.outer(harmonics, theta) + phase[:, None])
    ).sum(axis=0)
    jitter = 0.012 * rng.standard_normal(theta.size)
    radius_m = COUNTY_RADIUS_M * np.clip(1 + wobble + jitter, 0.6, None)

    # stretch along a south-west to north-east valley
    x, y = 1.12 * radius_m * np.cos(theta), 0.9 * radius_m * np.sin(theta)
    turn = np.radians(35)
    xr = x * np.cos(turn) - y * np.sin(turn)
    yr = x * np.sin(turn) + y * np.cos(turn)
    return shapely.Polygon(np.column_stack([xr, yr]))


def _towns(rng: np.random.Generator, outline: shapely.Polygon) -> Towns:
    """Seats, kinds, names and codes of 3 subdistricts, 8 towns and 1 township."""
    subdistricts = np.array([(0.0, 1800.0), (2600.0, -900.0), (-2500.0, -1100.0)])
    subdistricts += rng.normal(0, 250, size=subdistricts.shape)
    rural = spread_points(rng, shrunk(outline, 3500), subdistricts, 9, candidates=30)

    # the township is the remotest; towns are numbered clockwise from north
    township = int(np.argmax(np.hypot(rural[:, 0], rural[:, 1])))
    towns_xy = np.delete(rural, township, axis=0)
    bearing = np.mod(np.arctan2(towns_xy[:, 0], towns_xy[:, 1]), 2 * np.pi)
    towns_xy = towns_xy[np.argsort(bearing, kind="stable")]
    seat_xy = np.vstack([subdistricts, towns_xy, rural[township : township + 1]])

    town_short = [str(s) for s in rng.choice(nm.TOWN_NAMES, size=8, replace=False)]
    shorts = [*nm.SUBDISTRICT_NAMES, *town_short, str(rng.choice(nm.TOWNSHIP_NAMES))]
    kinds = ["街道"] * 3 + ["镇"] * 8 + ["乡"]
    codes = [f"{COUNTY_PREFIX}{n:03d}000" for n in (1, 2, 3, *range(100, 108), 200)]
    names = [short + kind for short, kind in zip(shorts, kinds, strict=True)]
    return Towns(seat_xy, codes, names, shorts, kinds)


def _village_seeds(
    rng: np.random.Generator, outline: shapely.Polygon, towns: Towns
) -> Villages:
    """Settlement centres: communities around each seat, villages spread out."""
    cells = tile(outline, towns.seat_xy)
    per_town = _villages_per_town(cells, towns)
    seeds, town_of, community = [], [], []

    for t, cell in enumerate(cells):
        urban = towns.kind[t] == "街道"
        if urban:
            n_communities = COMMUNITIES_PER_SUBDISTRICT
        else:
            n_communities = 1 if towns.kind[t] == "乡" else int(rng.integers(2, 4))
        inner = shrunk(cell, 250)
        xy = _communities_around(rng, inner, towns.seat_xy[t], n_communities, urban)
        spread = spread_points(rng, inner, xy, per_town[t] - n_communities, 5)

        seeds.append(np.vstack([xy, spread]))
        town_of += [t] * per_town[t]
        community += [True] * n_communities + [False] * (per_town[t] - n_communities)

    empty = np.empty(0, dtype=object)
    return Villages(
        np.vstack(seeds), np.array(town_of), np.array(community), empty, np.empty(0)
    )


def _villages_per_town(cells: Geoms, towns: Towns) -> list[int]:
    urban = [k == "街道" for k in towns.kind]
    rural_weight = np.array(
        [
            0.0 if u else shapely.area(c) * (0.7 if k == "乡" else 1.0)
            for c, u, k in zip(cells, urban, towns.kind, strict=True)
        ]
    )
    rural_total = N_VILLAGES - VILLAGES_PER_SUBDISTRICT * sum(urban)
    counts = allocate(rural_weight, rural_total)
    return [
        VILLAGES_PER_SUBDISTRICT if u else int(c)
        for u, c in zip(urban, counts, strict=True)
    ]


def _communities_around(
    rng: np.random.Generator, inner: Any, seat: Floats, n: int, urban: bool
) -> Floats:
    """The seat and `n - 1` more community centres clustered around it."""
    sigma_m, gap_m = (1100.0, 450.0) if urban else (450.0, 380.0)
    points = [np.asarray(seat, dtype=float)]
    tries = 0
    while len(points) < n:
        # widen the search, and after long in vain accept closer neighbours
        tries += 1
        if tries % 50 == 0:
            sigma_m *= 1.2
        if tries % 1000 == 0:
            gap_m *= 0.8
        candidate = seat + rng.normal(0, sigma_m, 2)
        gap = np.hypot(*(np.array(points) - candidate).T).min()
        if gap >= gap_m and shapely.contains_xy(inner, *candidate):
            points.append(candidate)
    return np.array(points)


def _make_towns_contiguous(villages: Villages, adjacency: list[list[int]]) -> None:
    """Move villages cut off from their town to the town next to them."""
    for _ in range(10):
        moved = 0
        for t in np.unique(villages.town):
            members = np.flatnonzero(villages.town == t)
            for stray in detached(members, adjacency, anchor=int(members[0])):
                others = [n for n in adjacency[stray] if villages.town[n] != t]
                if others:
                    villages.town[stray] = villages.town[others[0]]
                    moved += 1
        if moved == 0:
            return


def _name_villages(
    rng: np.random.Generator, towns: Towns, villages: Villages
) -> list[str]:
    """Codes and names of villages and communities; returns planted duplicates.

    Communities are numbered 001.. from their seat outwards, villages 201..
    clockwise around the seat (the NBS convention). Village names are unique
    in the county except a few copied on purpose into other towns.
    """
    n = len(villages.town)
    codes = np.empty(n, dtype=object)
    names = np.empty(n, dtype=object)
    community_names = list(rng.permutation(nm.COMMUNITY_NAMES))
    village_names = _village_name_pool(rng, int((~villages.is_community).sum()))

    for t in range(len(towns.code)):
        _name_town_villages(t, towns, villages, codes, names, community_names)
    rural = np.flatnonzero(~villages.is_community)
    names[rural] = [name + "村" for name in village_names]

    duplicates = _plant_duplicate_names(rng, villages, names)
    villages.code = [str(c) for c in codes]
    villages.name = [str(x) for x in names]
    return duplicates


def _name_town_villages(
    t: int,
    towns: Towns,
    villages: Villages,
    codes: npt.NDArray[np.object_],
    names: npt.NDArray[np.object_],
    community_names: list[str],
) -> None:
    seat = towns.seat_xy[t]
    prefix = towns.code[t][:9]
    members = np.flatnonzero(villages.town == t)
    offset = villages.seed_xy[members] - seat
    distance = np.hypot(offset[:, 0], offset[:, 1])
    bearing = np.mod(np.arctan2(offset[:, 0], offset[:, 1]), 2 * np.pi)

    is_community = villages.is_community[members]
    communities = members[is_community][np.argsort(distance[is_community])]
    rural = members[~is_community][np.argsort(bearing[~is_community])]
    for k, v in enumerate(communities):
        codes[v] = f"{prefix}{k + 1:03d}"
        names[v] = (towns.short[t] if k == 0 else community_names.pop()) + "社区"
    for k, v in enumerate(rural):
        codes[v] = f"{prefix}{k + 201:03d}"


def _village_name_pool(rng: np.random.Generator, n: int) -> list[str]:
    """`n` distinct village names (without 村), shuffled."""
    landforms = list(nm.VILLAGE_LANDFORMS)
    plain = [p + f for p in nm.VILLAGE_PREFIXES for f in landforms]
    clan = [c + "家" + f for c in nm.CLAN_NAMES for f in landforms]
    n_merged = min(len(nm.MERGED_VILLAGE_NAMES), round(0.06 * n))
    n_clan = round(0.25 * n)
    picked = [
        *rng.choice(nm.MERGED_VILLAGE_NAMES, size=n_merged, replace=False),
        *rng.choice(clan, size=n_clan, replace=False),
        *rng.choice(plain, size=n - n_merged - n_clan, replace=False),
    ]
    return [str(x) for x in rng.permutation(picked)]


def _plant_duplicate_names(
    rng: np.random.Generator, villages: Villages, names: npt.NDArray[np.object_]
) -> list[str]:
    """Copy a few village names into villages of other towns, as in real counties."""
    rural = np.flatnonzero(~villages.is_community)
    donors = rng.choice(rural, size=DUPLICATED_NAMES, replace=False)
    renamed: set[int] = set()
    for donor in donors:
        options = [
            int(v)
            for v in rural
            if villages.town[v] != villages.town[donor]
            and v not in donors
            and v not in renamed
            and names[donor] not in set(names[villages.town == villages.town[v]])
        ]
        recipient = int(rng.choice(options))
        names[recipient] = names[donor]
        renamed.add(recipient)
    return sorted(str(names[d]) for d in donors)


def _village_weights(
    rng: np.random.Generator, towns: Towns, villages: Villages
) -> Floats:
    """Households per village at the default scale (50 to 1,500)."""
    n = len(villages.town)
    community = villages.is_community
    township = np.array([towns.kind[t] == "乡" for t in villages.town])
    weight = np.where(
        community,
        rng.lognormal(np.log(850), 0.45, n),
        rng.lognormal(np.log(480), 0.55, n) * np.where(township, 0.7, 1.0),
    )
    return np.clip(weight, np.where(community, 200, 50), 1500).astype(float)


def _reorder(
    villages: Villages, adjacency: list[list[int]], order: Ints
) -> tuple[Villages, list[list[int]]]:
    new_index = np.empty_like(order)
    new_index[order] = np.arange(len(order))
    moved = Villages(
        seed_xy=villages.seed_xy[order],
        town=villages.town[order],
        is_community=villages.is_community[order],
        cell_m=villages.cell_m[order],
        weight=villages.weight[order],
        code=[villages.code[i] for i in order],
        name=[villages.name[i] for i in order],
    )
    neighbours = [sorted(int(new_index[n]) for n in adjacency[i]) for i in order]
    return moved, neighbours


def _clusters(rng: np.random.Generator, villages: Villages) -> Clusters:
    """Natural villages (or housing estates) inside each village, 1 to 4 each."""
    village, xy, share, sigma, names, groups = [], [], [], [], [], []
    landforms = list(nm.VILLAGE_LANDFORMS)

    for v, cell in enumerate(villages.cell_m):
        community = bool(villages.is_community[v])
        wanted = 1 + int(
            rng.binomial(2 if community else 3, 0.4 if community else 0.35)
        )
        centres = _cluster_centres(rng, cell, villages.seed_xy[v], wanted, community)
        k = len(centres)
        shares = np.sort(rng.dirichlet([3.0] + [1.5] * (k - 1)))[::-1]
        households_m = villages.weight[v] * shares
        spread = np.clip((5.0 if community else 10.0) * np.sqrt(households_m), 40, 320)

        village += [v] * k
        xy.append(centres)
        share.append(shares)
        sigma.append(spread)
        names += _cluster_names(rng, villages.name[v], community, k, landforms)
        groups.append(_groups_per_cluster(villages.weight[v], shares))

    n_groups = np.concatenate(groups).astype(np.int64)
    village_arr = np.array(village, dtype=np.int64)
    offset = offsets_within(village_arr, n_groups)
    return Clusters(
        village_arr,
        np.vstack(xy),
        np.concatenate(share),
        np.concatenate(sigma),
        names,
        n_groups,
        offset,
    )


def _cluster_centres(
    rng: np.random.Generator, cell: Any, seed_xy: Floats, wanted: int, community: bool
) -> Floats:
    gap_m = 180.0 if community else 320.0
    inner = shrunk(cell, 90)
    centres = [np.asarray(seed_xy, dtype=float)]
    for _ in range(60):
        if len(centres) == wanted:
            break
        candidate = uniform_in(rng, inner, 1)[0]
        if np.hypot(*(np.array(centres) - candidate).T).min() >= gap_m:
            centres.append(candidate)
    return np.array(centres)


def _cluster_names(
    rng: np.random.Generator,
    village_name: str,
    community: bool,
    k: int,
    landforms: list[str],
) -> list[str]:
    """Housing estates of a community, or natural villages of a village."""
    stem = village_name.removesuffix("社区").removesuffix("村")
    if community:
        suffixes = rng.choice(nm.ESTATE_SUFFIXES, size=k, replace=False)
        return [stem + str(s) for s in suffixes]
    names = [stem]
    while len(names) < k:
        candidate = str(rng.choice(list(nm.VILLAGE_PREFIXES))) + str(
            rng.choice(landforms)
        )
        if candidate not in names:
            names.append(candidate)
    return names


def _groups_per_cluster(weight: float, shares: Floats) -> Ints:
    """村民小组 per cluster: about one per 45 households, at least one each."""
    total = int(np.clip(round(weight / 45), len(shares), 25))
    extra = allocate(shares, total - len(shares)) if total > len(shares) else 0
    return np.ones(len(shares), dtype=np.int64) + extra
