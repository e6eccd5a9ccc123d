"""Visit checks on a county of a million households: geogrid against plain geopandas.

Builds the demo county (default 1,000,000 households; about 90 s) in a
throwaway PostGIS, unless ``GEOGRID_BENCH_DATABASE_URL`` names a database that
already holds at least that many. Then, for periods of 7, 30 and 180 days,
as head office (every grid):

- geogrid: ``checks_and_summary``, what the page asks for: every visit of
  the period judged once in the database, counted per member of staff, and
  the latest 300 recorded away (the rows the page draws);
- straightforward: ``read_postgis`` of the period's visits and of their
  households, a pandas merge, geodesic distances with ``pyproj.Geod``, the
  same verdict rule and a ``groupby`` per member of staff;

checks that both give the same counts, and prints seconds and the ratio.

    .venv/bin/python -m benchmarks.bench_visit_checks [--households N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
from sqlalchemy import Engine, text

from benchmarks._db import bench_engine, machine
from geogrid.auth import authenticate
from geogrid.visit_log import (
    MAX_TOLERANCE_M,
    ON_SITE_M,
    TIMEZONE,
    checks_and_summary,
    visit_summary,
)


def _households(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM household")).scalar_one())


def straightforward(engine: Engine, days: int) -> pd.DataFrame:
    """The same counts the plain way: read both layers, measure, group."""
    until = dt.datetime.combine(
        dt.datetime.now(ZoneInfo(TIMEZONE)).date() + dt.timedelta(days=1),
        dt.time(),
        ZoneInfo(TIMEZONE),
    )
    since = until - dt.timedelta(days=days)
    visits = gpd.read_postgis(
        text(
            "SELECT v.id, v.household_id, s.username AS staff, v.accuracy_m, v.geom "
            "FROM visit v JOIN staff s ON s.id = v.staff_id "
            "WHERE v.visited_at >= :since AND v.visited_at < :until"
        ),
        engine,
        params={"since": since, "until": until},
        geom_col="geom",
    )
    households = gpd.read_postgis(
        text(
            "SELECT id AS household_id, geom FROM household WHERE id IN "
            "(SELECT household_id FROM visit WHERE visited_at >= :since "
            "AND visited_at < :until)"
        ),
        engine,
        params={"since": since, "until": until},
        geom_col="geom",
    )
    both = visits.merge(households, on="household_id", suffixes=("", "_household"))
    _, _, distance_m = pyproj.Geod(ellps="WGS84").inv(
        both.geom.x, both.geom.y, both.geom_household.x, both.geom_household.y
    )
    tolerance = np.minimum(
        np.maximum(ON_SITE_M, both["accuracy_m"].fillna(0)), MAX_TOLERANCE_M
    )
    both["verdict"] = np.where(
        both.geom.is_empty | both.geom.isna(),
        "no_location",
        np.where(distance_m <= tolerance, "on_site", "away"),
    )
    counts = pd.crosstab(both["staff"], both["verdict"])
    return counts.reindex(columns=["on_site", "away"], fill_value=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=1_000_000)
    args = parser.parse_args()
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"# visit checks; {machine()}; load average {load}")

    with bench_engine() as engine:
        if _households(engine) < args.households:
            from geogrid.demo.load import build_demo

            started = time.perf_counter()
            build_demo(
                engine, households=args.households, boundaries_dir=None, replace=True
            )
            print(f"built the demo county in {time.perf_counter() - started:.0f} s")
        head_office = authenticate(engine, "ho_01", "geogrid-demo")
        visit_summary(engine, head_office, days=7)  # warm up

        print(f"households: {_households(engine):,}\n")
        print(
            "| period | visits | geogrid summary + away rows s "
            "| straightforward s | ratio | same counts |"
        )
        print("|---|---|---|---|---|---|")
        for days in (7, 30, 180):
            started = time.perf_counter()
            _, summary = checks_and_summary(
                engine, head_office, days=days, verdicts=["away"], limit=300
            )
            ours_s = time.perf_counter() - started
            started = time.perf_counter()
            plain = straightforward(engine, days)
            plain_s = time.perf_counter() - started

            ours = summary.set_index("staff")[["on_site", "away"]].sort_index()
            same = ours.equals(plain.sort_index().astype(ours.dtypes.iloc[0]))
            ratio = plain_s / ours_s
            print(
                f"| {days} days | {int(summary['visits'].sum()):,} | {ours_s:.2f} "
                f"| {plain_s:.2f} | {ratio:.1f}x | {same} |",
                flush=True,
            )
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"\nload average {load}")


if __name__ == "__main__":
    main()
