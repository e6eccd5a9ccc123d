"""Households: where they live, their numbers, addresses and visiting hours."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from geogrid.demo import names as nm
from geogrid.demo._arrays import (
    Bools,
    Floats,
    Ints,
    Strs,
    digits,
    offsets_within,
    rank_in_runs,
    stream,
)
from geogrid.demo._plane import lonlat
from geogrid.demo.geography import Clusters, Geography

_SMALL_NUMBERS = np.arange(100_000).astype(str)


@dataclass
class Households:
    """Households, one entry each, in order of their household number.

    `village` and `cluster` index `Villages` and `Clusters`; `lon` and `lat`
    are WGS84 (the village centre where `geocode_level` is 'village').
    """

    village: Ints
    cluster: Ints
    group_no: Ints
    number: Strs
    lon: Floats
    lat: Floats
    address: Strs
    geocode_level: Strs
    time_window: npt.NDArray[np.object_]


def build_households(seed: int, geo: Geography, counts: Ints) -> Households:
    """Household points clustered in natural villages, strictly inside their village."""
    rng = stream(seed, "households")
    clusters = geo.clusters
    village = np.repeat(np.arange(len(counts), dtype=np.int64), counts)

    # which natural village (or housing estate) each household lives in
    starts = _starts(clusters.village)
    local = _cluster_choice(rng, clusters, village, starts)
    cluster = starts[village] + local

    lon, lat = _points_in_villages(rng, geo, village, cluster)
    group_no, bearing = _groups(geo, cluster, lon, lat)

    # number households village by village, group by group, around the centre
    order = np.lexsort((bearing, group_no, cluster, village))
    village, cluster, group_no = village[order], cluster[order], group_no[order]
    lon, lat = lon[order], lat[order]
    serial = np.arange(len(village)) - np.repeat(np.cumsum(counts) - counts, counts)
    width = max(4, len(str(int(counts.max()))))
    number = np.strings.add(
        np.array(geo.villages.code)[village],
        digits(serial + 1, width),
    )
    empty = np.empty(0, dtype=str)
    hh = Households(village, cluster, group_no, number, lon, lat, empty, empty, empty)
    _describe_households(stream(seed, "addresses"), geo, hh)
    return hh


def _starts(owner: Ints) -> Ints:
    return np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])


def _cluster_choice(
    rng: np.random.Generator, clusters: Clusters, village: Ints, starts: Ints
) -> Ints:
    """Index of a cluster within its village, drawn by cluster share."""
    sizes = np.diff(np.r_[starts, len(clusters.village)])
    within = offsets_within(clusters.village, clusters.share) + clusters.share
    u = rng.random(len(village))
    local = np.zeros(len(village), dtype=np.int64)
    for k in range(1, int(sizes.max())):
        has_k = sizes[village] > k
        threshold = within[np.minimum(starts[village] + k - 1, len(within) - 1)]
        local += (has_k & (u >= threshold)).astype(np.int64)
    return local


def _points_in_villages(
    rng: np.random.Generator, geo: Geography, village: Ints, cluster: Ints
) -> tuple[Floats, Floats]:
    """Normal scatter around cluster centres, redrawn until inside the village."""
    clusters = geo.clusters
    cells = geo.villages.cell_deg
    shapely.prepare(cells)
    centre_x, centre_y = clusters.xy[cluster, 0], clusters.xy[cluster, 1]
    sigma_m = clusters.sigma_m[cluster]
    lon = np.empty(len(village))
    lat = np.empty(len(village))

    pending = np.arange(len(village))
    for attempt in range(40):
        if len(pending) == 0:
            break
        spread_m = sigma_m[pending] * 0.85**attempt
        x = centre_x[pending] + rng.standard_normal(len(pending)) * spread_m
        y = centre_y[pending] + rng.standard_normal(len(pending)) * spread_m
        lon_try, lat_try = lonlat(x, y)
        inside = shapely.contains_xy(cells[village[pending]], lon_try, lat_try)
        lon[pending[inside]], lat[pending[inside]] = lon_try[inside], lat_try[inside]
        pending = pending[~inside]

    # any left over sit on their cluster centre, which lies well inside
    lon[pending], lat[pending] = lonlat(centre_x[pending], centre_y[pending])
    return lon, lat


def _groups(
    geo: Geography, cluster: Ints, lon: Floats, lat: Floats
) -> tuple[Ints, Floats]:
    """村民小组 as sectors around each cluster centre; also each bearing."""
    clusters = geo.clusters
    centre_lon, centre_lat = lonlat(clusters.xy[cluster, 0], clusters.xy[cluster, 1])
    bearing = np.mod(np.arctan2(lon - centre_lon, lat - centre_lat), 2 * np.pi)
    n_groups = clusters.n_groups[cluster]
    sector = np.minimum(
        (bearing / (2 * np.pi) * n_groups).astype(np.int64), n_groups - 1
    )
    return clusters.group_offset[cluster] + sector + 1, bearing


def _describe_households(
    rng: np.random.Generator, geo: Geography, hh: Households
) -> None:
    """Addresses as clerks type them, their geocoding precision, visiting hours."""
    villages = geo.villages
    hh.address, vague = _addresses(rng, geo, hh)

    # vague addresses and a few unmatched ones are geocoded to the village centre
    village_level = vague | (rng.random(len(hh.village)) < 0.05)
    centre_lon, centre_lat = lonlat(villages.seed_xy[:, 0], villages.seed_xy[:, 1])
    hh.lon = np.where(village_level, centre_lon[hh.village], hh.lon)
    hh.lat = np.where(village_level, centre_lat[hh.village], hh.lat)
    hh.geocode_level = np.where(village_level, "village", "exact")

    window = rng.choice(3, size=len(hh.village), p=[0.85, 0.10, 0.05])
    hh.time_window = np.array([None, "evening", "weekend"], dtype=object)[window]


def _addresses(
    rng: np.random.Generator, geo: Geography, hh: Households
) -> tuple[Strs, Bools]:
    """Addresses in six forms each for villages and communities; which are vague."""
    villages, towns, clusters = geo.villages, geo.towns, geo.clusters
    n = len(hh.village)
    town_name = np.array(towns.name)[villages.town][hh.village]
    village_name = np.array(villages.name)[hh.village]
    estate = np.array(clusters.name)[hh.cluster]
    county = nm.PROVINCE + nm.CITY + nm.COUNTY_NAME

    # doors count up within a group; flats fill buildings of 3 units and 6 floors
    door = _text(rank_in_runs(hh.cluster * 1000 + hh.group_no) + 1)
    group = _text(hh.group_no)
    flat_rank = rank_in_runs(hh.cluster)
    building = _text(flat_rank // 36 + 1)
    unit = _text((flat_rank // 12) % 3 + 1)
    room = _text(((flat_rank // 2) % 6 + 1) * 100 + flat_rank % 2 + 1)
    street = np.array(nm.STREET_NAMES)[hh.village % len(nm.STREET_NAMES)]
    street_no = _text((hh.cluster * 7) % 180 + 2)
    flat = [building, "幢", unit, "单元", room, "室"]

    shares = [0.45, 0.20, 0.15, 0.05, 0.10, 0.05]
    rural_forms: list[list[Any]] = [
        [county, town_name, village_name, group, "组", door, "号"],
        [nm.COUNTY_NAME, town_name, village_name, group, "组", door, "号"],
        [town_name, village_name, group, "组", door, "号"],
        [village_name, group, "组", door, "号"],
        [town_name, village_name, estate, door, "号"],
        [nm.CITY + nm.COUNTY_NAME, town_name, village_name],
    ]
    urban_forms: list[list[Any]] = [
        [county, town_name, village_name, estate, *flat],
        [nm.COUNTY_NAME, town_name, estate, *flat],
        [town_name, village_name, estate, building, "幢", room, "室"],
        [estate, building, "-", unit, "-", room],
        [nm.COUNTY_NAME, town_name, street, street_no, "号", estate, *flat],
        [nm.CITY + nm.COUNTY_NAME, town_name, village_name],
    ]
    community = villages.is_community[hh.village]
    form = rng.choice(len(shares), size=n, p=shares)

    pieces = []
    for k in range(len(shares)):
        for forms, where in ((rural_forms, ~community), (urban_forms, community)):
            rows = np.flatnonzero(where & (form == k))
            pieces.append((rows, _concat([_pick(part, rows) for part in forms[k]])))

    width = max(text.dtype.itemsize // 4 for _, text in pieces)
    address = np.empty(n, dtype=f"<U{width}")
    for rows, text in pieces:
        address[rows] = text
    return address, form == len(shares) - 1


def _pick(part: Any, rows: Ints) -> Any:
    return part[rows] if isinstance(part, np.ndarray) else part


def _text(values: Ints) -> Strs:
    """Decimal text of small non-negative integers (below 100,000)."""
    return _SMALL_NUMBERS[values]


def _concat(parts: Sequence[Any]) -> Strs:
    text = np.asarray(parts[0], dtype=str)
    for part in parts[1:]:
        text = np.strings.add(text, np.asarray(part, dtype=str))
    return text
