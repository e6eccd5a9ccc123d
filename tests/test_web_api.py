"""The JSON API as a client meets it: its description, errors, log-in and sessions."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shapely
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, text

from geogrid.crs import convert_points
from geogrid.errors import InvalidInput
from geogrid.routes.solve import (
    LATE,
    NOT_AVAILABLE,
    OVER_QUOTA,
    OVERTIME,
    REASONS,
)
from geogrid.settings import Config
from geogrid.store.models import (
    LIAISON_KINDS,
    PRODUCTS,
    TARGET_METRICS,
    VISIT_OUTCOMES,
    VISIT_PURPOSES,
)
from geogrid.visit_log import VERDICTS
from web.app import create_app, tile_origin
from web.geojson import MAX_VERTICES, polygon_from_geojson
from web.i18n import MESSAGES

WEB = Path(__file__).resolve().parent.parent / "web"


@pytest.fixture(scope="module")
def shared_demo(pg_server: Any, demo_template: str) -> Iterator[Engine]:
    """One demo database for the module's tests, which only read it."""
    name = f"geogrid_api_{os.getpid()}"
    engine = create_engine(pg_server.create(name, template=demo_template))
    yield engine
    engine.dispose()
    pg_server.drop(name)


def _app(engine: Engine, **config: Any) -> Flask:
    return create_app({"ENGINE": engine, "TESTING": True, **config})


def _login(client: FlaskClient, username: str = "ho_01") -> str:
    response = client.post(
        "/api/login", json={"username": username, "password": "geogrid-demo"}
    )
    assert response.status_code == 200, response.get_json()
    token: str = response.get_json()["csrf_token"]
    return token


# --- the description --------------------------------------------------------


def test_openapi_describes_every_api_route_and_nothing_else(engine: Engine) -> None:
    app = _app(engine)
    served: set[tuple[str, str]] = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                served.add((path, method.lower()))

    document = app.test_client().get("/api/openapi.json").get_json()
    described = {
        (path, method) for path, item in document["paths"].items() for method in item
    }

    assert document["openapi"].startswith("3.1")
    assert served == described


# --- errors -----------------------------------------------------------------


def test_unknown_paths_and_methods_answer_in_the_error_shape(engine: Engine) -> None:
    client = _app(engine).test_client()
    missing = client.get("/api/nothing-here")
    wrong_method = client.delete("/api/health")

    assert missing.status_code == 404
    assert "openapi.json" in missing.get_json()["error"]["message"]
    assert wrong_method.status_code == 405
    assert "DELETE is not allowed" in wrong_method.get_json()["error"]["message"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("bbox=1,2,3", "must be four numbers"),
        ("bbox=121.3,28.4,121.1,28.6", "west < east"),
        ("level=3", "from 1 to 2"),
        ("crs=mars", "not recognised"),
        ("crs=EPSG:3857", "map coordinates in degrees"),
    ],
)
def test_bad_query_parameters_are_named_with_the_rule(
    shared_demo: Engine, query: str, message: str
) -> None:
    client = _app(shared_demo).test_client()
    _login(client)
    response = client.get(f"/api/grids?{query}")
    assert response.status_code == 400
    assert message in response.get_json()["error"]["message"]


SQUARE = [[121.20, 28.50], [121.21, 28.50], [121.21, 28.51], [121.20, 28.51]]


def _ring(points: list[list[float]]) -> list[list[float]]:
    return [*points, points[0]]


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        (
            {"type": "Point", "coordinates": [121.2, 28.5]},
            "Wrong geometry type 'Point'",
        ),
        ({"type": "Polygon", "coordinates": [SQUARE]}, "is not closed"),
        (
            {
                "type": "Polygon",
                "coordinates": [[[121.2, 28.5], [121.21, 28.5], [121.2, 28.5]]],
            },
            "at least four",
        ),
        (
            {"type": "Polygon", "coordinates": [_ring([[221.2, 28.5], *SQUARE[1:]])]},
            "out of range",
        ),
        (
            {"type": "Polygon", "coordinates": [_ring([["121.2", 28.5], *SQUARE[1:]])]},
            "finite numbers",
        ),
        (
            {
                "type": "Polygon",
                "coordinates": [
                    _ring(
                        [
                            [121.20, 28.50],
                            [121.21, 28.51],
                            [121.21, 28.50],
                            [121.20, 28.51],
                        ]
                    )
                ],
            },
            "Self-intersection",
        ),
        ({"type": "Feature", "geometry": None}, "has no geometry"),
        ("not geojson", "must be a GeoJSON object"),
    ],
)
def test_malformed_geojson_is_refused_saying_what_is_wrong(
    shape: Any, message: str
) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        polygon_from_geojson(shape)


def test_a_preview_with_bad_geojson_is_a_400_not_a_crash(demo_engine: Engine) -> None:
    client = _app(demo_engine, WTF_CSRF_ENABLED=False).test_client()
    _login(client)
    body = '{"operation": "replace_polygon", "grid": "G01-01", "polygon": '
    nan = body + '{"type": "Polygon", "coordinates": [[[NaN, 28.5]]]}}'
    vertices = [[121.2 + i * 1e-6, 28.5] for i in range(MAX_VERTICES + 10)]
    huge = {
        "operation": "replace_polygon",
        "grid": "G01-01",
        "polygon": {"type": "Polygon", "coordinates": [_ring(vertices)]},
    }

    responses = {
        "nan": client.post(
            "/api/edits/preview", data=nan, content_type="application/json"
        ),
        "not json": client.post(
            "/api/edits/preview", data=body, content_type="application/json"
        ),
        "too many vertices": client.post("/api/edits/preview", json=huge),
        "too large": client.post(
            "/api/edits/preview",
            data=json.dumps({"pad": "x" * 1_200_000}),
            content_type="application/json",
        ),
    }

    messages = {k: r.get_json()["error"]["message"] for k, r in responses.items()}
    assert {r.status_code for r in responses.values()} == {400}
    assert "NaN is not a number JSON allows" in messages["nan"]
    assert "not valid JSON" in messages["not json"]
    assert f"more than {MAX_VERTICES:,} vertices" in messages["too many vertices"]
    assert "accepts at most 1.0 MB" in messages["too large"]


def test_a_polygon_drawn_over_gcj02_tiles_is_stored_in_wgs84() -> None:
    lon, lat = convert_points(
        [121.20, 121.21, 121.21, 121.20], [28.50, 28.50, 28.51, 28.51], "wgs84", "gcj02"
    )
    drawn = {
        "type": "Polygon",
        "coordinates": [_ring([[x, y] for x, y in zip(lon, lat, strict=True)])],
    }

    polygon = polygon_from_geojson(drawn, "gcj02")

    expected = shapely.box(121.20, 28.50, 121.21, 28.51)
    assert polygon.symmetric_difference(expected).area < 1e-12
    # the drawn coordinates themselves lie about 500 m away
    assert (
        shapely.Polygon(drawn["coordinates"][0]).distance(shapely.Point(121.2, 28.5))
        > 0.002
    )


# --- log-in, sessions, CSRF -------------------------------------------------


def test_failed_logins_are_rate_limited_then_refused_even_with_the_right_password(
    demo_engine: Engine,
) -> None:
    client = _app(demo_engine, LOGIN_MAX_FAILURES=3).test_client()
    bad = {"username": "am_b01_01", "password": "wrong"}

    statuses = [client.post("/api/login", json=bad).status_code for _ in range(3)]
    locked = client.post(
        "/api/login", json={"username": "am_b01_01", "password": "geogrid-demo"}
    )
    other_user = client.post(
        "/api/login", json={"username": "am_b01_02", "password": "geogrid-demo"}
    )

    assert statuses == [401, 401, 401]
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert "wait" in locked.get_json()["error"]["message"]
    assert other_user.status_code == 200
    with demo_engine.connect() as conn:
        failures = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'login_failed'")
        ).scalar_one()
    assert failures == 3


def test_passwords_are_stored_as_hashes(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        stored = conn.execute(
            text("SELECT password_hash FROM staff WHERE username = 'ho_01'")
        ).scalar_one()
    assert "geogrid-demo" not in stored and stored.startswith(("scrypt:", "pbkdf2:"))


def test_an_idle_session_expires(demo_engine: Engine) -> None:
    client = _app(demo_engine, SESSION_IDLE_MINUTES=0.005).test_client()
    _login(client)
    assert client.get("/api/me").status_code == 200

    time.sleep(0.5)
    expired = client.get("/api/me")

    assert expired.status_code == 401
    assert "session expired" in expired.get_json()["error"]["message"]


def test_posts_need_the_csrf_token(demo_engine: Engine) -> None:
    client = _app(demo_engine).test_client()
    token = _login(client)
    body = {"operation": "rollback", "grid": "G01-01", "version": 1}

    without = client.post("/api/edits/preview", json=body)
    with_token = client.post(
        "/api/edits/preview", json=body, headers={"X-CSRFToken": token}
    )

    assert without.status_code == 400
    assert without.get_json()["error"]["code"] == "csrf_failed"
    assert "X-CSRFToken" in without.get_json()["error"]["message"]
    # past the token check, the core answers: version 1 is the current shape
    assert "changes no grid" in with_token.get_json()["error"]["message"]


def test_a_visit_recorded_through_the_api_comes_back_checked(
    demo_engine: Engine,
) -> None:
    client = _app(demo_engine).test_client()
    token = _login(client, "am_b01_01")
    with demo_engine.connect() as conn:
        household_id, lon, lat = conn.execute(
            text(
                "SELECT h.id, ST_X(h.geom), ST_Y(h.geom) FROM household h "
                "JOIN grid g ON g.id = h.grid_id WHERE g.code = 'G01-01' "
                "ORDER BY h.id LIMIT 1"
            )
        ).one()
    body = {
        "household_id": household_id,
        "purpose": "marketing",
        "outcome": "interested",
        "lon": lon,
        "lat": lat,
        "accuracy_m": 8,
    }

    created = client.post("/api/visits", json=body, headers={"X-CSRFToken": token})
    wrong = client.post(
        "/api/visits",
        json={**body, "household_id": "12"},
        headers={"X-CSRFToken": token},
    )
    listed = client.get("/api/visits?days=1").get_json()

    assert created.status_code == 201
    assert created.get_json()["verdict"] == "on_site"
    first = listed["visits"][0]
    assert first["id"] == created.get_json()["id"]
    assert first["verdict"] == "on_site" and first["staff"] == "am_b01_01"
    assert listed["summary"][0]["on_site"] >= 1
    assert wrong.status_code == 400
    message = wrong.get_json()["error"]["message"]
    assert message == "Field 'household_id' must be a whole number; received '12'."


def test_the_login_page_is_chinese_by_default_and_switches_to_english(
    engine: Engine,
) -> None:
    client = _app(engine).test_client()
    chinese = client.get("/login").get_data(as_text=True)
    english = client.get("/login?lang=en").get_data(as_text=True)
    remembered = client.get("/login").get_data(as_text=True)

    assert "用户名" in chinese and 'lang="zh-CN"' in chinese
    assert "User name" in english and 'lang="en"' in english
    assert "User name" in remembered


def test_pages_and_scripts_use_only_catalogued_messages() -> None:
    used: set[str] = set()
    for template in (WEB / "templates").glob("*.html"):
        used |= set(re.findall(r"_\('([a-z0-9_.]+)'\)", template.read_text()))
    for script in (WEB / "static" / "geogrid").glob("*.js"):
        used |= set(re.findall(r'\bt\("([a-z0-9_.]+)"', script.read_text()))

    # keys built in scripts, like t("product." + p), need every value
    prefixes = {key for key in used if key.endswith(".")}
    values = {
        "product.": PRODUCTS,
        "status.": ("customer", "potential"),
        "metric.": TARGET_METRICS,
        "liaison.": LIAISON_KINDS,
        "operation.": (
            "create",
            "import",
            "move_villages",
            "replace_polygon",
            "rollback",
            "adopt_proposal",
        ),
        "reason.": REASONS,
        "violation.": (LATE, NOT_AVAILABLE, OVERTIME, OVER_QUOTA),
        "visit.": VERDICTS,
        "purpose.": VISIT_PURPOSES,
        "outcome.": VISIT_OUTCOMES,
    }
    assert len(used) > 60
    assert prefixes == set(values)
    expected = (used - prefixes) | {p + v for p in prefixes for v in values[p]}
    assert expected - set(MESSAGES) == set()
    assert all(zh and en for zh, en in MESSAGES.values())


def test_no_page_may_fetch_from_another_host(demo_engine: Engine) -> None:
    client = _app(demo_engine).test_client()
    _login(client)
    policy = client.get("/grids").headers["Content-Security-Policy"]

    assert "connect-src 'self'" in policy
    assert "script-src 'self' 'unsafe-inline'" in policy
    assert "img-src 'self' data: blob:;" in policy


def test_configured_tiles_are_the_one_other_origin_allowed(demo_engine: Engine) -> None:
    tiles = Config(
        tile_url="https://t{s}.tiles.bank.example/{z}/{x}/{y}.png", tile_crs="gcj02"
    )
    client = _app(demo_engine, GEOGRID=tiles).test_client()
    _login(client)

    page = client.get("/grids")
    wgs84 = client.get("/api/grids/G01-01/shape").get_json()
    gcj02 = client.get("/api/grids/G01-01/shape?crs=gcj02").get_json()

    assert (
        "img-src 'self' data: blob: https://*.tiles.bank.example"
        in page.headers["Content-Security-Policy"]
    )
    assert '"crs": "gcj02"' in page.get_data(as_text=True)
    shift = shapely.geometry.shape(gcj02["features"][0]["geometry"]).centroid.distance(
        shapely.geometry.shape(wgs84["features"][0]["geometry"]).centroid
    )
    assert 0.002 < shift < 0.01  # degrees: a few hundred metres, as GCJ-02 shifts


def test_tile_origin_reads_subdomain_templates() -> None:
    assert tile_origin("") == ""
    assert (
        tile_origin("https://{s}.tile.osm.org/{z}/{x}/{y}.png")
        == "https://*.tile.osm.org"
    )
    assert (
        tile_origin("http://10.0.0.5:8080/tiles/{z}/{x}/{y}.png")
        == "http://10.0.0.5:8080"
    )


def test_session_lengths_come_from_the_settings_and_are_checked(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEOGRID_SESSION_HOURS", "2")
    monkeypatch.setenv("GEOGRID_SESSION_IDLE_MINUTES", "10")
    app = create_app({"ENGINE": engine})
    assert app.config["PERMANENT_SESSION_LIFETIME"].total_seconds() == 2 * 3600
    assert app.config["SESSION_IDLE_MINUTES"] == 10

    monkeypatch.setenv("GEOGRID_SESSION_HOURS", "forever")
    with pytest.raises(InvalidInput, match=r"GEOGRID_SESSION_HOURS.*'forever'"):
        create_app({"ENGINE": engine})
