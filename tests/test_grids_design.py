"""Automatic design of second-level grids on synthetic branches."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from geogrid.errors import InvalidInput
from geogrid.grids import design_grids, design_partitioned
from geogrid.grids.design import SPLIT_THRESHOLD, allocate_grids, village_workload
from geogrid.grids.metrics import (
    is_contiguous,
    polsby_popper,
    to_metres,
    workload_balance,
)

UTM_51N = 32651
ORIGIN = Transformer.from_crs(4326, UTM_51N, always_xy=True).transform(120.0, 29.0)


def branch(n=40, seed=0, size_m=10_000.0, offset_m=(0.0, 0.0)):
    """Voronoi villages of ``n`` random points in a square near 120°E 29°N."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(0, size_m, (n, 2))
    square = shapely.box(0, 0, size_m, size_m)
    cells = shapely.voronoi_polygons(shapely.MultiPoint(points), extend_to=square)
    shapes = [cell.intersection(square) for cell in cells.geoms]
    villages = gpd.GeoDataFrame(
        {
            "code": [f"330110{seed:03d}{i:03d}" for i in range(len(shapes))],
            "households": rng.lognormal(5.5, 0.6, len(shapes)).round().astype(int),
            "customers": rng.integers(10, 200, len(shapes)),
        },
        geometry=shapes,
        crs=UTM_51N,
    )
    villages["geometry"] = villages.translate(
        ORIGIN[0] + offset_m[0], ORIGIN[1] + offset_m[1]
    )
    return villages.to_crs(4326)


def metric_area(geoms):
    return float(to_metres(geoms).area.sum())


# --- balanced, contiguous grids -----------------------------------------------


CASES = [(5, 0), (6, 1), (7, 2), (8, 3)]


@pytest.fixture(scope="module")
def designed():
    """Proposals for the synthetic branches of CASES, designed once."""
    return {
        (k, seed): design_grids(branch(seed=seed), k, seed=seed) for k, seed in CASES
    }


@pytest.mark.parametrize(("k", "seed"), CASES)
def test_grids_are_balanced_contiguous_and_tile_the_branch(designed, k, seed):
    villages = branch(seed=seed)

    proposal = designed[k, seed]

    grids = proposal.grids
    assert len(grids) == k
    assert proposal.max_deviation <= 0.10
    assert grids["ratio_to_mean"].between(0.9, 1.1).all()
    assert grids["contiguous"].all()
    assert grids["households"].sum() == villages["households"].sum()
    assert sorted(proposal.assignment["code"]) == sorted(villages["code"])
    assert proposal.assignment["grid"].isin(grids["grid"]).all()

    # no gap and no overlap: grid areas add up to the branch area
    assert metric_area(grids) == pytest.approx(metric_area(villages), rel=1e-6)
    overlap = shapely.union_all(to_metres(grids).to_numpy()).area
    assert overlap == pytest.approx(metric_area(villages), rel=1e-6)


def test_refinement_keeps_most_grids_within_five_percent(designed):
    deviations = [proposal.max_deviation for proposal in designed.values()]

    assert max(deviations) <= 0.10
    assert np.median(deviations) <= 0.055


def test_the_same_seed_gives_the_same_proposal(designed):
    again = design_grids(branch(seed=1), 6, seed=1)

    pd.testing.assert_frame_equal(again.assignment, designed[6, 1].assignment)


def test_one_grid_takes_the_whole_branch():
    villages = branch(seed=2)

    proposal = design_grids(villages, 1, starts=1)

    assert len(proposal.grids) == 1
    assert proposal.max_deviation == 0.0
    assert bool(proposal.grids["contiguous"].iloc[0])


def test_as_many_grids_as_villages_gives_each_its_own():
    villages = branch(seed=2)

    proposal = design_grids(villages, 40, max_split=False, starts=1)

    assert proposal.grids["n_units"].eq(1).all()
    assert proposal.assignment["grid"].is_unique


def test_grid_figures_match_their_shapes(designed):
    proposal = designed[7, 2]

    grids = proposal.grids
    expected_pp = polsby_popper(grids.geometry)
    assert np.allclose(grids["polsby_popper"], expected_pp, rtol=1e-6)
    balance = workload_balance(grids.set_index("grid")["workload"])
    assert proposal.max_deviation == pytest.approx(balance["deviation"].abs().max())
    assert grids["workload"].sum() == pytest.approx(1.0)
    assert (grids["n_villages"] >= 1).all()


# --- workload and weights -----------------------------------------------------


def test_workload_mixes_columns_as_shares_of_their_totals():
    villages = branch(seed=6)

    workload = village_workload(villages, {"households": 3.0, "customers": 1.0})

    households = villages["households"] / villages["households"].sum()
    customers = villages["customers"] / villages["customers"].sum()
    assert np.allclose(workload, (3 * households + customers) / 4)
    assert workload.sum() == pytest.approx(1.0)


def test_area_is_computed_in_square_kilometres_when_missing():
    villages = branch(seed=7)

    proposal = design_grids(villages, 5, weights={"area_km2": 1.0}, seed=7, starts=4)

    # the branch is a 10 km square: 100 km², shared out nearly evenly
    assert proposal.grids["area_km2"].sum() == pytest.approx(100.0, rel=1e-3)
    assert proposal.max_deviation <= 0.10


# --- splitting an overloaded village ------------------------------------------


def overloaded_branch(seed=8, k=6):
    villages = branch(seed=seed)
    big = int(to_metres(villages).area.idxmax())
    others = villages["households"].drop(index=big).sum()
    # the big village alone holds 2.4 mean grid workloads
    villages.loc[big, "households"] = round(2.4 * others / (k - 2.4))
    return villages, villages.loc[big, "code"]


def test_a_village_above_one_managers_load_is_split_along_visible_lines():
    villages, big_code = overloaded_branch()

    proposal = design_grids(villages, 6, seed=8, starts=4)

    parts = proposal.units[proposal.units["village_code"] == big_code]
    assert len(parts) == 3
    assert sorted(parts["code"]) == [f"{big_code}#1", f"{big_code}#2", f"{big_code}#3"]
    assert len(proposal.split_lines) == 2
    assert set(proposal.split_lines["village_code"]) == {big_code}

    # the parts tile the village, and each is within one manager's load
    village = villages[villages["code"] == big_code]
    assert metric_area(parts) == pytest.approx(metric_area(village), rel=1e-6)
    mean = 1.0 / 6
    assert (parts["workload"] <= SPLIT_THRESHOLD * mean).all()
    assert proposal.max_deviation <= 0.10
    assert proposal.grids["contiguous"].all()
    assert proposal.summary()["villages_split"] == 1


def test_cut_lines_give_equal_households_when_points_are_given():
    villages, big_code = overloaded_branch()
    shape = to_metres(villages[villages["code"] == big_code]).iloc[0]

    # households crowd the south-western corner of the village
    rng = np.random.default_rng(0)
    minx, miny, maxx, maxy = shape.bounds
    xy = np.column_stack(
        [
            minx + (maxx - minx) * rng.beta(1, 4, 3000),
            miny + (maxy - miny) * rng.beta(1, 4, 3000),
        ]
    )
    inside = shapely.contains_xy(shape, xy[:, 0], xy[:, 1])
    points = gpd.GeoDataFrame(
        {"village_code": [big_code] * int(inside.sum())},
        geometry=shapely.points(xy[inside]),
        crs=to_metres(villages).crs,
    ).to_crs(4326)

    proposal = design_grids(villages, 6, seed=8, households=points, starts=4)

    parts = to_metres(proposal.units[proposal.units["village_code"] == big_code])
    counts = [
        int(shapely.contains_xy(part, xy[inside][:, 0], xy[inside][:, 1]).sum())
        for part in parts.geometry
    ]
    assert max(counts) - min(counts) <= 0.02 * sum(counts)
    areas = parts.area.to_numpy()
    assert areas.max() / areas.min() > 1.5  # uneven areas, even households


def test_no_split_when_splitting_is_turned_off():
    villages, big_code = overloaded_branch()

    proposal = design_grids(villages, 6, seed=8, max_split=False, starts=4)

    assert proposal.split_lines.empty
    assert big_code in set(proposal.assignment["code"])
    assert proposal.max_deviation > 0.10


# --- locked villages and grids ------------------------------------------------


def test_locked_villages_stay_in_their_grid():
    villages = branch(seed=9)
    first = villages["code"].iloc[0]
    neighbours = villages[villages.touches(villages.geometry.iloc[0])]["code"]
    locked = {code: "330110-07" for code in [first, *neighbours.iloc[:2]]}

    proposal = design_grids(villages, 6, locked=locked, seed=9, starts=4)

    grid_of = proposal.assignment.set_index("code")["grid"]
    assert all(grid_of[code] == "330110-07" for code in locked)
    assert "330110-07" in set(proposal.grids["grid"])
    assert proposal.grids["contiguous"].all()
    assert proposal.max_deviation <= 0.10
    assert proposal.summary()["locked_units"] == 3


def test_locking_a_whole_grid_keeps_it_and_redesigns_the_rest(designed):
    villages = branch(seed=1)
    before = designed[6, 1]
    kept = before.assignment[before.assignment["grid"] == before.grids["grid"][0]]

    locked = dict.fromkeys(kept["code"], "KEEP")
    after = design_grids(villages, 6, locked=locked, seed=99, starts=4)

    in_kept = after.assignment[after.assignment["grid"] == "KEEP"]
    assert sorted(in_kept["code"]) == sorted(kept["code"])
    assert after.max_deviation <= 0.10
    assert after.grids["contiguous"].all()


# --- islands ------------------------------------------------------------------


def test_an_island_village_joins_the_grid_of_its_nearest_village():
    villages = branch(seed=11)
    # a small island 300 m east of the branch, off its middle
    island = shapely.box(10_300, 4_800, 10_800, 5_300)
    island = shapely.affinity.translate(island, *ORIGIN)
    row = gpd.GeoDataFrame(
        {"code": ["330110011999"], "households": [300], "customers": [50]},
        geometry=[island],
        crs=UTM_51N,
    ).to_crs(4326)
    villages = pd.concat([villages, row], ignore_index=True)

    proposal = design_grids(villages, 6, seed=11, starts=4)

    metric = to_metres(villages)
    nearest = metric.iloc[:-1].distance(metric.iloc[-1]).idxmin()
    grid_of = proposal.assignment.set_index("code")["grid"]
    assert grid_of["330110011999"] == grid_of[villages.loc[nearest, "code"]]
    island_grid = proposal.grids.set_index("grid").loc[grid_of["330110011999"]]
    assert bool(island_grid["connected"])
    assert not bool(island_grid["contiguous"])
    assert proposal.max_deviation <= 0.10


def test_a_village_in_two_pieces_is_one_unit():
    villages = branch(seed=12)
    detached = shapely.affinity.translate(shapely.box(0, 0, 400, 400), *ORIGIN)
    detached = gpd.GeoSeries([detached], crs=UTM_51N).to_crs(4326).iloc[0]
    villages.loc[0, "geometry"] = shapely.MultiPolygon(
        [villages.loc[0, "geometry"], shapely.affinity.translate(detached, -0.01)]
    )

    proposal = design_grids(villages, 5, seed=12, starts=4)

    assert len(proposal.assignment) == len(villages)
    assert proposal.max_deviation <= 0.10
    assert proposal.grids["connected"].all()


# --- comparison with the current grids ----------------------------------------


def test_comparison_with_the_current_grids():
    villages = branch(seed=13)
    # current grids: vertical stripes by longitude, badly balanced
    x = to_metres(villages).centroid.x.rank(method="first").to_numpy()
    stripes = np.minimum((x - 1) // 10, 3).astype(int)
    current = dict(zip(villages["code"], [f"OLD-{s}" for s in stripes], strict=True))

    proposal = design_grids(villages, 4, seed=13, current=current, starts=4)

    comparison = proposal.comparison
    assert comparison is not None
    assert comparison["villages_compared"] == len(villages)
    assert 0 < comparison["villages_changed"] < len(villages)
    assert comparison["current_k"] == 4
    assert comparison["current_max_deviation"] > proposal.max_deviation
    # new grids are named after the current grid they overlap most
    assert set(proposal.grids["grid"]) == {"OLD-0", "OLD-1", "OLD-2", "OLD-3"}
    grid_of = proposal.assignment.set_index("code")["grid"]
    changed = sum(grid_of[code] != grid for code, grid in current.items())
    assert comparison["villages_changed"] == changed
    assert "would change grid" in proposal.report()


def test_redesigning_from_the_proposal_changes_nothing_with_the_same_seed(designed):
    first = designed[5, 0]
    current = dict(zip(first.assignment["code"], first.assignment["grid"], strict=True))

    again = design_grids(branch(seed=0), 5, seed=0, current=current)

    assert again.comparison is not None
    assert again.comparison["villages_changed"] == 0
    assert again.comparison["current_max_deviation"] == pytest.approx(
        first.max_deviation, abs=1e-4
    )


# --- partitions (branch by branch) --------------------------------------------


def test_partitioned_design_balances_each_branch():
    west = branch(n=30, seed=15).assign(branch="west")
    east = branch(n=30, seed=16, offset_m=(10_000.0, 0.0)).assign(branch="east")
    east["households"] *= 2
    county = pd.concat([west, east], ignore_index=True)

    proposal = design_partitioned(county, 9, by="branch", seed=1, starts=4)

    per_branch = proposal.grids.groupby("partition").size()
    assert per_branch["east"] == 6  # twice the households, twice the managers
    assert per_branch["west"] == 3
    assert proposal.grids["grid"].is_unique
    assert proposal.grids["ratio_to_mean"].between(0.9, 1.1).all()
    assert proposal.grids["contiguous"].all()
    assert len(proposal.assignment) == len(county)


def test_allocate_grids_shares_by_workload_with_one_each():
    shares = pd.Series({"a": 0.7, "b": 0.29, "c": 0.01})

    counts = allocate_grids(shares, 10)

    assert counts.sum() == 10
    assert counts["c"] == 1
    assert counts["a"] > counts["b"] > 0


# --- invalid inputs -----------------------------------------------------------


@pytest.mark.parametrize("k", [0, -2, 2.5, "6", True])
def test_k_must_be_a_positive_whole_number(k):
    with pytest.raises(InvalidInput, match=r"k must be a whole number of grids"):
        design_grids(branch(), k)


def test_starts_must_be_a_positive_whole_number():
    with pytest.raises(InvalidInput, match=r"starts must be .* received 0\."):
        design_grids(branch(), 5, starts=0)


def test_k_cannot_exceed_the_units():
    with pytest.raises(InvalidInput, match=r"k=45 for 40 villages \(40 units"):
        design_grids(branch(), 45, max_split=False)


def test_a_missing_weight_column_is_named():
    with pytest.raises(InvalidInput, match=r"column 'potentials', which villages"):
        design_grids(branch(), 5, weights={"households": 1.0, "potentials": 0.5})


def test_negative_workloads_are_refused():
    villages = branch()
    villages.loc[3, "customers"] = -4
    with pytest.raises(InvalidInput, match=r"'customers' must be at least 0"):
        design_grids(villages, 5, weights={"customers": 1.0})


def test_point_geometries_are_refused():
    villages = branch()
    centres = to_metres(villages.iloc[[2, 5]]).centroid.to_crs(4326)
    villages.loc[[2, 5], "geometry"] = centres
    with pytest.raises(InvalidInput, match=r"2 rows do not: .*\(Point\)"):
        design_grids(villages, 5)


def test_villages_without_crs_are_refused():
    villages = branch().set_crs(None, allow_override=True)
    with pytest.raises(InvalidInput, match=r"villages has no CRS"):
        design_grids(villages, 5)


def test_locked_codes_must_be_villages_of_the_branch():
    with pytest.raises(InvalidInput, match=r"locked names 1 village codes .* 999"):
        design_grids(branch(), 5, locked={"999": "G1"})


def test_more_locked_grids_than_k_is_refused():
    villages = branch()
    locked = {code: f"L{i}" for i, code in enumerate(villages["code"][:4])}
    with pytest.raises(InvalidInput, match=r"locked uses 4 grid labels but k=3"):
        design_grids(villages, 3, locked=locked)


# --- metrics ------------------------------------------------------------------


def test_polsby_popper_is_measured_in_metres():
    square = shapely.affinity.translate(shapely.box(0, 0, 2_000, 2_000), *ORIGIN)
    disc = shapely.affinity.translate(shapely.Point(0, 0).buffer(1_000, 256), *ORIGIN)
    shapes = gpd.GeoSeries([square, disc], crs=UTM_51N).to_crs(4326)

    pp = polsby_popper(shapes)

    assert pp.iloc[0] == pytest.approx(math.pi / 4, rel=1e-3)
    assert pp.iloc[1] == pytest.approx(1.0, rel=1e-3)


@pytest.mark.parametrize(("gap_m", "expected"), [(0.0, True), (0.4, True), (50, False)])
def test_contiguity_forgives_only_tiny_gaps(gap_m, expected):
    left = shapely.box(0, 0, 1_000, 1_000)
    right = shapely.box(1_000 + gap_m, 0, 2_000, 1_000)
    shape = shapely.affinity.translate(shapely.union_all([left, right]), *ORIGIN)

    assert is_contiguous(shape, crs=UTM_51N) is expected
