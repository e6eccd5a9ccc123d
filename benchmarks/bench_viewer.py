"""The viewer on a county of a million households: nearby query and page readiness.

Builds the demo county (default 1,000,000 households; a few minutes) in a
throwaway PostGIS, unless ``GEOGRID_BENCH_DATABASE_URL`` names a database
that already holds at least that many. Then, in the same run:

1. ``geogrid.nearby.nearby_households``: 2 km radius, a heatmap weighted by
   potential customers plus the 50 nearest, from many origins (branches,
   households in towns and in villages), as head office (every grid) and as
   an account manager (their grids); p50, p95 and max in milliseconds, and
   the query plan of one call.
2. Each map page in headless Chromium, from navigation until every layer it
   loads from the API is drawn (median of several cold loads), beside the
   same county embedded in the page the way folium does by default: the
   overview (grids, villages, towns and a density heatmap inside the HTML),
   and a heatmap of every household point.

    .venv/bin/python -m benchmarks.bench_viewer [--households N] [--runs R]

The machine is shared: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import folium
import numpy as np
from flask import Flask
from sqlalchemy import Engine, text

from benchmarks._db import bench_engine, machine
from geogrid.auth import User, authenticate
from geogrid.nearby import explain_nearby, nearby_households
from geogrid.overview import county_overview
from layers import localise_assets
from layers.base import base_map
from tests.browser import chromium, live_server
from web.app import create_app
from web.maps import overview_map


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def _households(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM household")).scalar_one())


@contextmanager
def county(households: int) -> Iterator[Engine]:
    """A store holding the demo county with ``households`` households."""
    from geogrid.demo.load import build_demo

    with bench_engine() as engine:
        if _households(engine) < households:
            started = time.perf_counter()
            build_demo(engine, households=households, boundaries_dir=None, replace=True)
            print(f"built the demo county in {time.perf_counter() - started:.0f} s")
        yield engine


# --- 1. the nearby query ----------------------------------------------------


def origins(engine: Engine, n: int) -> list[tuple[float, float]]:
    """Households drawn evenly from the county (so dense towns weigh more)."""
    with engine.connect() as conn:
        drawn = conn.execute(
            text(
                "SELECT ST_X(geom), ST_Y(geom) FROM household "
                "WHERE geom IS NOT NULL AND id % 97 = 0 ORDER BY md5(id::text) LIMIT :n"
            ),
            {"n": n},
        ).all()
    return [(float(x), float(y)) for x, y in drawn]


def manager_origins(engine: Engine, n: int) -> list[tuple[User, float, float]]:
    """Account managers, each at households of the grids where they hold a post."""
    with engine.connect() as conn:
        managers = (
            conn.execute(
                text(
                    "SELECT username FROM staff WHERE role = 'account_manager' "
                    "ORDER BY md5(username) LIMIT 30"
                )
            )
            .scalars()
            .all()
        )
        out = []
        per_manager = max(1, n // len(managers))
        for username in managers:
            user = authenticate(engine, username, "geogrid-demo")
            rows = conn.execute(
                text(
                    "SELECT ST_X(h.geom), ST_Y(h.geom) FROM household h "
                    "JOIN grid_post p ON p.grid_id = h.grid_id "
                    "WHERE p.staff_id = :s ORDER BY md5(h.id::text) LIMIT :k"
                ),
                {"s": user.id, "k": per_manager},
            ).all()
            out += [(user, float(x), float(y)) for x, y in rows]
    return out[:n]


def time_nearby(
    engine: Engine, calls: list[tuple[User, float, float]], weight: str
) -> dict[str, float]:
    """Wall-clock milliseconds of nearby_households (2 km heat + 50 nearest)."""
    user, lon, lat = calls[0]
    nearby_households(engine, user, lon, lat, weight=weight)  # warm up
    elapsed, found = [], []
    for user, lon, lat in calls:
        started = time.perf_counter()
        result = nearby_households(engine, user, lon, lat, weight=weight)
        elapsed.append((time.perf_counter() - started) * 1000)
        found.append(result.households)
    ms = np.array(elapsed)
    return {
        "calls": len(ms),
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "max_ms": float(ms.max()),
        "households_in_radius_median": float(np.median(found)),
        "households_in_radius_max": float(max(found)),
    }


def nearby_plan(engine: Engine, user: User, lon: float, lat: float) -> str:
    """EXPLAIN ANALYZE of the nearby statement, to show the GiST index at work."""
    rows = explain_nearby(engine, user, lon, lat, weight="potential")
    # conditions carry the circle's 129 vertices, keys the cell formula
    long = ("Filter:", "Cond:", "Key:")
    return "\n".join(f"    {r}" for r in rows if not any(k in r for k in long))


# --- 2. pages in Chromium ---------------------------------------------------

READY_JS = """(keys) => keys.every(k => window.geogrid && geogrid.loaded[k])"""
READY_AT_JS = """(keys) => Math.max(...keys.map(k => geogrid.loaded[k].at))
                 - performance.timeOrigin"""
BYTES_JS = """() => [...performance.getEntriesByType('navigation'),
                    ...performance.getEntriesByType('resource')]
                   .reduce((n, e) => n + e.encodedBodySize, 0)"""
PAINTED_JS = """() => new Promise(done => requestAnimationFrame(
                   () => requestAnimationFrame(() => done(performance.now()))))"""


def _login(context: Any, base: str, username: str) -> None:
    """Log the browser context in without loading a page (its cache stays cold)."""
    response = context.request.post(
        base + "/api/login", data={"username": username, "password": "geogrid-demo"}
    )
    assert response.ok, response.text()


def api_page_ms(
    browser: Any, base: str, username: str, path: str, keys: list[str], runs: int
) -> tuple[float, int]:
    """Median ms from navigation until the page's API layers are drawn; bytes."""
    times, size = [], 0
    for _ in range(runs):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        _login(context, base, username)
        page = context.new_page()
        page.goto(base + path, wait_until="commit")
        page.wait_for_function(READY_JS, arg=keys, timeout=120_000)
        loaded = page.evaluate(READY_AT_JS, keys)
        painted = page.evaluate(PAINTED_JS)
        times.append(max(loaded, painted))
        page.wait_for_load_state("networkidle")
        size = page.evaluate(BYTES_JS)
        context.close()
    return statistics.median(times), size


def embedded_page_ms(browser: Any, url: str, runs: int) -> float:
    """Median ms from navigation until an embedded page has loaded and painted."""
    times = []
    for _ in range(runs):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.goto(url, wait_until="load", timeout=300_000)
        times.append(page.evaluate(PAINTED_JS))
        context.close()
    return statistics.median(times)


def all_points_page(engine: Engine) -> str:
    """Every household as a point of folium's HeatMap, inside the page."""
    from folium.plugins import HeatMap

    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT ST_Y(geom), ST_X(geom) FROM household WHERE geom IS NOT NULL")
        ).all()
    points = np.round(np.array(rows, dtype=float), 6)
    centre = points.mean(axis=0)
    fmap = base_map((float(centre[0]), float(centre[1])), 11)
    HeatMap(points.tolist(), radius=8).add_to(fmap)
    folium.LayerControl().add_to(fmap)
    localise_assets(fmap)
    return fmap.get_root().render()


def timed(build: Callable[[], str]) -> tuple[str, float]:
    started = time.perf_counter()
    html = build()
    return html, (time.perf_counter() - started) * 1000


def bench_pages(engine: Engine, runs: int) -> Iterator[tuple[str, float, float, int]]:
    """(page, server ms to build the HTML or first API answer, ready ms, bytes)."""
    app: Flask = create_app({"ENGINE": engine})
    config = app.config["GEOGRID"]
    overview_html, overview_ms = timed(
        lambda: overview_map(county_overview(engine), config)
    )
    points_html, points_ms = timed(lambda: all_points_page(engine))
    # built on each request, as an app embedding its data would
    app.add_url_rule(
        "/bench/overview",
        "bench_overview",
        lambda: overview_map(county_overview(engine), config),
    )
    app.add_url_rule("/bench/points", "bench_points", lambda: all_points_page(engine))

    with live_server(app) as base, chromium() as browser:
        # warm the coverage report and a proposal: their first run is computed
        warm = app.test_client()
        warm.post("/api/login", json={"username": "ho_01", "password": "geogrid-demo"})
        started = time.perf_counter()
        warm.get("/api/coverage/summary")
        coverage_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        warm.get("/api/branches/B01/proposal")
        design_ms = (time.perf_counter() - started) * 1000

        pages = [
            (
                "/grids (API by bbox)",
                "ho_01",
                "/grids",
                ["grids", "villages", "density", "jurisdictions"],
                0.0,
            ),
            ("/nearby (API)", "am_b01_01", "/nearby", ["nearby", "grids"], 0.0),
            ("/visits (API, 30 days)", "ho_01", "/visits", ["checks", "grids"], 0.0),
            (
                "/blindspots (API, report cached)",
                "planner_01",
                "/blindspots",
                ["ranked", "hexes", "cold_spots", "blind_spots", "grids"],
                coverage_ms,
            ),
            (
                "/design (API, proposal cached)",
                "ho_01",
                "/design",
                ["proposal"],
                design_ms,
            ),
        ]
        for name, user, path, keys, server_ms in pages:
            ready, size = api_page_ms(browser, base, user, path, keys, runs)
            yield name, server_ms, ready, size
        embedded = (
            ("overview embedded (folium default)", "/bench/overview", overview_ms),
            ("every household embedded (folium HeatMap)", "/bench/points", points_ms),
        )
        for name, path, server_ms in embedded:
            html = overview_html if path.endswith("overview") else points_html
            ready = embedded_page_ms(browser, base + path, max(1, runs // 2))
            yield name, server_ms, ready, len(html.encode())


# --- main -------------------------------------------------------------------


def main() -> None:
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--origins", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5, help="page loads per page")
    args = parser.parse_args()

    print(f"# viewer benchmark; {machine()}; {_load()}")
    with county(args.households) as engine:
        print(f"households in the store: {_households(engine):,}")
        head_office = authenticate(engine, "ho_01", "geogrid-demo")
        county_calls = [(head_office, x, y) for x, y in origins(engine, args.origins)]
        manager_calls = manager_origins(engine, args.origins)
        cases = [
            ("account managers at their households", manager_calls, "potential"),
            ("account managers at their households", manager_calls, "households"),
            ("head office at households county-wide", county_calls, "potential"),
            ("head office at households county-wide", county_calls, "households"),
        ]

        print("\n## nearby_households: 2 km heatmap + the 50 nearest")
        print(
            "| user, origins | heat weight | calls | p50 ms | p95 ms | max ms "
            "| households in 2 km (median / max) |"
        )
        print("|---|---|---|---|---|---|---|")
        for label, calls, weight in cases:
            f = time_nearby(engine, calls, weight)
            print(
                f"| {label} | {weight} | {f['calls']:.0f} | {f['p50_ms']:.1f} "
                f"| {f['p95_ms']:.1f} | {f['max_ms']:.1f} "
                f"| {f['households_in_radius_median']:,.0f} / "
                f"{f['households_in_radius_max']:,.0f} |"
            )
        _, lon, lat = county_calls[0]
        print("\nplan of the nearby statement for head office at the first origin:")
        print(nearby_plan(engine, head_office, lon, lat))
        print(f"\n{_load()}")

        print(f"\n## pages in Chromium (median of {args.runs} cold loads, 1280x800)")
        print("ready: from navigation until every layer is drawn, server included;")
        print("embedded pages are built on each request, as an app embedding data is")
        print(
            "| page | server ms (build HTML, or first computation) | ready ms | bytes |"
        )
        print("|---|---|---|---|")
        for name, server_ms, ready_ms, size in bench_pages(engine, args.runs):
            server = f"{server_ms:,.0f}" if server_ms else "-"
            print(f"| {name} | {server} | {ready_ms:,.0f} | {size:,} |", flush=True)
    print(f"\n{_load()}")


if __name__ == "__main__":
    main()
