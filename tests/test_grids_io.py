"""Grids in and out of files, and the grids commands."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from geogrid.cli import main
from geogrid.crs import convert_gdf
from geogrid.errors import InvariantViolation
from geogrid.grids.io import export_grids, grids_frame, import_grids
from tests.test_grids_edit import _border_village


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".shp"])
def test_export_carries_posts_liaison_and_targets(
    demo_engine: Engine, tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"grids{suffix}"
    count = export_grids(demo_engine, path, actor="ho_01")
    back = gpd.read_file(path)
    expected = grids_frame(demo_engine)
    assert count == len(back) == len(expected)
    level2 = back[back["level"] == 2]
    assert level2["post_a"].notna().all()
    assert (level2["liaison_n"] >= 1).all()
    assert level2["t_deposits"].notna().sum() == len(level2) - 1  # one planted gap


def test_xlsx_export_has_a_sheet_per_fixed(demo_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "grids.xlsx"
    export_grids(demo_engine, path)
    book = openpyxl.load_workbook(path, read_only=True)
    sheets = book.sheetnames
    book.close()
    assert sheets == ["grids", "posts", "liaison", "targets"]


def test_reimporting_exported_grids_in_gcj02_keeps_the_tiling(
    demo_engine: Engine, tmp_path: Path
) -> None:
    gdf = grids_frame(demo_engine)[
        ["code", "name", "level", "branch", "parent", "geometry"]
    ]
    path = tmp_path / "grids_gcj.gpkg"
    convert_gdf(gdf, "wgs84", "gcj02").to_file(path, driver="GPKG")

    result = import_grids(demo_engine, path, crs="gcj02", actor="ho_01", reason="sync")

    assert result["grids"] == len(gdf)
    assert result["households_moved"] == 0
    with demo_engine.connect() as conn:
        versions = conn.execute(text("SELECT max(version) FROM grid")).scalar_one()
    assert versions == 2


def test_importing_overlapping_grids_is_refused_whole(
    demo_engine: Engine, tmp_path: Path
) -> None:
    _, _, target = _border_village(demo_engine)
    gdf = grids_frame(demo_engine)[
        ["code", "name", "level", "branch", "parent", "geometry"]
    ]
    grown = gdf.loc[gdf["code"] == target, "geometry"].iloc[0].buffer(0.003)
    gdf.loc[gdf["code"] == target, "geometry"] = grown
    path = tmp_path / "broken.geojson"
    gdf.to_file(path, driver="GeoJSON")

    with pytest.raises(InvariantViolation, match=r"overlap.*nothing was stored"):
        import_grids(demo_engine, path, crs="wgs84", actor="ho_01", reason="bad")

    with demo_engine.connect() as conn:
        assert conn.execute(text("SELECT max(version) FROM grid")).scalar_one() == 1


def test_grids_commands(demo_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "GEOGRID_DATABASE_URL", demo_engine.url.render_as_string(hide_password=False)
    )
    runner = CliRunner()
    village, _, target = _border_village(demo_engine)

    result = runner.invoke(
        main,
        ["grids", "move", village, "--to", target, "--yes", "--reason", "cli test"],
    )
    assert result.exit_code == 0, result.output
    assert "households moving" in result.output and "Committed" in result.output

    result = runner.invoke(main, ["grids", "history", target])
    assert "move_villages" in result.output and "cli test" in result.output

    result = runner.invoke(main, ["grids", "check"])
    assert result.exit_code == 1  # the demo plants four-fixed gaps
    assert "fewer than two liaison officers" in result.output
    assert "tiling" not in result.output

    result = runner.invoke(main, ["grids", "profile", target, "--json"])
    assert result.exit_code == 0 and '"penetration"' in result.output

    result = runner.invoke(main, ["grids", "move", village, "--to", "NOPE", "--yes"])
    assert result.exit_code == 2 and "does not exist" in result.output
