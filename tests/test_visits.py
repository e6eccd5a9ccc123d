"""Visit lists with reasons and their routes on the demo county's roads."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from geogrid.cli import main
from geogrid.errors import InvalidInput
from geogrid.routes import RoadNetwork
from geogrid.visits import VisitFilter, plan_day, start_point, travel_model, visit_list


def _grid(engine: Engine) -> str:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT g.code FROM grid g JOIN household h ON h.grid_id = g.id "
                "WHERE g.level = 2 GROUP BY g.code ORDER BY count(*) DESC LIMIT 1"
            )
        ).scalar_one()


def test_filters_combine_and_every_row_says_why(demo_engine: Engine) -> None:
    grid = _grid(demo_engine)
    wanted = VisitFilter(
        grids=[grid],
        status="potential",
        not_visited_days=180,
        lacking_product="mobile_banking",
    )

    households = visit_list(demo_engine, wanted, today=dt.date.today())

    assert len(households) > 0
    assert (households["grid"] == grid).all()
    assert not households["is_customer"].fillna(False).any()
    assert households["reason"].str.contains("潜在客户").all()
    assert households["reason"].str.contains("未走访").all()
    assert households["reason"].str.contains("未开通手机银行").all()
    stale = households["days_since_visit"]
    assert (stale.isna() | (stale > 180)).all()
    assert households["priority"].is_monotonic_decreasing


def test_a_list_nobody_matches_is_empty_not_an_error(demo_engine: Engine) -> None:
    wanted = VisitFilter(
        grids=[_grid(demo_engine)],
        status="potential",
        not_visited_days=180,
        campaign=["NO-SUCH-HOUSEHOLD"],
    )

    households = visit_list(demo_engine, wanted, today=dt.date.today())

    assert households.empty
    assert {"reason", "priority"} <= set(households.columns)


def test_a_users_grids_limit_the_list(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        some, other = conn.execute(
            text("SELECT id FROM grid WHERE level = 2 ORDER BY id LIMIT 2")
        ).scalars()
    listed = visit_list(demo_engine, VisitFilter(), grid_ids=[some])
    with demo_engine.connect() as conn:
        expected = conn.execute(
            text("SELECT count(*) FROM household WHERE grid_id = :g"), {"g": some}
        ).scalar_one()
    assert len(listed) == expected
    assert other not in set(listed["grid"])


def test_day_route_on_the_demo_roads(demo_engine: Engine) -> None:
    grid = _grid(demo_engine)
    households = visit_list(
        demo_engine, VisitFilter(grids=[grid], status="potential")
    ).head(30)
    start = start_point(demo_engine, "branch", grid)

    plan = plan_day(demo_engine, households, start, date=dt.date(2026, 12, 7))

    assert isinstance(travel_model(demo_engine), RoadNetwork)
    assert plan.travel_model == "road_network"
    assert 0 < len(plan.stops) <= 12
    assert len(plan.stops) + len(plan.unscheduled) == len(households)
    assert all(u.reason for u in plan.unscheduled)
    assert plan.total_distance_m <= plan.baseline.distance_m * 1.05
    arrivals = [s.arrival for s in plan.stops]
    assert arrivals == sorted(arrivals)


def test_bad_filters_are_explained(demo_engine: Engine) -> None:
    with pytest.raises(InvalidInput, match="not_visited_days must be between 1"):
        visit_list(demo_engine, VisitFilter(not_visited_days=-3))
    with pytest.raises(InvalidInput, match="lacking_product must be one of"):
        visit_list(demo_engine, VisitFilter(lacking_product="gold"))


def test_visits_commands_write_a_gpx(
    demo_engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(
        "GEOGRID_DATABASE_URL", demo_engine.url.render_as_string(hide_password=False)
    )
    grid = _grid(demo_engine)
    runner = CliRunner()
    result = runner.invoke(
        main, ["visits", "list", "--grid", grid, "--status", "potential"]
    )
    assert result.exit_code == 0, result.output
    assert "潜在客户" in result.output

    gpx = tmp_path / "route.gpx"
    result = runner.invoke(
        main,
        [
            "visits",
            "plan",
            "--grid",
            grid,
            "--status",
            "potential",
            "--date",
            "2026-12-07",
            "--output",
            str(gpx),
            "--crs",
            "gcj02",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "visits," in result.output
    root = ET.parse(gpx).getroot()
    assert any(el.tag.endswith("wpt") for el in root.iter())
