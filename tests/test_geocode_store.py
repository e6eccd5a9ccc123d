"""Geocoding against the store: the household table, files, corrections, CLI."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from geogrid.cli import main
from geogrid.geocode.store import (
    add_correction,
    geocode_file,
    geocode_households,
    load_geocoder,
)


def test_households_without_points_get_them_inside_their_village(
    demo_engine: Engine,
) -> None:
    with demo_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE household SET geom = NULL, geocode_level = NULL, "
                "grid_id = NULL WHERE id % 10 = 0"
            )
        )
        blanked = conn.execute(
            text("SELECT count(*) FROM household WHERE geom IS NULL")
        ).scalar_one()
        # households placed only approximately before are tried again too
        approximate = conn.execute(
            text("SELECT count(*) FROM household WHERE geocode_level = 'village'")
        ).scalar_one()

    summary, review = geocode_households(demo_engine)

    with demo_engine.connect() as conn:
        left, wrong_village, gridded = conn.execute(
            text(
                """
                SELECT count(*) FILTER (WHERE h.geom IS NULL),
                       count(*) FILTER (WHERE h.geocode_level IN
                                        ('village', 'group', 'door')
                                        AND NOT ST_Covers(v.geom, h.geom)),
                       count(*) FILTER (WHERE h.grid_id IS NOT NULL)
                FROM household h JOIN admin_unit v ON v.code = h.village_code
                WHERE h.id % 10 = 0
                """
            )
        ).one()
    assert summary["total"].sum() == blanked + approximate
    assert left <= 0.02 * blanked
    assert wrong_village <= 0.01 * blanked
    assert gridded == blanked - left
    assert len(review) >= left


def test_a_manual_correction_wins_on_every_later_run(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        address = conn.execute(
            text("SELECT address FROM household ORDER BY id LIMIT 1")
        ).scalar_one()
    before = load_geocoder(demo_engine).geocode(address)

    add_correction(demo_engine, address, 121.2, 28.5, level="door", actor="am_b01_01")

    after = load_geocoder(demo_engine).geocode(address)
    assert after.source == "correction"
    assert after.point == pytest.approx((121.2, 28.5))
    assert before.point != after.point


def test_geocoding_a_file_writes_results_summary_and_review(
    demo_engine: Engine, tmp_path: Path
) -> None:
    with demo_engine.connect() as conn:
        addresses = list(
            conn.execute(
                text("SELECT address FROM household ORDER BY id LIMIT 40")
            ).scalars()
        )
    addresses += ["", "hello world", "北京市朝阳区建国路1号"]
    source = tmp_path / "待定位.xlsx"
    pd.DataFrame({"客户": range(len(addresses)), "家庭住址": addresses}).to_excel(
        source, index=False
    )
    output = tmp_path / "out.xlsx"

    _, review = geocode_file(demo_engine, source, output)

    book = openpyxl.load_workbook(output, read_only=True)
    sheets = book.sheetnames
    book.close()
    assert sheets == ["results", "summary", "review"]
    results = pd.read_excel(output, sheet_name="results")
    assert len(results) == len(addresses)
    assert results["lon"].notna().sum() >= 38
    junk = results.tail(3)
    assert junk["lon"].isna().all() and junk["reason"].notna().all()
    assert len(review) >= 3


def test_geocode_commands(demo_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "GEOGRID_DATABASE_URL", demo_engine.url.render_as_string(hide_password=False)
    )
    with demo_engine.connect() as conn:
        address = conn.execute(
            text("SELECT address FROM household ORDER BY id LIMIT 1")
        ).scalar_one()
    result = CliRunner().invoke(main, ["geocode", "one", address])
    assert result.exit_code == 0, result.output
    assert "status: matched" in result.output
