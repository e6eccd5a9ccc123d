"""The synthetic demo county: tiling, codes, people, planted problems, files."""

from __future__ import annotations

import datetime as dt
import time

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import pytest
import shapely

from geogrid.demo import DemoCounty, generate_county, write_boundaries
from geogrid.errors import InvalidInput
from geogrid.validate import (
    admin_level_of,
    id_number_problems,
    mobile_problems,
    parent_code_of,
)

AS_OF = dt.date(2025, 6, 1)
HOUSEHOLDS = 3_000
FRAMES = (
    "county",
    "towns",
    "villages",
    "roads",
    "branches",
    "staff",
    "grids_l1",
    "grids_l2",
    "posts",
    "liaison",
    "targets",
    "households",
    "persons",
    "visits",
)


@pytest.fixture(scope="module")
def demo() -> DemoCounty:
    return generate_county(HOUSEHOLDS, seed=7, as_of=AS_OF)


def relative_gap(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


def area(frame: gpd.GeoDataFrame) -> float:
    """Total area in square degrees (only ratios of these are compared)."""
    return float(shapely.area(frame.geometry.to_numpy()).sum())


def penetration_by_village(demo: DemoCounty) -> pd.Series:
    persons = demo.persons.merge(
        demo.households[["household_no", "village_code"]], on="household_no"
    )
    return (persons["status"] == "customer").groupby(persons["village_code"]).mean()


# --- geography ------------------------------------------------------------------


def test_boundaries_are_valid_multipolygons_in_wgs84(demo):
    for frame in (demo.county, demo.towns, demo.villages, demo.grids_l2):
        assert frame.crs.to_epsg() == 4326
        assert set(frame.geom_type) == {"MultiPolygon"}
        assert frame.is_valid.all()

    # about 30 km across, around 121.2 E, 28.5 N, and not a box
    minx, miny, maxx, maxy = demo.county.total_bounds
    assert 0.2 < maxx - minx < 0.45 and 0.2 < maxy - miny < 0.45
    assert abs((minx + maxx) / 2 - 121.2) < 0.1 and abs((miny + maxy) / 2 - 28.5) < 0.1
    county = demo.county.geometry.iloc[0]
    assert county.area < 0.9 * shapely.box(minx, miny, maxx, maxy).area
    assert shapely.get_num_coordinates(county) > 100


def test_towns_tile_the_county(demo):
    county = demo.county.geometry.iloc[0]
    towns = demo.towns.geometry.to_numpy()

    assert relative_gap(shapely.area(towns).sum(), county.area) < 1e-9
    assert shapely.coverage_is_valid(towns)
    assert (
        shapely.union_all(towns).symmetric_difference(county).area < 1e-9 * county.area
    )


def test_villages_tile_their_town(demo):
    assert shapely.coverage_is_valid(demo.villages.geometry.to_numpy())
    for town in demo.towns.itertuples():
        mine = demo.villages[demo.villages["parent_code"] == town.code]
        assert len(mine) >= 5
        assert relative_gap(area(mine), town.geometry.area) < 1e-9
        union = shapely.union_all(mine.geometry.to_numpy())
        assert union.symmetric_difference(town.geometry).area < 1e-9 * union.area


def test_towns_and_villages_have_realistic_counts_and_kinds(demo):
    assert demo.towns["kind"].value_counts().to_dict() == {"镇": 8, "街道": 3, "乡": 1}
    assert 230 <= len(demo.villages) <= 270

    kinds = demo.villages.merge(
        demo.towns[["code", "kind"]].rename(columns={"code": "parent_code"}),
        on="parent_code",
        suffixes=("", "_town"),
    )
    share = (kinds["kind"] == "社区").groupby(kinds["kind_town"]).mean()
    assert share["街道"] > 0.5 and share["镇"] < 0.2


def test_codes_follow_the_statistical_convention(demo):
    units = pd.concat([demo.county, demo.towns, demo.villages], ignore_index=True)
    assert units["code"].str.fullmatch(r"331099\d{6}").all()
    assert units["code"].is_unique
    for unit in units.itertuples():
        assert admin_level_of(unit.code) == unit.level
        assert parent_code_of(unit.code) == unit.parent_code

    # 街道 001-099, 镇 100-199, 乡 200-399; 社区 001-199, 村 200-499
    town_no = demo.towns["code"].str.slice(6, 9).astype(int)
    ranges = {"街道": (1, 99), "镇": (100, 199), "乡": (200, 399)}
    for kind, number in zip(demo.towns["kind"], town_no, strict=True):
        assert ranges[kind][0] <= number <= ranges[kind][1]
    village_no = demo.villages["code"].str.slice(9, 12).astype(int)
    community = demo.villages["kind"] == "社区"
    assert village_no[community].between(1, 199).all()
    assert village_no[~community].between(200, 499).all()


def test_village_names_are_unique_in_a_town_but_some_repeat_across_towns(demo):
    villages = demo.villages
    assert not villages.duplicated(["parent_code", "name"]).any()
    assert villages["name"].str.fullmatch(r"\w{2,4}(村|社区)").all()

    repeated = villages.groupby("name")["parent_code"].nunique()
    assert 3 <= (repeated > 1).sum() <= 12
    assert set(demo.planted["duplicate_village_names"]) <= set(
        repeated[repeated > 1].index
    )


def test_road_network_is_one_connected_graph_split_at_junctions(demo):
    roads = demo.roads
    assert set(roads.geom_type) == {"LineString"}
    assert set(roads["kind"]) == {"county", "town", "village"}
    speeds = roads.groupby("kind")["speed_kph"].unique()
    assert speeds.to_dict() == {"county": [60.0], "town": [40.0], "village": [25.0]}

    graph = nx.Graph()
    for line in roads.geometry:
        coords = shapely.get_coordinates(line)
        graph.add_edge(tuple(coords[0]), tuple(coords[-1]))
    assert nx.is_connected(graph)

    # no two segments cross away from their ends
    lines = roads.geometry.to_numpy()
    crossings = shapely.STRtree(lines).query(lines, predicate="crosses")
    assert crossings.shape[1] == 0

    # every town seat (its branch) is within 400 m of a road end
    ends = np.array(list(graph.nodes))
    for branch in demo.branches.geometry:
        gap_deg = np.hypot(ends[:, 0] - branch.x, ends[:, 1] - branch.y).min()
        assert gap_deg < 0.004


# --- the bank ---------------------------------------------------------------------


def test_one_branch_per_town_near_its_seat(demo):
    branches = demo.branches
    assert branches["code"].tolist() == [f"B{k:02d}" for k in range(1, 13)]
    assert branches["town_code"].tolist() == demo.towns["code"].tolist()
    assert branches["name"].str.startswith("青溪县农商银行").all()
    assert branches["name"].str.endswith("营业部").sum() == 1
    towns = demo.towns.set_index("code").geometry
    for branch in branches.itertuples():
        assert towns[branch.town_code].contains(branch.geometry)


def test_staff_roles_and_phones(demo):
    staff = demo.staff
    assert staff["username"].is_unique
    assert staff["username"].str.fullmatch(r"[a-z0-9_]+").all()
    assert (staff["role"] == "head_office").sum() == 2
    assert (staff["role"] == "planner").sum() == 1
    assert (
        staff.loc[staff["role"].isin(["head_office", "planner"]), "branch_code"]
        .isna()
        .all()
    )
    heads = staff[staff["role"] == "branch_head"]
    assert sorted(heads["branch_code"]) == demo.branches["code"].tolist()
    managers = staff[staff["role"] == "account_manager"]
    assert managers.groupby("branch_code").size().min() >= 2
    assert (mobile_problems(staff["phone"]) == "").all()


def test_second_level_grids_tile_their_branch_and_are_contiguous(demo):
    villages = demo.villages.set_index("code")
    covered: list[str] = []
    for l1 in demo.grids_l1.itertuples():
        l2 = demo.grids_l2[demo.grids_l2["parent_code"] == l1.code]
        assert (l2["branch_code"] == l1.branch_code).all()
        assert shapely.coverage_is_valid(l2.geometry.to_numpy())
        assert relative_gap(area(l2), l1.geometry.area) < 1e-9
        for grid in l2.itertuples():
            assert shapely.get_num_geometries(grid.geometry) == 1
            union = shapely.union_all(villages.loc[grid.village_codes].geometry)
            assert union.symmetric_difference(grid.geometry).area < 1e-12
            covered += grid.village_codes
    assert sorted(covered) == sorted(demo.villages["code"])


def test_one_second_level_grid_per_account_manager(demo):
    managers = demo.staff[demo.staff["role"] == "account_manager"]
    per_branch = managers.groupby("branch_code").size()
    grids = demo.grids_l2.groupby("branch_code").size()
    assert grids.to_dict() == per_branch.to_dict()


def test_posts_reference_existing_staff_of_the_grids_branch(demo):
    posts = demo.posts.merge(demo.staff, on="username", how="left")
    posts = posts.merge(
        demo.grids_l2[["code", "branch_code"]].rename(columns={"code": "grid_code"}),
        on="grid_code",
        how="left",
        suffixes=("", "_grid"),
    )
    assert (posts["role"] == "account_manager").all()
    assert (posts["branch_code"] == posts["branch_code_grid"]).all()
    assert not posts.duplicated(["grid_code", "post"]).any()

    a_posts = posts[posts["post"] == "A"]
    assert sorted(a_posts["grid_code"]) == sorted(demo.grids_l2["code"])
    b_share = (posts["post"] == "B").sum() / len(demo.grids_l2)
    assert 0.55 < b_share < 0.65
    pairs = posts.pivot(index="grid_code", columns="post", values="username").dropna()
    assert (pairs["A"] != pairs["B"]).all()


def test_liaison_officers_with_two_grids_short(demo):
    liaison = demo.liaison
    per_grid = liaison.groupby("grid_code").size()
    assert set(per_grid.index) == set(demo.grids_l2["code"])
    short = sorted(per_grid[per_grid < 2].index)
    assert short == demo.planted["grids_with_one_liaison"] and len(short) == 2
    assert per_grid.max() <= 5
    assert set(liaison["kind"]) <= {
        "village_cadre",
        "coop_member",
        "property_manager",
        "other",
    }
    assert (mobile_problems(liaison["phone"]) == "").all()

    villages_of = demo.grids_l2.set_index("code")["village_codes"]
    for row in liaison.itertuples():
        assert row.village_code in villages_of[row.grid_code]


def test_targets_for_every_grid_but_one(demo):
    targets = demo.targets
    assert (targets["year"] == AS_OF.year).all()
    missing = sorted(set(demo.grids_l2["code"]) - set(targets["grid_code"]))
    assert missing == demo.planted["grids_without_targets"] and len(missing) == 1
    per_grid = targets.groupby("grid_code")["metric"].apply(sorted)
    expected = sorted(["deposits", "loans", "mobile_banking", "pos", "payments"])
    assert all(metrics == expected for metrics in per_grid)
    assert (targets["target"] > 0).all()


# --- households and people ---------------------------------------------------------


def test_every_household_lies_strictly_inside_its_village(demo):
    households = demo.households
    assert len(households) == HOUSEHOLDS
    assert households["household_no"].is_unique
    villages = demo.villages.set_index("code").geometry
    polygons = villages.loc[households["village_code"]].to_numpy()
    assert shapely.contains_xy(polygons, households["lon"], households["lat"]).all()
    assert (
        households["household_no"].str.slice(0, 12) == households["village_code"]
    ).all()


def test_households_cluster_and_communities_are_denser(demo):
    households = demo.households.merge(
        demo.villages[["code", "kind"]].rename(columns={"code": "village_code"})
    )
    exact = households[households["geocode_level"] == "exact"]
    spread = exact.groupby("village_code")[["lon", "lat"]].std().mean(axis=1)
    kind = demo.villages.set_index("code")["kind"]
    by_kind = spread.groupby(kind.loc[spread.index].to_numpy()).median()
    assert by_kind["社区"] < by_kind["村"]

    levels = households["geocode_level"].value_counts(normalize=True)
    assert levels["exact"] > 0.75 and 0.03 < levels["village"] < 0.25


def test_addresses_name_their_village(demo):
    households = demo.households.merge(
        demo.villages[["code", "name", "kind"]].rename(columns={"code": "village_code"})
    )
    rural = households[households["kind"] == "村"]
    named = [
        name in address
        for name, address in zip(rural["name"], rural["address"], strict=True)
    ]
    assert np.mean(named) > 0.9
    assert households["address"].str.contains("浙江省台州市青溪县").mean() > 0.3
    assert households["group_no"].ge(1).all()
    assert set(households["time_window"].dropna()) == {"evening", "weekend"}
    assert households["time_window"].isna().mean() > 0.7


def test_persons_have_valid_unique_id_numbers_matching_birth_and_gender(demo):
    persons = demo.persons
    assert (id_number_problems(persons["id_number"]) == "").all()
    assert persons["id_number"].is_unique
    assert persons["id_number"].str.startswith("331099").all()

    birth = pd.to_datetime(persons["birth_date"]).dt.strftime("%Y%m%d")
    assert (persons["id_number"].str.slice(6, 14) == birth).all()
    odd = persons["id_number"].str.slice(16, 17).astype(int) % 2 == 1
    assert (odd == (persons["gender"] == "M")).all()
    assert (pd.to_datetime(persons["birth_date"]) < pd.Timestamp(AS_OF)).all()


def test_persons_per_household_phones_and_ages(demo):
    persons = demo.persons
    size = persons.groupby("household_no").size()
    assert size.between(1, 5).all() and 2.6 < size.mean() < 3.0
    assert set(size.index) == set(demo.households["household_no"])

    assert (mobile_problems(persons["phone"]) == "").all()
    assert 0.05 < persons["phone"].isna().mean() < 0.4
    age_years = (
        pd.Timestamp(AS_OF) - pd.to_datetime(persons["birth_date"])
    ).dt.days / 365.25
    assert age_years.max() < 101 and 35 < age_years.median() < 60
    elderly = persons["labels"].apply(lambda labels: "老年人" in labels)
    assert (elderly == (age_years >= 60)).mean() > 0.99


def test_about_half_are_customers_with_products(demo):
    persons = demo.persons
    customer = persons["status"] == "customer"
    assert 0.4 < customer.mean() < 0.6
    products = persons["products"].apply(len)
    assert (products[customer] >= 1).all() and (products[~customer] == 0).all()
    assert (persons.loc[~customer, ["deposit_own", "loan_own"]] == 0).all().all()
    assert (
        (persons[["deposit_own", "loan_own", "deposit_other", "loan_other"]] >= 0)
        .all()
        .all()
    )


def test_blind_spots_are_planted_in_clustered_pockets(demo):
    penetration = penetration_by_village(demo)
    blind = demo.planted["blind_spot_villages"]
    assert 12 <= len(blind) <= 18
    assert (penetration.reindex(blind).dropna() < 0.10).all()
    assert penetration.reindex(blind).notna().sum() >= 10

    # elsewhere hardly any village is that low
    others = penetration.drop(blind, errors="ignore")
    assert (others < 0.10).sum() <= 3

    # each blind spot borders another one
    shapes = demo.villages.set_index("code").geometry.loc[blind]
    for code, shape in shapes.items():
        neighbours = shapes.drop(code)
        shared = shapely.intersection(shape, neighbours.to_numpy())
        assert shapely.length(shared).max() > 0


def test_leakage_villages_keep_deposits_at_other_banks(demo):
    persons = demo.persons.merge(
        demo.households[["household_no", "village_code"]], on="household_no"
    )
    leaky = persons["village_code"].isin(demo.planted["leakage_villages"])
    assert len(demo.planted["leakage_villages"]) >= 8

    def other_share(rows: pd.DataFrame) -> float:
        other = rows["deposit_other"].sum()
        return other / (other + rows["deposit_own"].sum())

    assert other_share(persons[leaky]) > 0.75
    assert other_share(persons[~leaky]) < 0.5


def test_visits_by_the_grids_managers_in_the_last_year(demo):
    visits = demo.visits.merge(
        demo.households[["household_no", "village_code"]], on="household_no"
    )
    share_visited = visits["household_no"].nunique() / len(demo.households)
    assert 0.3 < share_visited < 0.5
    assert not visits["village_code"].isin(demo.planted["unvisited_villages"]).any()
    assert len(demo.planted["unvisited_villages"]) >= 4

    start = pd.Timestamp(AS_OF, tz="Asia/Shanghai") - pd.Timedelta(days=366)
    assert str(visits["visited_at"].dt.tz) == "Asia/Shanghai"
    assert (
        visits["visited_at"]
        .between(start, pd.Timestamp(AS_OF, tz="Asia/Shanghai"))
        .all()
    )

    grid_of = {
        village: grid.code
        for grid in demo.grids_l2.itertuples()
        for village in grid.village_codes
    }
    allowed = demo.posts.groupby("grid_code")["username"].apply(set)
    for village, username in zip(
        visits["village_code"], visits["username"], strict=True
    ):
        assert username in allowed[grid_of[village]]


def test_a_few_managers_record_visits_at_their_branch(demo):
    visits = demo.visits.merge(
        demo.households[["household_no", "lon", "lat"]],
        on="household_no",
        suffixes=("", "_household"),
    )
    _, _, distance_m = pyproj.Geod(ellps="WGS84").inv(
        visits["lon"], visits["lat"], visits["lon_household"], visits["lat_household"]
    )
    visits["far"] = distance_m > 150
    desk = demo.planted["managers_recording_at_the_branch"]

    share = visits.groupby("username")["far"].mean()

    assert len(desk) == 3
    assert share[desk].between(0.25, 0.5).all()
    assert share.drop(desk).max() == 0.0  # everybody else records on the spot


# --- determinism, scale, arguments, files --------------------------------------------


def frames_equal(left: DemoCounty, right: DemoCounty) -> None:
    for name in FRAMES:
        a, b = getattr(left, name), getattr(right, name)
        if isinstance(a, gpd.GeoDataFrame):
            assert a.geometry.geom_equals_exact(b.geometry, tolerance=0).all(), name
            a, b = (
                pd.DataFrame(a.drop(columns="geometry")),
                pd.DataFrame(b.drop(columns="geometry")),
            )
        pd.testing.assert_frame_equal(a, b, obj=name)


def test_same_seed_gives_identical_frames(demo):
    again = generate_county(HOUSEHOLDS, seed=7, as_of=AS_OF)
    frames_equal(demo, again)
    assert again.planted == demo.planted


def test_another_seed_gives_another_county(demo):
    other = generate_county(HOUSEHOLDS, seed=8, as_of=AS_OF)
    assert not other.county.geometry.iloc[0].equals(demo.county.geometry.iloc[0])
    assert other.towns["name"].tolist() != demo.towns["name"].tolist()


def test_more_households_scale_villages_and_managers_not_geography(demo):
    larger = generate_county(20 * HOUSEHOLDS, seed=7, as_of=AS_OF)
    assert len(larger.households) == 20 * HOUSEHOLDS
    for name in ("county", "towns", "villages", "branches", "grids_l1"):
        assert (
            getattr(larger, name)
            .geometry.geom_equals_exact(getattr(demo, name).geometry, tolerance=0)
            .all()
        )
    assert larger.planted["blind_spot_villages"] == demo.planted["blind_spot_villages"]

    # village sizes keep their proportions, give or take rounding
    small = demo.households["village_code"].value_counts()
    large = larger.households["village_code"].value_counts()
    small = small.reindex(large.index, fill_value=0)
    assert (large - 20 * small).abs().max() <= 21

    managers = (larger.staff["role"] == "account_manager").sum()
    assert 1_000 < len(larger.households) / managers < 2_000
    assert len(larger.grids_l2) == managers


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"households": 0},
            r"households must be a whole number from 1 to 5,000,000; received 0",
        ),
        ({"households": 2.5}, r"households must be a whole number .* received 2\.5"),
        ({"seed": -1}, r"seed must be a whole number of 0 or more; received -1"),
        (
            {"year": 1850},
            r"year must be a whole number from 2000 to 2100 or None; received 1850",
        ),
    ],
)
def test_rejects_arguments_out_of_range(arguments, message):
    with pytest.raises(InvalidInput, match=message):
        generate_county(**arguments)


def test_write_boundaries_in_the_formats_users_bring(demo, tmp_path):
    paths = write_boundaries(demo, tmp_path / "out")
    assert [p.name for p in paths] == [
        "demo_county.geojson",
        "demo_towns.shp",
        "demo_villages.gpkg",
        "demo_villages_gcj02.geojson",
    ]
    assert all(p.exists() for p in paths)

    county = pyogrio.read_dataframe(paths[0])
    assert county["code"].tolist() == ["331099000000"]

    # the shapefile's attributes are GBK, and its .cpg says so
    assert (tmp_path / "out" / "demo_towns.cpg").read_text().strip() == "GBK"
    dbf = (tmp_path / "out" / "demo_towns.dbf").read_bytes()
    assert "城关街道".encode("gbk") in dbf
    towns = pyogrio.read_dataframe(paths[1])
    assert towns["name"].tolist() == demo.towns["name"].tolist()
    assert towns["parent"].eq("331099000000").all()

    villages = pyogrio.read_dataframe(paths[2])
    assert villages["code"].tolist() == demo.villages["code"].tolist()

    # GCJ-02 shifts Zhejiang by a few hundred metres
    shifted = pyogrio.read_dataframe(paths[3])
    offset = shapely.centroid(shifted.geometry.to_numpy())
    original = shapely.centroid(demo.villages.geometry.to_numpy())
    dx_m = (shapely.get_x(offset) - shapely.get_x(original)) * 97_900
    dy_m = (shapely.get_y(offset) - shapely.get_y(original)) * 110_850
    assert (np.hypot(dx_m, dy_m) > 200).all() and (np.hypot(dx_m, dy_m) < 900).all()

    # writing the same county again leaves every file as it was, byte for
    # byte (a clone's data/boundaries stays clean after a demo build) ...
    folder = tmp_path / "out"
    before = {f.name: f.read_bytes() for f in folder.iterdir()}
    time.sleep(1.1)  # a GeoPackage records the second it was written
    assert write_boundaries(demo, folder) == paths
    assert {f.name: f.read_bytes() for f in folder.iterdir()} == before

    # ... and a file whose content differs is replaced
    other = demo.villages.assign(name=demo.villages["name"] + "X")
    pyogrio.write_dataframe(other, paths[2], layer="villages")
    write_boundaries(demo, folder)
    assert pyogrio.read_dataframe(paths[2])["name"].tolist() == (
        demo.villages["name"].tolist()
    )
    assert sorted(f.name for f in folder.iterdir()) == sorted(before)
