"""Coverage of the demo county finds what it plants; the commands write reports."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import click
import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, text

from geogrid.coverage import CoverageParameters, coverage_report, load_inputs
from geogrid.coverage.cli import coverage
from geogrid.coverage.report import CoverageReport
from geogrid.demo.generate import generate_county
from tests.conftest import Server


@pytest.fixture(scope="module")
def planted() -> dict[str, list[str]]:
    """The demo's planted villages (they do not depend on the household count)."""
    return generate_county(households=200, seed=7).planted


@pytest.fixture(scope="module")
def demo_db(pg_server: Server, demo_template: str) -> Iterator[Engine]:
    """A copy of the demo county shared by this module's tests."""
    name = f"geogrid_coverage_demo_{os.getpid()}"
    eng = create_engine(pg_server.create(name, template=demo_template))
    yield eng
    eng.dispose()
    pg_server.drop(name)


@pytest.fixture(scope="module")
def report(demo_db: Engine) -> CoverageReport:
    return coverage_report(load_inputs(demo_db), CoverageParameters())


def test_planted_blind_spots_lead_the_ranking(
    report: CoverageReport, planted: dict[str, list[str]]
) -> None:
    blind = set(planted["blind_spot_villages"])
    top = report.blind_spots.head(len(blind))
    assert set(top["village_code"]) == blind
    assert top["manager_username"].notna().all()
    assert top["grid_code"].notna().all()


def test_planted_blind_spots_hold_the_cold_spots(
    report: CoverageReport, planted: dict[str, list[str]]
) -> None:
    cold = report.layer("village_cold_spots")
    assert len(cold) >= 3
    assert set(cold["village_code"]) <= set(planted["blind_spot_villages"])

    # every cold H3 cell lies mostly in a planted blind-spot village
    cells = report.layer("cold_spots")
    assert len(cells) >= 3
    in_blind = report.households[
        report.households["h3"].isin(cells["h3"])
        & report.households["village_code"].isin(planted["blind_spot_villages"])
    ]
    assert len(in_blind) > 0.9 * cells["households"].sum()


def test_planted_leakage_and_unvisited_villages_are_flagged(
    report: CoverageReport, planted: dict[str, list[str]]
) -> None:
    leaking = set(report.layer("leakage_villages")["village_code"])
    assert set(planted["leakage_villages"]) <= leaking
    unvisited = set(report.layer("unvisited_villages")["village_code"])
    assert set(planted["unvisited_villages"]) <= unvisited
    assert report.summary["ungridded_households"] == 0
    assert report.ungridded_areas.empty


# --- the commands -------------------------------------------------------------------


def _commands(group: click.Group) -> list[str]:
    return sorted(group.commands)


@pytest.mark.parametrize("name", _commands(coverage))
def test_every_coverage_command_has_help(name: str) -> None:
    result = CliRunner().invoke(coverage, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "OUT" in result.output
    assert "--days" in result.output


@pytest.fixture
def runner(demo_db: Engine, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv(
        "GEOGRID_DATABASE_URL", demo_db.url.render_as_string(hide_password=False)
    )
    return CliRunner()


def test_blind_spots_command_writes_a_workbook_with_its_parameters(
    runner: CliRunner,
    demo_db: Engine,
    tmp_path: Path,
    planted: dict[str, list[str]],
) -> None:
    out = tmp_path / "blind.xlsx"
    result = runner.invoke(
        coverage, ["blind-spots", str(out), "--days", "90", "--permutations", "999"]
    )
    assert result.exit_code == 0, result.output

    sheets = pd.read_excel(out, sheet_name=None, dtype={"village_code": str})
    parameters = dict(zip(*sheets["parameters"].T.to_numpy(), strict=True))
    assert str(parameters["days"]) == "90"
    assert str(parameters["permutations"]) == "999"
    top = sheets["blind_spots"].head(len(planted["blind_spot_villages"]))
    assert set(top["village_code"]) == set(planted["blind_spot_villages"])

    with demo_db.connect() as conn:
        detail = conn.execute(
            text(
                "SELECT detail FROM audit_log WHERE object_type = 'coverage' "
                "AND detail -> 'files' ? 'blind.xlsx'"
            )
        ).scalar_one()
    assert detail["files"] == ["blind.xlsx"]
    assert detail["parameters"]["days"] == 90


def test_ungridded_command_writes_geojson_with_parameters(
    runner: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "gaps.geojson"
    result = runner.invoke(coverage, ["ungridded", str(out), "--permutations", "99"])
    assert result.exit_code == 0, result.output
    for layer in ("ungridded_areas", "ungridded_households"):
        collection = json.loads((tmp_path / f"gaps-{layer}.geojson").read_text())
        assert collection["layer"] == layer
        assert collection["features"] == []
        assert collection["parameters"]["permutations"] == 99


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--days", "-3"], "Parameter 'days' must be an integer from 1 to 3,650"),
        (["--resolution", "16"], "Parameter 'resolution' must be an integer from 0"),
        (["--branch", "B99"], "Parameter 'branch' must be the code of a branch"),
        (["--working-age", "18"], "Option --working-age must be two whole ages"),
    ],
)
def test_bad_options_end_with_one_clear_line(
    runner: CliRunner, tmp_path: Path, arguments: list[str], message: str
) -> None:
    result = runner.invoke(coverage, ["report", str(tmp_path / "r.gpkg"), *arguments])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "r.gpkg").exists()
