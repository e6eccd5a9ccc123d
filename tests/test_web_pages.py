"""Pages: each role lands on its own, pages are shells, errors read as pages."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine

from web.app import create_app


@pytest.fixture(scope="module")
def shared_demo(pg_server: Any, demo_template: str) -> Iterator[Engine]:
    """One demo database for the module's tests, which only read it."""
    name = f"geogrid_pages_{os.getpid()}"
    engine = create_engine(pg_server.create(name, template=demo_template))
    yield engine
    engine.dispose()
    pg_server.drop(name)


def _client(engine: Engine, username: str | None) -> FlaskClient:
    app = create_app({"ENGINE": engine, "TESTING": True, "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    if username:
        client.post("/login", data={"username": username, "password": "geogrid-demo"})
    return client


@pytest.mark.parametrize(
    ("username", "landing"),
    [
        (None, "/login"),
        ("ho_01", "/grids"),
        ("bh_b02", "/grids"),
        ("am_b01_01", "/nearby"),
        ("planner_01", "/blindspots"),
    ],
)
def test_each_role_lands_on_its_page(
    shared_demo: Engine, username: str | None, landing: str
) -> None:
    response = _client(shared_demo, username).get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == landing


def test_the_title_carries_the_bank_name_when_one_is_set(shared_demo: Engine) -> None:
    from geogrid.settings import Config

    plain = _client(shared_demo, None).get("/login").get_data(as_text=True)
    app = create_app(
        {
            "ENGINE": shared_demo,
            "TESTING": True,
            "GEOGRID": Config(bank_name="东林农商银行"),
        }
    )
    named = app.test_client().get("/login").get_data(as_text=True)

    assert "<title>登录 · 网格化营销管理</title>" in plain
    assert "农商银行" not in plain.split("</h1>")[0]
    assert "<h1>东林农商银行 · 网格化营销管理</h1>" in named


def test_the_login_page_lists_demo_users_only_on_the_demo_county(
    shared_demo: Engine, engine: Engine
) -> None:
    demo = _client(shared_demo, None).get("/login").get_data(as_text=True)
    empty = _client(engine, None).get("/login").get_data(as_text=True)

    assert "ho_01" in demo and "geogrid-demo" in demo
    assert "geogrid-demo" not in empty


def test_a_wrong_password_shows_the_form_again_with_a_message(
    shared_demo: Engine,
) -> None:
    client = _client(shared_demo, None)
    response = client.post("/login", data={"username": "ho_01", "password": "nope"})
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)


def test_a_login_returns_to_the_page_asked_for_but_never_elsewhere(
    shared_demo: Engine,
) -> None:
    client = _client(shared_demo, None)
    asked = client.get("/blindspots")
    credentials = {"username": "ho_01", "password": "geogrid-demo"}
    back = client.post("/login", data={**credentials, "next": "/blindspots"})
    offsite = _client(shared_demo, None).post(
        "/login", data={**credentials, "next": "//evil.example/"}
    )

    assert asked.headers["Location"] == "/login?next=/blindspots"
    assert back.headers["Location"] == "/blindspots"
    assert offsite.headers["Location"] == "/grids"


@pytest.mark.parametrize(
    "page", ["/grids", "/nearby", "/design", "/blindspots", "/routes"]
)
def test_pages_are_shells_that_load_their_data_from_the_api(
    shared_demo: Engine, page: str
) -> None:
    html = _client(shared_demo, "ho_01").get(page).get_data(as_text=True)

    # the map and its scripts, served locally; no features inside the page:
    # the only coordinates are the map's centre and bounds
    coordinates = re.findall(r"\b(?:121|28)\.\d{4,}", html)
    assert "/static/vendor/leaflet/dist/leaflet.js" in html
    assert "https://" not in html and "http://" not in html
    assert len(coordinates) <= 6
    assert len(html) < 60_000


def test_the_menu_lists_what_the_role_may_open(shared_demo: Engine) -> None:
    manager = _client(shared_demo, "am_b01_01").get("/nearby").get_data(as_text=True)
    planner = _client(shared_demo, "planner_01").get("/grids").get_data(as_text=True)

    assert 'href="/nearby"' in manager and 'href="/design"' not in manager
    assert 'href="/blindspots"' in planner and 'href="/design"' in planner
    # read-only roles get no edit tools on the grid map
    assert "leaflet-geoman" not in planner


def test_a_refused_page_is_a_page_in_the_users_language(shared_demo: Engine) -> None:
    client = _client(shared_demo, "am_b01_01")
    response = client.get("/design?lang=en", headers={"Accept": "text/html"})

    assert response.status_code == 403
    assert response.mimetype == "text/html"
    assert "may not design grids" in response.get_data(as_text=True)


# what Chromium 156 sends when it opens a page
CHROMIUM_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/jxl,image/avif,"
    "image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)


def test_a_browser_opening_a_missing_page_gets_a_page_and_the_api_json(
    shared_demo: Engine,
) -> None:
    client = _client(shared_demo, "ho_01")
    page = client.get("/no-such-page", headers={"Accept": CHROMIUM_ACCEPT})
    api = client.get("/api/no-such-endpoint", headers={"Accept": CHROMIUM_ACCEPT})
    script = client.get("/no-such-page", headers={"Accept": "application/json"})

    assert page.status_code == 404 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "/no-such-page" in html
    assert "<h1>404 · 未找到</h1>" in html and "返回首页" in html
    assert api.status_code == 404 and api.get_json()["error"]["code"] == "not_found"
    assert script.mimetype == "application/json"


def test_english_pages_and_scripts_get_english_text(shared_demo: Engine) -> None:
    html = _client(shared_demo, "ho_01").get("/grids?lang=en").get_data(as_text=True)
    assert "Grid map" in html and "Click a grid to see its profile" in html
    assert '"nav.grids": "Grid map"' in html
