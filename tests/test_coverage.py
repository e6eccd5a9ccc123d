"""Coverage on a small hand-built county whose answers are known.

The county, written straight to the store by `build`: ten by ten square
villages (about 590 m by 665 m) in two towns (columns 0-3 and 4-9); one branch
per town at the town's centre; five second-level grids of two columns each, one
account manager (A post) each, except that the north-east village (9, 9) is
left out of every grid. Each village holds `HOUSEHOLDS_PER_VILLAGE` households
of two people (one of working age, one over 60). Which households are customers
is given per village by the test.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest
import shapely
from sqlalchemy import Engine, create_engine, text

from geogrid.coverage import CoverageParameters, coverage_report, load_inputs
from geogrid.coverage.report import CoverageReport
from geogrid.errors import InvalidInput
from geogrid.store.bulk import copy_frame, ewkb_hex
from tests.conftest import TEMPLATE, Server

WEST, SOUTH = 121.30, 28.60
CELL_DEG = 0.006
COLUMNS = ROWS = 10
HOUSEHOLDS_PER_VILLAGE = 20
AS_OF = dt.date(2026, 6, 30)
TOWNS = ("331099100000", "331099101000")
TOWN_COLUMNS = ((0, 4), (4, 10))  # first and past-last column of each town
UNGRIDDED_VILLAGE = (9, 9)

# village (column, row) -> customer households out of HOUSEHOLDS_PER_VILLAGE
Customers = Callable[[int, int, np.random.Generator], int]


@dataclass
class Layout:
    """What the tests plant, beyond who is a customer."""

    leakage_villages: set[tuple[int, int]] = field(default_factory=set)
    unvisited_villages: set[tuple[int, int]] = field(default_factory=set)
    elder_customer_villages: set[tuple[int, int]] = field(default_factory=set)


def town_of(col: int) -> int:
    return 0 if col < TOWN_COLUMNS[1][0] else 1


def town_box(t: int) -> shapely.Polygon:
    first, past = TOWN_COLUMNS[t]
    return shapely.box(
        WEST + first * CELL_DEG, SOUTH, WEST + past * CELL_DEG, SOUTH + ROWS * CELL_DEG
    )


def village_code(col: int, row: int) -> str:
    return TOWNS[town_of(col)][:9] + f"{200 + col * ROWS + row:03d}"


def village_box(col: int, row: int) -> shapely.Polygon:
    x0, y0 = WEST + col * CELL_DEG, SOUTH + row * CELL_DEG
    return shapely.box(x0, y0, x0 + CELL_DEG, y0 + CELL_DEG)


def build(
    engine: Engine, customers: Customers, layout: Layout | None = None, seed: int = 1
) -> None:
    """Write the county with `customers(col, row, rng)` customer households each."""
    layout = layout or Layout()
    rng = np.random.default_rng(seed)
    with engine.begin() as conn:
        copy_frame(conn, "admin_unit", _admin_units())
        copy_frame(conn, "branch", _branches())
        copy_frame(conn, "grid", _grids())
        copy_frame(conn, "staff", _staff())
        copy_frame(conn, "grid_post", _posts())
        households, people, visits = _households(customers, layout, rng)
        copy_frame(conn, "household", households)
        copy_frame(conn, "person", people)
        copy_frame(conn, "visit", visits)


def _multi(geom: shapely.Geometry) -> str:
    if isinstance(geom, shapely.Polygon):
        geom = shapely.MultiPolygon([geom])
    return str(ewkb_hex([geom])[0])


def _admin_units() -> pd.DataFrame:
    county = shapely.box(
        WEST, SOUTH, WEST + COLUMNS * CELL_DEG, SOUTH + ROWS * CELL_DEG
    )
    rows: list[tuple[object, ...]] = [
        ("331099000000", "测试县", "county", None, _multi(county))
    ]
    for t, code in enumerate(TOWNS):
        rows.append((code, f"镇{t + 1}", "town", "331099000000", _multi(town_box(t))))
    for col in range(COLUMNS):
        for row in range(ROWS):
            rows.append(
                (
                    village_code(col, row),
                    f"村{col}-{row}",
                    "village",
                    TOWNS[town_of(col)],
                    _multi(village_box(col, row)),
                )
            )
    return pd.DataFrame(rows, columns=["code", "name", "level", "parent_code", "geom"])


def _branches() -> pd.DataFrame:
    centres = [
        shapely.Point(WEST + 2 * CELL_DEG, SOUTH + 5 * CELL_DEG),
        shapely.Point(WEST + 7 * CELL_DEG, SOUTH + 5 * CELL_DEG),
    ]
    return pd.DataFrame(
        {
            "id": [1, 2],
            "code": ["B01", "B02"],
            "name": ["一支行", "二支行"],
            "geom": ewkb_hex(centres),
        }
    )


def grid_villages(k: int) -> list[tuple[int, int]]:
    """Villages of second-level grid k (0-4): columns 2k and 2k + 1."""
    return [
        (col, row)
        for col in (2 * k, 2 * k + 1)
        for row in range(ROWS)
        if (col, row) != UNGRIDDED_VILLAGE
    ]


def _grids() -> pd.DataFrame:
    rows: list[tuple[object, ...]] = []
    for t in range(2):
        box = _multi(town_box(t))
        rows.append((t + 1, f"L1-{t + 1}", f"辖区{t + 1}", 1, t + 1, None, box))
    for k in range(5):
        shape = shapely.union_all([village_box(c, r) for c, r in grid_villages(k)])
        branch = town_of(2 * k) + 1
        rows.append(
            (k + 3, f"G{k + 1}", f"网格{k + 1}", 2, branch, branch, _multi(shape))
        )
    frame = pd.DataFrame(
        rows, columns=["id", "code", "name", "level", "branch_id", "parent_id", "geom"]
    )
    frame["parent_id"] = frame["parent_id"].astype("Int64")
    frame["locked"] = False
    frame["version"] = 1
    return frame


def _staff() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": range(1, 6),
            "username": [f"am{k + 1}" for k in range(5)],
            "name": [f"经理{k + 1}" for k in range(5)],
            "role": "account_manager",
            "active": True,
        }
    )


def _posts() -> pd.DataFrame:
    return pd.DataFrame({"grid_id": range(3, 8), "staff_id": range(1, 6), "post": "A"})


def grid_id_of(col: int, row: int) -> int | None:
    if (col, row) == UNGRIDDED_VILLAGE:
        return None
    return col // 2 + 3


def _households(
    customers: Customers, layout: Layout, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    households: list[dict[str, object]] = []
    people: list[dict[str, object]] = []
    visits: list[dict[str, object]] = []
    margin = 0.05 * CELL_DEG
    for col in range(COLUMNS):
        for row in range(ROWS):
            box = village_box(col, row)
            x0, y0, x1, y1 = box.bounds
            n_customers = customers(col, row, rng)
            for h in range(HOUSEHOLDS_PER_VILLAGE):
                hid = len(households) + 1
                lon = rng.uniform(x0 + margin, x1 - margin)
                lat = rng.uniform(y0 + margin, y1 - margin)
                households.append(
                    {
                        "id": hid,
                        "household_no": f"H{hid:05d}",
                        "address": f"村{col}-{row} {h + 1}号",
                        "village_code": village_code(col, row),
                        "geom": str(ewkb_hex([shapely.Point(lon, lat)])[0]),
                        "grid_id": grid_id_of(col, row),
                    }
                )
                people += _members(hid, h < n_customers, (col, row), layout)
                if h < 5 and (col, row) not in layout.unvisited_villages:
                    visits.append(
                        {
                            "household_id": hid,
                            "staff_id": 1,
                            "visited_at": pd.Timestamp(
                                AS_OF - dt.timedelta(days=30), tz="Asia/Shanghai"
                            ),
                        }
                    )
    frame = pd.DataFrame(households)
    frame["grid_id"] = frame["grid_id"].astype("Int64")
    return frame, pd.DataFrame(people), pd.DataFrame(visits)


def _members(
    hid: int, customer: bool, village: tuple[int, int], layout: Layout
) -> list[dict[str, object]]:
    leaky = village in layout.leakage_villages
    elder_is_customer = village in layout.elder_customer_villages
    members = []
    for m, born in enumerate((dt.date(1980, 5, 1), dt.date(1950, 5, 1))):
        is_customer = customer and (m == 1) == elder_is_customer
        members.append(
            {
                "id": 2 * hid - 1 + m,
                "household_id": hid,
                "name": f"成员{m}",
                "id_number": f"33109919{hid:06d}{m:03d}X"[:18],
                "birth_date": born,
                "status": "customer" if is_customer else "potential",
                "products": "{deposit}" if is_customer else "{}",
                "labels": "{}",
                "deposit_own": (5_000.0 if leaky else 50_000.0) if is_customer else 0.0,
                "loan_own": 0.0,
                "deposit_other": 100_000.0 if leaky else 10_000.0,
                "loan_other": 0.0,
            }
        )
    return members


# --- scenarios ----------------------------------------------------------------------

BLOCK = {(c, r) for c in (3, 4, 5) for r in (3, 4, 5)}
EMPTY_VILLAGE = (0, 0)
LEAKY_VILLAGE = (8, 2)
UNVISITED_VILLAGE = (7, 7)
ELDER_VILLAGE = (1, 8)


def planted_customers(col: int, row: int, rng: np.random.Generator) -> int:
    """No customer in (0, 0), 1 in 20 in the 3x3 block, about 60% elsewhere."""
    if (col, row) == EMPTY_VILLAGE:
        return 0
    if (col, row) in BLOCK:
        return 1
    return int(rng.binomial(HOUSEHOLDS_PER_VILLAGE, 0.6))


def random_customers(col: int, row: int, rng: np.random.Generator) -> int:
    """About 60% everywhere, drawn independently: no pattern to find."""
    return int(rng.binomial(HOUSEHOLDS_PER_VILLAGE, 0.6))


PLANTED = Layout(
    leakage_villages={LEAKY_VILLAGE},
    unvisited_villages={UNVISITED_VILLAGE},
    elder_customer_villages={ELDER_VILLAGE},
)


def _report(engine: Engine, **options: object) -> CoverageReport:
    inputs = load_inputs(engine, as_of=AS_OF)
    return coverage_report(inputs, CoverageParameters(**options))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def planted_engine(pg_server: Server) -> Iterator[Engine]:
    """The planted county, built once for the tests that only read it."""
    name = f"geogrid_coverage_{os.getpid()}"
    eng = create_engine(pg_server.create(name, template=TEMPLATE))
    build(eng, planted_customers, PLANTED)
    yield eng
    eng.dispose()
    pg_server.drop(name)


@pytest.fixture(scope="module")
def planted(planted_engine: Engine) -> CoverageReport:
    return _report(planted_engine)


def _village(report: CoverageReport, col: int, row: int) -> pd.Series:
    villages = report.villages.set_index("village_code")
    return villages.loc[village_code(col, row)]


# --- uncovered households and penetration --------------------------------------------


def test_a_village_without_customers_is_all_uncovered(planted: CoverageReport) -> None:
    village = _village(planted, *EMPTY_VILLAGE)
    assert village["households"] == HOUSEHOLDS_PER_VILLAGE
    assert village["uncovered_households"] == HOUSEHOLDS_PER_VILLAGE
    assert village["penetration"] == 0.0

    listed = planted.layer("uncovered_households")
    in_village = listed[listed["village_code"] == village_code(*EMPTY_VILLAGE)]
    assert len(in_village) == HOUSEHOLDS_PER_VILLAGE
    assert set(in_village["grid_code"]) == {"G1"}
    assert set(in_village["manager_username"]) == {"am1"}


def test_uncovered_counts_add_up_by_grid_town_and_branch(
    planted: CoverageReport,
) -> None:
    h = planted.households
    total = int(h["uncovered"].sum())
    gridded = int((h["uncovered"] & ~h["ungridded"]).sum())
    assert planted.towns["uncovered_households"].sum() == total
    assert planted.grids["uncovered_households"].sum() == gridded
    assert planted.branches["uncovered_households"].sum() == gridded

    grid_1 = planted.grids.set_index("grid_code").loc["G1"]
    expected = h[
        h["village_code"].isin([village_code(c, r) for c, r in grid_villages(0)])
    ]
    assert grid_1["uncovered_households"] == int(expected["uncovered"].sum())
    assert grid_1["manager_username"] == "am1"


def test_working_age_penetration_counts_only_working_age_customers(
    planted: CoverageReport,
) -> None:
    village = _village(planted, *ELDER_VILLAGE)
    assert village["penetration"] > 0.3
    assert village["working_age"] == HOUSEHOLDS_PER_VILLAGE
    assert village["working_age_penetration"] == 0.0

    ordinary = _village(planted, 1, 1)
    assert ordinary["working_age_penetration"] == pytest.approx(ordinary["penetration"])


def test_working_age_is_counted_in_whole_years_on_the_report_date(
    engine: Engine,
) -> None:
    build(engine, random_customers)
    born = {
        "just_18": dt.date(2008, 6, 30),
        "17": dt.date(2008, 7, 1),
        "60": dt.date(1965, 7, 1),
        "just_61": dt.date(1965, 6, 30),
    }
    with engine.begin() as conn:
        for k, day in enumerate(born.values()):
            conn.execute(
                text(
                    "INSERT INTO person (id, household_id, name, id_number, "
                    "birth_date, status, products, labels, deposit_own, loan_own, "
                    "deposit_other, loan_other) VALUES (:id, 1, 'x', :idn, :born, "
                    "'potential', '{}', '{}', 0, 0, 0, 0)"
                ),
                {"id": 100_000 + k, "idn": f"9{k:017d}", "born": day},
            )
    households = load_inputs(engine, as_of=AS_OF).households.set_index("household_id")
    # the household's own working-age member, plus 18-year-old and 60-year-old
    assert households.loc[1, "working_age"] == 3
    assert households.loc[1, "people"] == 6


def test_penetration_on_hexagons_compares_equal_areas(planted: CoverageReport) -> None:
    hexes = planted.hexes
    assert hexes["households"].sum() == len(planted.households)
    assert planted.parameters["resolution"] == 8
    assert planted.parameters["hex_cell_area_km2"] == pytest.approx(0.737, abs=0.01)
    assert hexes["h3"].str.len().eq(15).all()
    overall = planted.households["is_customer"].mean()
    assert hexes["penetration"].between(0, 1).all()
    weighted = (hexes["penetration"] * hexes["households"]).sum() / hexes[
        "households"
    ].sum()
    assert weighted == pytest.approx(overall)


# --- unvisited ---------------------------------------------------------------------


def test_a_village_nobody_visited_is_flagged(planted: CoverageReport) -> None:
    village = _village(planted, *UNVISITED_VILLAGE)
    assert village["unvisited_share"] == 1.0
    assert village["unvisited_area"]
    flagged = set(planted.layer("unvisited_villages")["village_code"])
    assert flagged == {village_code(*UNVISITED_VILLAGE)}


def test_visits_older_than_the_window_do_not_count(planted_engine: Engine) -> None:
    # five households a village were visited, 30 days before the report date
    inputs = load_inputs(planted_engine, as_of=AS_OF)
    recent = coverage_report(inputs, CoverageParameters(days=31, permutations=99))
    stale = coverage_report(inputs, CoverageParameters(days=29, permutations=99))
    visited = 5 * (COLUMNS * ROWS - len(PLANTED.unvisited_villages))
    assert (~recent.households["unvisited"]).sum() == visited
    assert stale.households["unvisited"].all()


# --- ungridded -----------------------------------------------------------------------


def test_land_and_households_outside_every_grid_are_found(
    planted: CoverageReport,
) -> None:
    gaps = planted.ungridded_areas
    assert len(gaps) == 1
    village = village_box(*UNGRIDDED_VILLAGE)
    assert gaps.geometry.iloc[0].symmetric_difference(village).area < 1e-10
    assert gaps["area_m2"].iloc[0] == pytest.approx(590 * 665, rel=0.02)

    listed = planted.layer("ungridded_households")
    assert len(listed) == HOUSEHOLDS_PER_VILLAGE
    assert set(listed["village_code"]) == {village_code(*UNGRIDDED_VILLAGE)}
    assert listed["grid_code"].isna().all()


def test_a_household_stored_in_a_grid_but_lying_outside_it_is_ungridded(
    engine: Engine,
) -> None:
    build(engine, random_customers)
    outside = "SRID=4326;POINT(121.25 28.55)"  # west of the county
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE household SET geom = ST_GeomFromEWKT(:g) WHERE id = 1"),
            {"g": outside},
        )
    report = _report(engine, permutations=99)
    listed = report.layer("ungridded_households")
    assert "H00001" in set(listed["household_no"])
    assert listed.set_index("household_no").loc["H00001", "stored_grid_code"] == "G1"


# --- cold spots ---------------------------------------------------------------------


def _centre(col: int, row: int) -> shapely.Point:
    return village_box(col, row).centroid


def test_a_planted_cluster_of_low_penetration_is_a_cold_spot(
    planted: CoverageReport,
) -> None:
    centre = _village(planted, 4, 4)
    assert centre["cold_spot"]
    assert centre["gi_z"] < 0
    assert centre["p_value"] <= centre["p_cutoff"]
    assert "significant" in centre["why"]

    cold = planted.layer("village_cold_spots")
    codes = {village_code(c, r) for c, r in BLOCK}
    assert set(cold["village_code"]) <= codes

    # on hexagons, every cold cell lies within one village of the block
    around = shapely.box(
        WEST + 2 * CELL_DEG,
        SOUTH + 2 * CELL_DEG,
        WEST + 7 * CELL_DEG,
        SOUTH + 7 * CELL_DEG,
    )
    cells = planted.layer("cold_spots")
    assert len(cells) >= 1
    assert all(around.contains(c) for c in shapely.centroid(cells.geometry.to_numpy()))


def test_the_planner_sees_why_an_area_was_flagged(planted: CoverageReport) -> None:
    centre = _village(planted, 4, 4)
    assert centre["local_mean"] < 0.1 < centre["study_mean"]
    assert centre["neighbours"] == 8
    assert f"{centre['penetration']:.1%}" in centre["why"]
    assert "FDR at alpha 0.05" in centre["why"]


def test_a_random_pattern_has_no_cold_spot(engine: Engine) -> None:
    # with FDR at 0.05, about one random county in twenty shows a chance
    # cluster; this one (seed 1) does not, and an uncorrected or one-sided
    # test would flag some of its noise
    build(engine, random_customers, seed=1)
    report = _report(engine)
    assert report.villages["tested"].sum() >= 90
    assert not report.villages["cold_spot"].any()
    assert not report.hexes["cold_spot"].any()


def test_the_same_seed_gives_the_same_p_values(planted_engine: Engine) -> None:
    inputs = load_inputs(planted_engine, as_of=AS_OF)
    first = coverage_report(inputs, CoverageParameters(seed=3, permutations=999))
    again = coverage_report(inputs, CoverageParameters(seed=3, permutations=999))
    other = coverage_report(inputs, CoverageParameters(seed=4, permutations=999))
    p = first.villages["p_value"].to_numpy()
    np.testing.assert_array_equal(p, again.villages["p_value"].to_numpy())
    assert not np.array_equal(
        np.nan_to_num(p), np.nan_to_num(other.villages["p_value"])
    )


# --- leakage and ranking -----------------------------------------------------------


def test_a_village_banking_elsewhere_is_flagged_for_leakage(
    planted: CoverageReport,
) -> None:
    village = _village(planted, *LEAKY_VILLAGE)
    assert village["leakage_area"]
    assert village["leaking_share"] == 1.0
    assert village["deposit_other_share"] > 0.9
    assert set(planted.layer("leakage_villages")["village_code"]) == {
        village_code(*LEAKY_VILLAGE)
    }
    leaking = planted.layer("leaking_households")
    assert set(leaking["village_code"]) == {village_code(*LEAKY_VILLAGE)}
    assert leaking["is_customer"].all()


def test_blind_spots_are_the_planted_villages_with_grid_and_manager(
    planted: CoverageReport,
) -> None:
    ranked = planted.blind_spots
    expected = {village_code(c, r) for c, r in BLOCK | {EMPTY_VILLAGE}}
    assert set(ranked["village_code"]) == expected
    assert ranked["rank"].tolist() == list(range(1, len(ranked) + 1))
    assert ranked["score"].is_monotonic_decreasing
    assert ranked["manager_username"].notna().all()

    # same households, customers and balances: the village nearer its branch
    # (at the centre of column 2, row 5) ranks first
    by_code = ranked.set_index("village_code")
    near, far = by_code.loc[village_code(3, 4)], by_code.loc[village_code(3, 3)]
    assert near["gap_other_yuan"] == far["gap_other_yuan"]
    assert near["branch_distance_m"] < far["branch_distance_m"]
    assert near["rank"] < far["rank"]


def test_the_filter_keeps_only_the_selected_grids(planted_engine: Engine) -> None:
    engine = planted_engine
    inputs = load_inputs(engine, grid_ids=[3], as_of=AS_OF)
    assert inputs.grids["grid_code"].tolist() == ["G1"]
    assert len(inputs.households) == 2 * ROWS * HOUSEHOLDS_PER_VILLAGE
    assert inputs.region.empty

    branch = load_inputs(engine, branch="B02", as_of=AS_OF)
    assert sorted(branch.grids["grid_code"]) == ["G3", "G4", "G5"]
    # the ungridded village lies in branch 2's jurisdiction: found there
    report = coverage_report(branch)
    assert len(report.ungridded_areas) == 1
    assert report.households["ungridded"].sum() == HOUSEHOLDS_PER_VILLAGE


# --- bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"days": -1},
            r"Parameter 'days' must be an integer from 1 to 3,650 .*received -1",
        ),
        (
            {"resolution": 16},
            r"Parameter 'resolution' must be an integer from 0 to 15 .*received 16",
        ),
        (
            {"alpha": 0.0},
            r"Parameter 'alpha' must be a number in \(0, 0.5\] .*received 0.0",
        ),
        ({"permutations": 10}, r"Parameter 'permutations' must be an integer from 99"),
        ({"rank_by": "town"}, r"Parameter 'rank_by' must be one of village, hex, grid"),
        (
            {"leakage_share": 1.5},
            r"Parameter 'leakage_share' must be a number in \[0, 1\]",
        ),
    ],
)
def test_parameters_out_of_range_are_refused(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        CoverageParameters(**options)  # type: ignore[arg-type]


def test_an_unknown_branch_is_refused_with_the_known_ones(
    planted_engine: Engine,
) -> None:
    engine = planted_engine
    with pytest.raises(
        InvalidInput, match=r"Parameter 'branch' .*\(B01, B02\); received 'B99'"
    ):
        load_inputs(engine, branch="B99")


def test_grid_ids_must_be_integers(engine: Engine) -> None:
    with pytest.raises(
        InvalidInput, match=r"Parameter 'grid_ids' must be a sequence of integer"
    ):
        load_inputs(engine, grid_ids="3")  # type: ignore[arg-type]


def test_visits_count_up_to_the_end_of_the_report_day_in_china(engine: Engine) -> None:
    build(engine, random_customers, Layout(unvisited_villages={(0, 0)}))
    late = pd.Timestamp(AS_OF).tz_localize("Asia/Shanghai") + pd.Timedelta(hours=23)
    with engine.begin() as conn:
        for household, at in ((1, late), (2, late + pd.Timedelta(hours=2))):
            conn.execute(
                text(
                    "INSERT INTO visit (household_id, staff_id, visited_at) "
                    "VALUES (:h, 1, :at)"
                ),
                {"h": household, "at": at.to_pydatetime()},
            )
    households = load_inputs(engine, as_of=AS_OF).households.set_index("household_id")
    assert households.loc[1, "last_visit"] == pd.Timestamp(AS_OF)
    assert pd.isna(households.loc[2, "last_visit"])
