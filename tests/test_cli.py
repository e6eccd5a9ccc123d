"""The geogrid command line: help everywhere, imports, exports, clear errors."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from geogrid.auth import authenticate
from geogrid.cli import main
from geogrid.errors import NotAuthenticated
from tests import factories


def _commands(
    group: click.Group, prefix: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found.extend(_commands(command, (*prefix, name)))
    return found


@pytest.fixture
def runner(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv(
        "GEOGRID_DATABASE_URL", engine.url.render_as_string(hide_password=False)
    )
    return CliRunner()


@pytest.mark.parametrize("path", _commands(main))
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: main" in result.output or "Usage: geogrid" in result.output
    assert len(result.output.splitlines()) > 3


def test_import_and_export_from_the_command_line(
    runner: CliRunner, engine: Engine, tmp_path: Path
) -> None:
    villages = factories.write_geojson(factories.villages_gdf(), tmp_path / "v.json")
    result = runner.invoke(
        main,
        ["import", "boundaries", str(villages), "--level", "village", "--crs", "wgs84"],
    )
    assert result.exit_code == 0, result.output
    assert "64 stored" in result.output

    rows = factories.household_rows(4)
    rows.loc[0, "身份证号"] = "123"
    rows.to_csv(tmp_path / "hh.csv", index=False, encoding="gbk")
    result = runner.invoke(main, ["import", "households", str(tmp_path / "hh.csv")])
    assert result.exit_code == 0, result.output
    assert "7 stored" in result.output and "1 rejected" in result.output

    with engine.connect() as conn:
        batch = conn.execute(text("SELECT max(id) FROM import_batch")).scalar_one()
    out = tmp_path / "rejects.xlsx"
    result = runner.invoke(main, ["import", "rejects", str(batch), str(out)])
    assert result.exit_code == 0 and out.exists()

    result = runner.invoke(
        main, ["export", "households", str(tmp_path / "hh.gpkg"), "--crs", "gcj02"]
    )
    assert result.exit_code == 0, result.output
    assert "Wrote 4 households" in result.output


def test_domain_errors_print_one_line_and_exit_2(
    runner: CliRunner, tmp_path: Path
) -> None:
    villages = factories.write_geojson(factories.villages_gdf(), tmp_path / "v.json")
    result = runner.invoke(
        main,
        ["import", "boundaries", str(villages), "--level", "village", "--crs", "gcj2"],
    )
    assert result.exit_code == 2
    assert "error:" in result.output and "gcj2" in result.output
    assert "Traceback" not in result.output


def test_head_office_sets_a_users_password_from_the_command_line(
    demo_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "GEOGRID_DATABASE_URL", demo_engine.url.render_as_string(hide_password=False)
    )
    runner = CliRunner()
    listed = runner.invoke(main, ["users", "list", "--role", "planner"])
    assert listed.exit_code == 0, listed.output
    assert "planner_01" in listed.output and "ho_01" not in listed.output

    changed = runner.invoke(
        main,
        ["users", "set-password", "am_b01_01", "--password-stdin"],
        input="a-new-secret-9\n",
    )
    assert changed.exit_code == 0, changed.output
    assert authenticate(demo_engine, "am_b01_01", "a-new-secret-9").username == (
        "am_b01_01"
    )
    with pytest.raises(NotAuthenticated):
        authenticate(demo_engine, "am_b01_01", "geogrid-demo")
    with demo_engine.connect() as conn:
        audited = (
            conn.execute(
                text("SELECT object_id FROM audit_log WHERE action = 'set_password'")
            )
            .scalars()
            .all()
        )
    assert audited == ["am_b01_01"]

    short = runner.invoke(
        main, ["users", "set-password", "am_b01_01", "--password-stdin"], input="x\n"
    )
    assert short.exit_code == 2 and "at least 8 characters" in short.output
    nobody = runner.invoke(
        main,
        ["users", "set-password", "no_such_user", "--password-stdin"],
        input="long-enough-1\n",
    )
    assert nobody.exit_code == 2 and "no_such_user" in nobody.output


def test_visit_checks_are_written_per_visit_and_audited(
    demo_engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import openpyxl
    import pyogrio

    monkeypatch.setenv(
        "GEOGRID_DATABASE_URL", demo_engine.url.render_as_string(hide_password=False)
    )
    runner = CliRunner()
    with demo_engine.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT count(*) FROM visit v JOIN household h ON h.id = v.household_id"
                " JOIN grid g ON g.id = h.grid_id WHERE g.code LIKE 'G07-%' AND "
                "v.visited_at >= now() - interval '400 days'"
            )
        ).scalar_one()

    whole = runner.invoke(
        main, ["visits", "check", str(tmp_path / "v.xlsx"), "--days", "366"]
    )
    branch = runner.invoke(
        main,
        [
            "visits",
            "check",
            str(tmp_path / "v.gpkg"),
            "--days",
            "366",
            "--as",
            "bh_b07",
        ],
    )
    nobody = runner.invoke(
        main, ["visits", "check", str(tmp_path / "x.csv"), "--as", "nobody"]
    )

    assert whole.exit_code == 0, whole.output
    book = openpyxl.load_workbook(tmp_path / "v.xlsx", read_only=True)
    header = [c.value for c in next(book.active.iter_rows(max_row=1))]
    book.close()
    assert {"household_no", "staff", "distance_m", "verdict"} <= set(header)
    assert "away (" in whole.output  # one line per member of staff
    assert branch.exit_code == 0, branch.output
    points = pyogrio.read_dataframe(tmp_path / "v.gpkg")
    assert points["grid_code"].str.startswith("G07-").all()
    assert len(points) == stored
    assert nobody.exit_code == 2
    assert "No active member of staff is called 'nobody'" in nobody.output
    with demo_engine.connect() as conn:
        audited = conn.execute(
            text(
                "SELECT actor, object_id FROM audit_log WHERE action = 'export' "
                "AND object_type = 'visit_checks' ORDER BY id"
            )
        ).all()
    assert [tuple(a) for a in audited] == [("cli", "xlsx"), ("bh_b07", "gpkg")]
