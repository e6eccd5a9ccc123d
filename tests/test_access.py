"""Every API endpoint as every role and as nobody, against the allow/deny table.

The table is the one in docs/viewer.md. Objects outside a user's grids answer
404 (the same as objects that do not exist); actions a role may not take
answer 403; nobody logged in gets 401.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, text

from web.app import create_app

ROLES = ("nobody", "ho_01", "bh_b01", "bh_b02", "am_b01_01", "am_b02_01", "planner_01")
PASSWORD = "geogrid-demo"

ALL = (200,) * 7
LOGGED_IN = (401, 200, 200, 200, 200, 200, 200)
IN_G01 = (401, 200, 200, 404, 200, 404, 200)  # grid G01-01 of branch B01
IN_G02 = (401, 200, 404, 200, 404, 200, 200)  # grid G02-01 of branch B02
NOWHERE = (401, 404, 404, 404, 404, 404, 404)
EDIT_G01 = (401, 200, 200, 404, 403, 404, 403)
STALE_COMMIT_G01 = (401, 409, 409, 404, 403, 404, 403)
DESIGN_B01 = (401, 200, 200, 404, 403, 403, 200)
STALE_ADOPT_B01 = (401, 409, 409, 404, 403, 403, 403)
COVERAGE = (401, 200, 200, 200, 403, 403, 200)
PAGE = (302, 200, 200, 200, 200, 200, 200)
PAGE_NOT_AM = (302, 200, 200, 200, 403, 403, 200)
PAGE_NOT_PLANNER = (302, 200, 200, 200, 200, 200, 403)
PLAN_ROUTE = (401, 200, 200, 200, 200, 200, 403)
RECORD_G01 = (401, 201, 201, 404, 201, 404, 403)

# (method, path, expected status for each of ROLES); {placeholders} filled below
TABLE: list[tuple[str, str, tuple[int, ...]]] = [
    ("GET", "/api/health", ALL),
    ("GET", "/api/openapi.json", ALL),
    ("GET", "/api/csrf", ALL),
    ("GET", "/api/me", LOGGED_IN),
    ("GET", "/api/convert?lon=121.2&lat=28.5&to=gcj02", LOGGED_IN),
    ("GET", "/api/branches", LOGGED_IN),
    ("GET", "/api/grids", LOGGED_IN),
    ("GET", "/api/grids?level=1&bbox=121.0,28.3,121.4,28.7", LOGGED_IN),
    ("GET", "/api/villages", LOGGED_IN),
    ("GET", "/api/density?cell_m=300", LOGGED_IN),
    ("GET", "/api/nearby?lon={lon}&lat={lat}", LOGGED_IN),
    ("GET", "/api/grids/G01-01", IN_G01),
    ("GET", "/api/grids/G01-01/shape", IN_G01),
    ("GET", "/api/grids/G01-01/history", IN_G01),
    ("GET", "/api/grids/G02-01", IN_G02),
    ("GET", "/api/households/{household_g01}", IN_G01),
    ("GET", "/api/households/{household_g02}", IN_G02),
    ("GET", "/api/households/987654321", NOWHERE),
    ("POST", "/api/visits", RECORD_G01),
    ("GET", "/api/visits?days=7", LOGGED_IN),
    ("POST", "/api/edits/preview", EDIT_G01),
    ("POST", "/api/edits/commit", STALE_COMMIT_G01),
    ("GET", "/api/branches/B01/proposal?k=2", DESIGN_B01),
    ("GET", "/api/branches/B01/proposal.geojson?k=2", DESIGN_B01),
    ("POST", "/api/branches/B01/proposal/adopt", STALE_ADOPT_B01),
    ("GET", "/api/coverage/summary", COVERAGE),
    ("GET", "/api/coverage/layers/hexes", COVERAGE),
    ("GET", "/api/coverage/blind-spots", COVERAGE),
    ("GET", "/api/coverage/report.xlsx", COVERAGE),
    ("GET", "/api/coverage/report.geojson", COVERAGE),
    ("POST", "/api/routes/plan", PLAN_ROUTE),
    ("POST", "/api/routes/week", PLAN_ROUTE),
    ("GET", "/api/routes/not-a-plan", NOWHERE),
    ("POST", "/api/routes/not-a-plan/order", NOWHERE),
    ("GET", "/api/routes/not-a-plan/route.gpx", NOWHERE),
    ("GET", "/grids", PAGE),
    ("GET", "/nearby", PAGE),
    ("GET", "/design", PAGE_NOT_AM),
    ("GET", "/blindspots", PAGE_NOT_AM),
    ("GET", "/routes", PAGE_NOT_PLANNER),
    ("GET", "/visits", PAGE),
    ("POST", "/api/logout", LOGGED_IN),
]


@pytest.fixture(scope="module")
def shared_demo(pg_server: Any, demo_template: str) -> Iterator[Engine]:
    """One demo database for the module: these tests change nothing in it but
    the visits permitted users record (without a location)."""
    name = f"geogrid_access_{os.getpid()}"
    engine = create_engine(pg_server.create(name, template=demo_template))
    yield engine
    engine.dispose()
    pg_server.drop(name)


@pytest.fixture(scope="module")
def app(shared_demo: Engine) -> Flask:
    return create_app(
        {"ENGINE": shared_demo, "TESTING": True, "WTF_CSRF_ENABLED": False}
    )


@pytest.fixture(scope="module")
def facts(shared_demo: Engine) -> dict[str, Any]:
    """Ids and codes the table's paths and bodies refer to."""
    with shared_demo.connect() as conn:
        first_in = "SELECT min(h.id) FROM household h JOIN grid g ON g.id = h.grid_id "
        household_g01 = conn.execute(text(first_in + "WHERE g.code = 'G01-01'"))
        household_g02 = conn.execute(text(first_in + "WHERE g.code = 'G02-01'"))
        village = conn.execute(
            text(
                "SELECT v.code FROM admin_unit v JOIN grid_village m "
                "ON m.village_code = v.code JOIN grid g ON g.id = m.grid_id "
                "JOIN grid t ON t.code = 'G01-01' "
                "WHERE g.code = 'G01-02' AND ST_Intersects(v.geom, t.geom) "
                "ORDER BY v.code LIMIT 1"
            )
        ).scalar_one()
        lon, lat = conn.execute(
            text("SELECT ST_X(geom), ST_Y(geom) FROM branch WHERE code = 'B01'")
        ).one()
    return {
        "household_g01": household_g01.scalar_one(),
        "household_g02": household_g02.scalar_one(),
        "village": village,
        "lon": round(lon, 5),
        "lat": round(lat, 5),
    }


def _client(app: Flask, role: str) -> FlaskClient:
    client = app.test_client()
    if role != "nobody":
        response = client.post(
            "/api/login", json={"username": role, "password": PASSWORD}
        )
        assert response.status_code == 200, response.get_json()
    return client


def _body(path: str, facts: dict[str, Any]) -> dict[str, Any] | None:
    move = {
        "operation": "move_villages",
        "grid": "G01-01",
        "villages": [facts["village"]],
    }
    if path == "/api/edits/preview":
        return move
    if path.endswith("/proposal/adopt"):
        # version 0 never exists: a permitted user gets the conflict, not a change
        return {"reason": "access test", "versions": {"G01-01": 0}}
    if path == "/api/visits":
        return {
            "household_id": facts["household_g01"],
            "purpose": "service",
            "outcome": "not_home",
        }
    if path == "/api/routes/plan":
        return {"filters": {}, "candidates": 4, "max_visits": 2}
    if path == "/api/routes/week":
        return {"filters": {}, "candidates": 4, "max_visits": 2, "days": 2}
    if path.endswith("/order"):
        return {"order": []}
    if path == "/api/edits/commit":
        # version 0 never exists: a permitted user gets the conflict, not a save
        return {**move, "reason": "access test", "versions": {"G01-01": 0}}
    return None


@pytest.mark.parametrize("role", ROLES)
def test_every_endpoint_answers_each_role_as_the_table_says(
    app: Flask, facts: dict[str, Any], role: str
) -> None:
    client = _client(app, role)
    column = ROLES.index(role)
    wrong = []
    for method, template, expected in TABLE:
        path = template.format(**facts)
        response = client.open(path, method=method, json=_body(path, facts))
        if response.status_code != expected[column]:
            detail = (response.get_json(silent=True) or {}).get("error", {})
            wrong.append(
                f"{method} {path}: {response.status_code} "
                f"(expected {expected[column]}) {detail.get('message', '')}"
            )
    assert wrong == []


def test_refusals_use_the_one_error_shape(app: Flask, facts: dict[str, Any]) -> None:
    nobody = app.test_client().get("/api/grids/G01-01")
    manager = _client(app, "am_b01_01")
    hidden = manager.get(f"/api/households/{facts['household_g02']}")
    forbidden = manager.post(
        "/api/edits/preview", json=_body("/api/edits/preview", facts)
    )

    for response, code in ((nobody, 401), (hidden, 404), (forbidden, 403)):
        assert response.status_code == code
        error = response.get_json()["error"]
        assert set(error) >= {"code", "message"}
        assert error["message"].endswith(".")
    assert "log in" in nobody.get_json()["error"]["message"].lower()
    assert "outside your grids" in hidden.get_json()["error"]["message"]
    assert "account manager" in forbidden.get_json()["error"]["message"]


def test_an_account_manager_sees_only_their_grids(app: Flask) -> None:
    manager = _client(app, "am_b01_01")
    head = _client(app, "bh_b01")

    mine = manager.get("/api/grids").get_json()["features"]
    branch = head.get("/api/grids").get_json()["features"]

    assert {f["properties"]["code"] for f in mine} == {"G01-01"}
    assert {f["properties"]["code"] for f in branch} == {"G01-01", "G01-02"}
    # the workload ratio is still against the whole branch's mean
    ratio = {f["properties"]["code"]: f["properties"]["ratio"] for f in branch}
    households = [f["properties"]["households"] for f in branch]
    assert mine[0]["properties"]["ratio"] == ratio["G01-01"]
    assert ratio["G01-01"] == pytest.approx(
        households[0] / (sum(households) / 2), abs=1e-3
    )


def test_personal_details_follow_the_role(app: Flask, facts: dict[str, Any]) -> None:
    path = f"/api/households/{facts['household_g01']}"
    manager = _client(app, "am_b01_01").get(path).get_json()
    head_office = _client(app, "ho_01").get(path).get_json()
    planner = _client(app, "planner_01").get(path).get_json()

    # the account manager calls their own customers: full phone, masked ID
    phones = [m["phone"] for m in manager["members"] if m.get("phone")]
    assert phones and all(p.isdigit() and len(p) == 11 for p in phones)
    assert all(m["id_number"].startswith("*" * 14) for m in manager["members"])
    # head office: names, but phone and ID masked to the last four
    masked = [m["phone"] for m in head_office["members"] if m.get("phone")]
    assert masked and all(p.startswith("*******") for p in masked)
    assert all(m["name"] for m in head_office["members"])
    # planners: no names, ID numbers, phones or address at all
    for member in planner["members"]:
        assert not {"name", "phone", "id_number"} & set(member)
    assert "address" not in planner


def test_planners_get_no_names_in_lists_profiles_or_reports(
    app: Flask, facts: dict[str, Any]
) -> None:
    planner = _client(app, "planner_01")
    nearby = planner.get(f"/api/nearby?lon={facts['lon']}&lat={facts['lat']}")
    profile = planner.get("/api/grids/G01-01").get_json()
    layer = planner.get("/api/coverage/report.geojson?layer=unvisited_villages")

    for household in nearby.get_json()["nearest"]:
        assert "people_list" not in household and "address" not in household
    for person in profile["posts"] + profile["liaison"]:
        assert "name" not in person and "phone" not in person
    columns = set(layer.get_json()["features"][0]["properties"])
    assert "manager_name" not in columns and "address" not in columns
