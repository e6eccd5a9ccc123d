"""The overview map of the demo county, served by the app, in headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.browser import chromium, live_server
from web.app import create_app

pytestmark = pytest.mark.browser


@pytest.fixture
def base_url(demo_engine: Engine) -> Iterator[str]:
    app = create_app({"ENGINE": demo_engine, "TESTING": True})
    with live_server(app) as url:
        yield url


def test_overview_map_draws_the_county_without_leaving_the_server(
    base_url: str,
) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        foreign: list[str] = []
        page.on(
            "request",
            lambda r: (
                foreign.append(r.url)
                if not r.url.startswith((base_url, "data:", "blob:"))
                else None
            ),
        )
        page.goto(base_url + "/")
        page.wait_for_selector(".leaflet-interactive", timeout=10_000)

        paths = page.locator("path.leaflet-interactive").count()
        legend = page.locator(".leaflet-control-layers").inner_text()
        heat = page.locator("canvas.leaflet-heatmap-layer").count()

    assert foreign == []
    # 12 towns + ~250 villages + the grids are drawn as SVG paths
    assert paths > 250
    assert "网格" in legend and "村/社区" in legend and "镇/街道" in legend
    assert heat == 1


def test_overview_without_a_county_says_how_to_load_one(engine: Engine) -> None:
    app = create_app({"ENGINE": engine, "TESTING": True})
    response = app.test_client().get("/")
    assert response.status_code == 404
    body = response.get_json()
    assert body["error"]["code"] == "not_found"
    assert "geogrid demo" in body["error"]["message"]
