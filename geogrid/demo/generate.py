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
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import logging
import shutil
import tempfile
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyogrio
import shapely
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import Delaunay

from geogrid.demo import names as nm
from geogrid.errors import InvalidInput
from geogrid.store.models import (
    PRODUCTS,
    TARGET_METRICS,
    VISIT_OUTCOMES,
    VISIT_PURPOSES,
)
from geogrid.validate import ID_CHECK_CHARS, ID_WEIGHTS

logger = logging.getLogger(__name__)

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Strs = npt.NDArray[np.str_]
Geoms = npt.NDArray[np.object_]

COUNTY_PREFIX = "331099"
COUNTY_CODE = COUNTY_PREFIX + "000000"
CENTER_LON = 121.2
CENTER_LAT = 28.5
COUNTY_RADIUS_M = 15_000.0
TIMEZONE = "Asia/Shanghai"
CRS = "EPSG:4326"

N_VILLAGES = 250
VILLAGES_PER_SUBDISTRICT = 16
COMMUNITIES_PER_SUBDISTRICT = 11
HOUSEHOLDS_PER_MANAGER = 1_400
MIN_MANAGERS_PER_BRANCH = 2
MAX_HOUSEHOLDS = 5_000_000
SPEED_KPH = {"county": 60.0, "town": 40.0, "village": 25.0}

# planted problems: how many pockets of how many villages, and single cases
BLIND_SPOT_POCKETS = 3
LEAKAGE_POCKETS = 2
VILLAGES_PER_POCKET = 5
UNVISITED_VILLAGES = 6
DUPLICATED_NAMES = 6
B_POST_SHARE = 0.6
GRIDS_WITH_ONE_LIAISON = 2
# account managers who record part of their visits from the branch
DESK_MANAGERS = 3
DESK_VISIT_SHARE = 0.4

# household size 1-5 (mean 2.82) and the roles of its members
HOUSEHOLD_SIZE_SHARES = np.array([0.16, 0.30, 0.22, 0.20, 0.12])
HEAD, SPOUSE, CHILD, ELDER = 0, 1, 2, 3

LABELS = (
    nm.LABEL_MIGRANT,
    nm.LABEL_RETURNS_AT_SPRING_FESTIVAL,
    nm.LABEL_BUSINESS,
    nm.LABEL_FARMER,
    nm.LABEL_CIVIL_SERVANT,
    nm.LABEL_ELDERLY,
    nm.LABEL_STUDENT,
    nm.LABEL_NEWCOMER,
)

_SMALL_NUMBERS = np.arange(100_000).astype(str)

# a local equirectangular plane: metres east and north of the county centre
_PHI = np.radians(CENTER_LAT)
M_PER_DEG_LAT = float(
    111_132.954 - 559.822 * np.cos(2 * _PHI) + 1.175 * np.cos(4 * _PHI)
)
M_PER_DEG_LON = float(111_412.84 * np.cos(_PHI) - 93.5 * np.cos(3 * _PHI))


@dataclass
class DemoCounty:
    """Every table of the demo county, geometry in WGS84 (EPSG:4326).

    Attributes
    ----------
    county, towns, villages
        Administrative units: code, name, level, parent_code, kind and a
        MultiPolygon. Towns tile the county and villages tile their town.
    roads
        Road segments split at every junction: name, kind, speed_kph and a
        LineString; one connected network.
    branches
        One branch per town: code, name, address, town_code and a Point.
    staff
        username, name, role, branch_code (None for head office and planner)
        and phone.
    grids_l1, grids_l2
        First-level grids (a branch's town) and second-level grids (whole
        villages, one per account manager) with code, name, branch_code,
        parent_code and village_codes (level 2 only) and a MultiPolygon.
    posts
        grid_code, username and post ('A' or 'B').
    liaison
        Liaison officers: grid_code, name, kind, phone and village_code.
    targets
        grid_code, year, metric and target.
    households
        household_no, address, village_code, group_no, lon, lat (WGS84),
        geocode_level and time_window.
    persons
        Members of households with ID number, phone, gender, birth date,
        status, products, labels and balances in yuan.
    visits
        household_no, username, visited_at (Asia/Shanghai), lon, lat,
        purpose and outcome.
    planted
        What was planted on purpose, for demos and tests to find:
        ``blind_spot_villages`` (penetration under 10%, in 3 pockets of
        neighbouring villages), ``high_penetration_villages``,
        ``leakage_villages`` (deposits mostly at other banks, 2 pockets),
        ``unvisited_villages``, ``duplicate_village_names`` (names used in two
        towns), ``grids_with_one_liaison``, ``grids_without_targets`` and
        ``managers_recording_at_the_branch`` (A-post managers who record
        about 40% of their visits at their branch, not at the household).
    as_of
        The day the demo's clock reads.
    """

    county: gpd.GeoDataFrame
    towns: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    branches: gpd.GeoDataFrame
    staff: pd.DataFrame
    grids_l1: gpd.GeoDataFrame
    grids_l2: gpd.GeoDataFrame
    posts: pd.DataFrame
    liaison: pd.DataFrame
    targets: pd.DataFrame
    households: pd.DataFrame
    persons: pd.DataFrame
    visits: pd.DataFrame
    planted: dict[str, list[str]] = field(default_factory=dict)
    as_of: dt.date = field(default_factory=dt.date.today)


# --- internal state shared by the stages -------------------------------------


@dataclass
class _Towns:
    seat_xy: Floats
    code: list[str]
    name: list[str]
    short: list[str]
    kind: list[str]


@dataclass
class _Villages:
    seed_xy: Floats
    town: Ints
    is_community: Bools
    cell_m: Geoms
    weight: Floats
    code: list[str] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    cell_deg: Geoms = field(default_factory=lambda: np.empty(0, dtype=object))


@dataclass
class _Clusters:
    village: Ints
    xy: Floats
    share: Floats
    sigma_m: Floats
    name: list[str]
    n_groups: Ints
    group_offset: Ints


@dataclass
class _Geography:
    outline_m: shapely.Polygon
    towns: _Towns
    villages: _Villages
    clusters: _Clusters
    adjacency: list[list[int]]
    duplicate_names: list[str]


@dataclass
class _Planted:
    blind_spot: Ints
    high: Ints
    leakage: Ints
    unvisited: Ints


@dataclass
class _Organisation:
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


@dataclass
class _Households:
    village: Ints
    cluster: Ints
    group_no: Ints
    number: Strs
    lon: Floats
    lat: Floats
    address: Strs
    geocode_level: Strs
    time_window: npt.NDArray[np.object_]


# --- public API ----------------------------------------------------------------


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
    geo = _geography(seed)
    planted = _plant_villages(seed, geo)
    counts = _allocate(geo.villages.weight, households)
    org = _organisation(seed, geo, counts)

    # people, their files and the work done on them
    hh = _households(seed, geo, counts)
    people = _persons(seed, geo, hh, planted, as_of)
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


def write_boundaries(county: DemoCounty, folder: Path) -> list[Path]:
    """Write the boundaries in the formats users bring to geogrid.

    Parameters
    ----------
    county
        A generated county.
    folder
        Where to write; created when missing. A file that already holds the
        same features is left untouched (its bytes and date); others are
        replaced.

    Returns
    -------
    list of Path
        ``demo_county.geojson`` (FeatureCollection, WGS84),
        ``demo_towns.shp`` (attributes in GBK, with a ``.cpg``; the column
        ``parent_code`` is shortened to ``parent`` by the 10-character limit),
        ``demo_villages.gpkg`` and ``demo_villages_gcj02.geojson`` (villages
        shifted to GCJ-02 as Chinese web maps publish them).
    """
    from geogrid.crs import convert_gdf

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [
        folder / "demo_county.geojson",
        folder / "demo_towns.shp",
        folder / "demo_villages.gpkg",
        folder / "demo_villages_gcj02.geojson",
    ]
    # written aside first: a file whose content is already there stays as it
    # was (Shapefile and GeoPackage stamp the date they were written, which
    # would show a tracked copy as changed after every demo build)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".demo-") as scratch:
        fresh = [Path(scratch) / path.name for path in paths]
        pyogrio.write_dataframe(county.county, fresh[0], driver="GeoJSON")
        towns = county.towns.rename(columns={"parent_code": "parent"})
        pyogrio.write_dataframe(towns, fresh[1], encoding="GBK")
        pyogrio.write_dataframe(county.villages, fresh[2], layer="villages")
        gcj02 = convert_gdf(county.villages, "wgs84", "gcj02")
        pyogrio.write_dataframe(gcj02, fresh[3], driver="GeoJSON")

        unchanged = 0
        for new, old in zip(fresh, paths, strict=True):
            if _same_dataset(new, old):
                unchanged += 1
                continue
            _remove_dataset(old)
            for part in _dataset_files(new):
                shutil.move(part, folder / part.name)

    logger.info(
        "Wrote %d boundary files to %s (%d already held the same features and "
        "were left as they were)",
        len(paths),
        folder,
        unchanged,
    )
    return paths


def _dataset_files(path: Path) -> list[Path]:
    """The files of one dataset: a Shapefile's sidecars, or the file alone."""
    suffixes = (".shp", ".shx", ".dbf", ".prj", ".cpg") if path.suffix == ".shp" else ()
    return [path.with_suffix(s) for s in suffixes or (path.suffix,)]


def _remove_dataset(path: Path) -> None:
    for part in _dataset_files(path):
        part.unlink(missing_ok=True)


def _same_dataset(new: Path, old: Path) -> bool:
    """Whether ``old`` exists and holds exactly the features of ``new``."""
    if not all(part.exists() for part in _dataset_files(old)):
        return False
    try:
        a = pyogrio.read_dataframe(new)
        b = pyogrio.read_dataframe(old)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError):
        return False
    if list(a.columns) != list(b.columns) or len(a) != len(b) or a.crs != b.crs:
        return False
    attributes = a.drop(columns="geometry").equals(b.drop(columns="geometry"))
    return bool(attributes and a.geometry.geom_equals_exact(b.geometry, 0).all())


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


# --- randomness and coordinates --------------------------------------------------


def _stream(seed: int, stage: str) -> np.random.Generator:
    """An independent random stream for one stage of the generation."""
    return np.random.default_rng([int(seed), zlib.crc32(stage.encode("ascii"))])


def _lonlat(x: Floats, y: Floats) -> tuple[Floats, Floats]:
    return CENTER_LON + x / M_PER_DEG_LON, CENTER_LAT + y / M_PER_DEG_LAT


def _to_degrees(geoms: Any) -> Any:
    def affine(coords: Floats) -> Floats:
        return np.column_stack(_lonlat(coords[:, 0], coords[:, 1]))

    return shapely.transform(geoms, affine)


def _as_multi(geoms: Geoms) -> Geoms:
    """MultiPolygons of polygons (and of the polygons inside MultiPolygons)."""
    out = np.empty(len(geoms), dtype=object)
    for i, geom in enumerate(geoms):
        out[i] = shapely.MultiPolygon(list(shapely.get_parts(geom)))
    return out


def _allocate(weights: Floats, total: int) -> Ints:
    """Split `total` into whole numbers proportional to `weights`."""
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    short = total - int(counts.sum())
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:short]] += 1
    return counts


def _uniform_in(rng: np.random.Generator, polygon: Any, n: int) -> Floats:
    """`n` points drawn uniformly inside a polygon."""
    minx, miny, maxx, maxy = polygon.bounds
    batches: list[Floats] = []
    found = 0
    while found < n:
        xy = rng.uniform((minx, miny), (maxx, maxy), size=(max(2 * n, 16), 2))
        xy = xy[shapely.contains_xy(polygon, xy[:, 0], xy[:, 1])]
        batches.append(xy)
        found += len(xy)
    return np.concatenate(batches)[:n]


def _spread_points(
    rng: np.random.Generator,
    polygon: Any,
    existing: Floats,
    n: int,
    candidates: int,
) -> Floats:
    """`n` points inside a polygon, each the farthest of a few candidates."""
    points = [np.asarray(p, dtype=float) for p in existing]
    added: list[Floats] = []
    for _ in range(n):
        options = _uniform_in(rng, polygon, candidates)
        if points:
            taken = np.array(points)
            gap = np.hypot(*(options[:, None, :] - taken[None]).transpose(2, 0, 1))
            best = options[int(np.argmax(gap.min(axis=1)))]
        else:
            best = options[0]
        points.append(best)
        added.append(best)
    return np.array(added).reshape(-1, 2)


def _shrunk(polygon: Any, distance_m: float) -> Any:
    """The polygon shrunk by a distance, or itself when too small for it."""
    inner = polygon.buffer(-distance_m)
    return polygon if inner.is_empty or inner.area < 0.05 * polygon.area else inner


# --- geography -------------------------------------------------------------------


def _geography(seed: int) -> _Geography:
    outline = _county_outline_m(_stream(seed, "outline"))
    towns = _towns(_stream(seed, "towns"), outline)
    villages = _village_seeds(_stream(seed, "villages"), outline, towns)

    villages.cell_m = _tile(outline, villages.seed_xy)
    adjacency = _adjacency(villages.cell_m)
    _make_towns_contiguous(villages, adjacency)
    duplicates = _name_villages(_stream(seed, "names"), towns, villages)

    villages.weight = _village_weights(_stream(seed, "weights"), towns, villages)
    order = np.argsort(np.array(villages.code), kind="stable")
    villages, adjacency = _reorder(villages, adjacency, order)
    villages.cell_deg = _to_degrees(villages.cell_m)
    clusters = _clusters(_stream(seed, "clusters"), villages)
    return _Geography(outline, towns, villages, clusters, adjacency, duplicates)


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


def _towns(rng: np.random.Generator, outline: shapely.Polygon) -> _Towns:
    """Seats, kinds, names and codes of 3 subdistricts, 8 towns and 1 township."""
    subdistricts = np.array([(0.0, 1800.0), (2600.0, -900.0), (-2500.0, -1100.0)])
    subdistricts += rng.normal(0, 250, size=subdistricts.shape)
    rural = _spread_points(rng, _shrunk(outline, 3500), subdistricts, 9, candidates=30)

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
    return _Towns(seat_xy, codes, names, shorts, kinds)


def _village_seeds(
    rng: np.random.Generator, outline: shapely.Polygon, towns: _Towns
) -> _Villages:
    """Settlement centres: communities around each seat, villages spread out."""
    cells = _tile(outline, towns.seat_xy)
    per_town = _villages_per_town(cells, towns)
    seeds, town_of, community = [], [], []

    for t, cell in enumerate(cells):
        urban = towns.kind[t] == "街道"
        if urban:
            n_communities = COMMUNITIES_PER_SUBDISTRICT
        else:
            n_communities = 1 if towns.kind[t] == "乡" else int(rng.integers(2, 4))
        inner = _shrunk(cell, 250)
        xy = _communities_around(rng, inner, towns.seat_xy[t], n_communities, urban)
        spread = _spread_points(rng, inner, xy, per_town[t] - n_communities, 5)

        seeds.append(np.vstack([xy, spread]))
        town_of += [t] * per_town[t]
        community += [True] * n_communities + [False] * (per_town[t] - n_communities)

    empty = np.empty(0, dtype=object)
    return _Villages(
        np.vstack(seeds), np.array(town_of), np.array(community), empty, np.empty(0)
    )


def _villages_per_town(cells: Geoms, towns: _Towns) -> list[int]:
    urban = [k == "街道" for k in towns.kind]
    rural_weight = np.array(
        [
            0.0 if u else shapely.area(c) * (0.7 if k == "乡" else 1.0)
            for c, u, k in zip(cells, urban, towns.kind, strict=True)
        ]
    )
    rural_total = N_VILLAGES - VILLAGES_PER_SUBDISTRICT * sum(urban)
    counts = _allocate(rural_weight, rural_total)
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


def _tile(region: shapely.Polygon, seeds: Floats) -> Geoms:
    """Voronoi cells of the seeds clipped to the region, one polygon per seed.

    Pieces cut off a cell by a concave stretch of the region's edge are given
    to the neighbour sharing the longest border with them, so each cell is one
    polygon containing its seed; cells share vertices exactly.
    """
    cells = shapely.voronoi_polygons(
        shapely.multipoints(seeds), extend_to=region, ordered=True
    )
    cells = shapely.intersection(shapely.get_parts(cells), region)
    for i in np.flatnonzero(shapely.get_num_geometries(cells) > 1):
        parts = shapely.get_parts(cells[i])
        home = shapely.contains_xy(parts, *seeds[i])
        cells[i] = parts[home][0]
        for part in parts[~home]:
            j = _longest_border(part, cells, exclude=int(i))
            cells[j] = shapely.coverage_union(cells[j], part)
    return np.asarray(cells, dtype=object)


def _longest_border(part: Any, cells: Geoms, exclude: int) -> int:
    border = shapely.length(
        shapely.intersection(part.boundary, shapely.boundary(cells))
    )
    border[exclude] = -1.0
    return int(np.argmax(border))


def _adjacency(cells: Geoms, min_border_m: float = 1.0) -> list[list[int]]:
    """For each cell, the cells sharing a border of some length with it."""
    tree = shapely.STRtree(cells)
    left, right = tree.query(cells, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    shared = shapely.length(shapely.intersection(cells[left], cells[right]))
    neighbours: list[list[int]] = [[] for _ in cells]
    touching = shared > min_border_m
    for a, b in zip(left[touching], right[touching], strict=True):
        neighbours[a].append(int(b))
        neighbours[b].append(int(a))
    return [sorted(n) for n in neighbours]


def _make_towns_contiguous(villages: _Villages, adjacency: list[list[int]]) -> None:
    """Move villages cut off from their town to the town next to them."""
    for _ in range(10):
        moved = 0
        for t in np.unique(villages.town):
            members = np.flatnonzero(villages.town == t)
            for stray in _detached(members, adjacency, anchor=int(members[0])):
                others = [n for n in adjacency[stray] if villages.town[n] != t]
                if others:
                    villages.town[stray] = villages.town[others[0]]
                    moved += 1
        if moved == 0:
            return


def _detached(members: Ints, adjacency: list[list[int]], anchor: int) -> list[int]:
    """Members not reachable from the anchor through members."""
    inside = set(members.tolist())
    reached = {anchor}
    frontier = [anchor]
    while frontier:
        node = frontier.pop()
        for n in adjacency[node]:
            if n in inside and n not in reached:
                reached.add(n)
                frontier.append(n)
    return sorted(inside - reached)


def _name_villages(
    rng: np.random.Generator, towns: _Towns, villages: _Villages
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
    towns: _Towns,
    villages: _Villages,
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
    rng: np.random.Generator, villages: _Villages, names: npt.NDArray[np.object_]
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
    rng: np.random.Generator, towns: _Towns, villages: _Villages
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
    villages: _Villages, adjacency: list[list[int]], order: Ints
) -> tuple[_Villages, list[list[int]]]:
    new_index = np.empty_like(order)
    new_index[order] = np.arange(len(order))
    moved = _Villages(
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


def _clusters(rng: np.random.Generator, villages: _Villages) -> _Clusters:
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
    offset = _offsets_within(village_arr, n_groups)
    return _Clusters(
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
    inner = _shrunk(cell, 90)
    centres = [np.asarray(seed_xy, dtype=float)]
    for _ in range(60):
        if len(centres) == wanted:
            break
        candidate = _uniform_in(rng, inner, 1)[0]
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
    extra = _allocate(shares, total - len(shares)) if total > len(shares) else 0
    return np.ones(len(shares), dtype=np.int64) + extra


def _offsets_within(owner: Ints, sizes: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Running total of `sizes` before each item, restarting with each owner."""
    running = np.cumsum(sizes) - sizes
    first = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    run_length = np.diff(np.r_[first, len(owner)])
    return np.asarray(running - np.repeat(running[first], run_length))


# --- roads ---------------------------------------------------------------------


def _roads(seed: int, geo: _Geography) -> gpd.GeoDataFrame:
    """County roads between seats, town roads between villages, village lanes."""
    rng = _stream(seed, "roads")
    towns, villages, clusters = geo.towns, geo.villages, geo.clusters
    lines: list[Any] = []
    kinds: list[str] = []
    names: list[str] = []

    def add(a: Floats, b: Floats, kind: str, name: str) -> None:
        lines.append(_bent_line(rng, a, b))
        kinds.append(kind)
        names.append(name)

    # county roads link the town seats
    seats = towns.seat_xy
    initial = [s[1] if s.startswith("城") else s[0] for s in towns.short]
    for k, (i, j) in enumerate(_network_edges(seats, extra=3)):
        add(seats[i], seats[j], "county", f"X{101 + k} {initial[i]}{initial[j]}线")

    # town roads link the village centres of each town to its seat
    stems = [n.removesuffix("社区").removesuffix("村") for n in villages.name]
    in_tree: set[tuple[int, int]] = set()
    for t in range(len(towns.code)):
        members = np.flatnonzero(villages.town == t)
        for i, j in _mst_edges(villages.seed_xy[members]):
            a, b = int(members[i]), int(members[j])
            in_tree.add((min(a, b), max(a, b)))
            add(
                villages.seed_xy[a],
                villages.seed_xy[b],
                "town",
                f"{stems[a]}{stems[b]}公路",
            )

    # village roads close a few loops and reach the natural villages
    for a, b in _loop_edges(rng, villages.seed_xy, in_tree):
        add(
            villages.seed_xy[a],
            villages.seed_xy[b],
            "village",
            f"{stems[a]}{stems[b]}村道",
        )
    for k in np.flatnonzero(_rank_in_runs(clusters.village) > 0).tolist():
        v = int(clusters.village[k])
        add(clusters.xy[k], villages.seed_xy[v], "village", f"{clusters.name[k]}路")

    return _noded_roads(lines, kinds, names)


def _starts(owner: Ints) -> Ints:
    return np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])


def _bent_line(rng: np.random.Generator, a: Floats, b: Floats) -> shapely.LineString:
    """A road from a to b with gentle bends; its ends are exactly a and b."""
    delta = b - a
    length_m = float(np.hypot(*delta))
    inner = int(np.clip(length_m // 700, 1, 8))
    t = np.linspace(0, 1, inner + 2)
    normal = np.array([-delta[1], delta[0]]) / max(length_m, 1e-9)
    offset_m = rng.normal(0, 0.05) * length_m * np.sin(np.pi * t)
    offset_m[1:-1] += rng.normal(0, 0.01 * length_m, inner)
    coords = a + np.outer(t, delta) + np.outer(offset_m, normal)
    coords[0], coords[-1] = a, b
    return shapely.LineString(coords)


def _mst_edges(xy: Floats) -> list[tuple[int, int]]:
    """Edges of the Euclidean minimum spanning tree of the points."""
    if len(xy) < 2:
        return []
    distance = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    tree = minimum_spanning_tree(distance).tocoo()
    return sorted(
        (int(min(i, j)), int(max(i, j)))
        for i, j in zip(tree.row, tree.col, strict=True)
    )


def _delaunay_edges(xy: Floats) -> list[tuple[int, int]]:
    triangles = Delaunay(xy).simplices
    pairs = np.sort(
        np.vstack([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [0, 2]]]),
        axis=1,
    )
    return [(int(i), int(j)) for i, j in np.unique(pairs, axis=0)]


def _network_edges(xy: Floats, extra: int) -> list[tuple[int, int]]:
    """A spanning tree plus the `extra` shortest Delaunay edges outside it."""
    tree = _mst_edges(xy)
    in_tree = set(tree)
    others = [e for e in _delaunay_edges(xy) if e not in in_tree]
    length = [float(np.hypot(*(xy[i] - xy[j]))) for i, j in others]
    shortest = [others[k] for k in np.argsort(length, kind="stable")[:extra]]
    return tree + shortest


def _loop_edges(
    rng: np.random.Generator, xy: Floats, in_tree: set[tuple[int, int]]
) -> list[tuple[int, int]]:
    """About a quarter of the short Delaunay edges that no town road follows."""
    edges = [e for e in _delaunay_edges(xy) if e not in in_tree]
    length = np.array([np.hypot(*(xy[i] - xy[j])) for i, j in edges])
    keep = (length < 2500) & (rng.random(len(edges)) < 0.25)
    return [e for e, k in zip(edges, keep, strict=True) if k]


def _noded_roads(
    lines: list[Any], kinds: list[str], names: list[str]
) -> gpd.GeoDataFrame:
    """Split every road where it meets another; pieces keep their road's fields."""
    pieces = shapely.get_parts(shapely.node(shapely.GeometryCollection(lines)))
    middle = shapely.line_interpolate_point(pieces, 0.5, normalized=True)
    _, owner = shapely.STRtree(np.array(lines, dtype=object)).query_nearest(
        middle, all_matches=False
    )
    kind = np.array(kinds, dtype=object)[owner]
    frame = gpd.GeoDataFrame(
        {
            "name": np.array(names, dtype=object)[owner],
            "kind": kind,
            "speed_kph": [SPEED_KPH[k] for k in kind],
        },
        geometry=_to_degrees(pieces),
        crs=CRS,
    )
    return frame


# --- planted villages --------------------------------------------------------------


def _plant_villages(seed: int, geo: _Geography) -> _Planted:
    """Pockets of blind spots and of leakage, well-served and unvisited villages."""
    rng = _stream(seed, "planted")
    villages, towns = geo.villages, geo.towns
    rural_town = np.array([towns.kind[t] != "街道" for t in villages.town])
    seat_distance = np.hypot(*(villages.seed_xy - towns.seat_xy[villages.town]).T)
    eligible = ~villages.is_community & rural_town & (seat_distance > 1500)

    taken = np.zeros(len(eligible), dtype=bool)
    blind = _pockets(rng, geo, eligible, taken, BLIND_SPOT_POCKETS)
    leakage = _pockets(rng, geo, eligible, taken, LEAKAGE_POCKETS)

    # the seat of every town and its closest neighbour are served best
    high = []
    for t in range(len(towns.code)):
        members = np.flatnonzero((villages.town == t) & ~taken)
        nearest = members[np.argsort(seat_distance[members])[:2]]
        high += nearest.tolist()

    # the remotest village of the remotest towns is never visited
    remote = np.full(len(towns.code), -1)
    for t in range(len(towns.code)):
        members = np.flatnonzero((villages.town == t) & eligible & ~taken)
        if len(members):
            remote[t] = members[np.argmax(seat_distance[members])]
    remote = remote[remote >= 0]
    unvisited = remote[np.argsort(-seat_distance[remote])[:UNVISITED_VILLAGES]]
    return _Planted(blind, np.array(sorted(high)), leakage, np.sort(unvisited))


def _pockets(
    rng: np.random.Generator,
    geo: _Geography,
    eligible: Bools,
    taken: Bools,
    n_pockets: int,
) -> Ints:
    """Contiguous groups of villages grown from centres far from one another."""
    xy = geo.villages.seed_xy
    chosen: list[int] = []
    for _ in range(n_pockets):
        free = np.flatnonzero(eligible & ~taken)
        if np.any(taken):
            gap = np.hypot(*(xy[free, None, :] - xy[None, taken, :]).transpose(2, 0, 1))
            free = free[np.argsort(-gap.min(axis=1))[:5]]
        centre = int(rng.choice(free))
        pocket = _grow_pocket(geo, centre, eligible & ~taken, VILLAGES_PER_POCKET)
        taken[pocket] = True
        chosen += pocket
    return np.array(sorted(chosen), dtype=np.int64)


def _grow_pocket(geo: _Geography, centre: int, allowed: Bools, size: int) -> list[int]:
    xy = geo.villages.seed_xy
    pocket = [centre]
    while len(pocket) < size:
        border = {n for v in pocket for n in geo.adjacency[v] if allowed[n]} - set(
            pocket
        )
        if not border:
            break
        options = sorted(border)
        distance = [np.hypot(*(xy[n] - xy[centre])) for n in options]
        pocket.append(options[int(np.argmin(distance))])
    return pocket


# --- the bank -------------------------------------------------------------------


def _organisation(seed: int, geo: _Geography, counts: Ints) -> _Organisation:
    """Branches, staff, grids and posts, managers in proportion to households."""
    rng = _stream(seed, "organisation")
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
    staff, managers = _staff(_stream(seed, "staff"), branch_code, n_managers)

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
    return _Organisation(
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


def _branch_points(rng: np.random.Generator, geo: _Geography) -> Floats:
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
            "name": _person_names(rng, _surnames(rng, len(rows)), female, ages < 45),
            "role": [r[1] for r in rows],
            "branch_code": pd.Series([r[2] for r in rows], dtype=object),
            "phone": _mobile_numbers(rng, len(rows)),
        }
    )
    return staff, managers


def _grow_regions(geo: _Geography, members: Ints, weight: Floats, k: int) -> Ints:
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
            if len(rest) == 0 or _detached(rest, neighbours, anchor=int(rest[0])):
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


# --- households ----------------------------------------------------------------------


def _households(seed: int, geo: _Geography, counts: Ints) -> _Households:
    """Household points clustered in natural villages, strictly inside their village."""
    rng = _stream(seed, "households")
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
        _digits(serial + 1, width),
    )
    empty = np.empty(0, dtype=str)
    hh = _Households(village, cluster, group_no, number, lon, lat, empty, empty, empty)
    _describe_households(_stream(seed, "addresses"), geo, hh)
    return hh


def _cluster_choice(
    rng: np.random.Generator, clusters: _Clusters, village: Ints, starts: Ints
) -> Ints:
    """Index of a cluster within its village, drawn by cluster share."""
    sizes = np.diff(np.r_[starts, len(clusters.village)])
    within = _offsets_within(clusters.village, clusters.share) + clusters.share
    u = rng.random(len(village))
    local = np.zeros(len(village), dtype=np.int64)
    for k in range(1, int(sizes.max())):
        has_k = sizes[village] > k
        threshold = within[np.minimum(starts[village] + k - 1, len(within) - 1)]
        local += (has_k & (u >= threshold)).astype(np.int64)
    return local


def _points_in_villages(
    rng: np.random.Generator, geo: _Geography, village: Ints, cluster: Ints
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
        lon_try, lat_try = _lonlat(x, y)
        inside = shapely.contains_xy(cells[village[pending]], lon_try, lat_try)
        lon[pending[inside]], lat[pending[inside]] = lon_try[inside], lat_try[inside]
        pending = pending[~inside]

    # any left over sit on their cluster centre, which lies well inside
    lon[pending], lat[pending] = _lonlat(centre_x[pending], centre_y[pending])
    return lon, lat


def _groups(
    geo: _Geography, cluster: Ints, lon: Floats, lat: Floats
) -> tuple[Ints, Floats]:
    """村民小组 as sectors around each cluster centre; also each bearing."""
    clusters = geo.clusters
    centre_lon, centre_lat = _lonlat(clusters.xy[cluster, 0], clusters.xy[cluster, 1])
    bearing = np.mod(np.arctan2(lon - centre_lon, lat - centre_lat), 2 * np.pi)
    n_groups = clusters.n_groups[cluster]
    sector = np.minimum(
        (bearing / (2 * np.pi) * n_groups).astype(np.int64), n_groups - 1
    )
    return clusters.group_offset[cluster] + sector + 1, bearing


def _rank_in_runs(key: npt.NDArray[Any]) -> Ints:
    """0, 1, 2, ... within each run of equal values of a sorted key."""
    first = np.r_[True, key[1:] != key[:-1]]
    index = np.arange(len(key))
    return np.asarray(index - np.maximum.accumulate(np.where(first, index, 0)))


def _describe_households(
    rng: np.random.Generator, geo: _Geography, hh: _Households
) -> None:
    """Addresses as clerks type them, their geocoding precision, visiting hours."""
    villages = geo.villages
    hh.address, vague = _addresses(rng, geo, hh)

    # vague addresses and a few unmatched ones are geocoded to the village centre
    village_level = vague | (rng.random(len(hh.village)) < 0.05)
    centre_lon, centre_lat = _lonlat(villages.seed_xy[:, 0], villages.seed_xy[:, 1])
    hh.lon = np.where(village_level, centre_lon[hh.village], hh.lon)
    hh.lat = np.where(village_level, centre_lat[hh.village], hh.lat)
    hh.geocode_level = np.where(village_level, "village", "exact")

    window = rng.choice(3, size=len(hh.village), p=[0.85, 0.10, 0.05])
    hh.time_window = np.array([None, "evening", "weekend"], dtype=object)[window]


def _addresses(
    rng: np.random.Generator, geo: _Geography, hh: _Households
) -> tuple[Strs, Bools]:
    """Addresses in six forms each for villages and communities; which are vague."""
    villages, towns, clusters = geo.villages, geo.towns, geo.clusters
    n = len(hh.village)
    town_name = np.array(towns.name)[villages.town][hh.village]
    village_name = np.array(villages.name)[hh.village]
    estate = np.array(clusters.name)[hh.cluster]
    county = nm.PROVINCE + nm.CITY + nm.COUNTY_NAME

    # doors count up within a group; flats fill buildings of 3 units and 6 floors
    door = _text(_rank_in_runs(hh.cluster * 1000 + hh.group_no) + 1)
    group = _text(hh.group_no)
    flat_rank = _rank_in_runs(hh.cluster)
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


def _digits(values: Ints, width: int) -> Strs:
    """Zero-padded decimal text of non-negative integers, `width` digits each."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    codes = (np.asarray(values, dtype=np.int64)[:, None] // powers) % 10 + ord("0")
    return codes.astype(np.uint32).view(f"<U{width}").ravel()


def _text(values: Ints) -> Strs:
    """Decimal text of small non-negative integers (below 100,000)."""
    return _SMALL_NUMBERS[values]


def _concat(parts: Sequence[Any]) -> Strs:
    text = np.asarray(parts[0], dtype=str)
    for part in parts[1:]:
        text = np.strings.add(text, np.asarray(part, dtype=str))
    return text


# --- people --------------------------------------------------------------------------


@dataclass
class _People:
    household: Ints
    frame: pd.DataFrame
    products: Ints


def _persons(
    seed: int, geo: _Geography, hh: _Households, planted: _Planted, as_of: dt.date
) -> _People:
    """Members of every household: names, ID numbers, status, products, balances."""
    rng = _stream(seed, "persons")
    size = rng.choice(np.arange(1, 6), size=len(hh.village), p=HOUSEHOLD_SIZE_SHARES)
    household = np.repeat(np.arange(len(hh.village), dtype=np.int64), size)
    member = np.arange(len(household)) - np.repeat(np.cumsum(size) - size, size)
    role = np.select(
        [member == 0, member == 1, member == 4], [HEAD, SPOUSE, ELDER], CHILD
    )
    village = hh.village[household]
    community = geo.villages.is_community[village]

    # who they are
    hh_community = geo.villages.is_community[hh.village]
    age, female = _ages_and_genders(rng, hh_community, household, role)
    age_days = np.floor(age * 365.25 + rng.uniform(0, 365, len(age)))
    birth = _days(as_of) - np.maximum(age_days, 1).astype(np.int64)
    id_number, birth = _id_numbers(rng, birth, female)
    surname = _household_surnames(rng, geo, hh, household, role)
    younger = birth >= _days(dt.date(1975, 1, 1))
    name = _person_names(rng, surname, female, younger)
    phone = _person_phones(rng, age)

    # what the bank knows about them
    labels = _labels(rng, age, community)
    customer = _customers(rng, geo, hh, household, role, planted)
    products = _products(rng, age, labels, customer)
    n_villages = len(geo.villages.name)
    balances = _balances(rng, village, n_villages, age, products, planted)

    frame = pd.DataFrame(
        {
            "household_no": hh.number[household],
            "name": name,
            "id_number": id_number,
            "phone": pd.Series(phone, dtype=object),
            "gender": np.where(female, "F", "M"),
            "birth_date": _dates(birth),
            "status": np.where(customer, "customer", "potential"),
            "products": _lists(products, PRODUCTS),
            "labels": _lists(labels, LABELS),
            **balances,
        }
    )
    return _People(household, frame, products)


def _ages_and_genders(
    rng: np.random.Generator, hh_community: Bools, household: Ints, role: Ints
) -> tuple[Floats, Bools]:
    """Ages in years by role in the household (rural heads are older)."""
    n, n_households = len(household), len(hh_community)
    head_age = np.where(
        hh_community,
        rng.normal(46, 13, n_households),
        rng.normal(55, 14, n_households),
    )
    head_age = np.clip(head_age, 22, 90)[household]
    age = np.select(
        [role == HEAD, role == SPOUSE, role == ELDER],
        [head_age, head_age + rng.normal(-2, 3, n), head_age + rng.normal(27, 4, n)],
        head_age - rng.normal(28, 4, n),
    )

    head_female = (rng.random(n_households) < 0.18)[household]
    female = np.select(
        [role == HEAD, role == SPOUSE], [head_female, ~head_female], rng.random(n) < 0.5
    )
    return np.clip(age, 0.1, 99.5), female.astype(bool)


def _days(day: dt.date) -> int:
    """Days since 1970-01-01."""
    return (day - dt.date(1970, 1, 1)).days


def _dates(days: Ints) -> npt.NDArray[np.object_]:
    """datetime.date objects for days since 1970-01-01."""
    return np.asarray(days.astype("datetime64[D]").astype(object), dtype=object)


def _id_numbers(
    rng: np.random.Generator, birth: Ints, female: Bools
) -> tuple[Strs, Ints]:
    """Unique GB 11643 ID numbers: region, birth date, sequence, check character.

    The sequence is odd for men and even for women. When more than 500 people
    of one sex share a birth day, the extra ones are born a few days earlier.
    """
    birth = birth.copy()
    male = (~female).astype(np.int64)
    for _ in range(1000):
        key = birth * 2 + male
        order = np.lexsort((rng.random(len(key)), key))
        rank = np.empty(len(key), dtype=np.int64)
        rank[order] = _rank_in_runs(key[order])
        crowded = rank >= 500
        if not crowded.any():
            break
        birth[crowded] -= rng.integers(1, 30, int(crowded.sum()))

    # a different stride through 0-499 for every (day, sex)
    slot = (key * 7919 + rank * 37) % 500
    sequence = 2 * slot + male
    days = birth.astype("datetime64[D]")
    year = days.astype("datetime64[Y]").astype(np.int64) + 1970
    month = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    ymd = year * 10_000 + month * 100 + day
    first17 = _digits(int(COUNTY_PREFIX) * 10**11 + ymd * 1000 + sequence, 17)
    return np.strings.add(first17, _id_check_chars(first17)), birth


def _id_check_chars(first17: Strs) -> Strs:
    """GB 11643 check characters, by the weights and table of `geogrid.validate`.

    Same rule as `validate.id_check_chars`, computed straight from the digits:
    for millions of numbers the round trip through a pandas Series there costs
    seconds.
    """
    digits = first17.view(np.uint32).reshape(-1, 17).astype(np.int64) - ord("0")
    return np.asarray(ID_CHECK_CHARS[(digits @ ID_WEIGHTS) % 11])


def _surnames(rng: np.random.Generator, n: int) -> Strs:
    surnames = np.array([s for s, _ in nm.SURNAMES])
    weights = np.array([w for _, w in nm.SURNAMES])
    return np.asarray(surnames[rng.choice(len(surnames), n, p=weights / weights.sum())])


def _household_surnames(
    rng: np.random.Generator,
    geo: _Geography,
    hh: _Households,
    household: Ints,
    role: Ints,
) -> Strs:
    """Surnames: villages have a main clan; children take the head's name."""
    villages = geo.villages
    clan = _surnames(rng, len(villages.name))
    known = {s for s, _ in nm.SURNAMES}
    for v, name in enumerate(villages.name):
        if len(name) == 4 and name[1] == "家" and name[0] in known:
            clan[v] = name[0]
    clan_share = np.where(villages.is_community, 0.08, 0.45)

    n_households = len(hh.village)
    from_clan = rng.random(n_households) < clan_share[hh.village]
    head = np.where(from_clan, clan[hh.village], _surnames(rng, n_households))
    own = _surnames(rng, len(household))
    inherits = np.select(
        [role == HEAD, role == CHILD, role == ELDER],
        [True, rng.random(len(household)) < 0.92, rng.random(len(household)) < 0.6],
        False,
    )
    return np.asarray(np.where(inherits, head[household], own))


def _person_names(
    rng: np.random.Generator, surname: Strs, female: Bools, younger: Bools
) -> Strs:
    """Surname and one or two given-name characters fitting sex and generation."""
    n = len(surname)
    pools = {
        (False, False): nm.GIVEN_OLDER_MALE,
        (True, False): nm.GIVEN_OLDER_FEMALE,
        (False, True): nm.GIVEN_YOUNGER_MALE,
        (True, True): nm.GIVEN_YOUNGER_FEMALE,
    }
    first = np.empty(n, dtype="U1")
    second = np.empty(n, dtype="U1")
    for (is_female, is_younger), pool in pools.items():
        rows = np.flatnonzero((female == is_female) & (younger == is_younger))
        chars = np.array(list(pool))
        first[rows] = chars[rng.integers(0, len(chars), len(rows))]
        second[rows] = chars[rng.integers(0, len(chars), len(rows))]
    two_chars = rng.random(n) < np.where(younger, 0.8, 0.6)
    second = np.where(two_chars & (second != first), second, "")
    return np.strings.add(np.strings.add(surname.astype(str), first), second)


def _mobile_numbers(rng: np.random.Generator, n: int) -> Strs:
    """Distinct 11-digit mobile numbers with real carrier prefixes."""
    prefixes = np.array([int(p) for p in nm.MOBILE_PREFIXES], dtype=np.int64)

    def draw(k: int) -> Ints:
        prefix = prefixes[rng.integers(0, len(prefixes), k)]
        return np.asarray(prefix * 10**8 + rng.integers(0, 10**8, k))

    numbers = draw(n)
    while True:
        _, first = np.unique(numbers, return_index=True)
        repeated = np.ones(n, dtype=bool)
        repeated[first] = False
        if not repeated.any():
            return _digits(numbers, 11)
        numbers[repeated] = draw(int(repeated.sum()))


def _person_phones(rng: np.random.Generator, age: Floats) -> npt.NDArray[np.object_]:
    """Mobile numbers; none for children, often none for the very old."""
    phone = _mobile_numbers(rng, len(age)).astype(object)
    missing_share = np.select([age < 14, age >= 75], [1.0, 0.4], 0.04)
    phone[rng.random(len(age)) < missing_share] = None
    return np.asarray(phone, dtype=object)


def _labels(rng: np.random.Generator, age: Floats, community: Bools) -> Ints:
    """Bit mask of `LABELS` an account manager would note for each person."""
    u = rng.random((8, len(age)))
    working = (age >= 18) & (age <= 55)
    migrant = ~community & working & (u[0] < 0.32)
    returns = migrant & (u[1] < 0.65)
    business = (age >= 25) & (age <= 65) & (u[2] < np.where(community, 0.12, 0.06))
    farmer = ~community & ~migrant & (age >= 30) & (age <= 75) & (u[3] < 0.22)
    official = ~migrant & (age >= 23) & (age <= 60)
    official &= u[4] < np.where(community, 0.06, 0.02)
    elderly = age >= 60
    student = ((age >= 6) & (age < 18)) | ((age >= 18) & (age < 23) & (u[6] < 0.5))
    newcomer = community & (age >= 20) & (age <= 45) & (u[7] < 0.12)
    flags = [migrant, returns, business, farmer, official, elderly, student, newcomer]
    return _bits(flags)


def _bits(flags: Sequence[Bools]) -> Ints:
    mask = np.zeros(len(flags[0]), dtype=np.int64)
    for bit, flag in enumerate(flags):
        mask |= flag.astype(np.int64) << bit
    return mask


def _has(mask: Ints, vocabulary: Sequence[str], word: str) -> Bools:
    return np.asarray((mask >> vocabulary.index(word)) & 1 == 1)


def _customers(
    rng: np.random.Generator,
    geo: _Geography,
    hh: _Households,
    household: Ints,
    role: Ints,
    planted: _Planted,
) -> Bools:
    """Customers: a quota of households per village, whose members mostly join.

    Blind-spot villages get 2-7% customer households and only the head is a
    customer there, so their penetration stays under 10% at any scale.
    """
    n_villages = len(geo.villages.name)
    rate = np.clip(rng.normal(0.62, 0.08, n_villages), 0.35, 0.8)
    rate[planted.high] = rng.uniform(0.85, 0.95, len(planted.high))
    rate[planted.blind_spot] = rng.uniform(0.02, 0.07, len(planted.blind_spot))

    order = np.lexsort((rng.random(len(hh.village)), hh.village))
    rank = np.empty(len(hh.village), dtype=np.int64)
    rank[order] = _rank_in_runs(hh.village[order])
    quota = np.floor(rate * np.bincount(hh.village, minlength=n_villages))
    customer_household = rank < quota[hh.village]

    blind = np.zeros(n_villages, dtype=bool)
    blind[planted.blind_spot] = True
    joins = (rng.random(len(household)) < 0.75) & ~blind[hh.village[household]]
    return np.asarray(customer_household[household] & ((role == HEAD) | joins))


def _products(
    rng: np.random.Generator, age: Floats, labels: Ints, customer: Bools
) -> Ints:
    """Bit mask of `PRODUCTS` held by customers (at least one each)."""
    u = rng.random((6, len(age)))
    adult = age >= 18
    trader = _has(labels, LABELS, nm.LABEL_BUSINESS)
    producer = trader | _has(labels, LABELS, nm.LABEL_FARMER)
    mobile_share = np.select([age < 50, age < 65], [0.75, 0.45], 0.15)
    flags = [
        u[0] < 0.93,
        (age >= 22) & (age <= 65) & (u[1] < np.where(producer, 0.45, 0.12)),
        adult & (u[2] < mobile_share),
        trader & (u[3] < 0.6),
        adult & (u[4] < 0.3),
        (age >= 22) & (age <= 60) & (u[5] < 0.12),
    ]
    mask = _bits(flags)
    mask[mask == 0] = 1 << PRODUCTS.index("deposit")
    return np.where(customer, mask, 0)


def _balances(
    rng: np.random.Generator,
    village: Ints,
    n_villages: int,
    age: Floats,
    products: Ints,
    planted: _Planted,
) -> dict[str, Floats]:
    """Deposits and loans at our bank and at others, in yuan (lognormal).

    In leakage villages most people keep larger deposits at other banks.
    """
    n = len(age)
    leaky_village = np.zeros(n_villages, dtype=bool)
    leaky_village[planted.leakage] = True
    leaky = leaky_village[village]

    own_scale = np.where(age >= 60, 1.5, 1.0) * np.where(leaky, 0.35, 1.0)
    deposit_own = rng.lognormal(np.log(40_000), 1.0, n) * own_scale
    loan_own = rng.lognormal(np.log(180_000), 0.7, n)
    holds_other = (age >= 16) & (rng.random(n) < np.where(leaky, 0.92, 0.5))
    deposit_other = rng.lognormal(np.log(25_000), 1.1, n) * np.where(leaky, 4.0, 1.0)
    owes_other = (age >= 22) & (rng.random(n) < np.where(leaky, 0.2, 0.07))
    loan_other = rng.lognormal(np.log(150_000), 0.8, n)

    return {
        "deposit_own": _yuan(_has(products, PRODUCTS, "deposit"), deposit_own),
        "loan_own": _yuan(_has(products, PRODUCTS, "loan"), loan_own),
        "deposit_other": _yuan(holds_other, deposit_other),
        "loan_other": _yuan(owes_other, loan_other),
    }


def _yuan(held: Bools, amount: Floats) -> Floats:
    """Amounts rounded to the fen where held, else zero."""
    return np.asarray(np.round(np.where(held, amount, 0.0), 2), dtype=np.float64)


def _lists(mask: Ints, vocabulary: Sequence[str]) -> pd.Series:
    """A column of fresh lists of the words whose bits are set."""
    unique, inverse = np.unique(mask, return_inverse=True)
    words = np.empty(len(unique), dtype=object)
    for k, m in enumerate(unique.tolist()):
        words[k] = [w for b, w in enumerate(vocabulary) if (m >> b) & 1]

    # millions of new lists would set off the cyclic collector again and again
    with _collector_paused():
        return pd.Series(list(map(list.copy, words[inverse])), dtype=object)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (it was on) for a bulk allocation."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --- work: visits, liaison officers, targets ----------------------------------------


def _visits(
    seed: int,
    geo: _Geography,
    hh: _Households,
    people: _People,
    org: _Organisation,
    planted: _Planted,
    as_of: dt.date,
    desk_managers: Sequence[str] = (),
) -> pd.DataFrame:
    """About 40% of households visited in the year before `as_of`, 1-5 times.

    Visits are recorded within a few tens of metres of the household, except
    a share of those of ``desk_managers``, recorded at their branch.
    """
    rng = _stream(seed, "visits")
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
    branch_lon, branch_lat = _lonlat(org.branch_xy[:, 0], org.branch_xy[:, 1])
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


def _desk_managers(seed: int, org: _Organisation) -> list[str]:
    """A few A-post managers, drawn once, who record visits at their branch."""
    rng = _stream(seed, "desk managers")
    managers = sorted(set(org.a_post))
    count = min(DESK_MANAGERS, len(managers))
    return sorted(rng.choice(managers, size=count, replace=False).tolist())


def _visit_times(
    rng: np.random.Generator, window: npt.NDArray[np.object_], as_of: dt.date
) -> pd.DatetimeIndex:
    """Office hours on some day of the last year; evenings and weekends on request."""
    n = len(window)
    day = _days(as_of) - rng.integers(1, 359, n)
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
    rng: np.random.Generator, people: _People, household: Ints, n_households: int
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
            weights=_has(people.products, PRODUCTS, "loan"),
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


def _liaison(
    seed: int, geo: _Geography, org: _Organisation
) -> tuple[pd.DataFrame, list[str]]:
    """2-5 liaison officers per grid, except two grids left with one."""
    rng = _stream(seed, "liaison")
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
            "name": _person_names(
                rng, _surnames(rng, len(grid)), female, rng.random(len(grid)) < 0.5
            ),
            "kind": np.where(community, urban_kind, rural_kind),
            "phone": _mobile_numbers(rng, len(grid)),
            "village_code": np.array(geo.villages.code)[village],
        }
    )
    return frame, sorted(org.grid_code[g] for g in short)


def _targets(
    seed: int,
    org: _Organisation,
    hh: _Households,
    people: _People,
    year: int,
) -> tuple[pd.DataFrame, list[str]]:
    """Yearly targets 5-15% above what each grid holds now; one grid has none."""
    rng = _stream(seed, "targets")
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
        held = _has(people.products, PRODUCTS, product)
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


# --- frames ---------------------------------------------------------------------


def _assemble(
    seed: int,
    geo: _Geography,
    org: _Organisation,
    hh: _Households,
    people: _People,
    planted: _Planted,
    year: int,
    as_of: dt.date,
) -> DemoCounty:
    """The public frames, in WGS84, from the internal state."""
    villages_gdf, towns_gdf, county_gdf = _admin_frames(geo)
    branches = _branch_frame(geo, org)
    grids_l1, grids_l2 = _grid_frames(geo, org, towns_gdf)
    liaison, one_liaison = _liaison(seed, geo, org)
    targets, no_targets = _targets(seed, org, hh, people, year)
    desk = _desk_managers(seed, org)
    codes = np.array(geo.villages.code)
    return DemoCounty(
        county=county_gdf,
        towns=towns_gdf,
        villages=villages_gdf,
        roads=_roads(seed, geo),
        branches=branches,
        staff=org.staff,
        grids_l1=grids_l1,
        grids_l2=grids_l2,
        posts=_post_frame(org),
        liaison=liaison,
        targets=targets,
        households=_household_frame(geo, hh),
        persons=people.frame,
        visits=_visits(seed, geo, hh, people, org, planted, as_of, desk),
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


def _admin_frames(
    geo: _Geography,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Villages, towns (unions of their villages) and the county (union of towns)."""
    villages, towns = geo.villages, geo.towns
    village_gdf = gpd.GeoDataFrame(
        {
            "code": villages.code,
            "name": villages.name,
            "level": "village",
            "parent_code": [towns.code[t] for t in villages.town],
            "kind": np.where(villages.is_community, "社区", "村"),
        },
        geometry=_as_multi(villages.cell_deg),
        crs=CRS,
    )
    town_geoms = np.array(
        [
            shapely.coverage_union_all(villages.cell_deg[villages.town == t])
            for t in range(len(towns.code))
        ],
        dtype=object,
    )
    town_gdf = gpd.GeoDataFrame(
        {
            "code": towns.code,
            "name": towns.name,
            "level": "town",
            "parent_code": COUNTY_CODE,
            "kind": towns.kind,
        },
        geometry=_as_multi(town_geoms),
        crs=CRS,
    )
    county_gdf = gpd.GeoDataFrame(
        {
            "code": [COUNTY_CODE],
            "name": [nm.COUNTY_NAME],
            "level": ["county"],
            "parent_code": pd.Series([None], dtype=object),
            "kind": ["县"],
        },
        geometry=_as_multi(
            np.array([shapely.coverage_union_all(town_geoms)], dtype=object)
        ),
        crs=CRS,
    )
    return village_gdf, town_gdf, county_gdf


def _branch_frame(geo: _Geography, org: _Organisation) -> gpd.GeoDataFrame:
    towns = geo.towns
    names = [
        nm.BANK_NAME + ("营业部" if t == 0 else f"{towns.short[t]}支行")
        for t in range(len(towns.code))
    ]
    streets = [
        nm.STREET_NAMES[(3 * t) % len(nm.STREET_NAMES)] for t in range(len(towns.code))
    ]
    county = nm.PROVINCE + nm.CITY + nm.COUNTY_NAME
    addresses = [
        f"{county}{towns.name[t]}{streets[t]}{18 + 11 * t}号"
        for t in range(len(towns.code))
    ]
    lon, lat = _lonlat(org.branch_xy[:, 0], org.branch_xy[:, 1])
    return gpd.GeoDataFrame(
        {
            "code": org.branch_code,
            "name": names,
            "address": addresses,
            "town_code": towns.code,
        },
        geometry=shapely.points(lon, lat),
        crs=CRS,
    )


def _grid_frames(
    geo: _Geography, org: _Organisation, towns_gdf: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    towns = geo.towns
    l1_code = [f"G{t + 1:02d}" for t in range(len(towns.code))]
    l1 = gpd.GeoDataFrame(
        {
            "code": l1_code,
            "name": [
                ("营业部" if t == 0 else f"{towns.short[t]}支行") + "辖区"
                for t in range(len(towns.code))
            ],
            "branch_code": org.branch_code,
        },
        geometry=towns_gdf.geometry.to_numpy(),
        crs=CRS,
    )
    codes = np.array(geo.villages.code)
    l2_geoms = np.array(
        [
            shapely.coverage_union_all(geo.villages.cell_deg[v])
            for v in org.grid_villages
        ],
        dtype=object,
    )
    l2 = gpd.GeoDataFrame(
        {
            "code": org.grid_code,
            "name": org.grid_name,
            "branch_code": [org.branch_code[t] for t in org.grid_branch],
            "parent_code": [l1_code[t] for t in org.grid_branch],
            "village_codes": pd.Series(
                [codes[v].tolist() for v in org.grid_villages], dtype=object
            ),
        },
        geometry=_as_multi(l2_geoms),
        crs=CRS,
    )
    return l1, l2


def _post_frame(org: _Organisation) -> pd.DataFrame:
    rows = [(code, a, "A") for code, a in zip(org.grid_code, org.a_post, strict=True)]
    rows += [
        (code, b, "B") for code, b in zip(org.grid_code, org.b_post, strict=True) if b
    ]
    frame = pd.DataFrame(rows, columns=["grid_code", "username", "post"])
    return frame.sort_values(["grid_code", "post"], kind="stable").reset_index(
        drop=True
    )


def _household_frame(geo: _Geography, hh: _Households) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "household_no": hh.number,
            "address": hh.address,
            "village_code": np.array(geo.villages.code)[hh.village],
            "group_no": hh.group_no,
            "lon": hh.lon,
            "lat": hh.lat,
            "geocode_level": hh.geocode_level,
            "time_window": pd.Series(hh.time_window, dtype=object),
        }
    )
