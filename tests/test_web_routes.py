"""The route API on the demo county: plan a day from filters, reorder by hand,
download GPX, KML and XLSX; bad inputs answer which field and why."""

from __future__ import annotations

import io
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import numpy as np
import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, text

from geogrid.crs import convert_points
from web.app import create_app

PASSWORD = "geogrid-demo"
GPX = "{http://www.topografix.com/GPX/1/1}"
KML = "{http://www.opengis.net/kml/2.2}"
# a manager's grids: g is the grid, s the staff member
POSTED = (
    "JOIN grid_post p ON p.grid_id = g.id "
    "JOIN staff s ON s.id = p.staff_id AND s.username = :u "
)


@pytest.fixture(scope="module")
def shared_demo(pg_server: Any, demo_template: str) -> Iterator[Engine]:
    """One demo database for the module (only exports are written: audit rows)."""
    name = f"geogrid_routes_{os.getpid()}"
    engine = create_engine(pg_server.create(name, template=demo_template))
    yield engine
    engine.dispose()
    pg_server.drop(name)


@pytest.fixture(scope="module")
def app(shared_demo: Engine) -> Flask:
    return create_app(
        {"ENGINE": shared_demo, "TESTING": True, "WTF_CSRF_ENABLED": False}
    )


def _client(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    response = client.post(
        "/api/login", json={"username": username, "password": PASSWORD}
    )
    assert response.status_code == 200, response.get_json()
    return client


def _my_grids(engine: Engine, username: str) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT DISTINCT g.code FROM grid g " + POSTED + "ORDER BY 1"),
            {"u": username},
        ).all()
    return [r[0] for r in rows]


def _plan(client: FlaskClient, **body: Any) -> Any:
    body.setdefault("date", "2026-12-07")  # a Monday
    return client.post("/api/routes/plan", json=body)


def test_an_account_manager_plans_a_day_in_their_own_grids(
    app: Flask, shared_demo: Engine
) -> None:
    client = _client(app, "am_b01_01")
    mine = _my_grids(shared_demo, "am_b01_01")
    response = _plan(
        client, filters={"status": "potential"}, max_visits=8, candidates=30
    )
    assert response.status_code == 200, response.get_json()
    plan = response.get_json()

    stops = plan["stops"]
    assert 1 <= len(stops) <= 8
    assert [s["sequence"] for s in stops] == list(range(1, len(stops) + 1))
    # every stop is a potential household of the manager's grids, with its reason
    assert {s["grid"] for s in stops} <= set(mine)
    assert all(
        s["status"] == "potential" and "潜在客户" in s["why_listed"] for s in stops
    )
    # arrival times run forward through the day, within working hours
    arrivals = [s["arrival"] for s in stops]
    assert arrivals == sorted(arrivals)
    assert plan["departure"] >= "08:30" and plan["return"] <= "17:30"
    # the candidates not visited are listed with a reason, none lost
    assert len(stops) + len(plan["unscheduled"]) == 30
    # (evening- and weekend-only households cannot be seen on a Monday's hours)
    assert {u["reason"] for u in plan["unscheduled"]} <= {
        "quota_reached",
        "day_full",
        "not_available",
        "outside_working_hours",
    }
    assert all(u["detail"] for u in plan["unscheduled"])
    # along the demo roads, and no longer than nearest-neighbour order
    assert plan["travel_model"]["name"] == "road_network"
    assert plan["line"]["type"] == "LineString"
    assert plan["totals"]["distance_km"] <= plan["totals"]["nn_distance_km"] + 1e-6


def test_a_day_can_end_at_the_branch_or_a_picked_point(app: Flask) -> None:
    client = _client(app, "am_b01_01")
    body = {"filters": {}, "candidates": 10, "max_visits": 4, "crs": "wgs84"}
    round_trip = _plan(client, **body).get_json()
    branch = round_trip["start"]
    assert round_trip["end"] == branch  # back to the start by default

    # from a household of the list, home to the branch
    first = round_trip["stops"][0]
    home = {"lon": first["lon"], "lat": first["lat"]}
    to_branch = _plan(client, **body, start=home, end="branch").get_json()
    assert to_branch["start"] == pytest.approx(home, abs=1e-5)
    assert to_branch["end"] == pytest.approx(branch, abs=1e-5)
    # the line along the roads finishes near the branch
    last = to_branch["line"]["coordinates"][-1]
    assert last == pytest.approx([branch["lon"], branch["lat"]], abs=0.01)

    # from the branch to a point picked on the map (home, say)
    to_home = _plan(client, **body, end=home).get_json()
    assert to_home["start"] == pytest.approx(branch, abs=1e-5)
    assert to_home["end"] == pytest.approx(home, abs=1e-5)


def test_the_route_is_drawn_in_the_maps_coordinates(app: Flask) -> None:
    client = _client(app, "am_b01_01")
    body = {"filters": {}, "candidates": 10, "max_visits": 5}
    wgs = _plan(client, **body, crs="wgs84").get_json()
    gcj = client.get(f"/api/routes/{wgs['id']}?crs=gcj02").get_json()
    x, y = convert_points(
        np.array([s["lon"] for s in wgs["stops"]]),
        np.array([s["lat"] for s in wgs["stops"]]),
        "wgs84",
        "gcj02",
    )
    assert np.allclose(x, [s["lon"] for s in gcj["stops"]], atol=1e-6)
    assert np.allclose(y, [s["lat"] for s in gcj["stops"]], atol=1e-6)


def test_reordering_by_hand_keeps_the_order_and_recomputes_the_times(
    app: Flask,
) -> None:
    client = _client(app, "am_b01_01")
    plan = _plan(client, filters={}, candidates=12, max_visits=6).get_json()
    order = [s["id"] for s in plan["stops"]]
    assert len(order) >= 3
    swapped = [order[1], order[0], *order[2:]]

    response = client.post(f"/api/routes/{plan['id']}/order", json={"order": swapped})
    assert response.status_code == 200, response.get_json()
    again = response.get_json()
    assert [s["id"] for s in again["stops"]] == swapped
    assert again["optimised"] is False
    # the optimiser's order was at least as short as the swapped one
    assert again["totals"]["travel_min"] >= plan["totals"]["travel_min"] - 0.1
    assert [s["arrival"] for s in again["stops"]] != [
        s["arrival"] for s in plan["stops"]
    ]

    # leaving a stop out of the order puts it among the unscheduled, with the reason
    shorter = client.post(
        f"/api/routes/{plan['id']}/order", json={"order": swapped[:-1]}
    ).get_json()
    dropped = [u for u in shorter["unscheduled"] if u["id"] == swapped[-1]]
    assert dropped and dropped[0]["reason"] == "not_in_order"

    unknown = client.post(
        f"/api/routes/{plan['id']}/order", json={"order": ["nobody-here"]}
    )
    assert unknown.status_code == 400
    assert "nobody-here" in unknown.get_json()["error"]["message"]


def test_downloads_follow_the_plan_and_are_audited(
    app: Flask, shared_demo: Engine
) -> None:
    client = _client(app, "am_b01_01")
    plan = _plan(client, filters={}, candidates=10, max_visits=4).get_json()
    ids = [s["id"] for s in plan["stops"]]

    gpx = client.get(f"/api/routes/{plan['id']}/route.gpx?crs=wgs84")
    assert gpx.status_code == 200
    assert "attachment" in gpx.headers["Content-Disposition"]
    root = ET.fromstring(gpx.data)
    names = [w.findtext(f"{GPX}name") for w in root.iter(f"{GPX}wpt")]
    # start, the visits in order (numbered), end
    assert [n.split(" ", 1)[1] for n in names[1:-1]] == ids or [
        n.split(" ", 1)[1] for n in names[1:]
    ] == ids
    first = next(
        w for w in root.iter(f"{GPX}wpt") if ids[0] in w.findtext(f"{GPX}name")
    )
    assert float(first.get("lon")) == pytest.approx(plan["stops"][0]["lon"], abs=1e-6)

    kml = client.get(f"/api/routes/{plan['id']}/route.kml?crs=gcj02")
    assert kml.status_code == 200
    placemarks = [
        p.findtext(f"{KML}name")
        for p in ET.fromstring(kml.data).iter(f"{KML}Placemark")
    ]
    assert all(any(i in (p or "") for p in placemarks) for i in ids)

    xlsx = client.get(f"/api/routes/{plan['id']}/route.xlsx")
    assert xlsx.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(xlsx.data))
    sheet = book.worksheets[0]
    listed = [row[2] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert listed == ids

    with shared_demo.connect() as conn:
        audited = (
            conn.execute(
                text(
                    "SELECT object_id FROM audit_log WHERE action = 'export' "
                    "AND object_type = 'route' AND actor = 'am_b01_01' "
                    "AND detail->>'plan' = :p ORDER BY id"
                ),
                {"p": plan["id"]},
            )
            .scalars()
            .all()
        )
    assert audited == ["gpx", "kml", "xlsx"]


def test_a_plan_belongs_to_the_user_who_made_it(app: Flask) -> None:
    mine = _client(app, "am_b01_01")
    plan = _plan(mine, filters={}, candidates=5, max_visits=3).get_json()
    other = _client(app, "am_b02_01")
    assert other.get(f"/api/routes/{plan['id']}").status_code == 404
    assert other.get(f"/api/routes/{plan['id']}/route.gpx").status_code == 404
    assert (
        other.post(f"/api/routes/{plan['id']}/order", json={"order": []}).status_code
        == 404
    )


def test_another_managers_grid_is_not_found_and_planners_may_not_plan(
    app: Flask, shared_demo: Engine
) -> None:
    theirs = _my_grids(shared_demo, "am_b02_01")[0]
    response = _plan(_client(app, "am_b01_01"), filters={"grids": [theirs]})
    assert response.status_code == 404
    assert theirs in response.get_json()["error"]["message"]

    planner = _plan(_client(app, "planner_01"), filters={})
    assert planner.status_code == 403
    assert app.test_client().post("/api/routes/plan", json={}).status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"filters": {"not_visited_days": -3}}, "not_visited_days"),
        ({"filters": {"lacking_product": "gold"}}, "lacking_product"),
        ({"filters": {"status": "vip"}}, "status"),
        ({"filters": {}, "max_visits": 0}, "max_visits"),
        ({"filters": {}, "work_hours": ["17:00", "09:00"]}, "work_hours"),
        ({"filters": {}, "date": "7 Dec"}, "date"),
        ({"filters": {}, "start": {"lon": "x", "lat": 1}}, "start"),
        ({"filters": {}, "crs": "mars"}, "crs"),
    ],
)
def test_bad_fields_get_a_400_naming_them(
    app: Flask, body: dict[str, Any], field: str
) -> None:
    response = _plan(_client(app, "am_b01_01"), **body)
    assert response.status_code == 400
    assert field in response.get_json()["error"]["message"]


def test_no_matching_household_and_a_start_outside_the_county_are_explained(
    app: Flask,
) -> None:
    client = _client(app, "am_b01_01")
    empty = _plan(client, filters={"campaign": ["NO-SUCH-HOUSEHOLD"]})
    assert empty.status_code == 400
    assert "loosen the filters" in empty.get_json()["error"]["message"]

    far = _plan(client, filters={}, start={"lon": 116.4, "lat": 39.9})  # Beijing
    assert far.status_code == 400
    assert "county" in far.get_json()["error"]["message"]


def test_households_that_cannot_be_visited_that_day_are_listed_with_why(
    app: Flask, shared_demo: Engine
) -> None:
    """Weekend-only households on a Monday are not scheduled, and say so."""
    with shared_demo.connect() as conn:
        weekend = (
            conn.execute(
                text(
                    "SELECT h.household_no FROM household h "
                    "JOIN grid g ON g.id = h.grid_id " + POSTED + "WHERE "
                    "h.time_window = 'weekend' ORDER BY 1 LIMIT 3"
                ),
                {"u": "am_b01_01"},
            )
            .scalars()
            .all()
        )
    assert weekend, "the demo gives some households weekend-only windows"
    plan = _plan(
        _client(app, "am_b01_01"), filters={"campaign": list(weekend)}
    ).get_json()
    assert plan["stops"] == []
    assert {u["id"] for u in plan["unscheduled"]} == set(weekend)
    assert {u["reason"] for u in plan["unscheduled"]} == {"not_available"}


def test_a_week_spreads_the_list_over_working_days_under_the_quota(
    app: Flask, shared_demo: Engine
) -> None:
    client = _client(app, "am_b01_01")
    response = client.post(
        "/api/routes/week",
        json={
            "filters": {"not_visited_days": 90},
            "date": "2026-12-04",  # a Friday: the days are Fri, Mon, Tue
            "days": 3,
            "max_visits": 5,
            "candidates": 40,
        },
    )
    assert response.status_code == 200, response.get_json()
    week = response.get_json()
    assert week["week"] is True
    assert [d["date"] for d in week["days"]] == [
        "2026-12-04",
        "2026-12-07",
        "2026-12-08",
    ]
    visits = [s["id"] for d in week["days"] for s in d["stops"]]
    assert all(len(d["stops"]) <= 5 for d in week["days"])
    # every candidate is on exactly one day or left over with a reason
    left = [u["id"] for u in week["unscheduled"]]
    assert len(visits) == len(set(visits)) == week["totals"]["visits"]
    assert sorted(visits + left) == sorted(set(visits + left))
    assert len(visits) + len(left) == 40
    assert all(u["reason"] and u["detail"] for u in week["unscheduled"])

    # one day reordered by hand; the other days stay as they were
    monday = week["days"][1]
    order = [s["id"] for s in monday["stops"]][::-1]
    again = client.post(
        f"/api/routes/{week['id']}/order", json={"order": order, "day": "2026-12-07"}
    ).get_json()
    assert [s["id"] for s in again["days"][1]["stops"]] == order
    assert again["days"][0]["stops"] == week["days"][0]["stops"]
    no_day = client.post(f"/api/routes/{week['id']}/order", json={"order": order})
    assert (
        no_day.status_code == 400
        and "2026-12-07" in no_day.get_json()["error"]["message"]
    )

    # the download holds every day's visits
    xlsx = client.get(f"/api/routes/{week['id']}/route.xlsx")
    book = openpyxl.load_workbook(io.BytesIO(xlsx.data))
    rows = list(book.worksheets[0].iter_rows(min_row=2, values_only=True))
    assert sorted(str(r[2]) for r in rows) == sorted(visits)
