"""load_inputs on a tiny hand-built county: every household's figures, by hand.

Two villages side by side, one second-level grid each, and ten households
whose ids have gaps. Their people are born either side of the working-age
limits, some without a birth date; their balances have cents that floating
point would not add exactly; their visits fall either side of midnight in
China on the report date. The expected figures are worked out here, one
household at a time, and compared with what `load_inputs` reads, whether the
households come in one query or in ranges of a few ids on two connections.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely
from sqlalchemy import Engine

from geogrid.coverage import inputs as coverage_inputs
from geogrid.coverage import load_inputs
from geogrid.store.bulk import copy_frame, ewkb_hex

AS_OF = dt.date(2026, 6, 30)
CHINA = "Asia/Shanghai"
WEST, SOUTH, SIZE = 121.30, 28.60, 0.01
TOWN = "331099100000"
VILLAGES = ("331099100201", "331099100202")
UNKNOWN_VILLAGE = "331099100299"

# id: village (0, 1 or None for a code the store does not know), position in
# the village as a share of its width (None: not located), stored grid id
HOUSEHOLDS: dict[int, tuple[int | None, tuple[float, float] | None, int | None]] = {
    1: (0, (0.2, 0.3), 2),
    2: (0, (0.7, 0.6), 2),
    3: (1, (0.5, 0.5), 3),
    4: (1, (0.1, 0.9), 3),
    5: (1, None, None),
    7: (0, (0.4, 0.8), None),
    10: (1, (0.9, 0.2), 3),
    11: (None, (0.3, 0.1), 2),
    12: (0, (0.6, 0.4), 2),
    20: (1, (0.3, 0.7), 3),
}

# household id: (birth date, status, deposit_own, loan_own, deposit_other,
# loan_other) of each member; 15 and 99 are not households
PEOPLE: dict[int, list[tuple[dt.date | None, str, str, str, str, str]]] = {
    1: [
        (dt.date(2008, 6, 30), "customer", "0.10", "0", "0.20", "0"),
        (dt.date(1980, 1, 1), "potential", "0.20", "0", "0.10", "5.55"),
    ],
    2: [
        (dt.date(2008, 7, 1), "customer", "100.00", "0", "0", "0"),
        (dt.date(1965, 6, 30), "customer", "0", "2000.50", "0", "0"),
        (dt.date(1965, 7, 1), "potential", "0", "0", "300.30", "0"),
    ],
    3: [(None, "customer", "12.34", "0", "0.01", "0")],
    5: [(dt.date(1990, 3, 3), "potential", "0", "0", "1000.01", "0")],
    7: [
        (dt.date(1999, 9, 9), "customer", "0.70", "0.10", "0", "0"),
        (dt.date(2001, 1, 1), "customer", "0.10", "0.20", "0.30", "0.40"),
    ],
    10: [(dt.date(1940, 2, 29), "potential", "0", "0", "0", "0")],
    11: [(dt.date(1985, 5, 5), "customer", "5.00", "0", "0", "0")],
    12: [(dt.date(2010, 1, 1), "potential", "0", "0", "0", "0")],
    15: [(dt.date(1980, 1, 1), "customer", "9.99", "0", "0", "0")],
    20: [(dt.date(1970, 12, 31), "customer", "1.11", "2.22", "3.33", "4.44")],
    99: [(dt.date(1980, 1, 1), "customer", "9.99", "0", "0", "0")],
}

# household id: visits, in local time in China
VISITS: dict[int, list[dt.datetime]] = {
    1: [dt.datetime(2026, 6, 30, 23, 30), dt.datetime(2026, 5, 1, 10, 0)],
    2: [dt.datetime(2026, 7, 1, 0, 30), dt.datetime(2026, 6, 1, 8, 0)],
    3: [dt.datetime(2026, 6, 30, 0, 30)],  # still 29 June in UTC
    10: [dt.datetime(2026, 7, 2, 9, 0)],  # after the report date only
    12: [dt.datetime(2025, 12, 31, 23, 59), dt.datetime(2025, 1, 1, 0, 0)],
}


def village_box(k: int) -> shapely.Polygon:
    return shapely.box(WEST + k * SIZE, SOUTH, WEST + (k + 1) * SIZE, SOUTH + SIZE)


def _multi(geom: shapely.Geometry) -> str:
    return str(ewkb_hex([shapely.MultiPolygon([geom])])[0])


def _point(village: int | None, where: tuple[float, float]) -> shapely.Point:
    k = 0 if village is None else village
    return shapely.Point(WEST + (k + where[0]) * SIZE, SOUTH + where[1] * SIZE)


def build(engine: Engine) -> None:
    county = shapely.box(WEST, SOUTH, WEST + 2 * SIZE, SOUTH + SIZE)
    units: list[tuple[str, str, str, str | None, str]] = [
        ("331099000000", "县", "county", None, _multi(county))
    ]
    units.append((TOWN, "镇", "town", "331099000000", _multi(county)))
    for k, code in enumerate(VILLAGES):
        units.append((code, f"村{k}", "village", TOWN, _multi(village_box(k))))
    grids = [
        (1, "L1", "辖区", 1, 1, None, _multi(county)),
        (2, "G1", "网格1", 2, 1, 1, _multi(village_box(0))),
        (3, "G2", "网格2", 2, 1, 1, _multi(village_box(1))),
    ]
    with engine.begin() as conn:
        copy_frame(
            conn,
            "admin_unit",
            pd.DataFrame(
                units, columns=["code", "name", "level", "parent_code", "geom"]
            ),
        )
        copy_frame(
            conn,
            "branch",
            pd.DataFrame(
                {
                    "id": [1],
                    "code": ["B01"],
                    "name": ["支行"],
                    "geom": ewkb_hex([shapely.Point(WEST + SIZE, SOUTH + SIZE / 2)]),
                }
            ),
        )
        frame = pd.DataFrame(
            grids,
            columns=["id", "code", "name", "level", "branch_id", "parent_id", "geom"],
        )
        frame["parent_id"] = frame["parent_id"].astype("Int64")
        copy_frame(conn, "grid", frame.assign(locked=False, version=1))
        copy_frame(
            conn,
            "staff",
            pd.DataFrame(
                {
                    "id": [1],
                    "username": ["am1"],
                    "name": ["经理"],
                    "role": "account_manager",
                    "active": True,
                }
            ),
        )
        copy_frame(conn, "household", _household_rows())
        copy_frame(conn, "person", _person_rows())
        copy_frame(conn, "visit", _visit_rows())


def _household_rows() -> pd.DataFrame:
    rows = []
    for hid, (village, where, grid) in HOUSEHOLDS.items():
        code = UNKNOWN_VILLAGE if village is None else VILLAGES[village]
        geom = None if where is None else str(ewkb_hex([_point(village, where)])[0])
        rows.append((hid, f"H{hid:03d}", f"地址 {hid}, 号", code, geom, grid))
    frame = pd.DataFrame(
        rows,
        columns=["id", "household_no", "address", "village_code", "geom", "grid_id"],
    )
    frame["grid_id"] = frame["grid_id"].astype("Int64")
    return frame


def _person_rows() -> pd.DataFrame:
    rows: list[tuple[object, ...]] = []
    for hid, members in PEOPLE.items():
        for born, status, *money in members:
            pid = len(rows) + 1
            rows.append(
                (pid, hid, "某", f"{pid:018d}", born, status, "{}", "{}", *money)
            )
    return pd.DataFrame(
        rows,
        columns=[
            "id",
            "household_id",
            "name",
            "id_number",
            "birth_date",
            "status",
            "products",
            "labels",
            "deposit_own",
            "loan_own",
            "deposit_other",
            "loan_other",
        ],
    )


def _visit_rows() -> pd.DataFrame:
    rows = [
        (hid, 1, pd.Timestamp(at).tz_localize(CHINA))
        for hid, visits in VISITS.items()
        for at in visits
    ]
    return pd.DataFrame(rows, columns=["household_id", "staff_id", "visited_at"])


def expected_households() -> pd.DataFrame:
    """Each household's figures, worked out from the lists above."""
    rows = []
    for hid, (village, where, grid) in HOUSEHOLDS.items():
        members = PEOPLE.get(hid, [])
        working = [
            born is not None and dt.date(1965, 6, 30) < born <= dt.date(2008, 6, 30)
            for born, *_ in members
        ]
        customer = [status == "customer" for _, status, *_ in members]
        sums = [
            float(sum((Decimal(str(m[2 + k])) for m in members), Decimal(0)))
            for k in range(4)
        ]
        days = [at.date() for at in VISITS.get(hid, []) if at.date() <= AS_OF]
        point = None if where is None else _point(village, where)
        rows.append(
            {
                "household_id": hid,
                "household_no": f"H{hid:03d}",
                "address": f"地址 {hid}, 号",
                "village_code": UNKNOWN_VILLAGE
                if village is None
                else VILLAGES[village],
                "town_code": None if village is None else TOWN,
                "stored_grid_id": grid,
                "lon": np.nan if point is None else point.x,
                "lat": np.nan if point is None else point.y,
                "people": len(members),
                "working_age": sum(working),
                "customers": sum(customer),
                "working_age_customers": sum(
                    w and c for w, c in zip(working, customer, strict=True)
                ),
                "deposit_own": sums[0],
                "loan_own": sums[1],
                "deposit_other": sums[2],
                "loan_other": sums[3],
                "last_visit": max(days) if days else None,
            }
        )
    return pd.DataFrame(rows)


# the columns of CoverageInputs.households, as the report and notebooks get them
LOADED_TYPES = {
    "household_id": "int64",
    "household_no": "str",
    "address": "str",
    "village_code": "str",
    "town_code": "str",
    "stored_grid_id": "Int64",
    "lon": "float64",
    "lat": "float64",
    "people": "int32",
    "working_age": "int32",
    "customers": "int32",
    "working_age_customers": "int32",
    "deposit_own": "float64",
    "loan_own": "float64",
    "deposit_other": "float64",
    "loan_other": "float64",
    "last_visit": "datetime64[s]",
    "geometry": "geometry",
}


@pytest.fixture
def county(engine: Engine) -> Iterator[Engine]:
    build(engine)
    yield engine


def _as_read(households: pd.DataFrame) -> pd.DataFrame:
    """The loaded households as plain values, comparable with the expected."""
    frame = pd.DataFrame(households.drop(columns="geometry"))
    frame["stored_grid_id"] = frame["stored_grid_id"].astype(object)
    frame["stored_grid_id"] = frame["stored_grid_id"].where(
        frame["stored_grid_id"].notna(), None
    )
    frame["last_visit"] = [
        None if pd.isna(v) else pd.Timestamp(v).date() for v in frame["last_visit"]
    ]
    frame["town_code"] = (
        frame["town_code"].astype(object).where(frame["town_code"].notna(), None)
    )
    for column in ("people", "working_age", "customers", "working_age_customers"):
        frame[column] = frame[column].astype(np.int64)
    return frame.astype({"household_no": object, "address": object}).astype(
        {"village_code": object}
    )


@pytest.mark.parametrize("per_query", [100_000, 3, 1])
def test_every_household_gets_the_figures_worked_out_by_hand(
    county: Engine, per_query: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(coverage_inputs, "HOUSEHOLDS_PER_QUERY", per_query)
    households = load_inputs(county, as_of=AS_OF).households

    assert households.dtypes.astype(str).to_dict() == LOADED_TYPES
    expected = expected_households()
    pd.testing.assert_frame_equal(
        _as_read(households).reset_index(drop=True),
        expected.astype(_as_read(households).dtypes.to_dict()),
        check_exact=True,
    )


def test_cents_add_up_exactly_as_in_the_database(county: Engine) -> None:
    households = load_inputs(county, as_of=AS_OF).households.set_index("household_id")
    # 0.10 + 0.20 is 0.30, not 0.30000000000000004
    assert households.loc[1, "deposit_own"] == 0.3
    assert households.loc[7, "deposit_own"] == 0.8


def test_points_are_the_stored_locations_and_empty_when_unknown(
    county: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(coverage_inputs, "HOUSEHOLDS_PER_QUERY", 2)
    households = load_inputs(county, as_of=AS_OF).households.set_index("household_id")
    assert households.crs.to_epsg() == 4326
    assert households.geometry.loc[3].equals(_point(1, (0.5, 0.5)))
    assert households.geometry.loc[11].equals(_point(None, (0.3, 0.1)))
    assert not np.isfinite(households.loc[5, "lon"])
    assert households.geometry.loc[5].is_empty or not np.isfinite(
        households.geometry.loc[5].x
    )


@pytest.mark.parametrize("per_query", [100_000, 2])
def test_a_filtered_load_keeps_the_households_of_the_selected_grid(
    county: Engine, per_query: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(coverage_inputs, "HOUSEHOLDS_PER_QUERY", per_query)
    inputs = load_inputs(county, grid_ids=[3], as_of=AS_OF)

    # stored in grid 3, or lying in it with no stored grid (5 has no location)
    assert inputs.households["household_id"].tolist() == [3, 4, 10, 20]
    everything = _as_read(load_inputs(county, as_of=AS_OF).households)
    chosen = everything[everything["household_id"].isin([3, 4, 10, 20])]
    pd.testing.assert_frame_equal(
        _as_read(inputs.households).reset_index(drop=True),
        chosen.reset_index(drop=True),
        check_exact=True,
    )


def test_an_import_committed_during_the_load_is_left_out_entirely(
    county: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # household 19, and a new member of household 20, are committed after the
    # load has read the grids and before it reads the households: ids 1-10 on
    # its first connection, 11-20 on the second
    monkeypatch.setattr(coverage_inputs, "HOUSEHOLDS_PER_QUERY", 10)
    share = coverage_inputs._share_snapshot

    def import_then_share(*args: Any) -> Any:
        with county.begin() as other:
            copy_frame(
                other,
                "household",
                _household_rows().iloc[[0]].assign(id=19, household_no="H019"),
            )
            copy_frame(
                other,
                "person",
                _person_rows()
                .iloc[[0, 1]]
                .assign(
                    id=[500, 501],
                    household_id=[19, 20],
                    id_number=["9" * 18, "8" * 18],
                ),
            )
        return share(*args)

    monkeypatch.setattr(coverage_inputs, "_share_snapshot", import_then_share)
    households = load_inputs(county, as_of=AS_OF).households.set_index("household_id")

    assert 19 not in households.index
    assert households.loc[20, "people"] == 1
    monkeypatch.undo()
    assert len(load_inputs(county, as_of=AS_OF).households) == len(HOUSEHOLDS) + 1


def test_an_empty_store_gives_no_households(engine: Engine) -> None:
    households = load_inputs(engine, as_of=AS_OF).households
    assert len(households) == 0
    assert list(households.columns[:3]) == ["household_id", "household_no", "address"]
