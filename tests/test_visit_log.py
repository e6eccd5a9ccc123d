"""Visits recorded where they happen, and the check of where they were recorded."""

from __future__ import annotations

import math
from typing import Any

import pyproj
import pytest
from sqlalchemy import Engine, text

from geogrid.auth import authenticate
from geogrid.crs import convert_points
from geogrid.errors import InvalidInput, NotFound, PermissionDenied
from geogrid.nearby import household_detail
from geogrid.visit_log import (
    MAX_TOLERANCE_M,
    ON_SITE_M,
    record_visit,
    visit_checks,
    visit_summary,
)

GEOD = pyproj.Geod(ellps="WGS84")
PASSWORD = "geogrid-demo"


def _household(engine: Engine, grid: str) -> dict[str, Any]:
    """The first located household of a grid."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT h.id, h.household_no, ST_X(h.geom) AS lon, ST_Y(h.geom) AS lat "
                "FROM household h JOIN grid g ON g.id = h.grid_id "
                "WHERE g.code = :g AND h.geom IS NOT NULL ORDER BY h.id LIMIT 1"
            ),
            {"g": grid},
        ).one()
    return dict(row._mapping)


def _east_of(lon: float, lat: float, metres: float) -> tuple[float, float]:
    east_lon, east_lat, _ = GEOD.fwd(lon, lat, 90.0, metres)
    return float(east_lon), float(east_lat)


def test_a_visit_recorded_at_the_household_is_stored_there_and_on_site(
    demo_engine: Engine,
) -> None:
    manager = authenticate(demo_engine, "am_b01_01", PASSWORD)
    house = _household(demo_engine, "G01-01")
    lon, lat = _east_of(house["lon"], house["lat"], 20.0)

    visit = record_visit(
        demo_engine,
        manager,
        house["id"],
        purpose="marketing",
        outcome="interested",
        lon=lon,
        lat=lat,
        accuracy_m=12.0,
        note="  想了解手机银行  ",
    )

    assert visit["verdict"] == "on_site"
    assert visit["distance_m"] == pytest.approx(20.0, abs=0.5)
    assert visit["tolerance_m"] == ON_SITE_M
    with demo_engine.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT s.username, v.purpose, v.outcome, v.note, v.accuracy_m, "
                "ST_X(v.geom) AS lon, ST_Y(v.geom) AS lat, v.recorded_at "
                "FROM visit v JOIN staff s ON s.id = v.staff_id WHERE v.id = :id"
            ),
            {"id": visit["id"]},
        ).one()
    assert stored.username == "am_b01_01"
    assert (stored.purpose, stored.outcome) == ("marketing", "interested")
    assert stored.note == "想了解手机银行" and stored.accuracy_m == 12.0
    assert (stored.lon, stored.lat) == pytest.approx((lon, lat), abs=1e-9)
    assert stored.recorded_at is not None

    # the household's file shows it as its latest visit
    detail = household_detail(demo_engine, manager, house["id"])
    assert detail["visits"][0]["staff"] == "am_b01_01"
    assert detail["visits"][0]["outcome"] == "interested"


def test_a_visit_recorded_a_kilometre_away_is_kept_but_flagged(
    demo_engine: Engine,
) -> None:
    manager = authenticate(demo_engine, "am_b01_01", PASSWORD)
    house = _household(demo_engine, "G01-01")
    lon, lat = _east_of(house["lon"], house["lat"], 1_000.0)

    visit = record_visit(
        demo_engine,
        manager,
        house["id"],
        purpose="service",
        outcome="signed",
        lon=lon,
        lat=lat,
        accuracy_m=30.0,
    )

    assert visit["verdict"] == "away"
    assert visit["distance_m"] == pytest.approx(1_000.0, abs=1.0)
    checks = visit_checks(demo_engine, manager, days=1)
    mine = checks[checks["id"] == visit["id"]].iloc[0]
    assert mine["verdict"] == "away" and mine["staff"] == "am_b01_01"
    summary = visit_summary(demo_engine, manager, days=1).set_index("staff")
    summary = summary.loc["am_b01_01"]
    assert summary["away"] == 1 and summary["away_share"] == 1.0


@pytest.mark.parametrize(
    ("distance_m", "accuracy_m", "expected"),
    [
        (ON_SITE_M - 10, None, "on_site"),
        (ON_SITE_M + 10, None, "away"),
        (300.0, 400.0, "on_site"),  # a poor fix widens the tolerance ...
        (MAX_TOLERANCE_M + 100, 5_000.0, "away"),  # ... up to a limit
    ],
)
def test_the_tolerance_follows_the_devices_accuracy_up_to_a_limit(
    demo_engine: Engine, distance_m: float, accuracy_m: float | None, expected: str
) -> None:
    manager = authenticate(demo_engine, "am_b01_01", PASSWORD)
    house = _household(demo_engine, "G01-01")
    lon, lat = _east_of(house["lon"], house["lat"], distance_m)

    visit = record_visit(
        demo_engine,
        manager,
        house["id"],
        purpose="profile",
        outcome="follow_up",
        lon=lon,
        lat=lat,
        accuracy_m=accuracy_m,
    )

    assert visit["verdict"] == expected


def test_a_location_in_gcj02_is_converted_before_the_check(demo_engine: Engine) -> None:
    manager = authenticate(demo_engine, "am_b01_01", PASSWORD)
    house = _household(demo_engine, "G01-01")
    gcj_lon, gcj_lat = convert_points(house["lon"], house["lat"], "wgs84", "gcj02")

    visit = record_visit(
        demo_engine,
        manager,
        house["id"],
        purpose="marketing",
        outcome="not_home",
        lon=float(gcj_lon),
        lat=float(gcj_lat),
        crs="gcj02",
    )

    # taken as WGS84, the same numbers would lie some 500 m off
    assert visit["verdict"] == "on_site" and visit["distance_m"] < 1.0


def test_a_visit_without_a_location_is_recorded_as_such(demo_engine: Engine) -> None:
    manager = authenticate(demo_engine, "am_b01_01", PASSWORD)
    house = _household(demo_engine, "G01-01")

    visit = record_visit(
        demo_engine, manager, house["id"], purpose="marketing", outcome="not_home"
    )

    assert visit["verdict"] == "no_location" and visit["distance_m"] is None
    checks = visit_checks(demo_engine, manager, days=1)
    assert checks.set_index("id").loc[visit["id"], "verdict"] == "no_location"


def test_only_households_of_ones_grids_and_only_staff_who_visit(
    demo_engine: Engine,
) -> None:
    manager = authenticate(demo_engine, "am_b01_01", PASSWORD)
    planner = authenticate(demo_engine, "planner_01", PASSWORD)
    elsewhere = _household(demo_engine, "G02-01")
    with demo_engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM visit")).scalar_one()

    with pytest.raises(NotFound, match="outside your grids"):
        record_visit(
            demo_engine, manager, elsewhere["id"], purpose="service", outcome="signed"
        )
    with pytest.raises(PermissionDenied, match="may not record visits"):
        record_visit(
            demo_engine, planner, elsewhere["id"], purpose="service", outcome="signed"
        )

    with demo_engine.connect() as conn:
        after = conn.execute(text("SELECT count(*) FROM visit")).scalar_one()
    assert after == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"purpose": "chat"}, r"purpose must be one of profile, marketing.*'chat'"),
        ({"outcome": "maybe"}, r"outcome must be one of signed.*'maybe'"),
        ({"lon": 121.2}, "lon and lat go together"),
        ({"lon": 28.5, "lat": 121.2}, "Did you swap them"),
        ({"lon": math.nan, "lat": 28.5}, "finite numbers"),
        ({"lon": 121.2, "lat": 28.5, "accuracy_m": -1}, "accuracy_m must be from 0"),
        ({"note": "字" * 501}, "note must be at most 500 characters; received 501"),
    ],
)
def test_bad_visits_are_refused_naming_the_rule(
    demo_engine: Engine, change: dict[str, Any], message: str
) -> None:
    manager = authenticate(demo_engine, "am_b01_01", PASSWORD)
    house = _household(demo_engine, "G01-01")
    arguments: dict[str, Any] = {"purpose": "marketing", "outcome": "signed", **change}

    with pytest.raises(InvalidInput, match=message):
        record_visit(demo_engine, manager, house["id"], **arguments)


def test_checks_follow_what_each_role_may_see(demo_engine: Engine) -> None:
    manager = authenticate(demo_engine, "am_b01_01", PASSWORD)
    house = _household(demo_engine, "G01-01")
    visit = record_visit(
        demo_engine,
        manager,
        house["id"],
        purpose="marketing",
        outcome="signed",
        lon=house["lon"],
        lat=house["lat"],
    )

    own_head = visit_checks(demo_engine, authenticate(demo_engine, "bh_b01", PASSWORD))
    other_head = visit_checks(
        demo_engine, authenticate(demo_engine, "bh_b02", PASSWORD)
    )
    planner = visit_checks(
        demo_engine, authenticate(demo_engine, "planner_01", PASSWORD)
    )

    assert visit["id"] in own_head["id"].tolist()
    assert visit["id"] not in other_head["id"].tolist()
    assert visit["id"] in planner["id"].tolist()
    assert "address" in own_head and "staff_name" in own_head
    assert "address" not in planner and "staff_name" not in planner
    # the same in the summary: head office reads names, a planner user names
    names = visit_summary(demo_engine, authenticate(demo_engine, "bh_b01", PASSWORD))
    assert names["staff_name"].notna().all()
    assert names["staff_name"].ne(names["staff"]).all()
    planner_summary = visit_summary(
        demo_engine, authenticate(demo_engine, "planner_01", PASSWORD)
    )
    assert "staff_name" not in planner_summary
    # branch B02's head sees only visits to households of branch B02's grids
    assert other_head["grid_code"].str.startswith("G02-").all()


def test_the_period_of_the_checks_is_bounded(demo_engine: Engine) -> None:
    manager = authenticate(demo_engine, "am_b01_01", PASSWORD)

    with pytest.raises(InvalidInput, match="days must be a whole number from 1 to 366"):
        visit_checks(demo_engine, manager, days=0)


def test_on_the_demo_the_managers_logging_from_the_branch_stand_out(
    demo_engine: Engine,
) -> None:
    head_office = authenticate(demo_engine, "ho_01", PASSWORD)

    checks = visit_checks(demo_engine, head_office, days=366, limit=None)
    summary = visit_summary(demo_engine, head_office, days=366)

    assert len(checks) > 1_000 and set(checks["verdict"]) == {"on_site", "away"}
    # three managers record a large share away from the household; nobody else
    worst = summary.head(3)
    assert (worst["away_share"] > 0.2).all()
    assert (summary["away_share"].iloc[3:] == 0).all()


def test_checks_filter_by_verdict_and_the_summary_counts_every_visit(
    demo_engine: Engine,
) -> None:
    manager = authenticate(demo_engine, "am_b01_01", PASSWORD)
    house = _household(demo_engine, "G01-01")
    for metres in (0.0, 2_000.0, 3_000.0):
        lon, lat = _east_of(house["lon"], house["lat"], metres)
        record_visit(
            demo_engine,
            manager,
            house["id"],
            purpose="marketing",
            outcome="signed",
            lon=lon,
            lat=lat,
        )

    away = visit_checks(demo_engine, manager, days=1, verdicts=["away"])
    newest = visit_checks(demo_engine, manager, days=1, limit=1)
    summary = visit_summary(demo_engine, manager, days=1).set_index("staff")

    assert away["distance_m"].round(-2).tolist() == [3_000.0, 2_000.0]
    assert (
        away[["household_lon", "household_lat"]].to_numpy()
        == [house["lon"], house["lat"]]
    ).all()
    assert len(newest) == 1
    assert summary.loc["am_b01_01", ["visits", "on_site", "away"]].tolist() == [3, 1, 2]
    with pytest.raises(InvalidInput, match="verdict must be among on_site"):
        visit_checks(demo_engine, manager, verdicts=["late"])
