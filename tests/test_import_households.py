"""Importing households and people: encodings, formats, every reject, no loss."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from geogrid.crs import from_wgs84
from geogrid.errors import InvalidInput, WrongCRS
from geogrid.ingest import import_boundaries, import_households, rejects_frame
from tests import factories


@pytest.fixture
def geography(engine: Engine, tmp_path: Path) -> Engine:
    """The test county with its two towns and 64 villages loaded."""
    county = factories.write_feature(
        factories.county_polygon(),
        {"code": factories.COUNTY_CODE, "name": "青溪县"},
        tmp_path / "county.json",
    )
    import_boundaries(engine, county, level="county", crs="wgs84")
    towns = factories.write_geojson(factories.towns_gdf(), tmp_path / "t.geojson")
    import_boundaries(engine, towns, level="town", crs="wgs84")
    villages = factories.write_geojson(factories.villages_gdf(), tmp_path / "v.geojson")
    import_boundaries(engine, villages, level="village", crs="wgs84")
    return engine


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def _write_csv(frame: pd.DataFrame, path: Path, encoding: str) -> Path:
    frame.to_csv(path, index=False, encoding=encoding)
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_in_each_encoding_excel_writes(
    geography: Engine, tmp_path: Path, encoding: str
) -> None:
    rows = factories.household_rows(10)
    path = _write_csv(rows, tmp_path / "hh.csv", encoding)

    report = import_households(geography, path)

    assert (report.rows_stored, report.rows_rejected) == (20, 0)
    with geography.connect() as conn:
        names = conn.execute(text("SELECT name FROM person ORDER BY id")).scalars()
        assert list(names) == rows["姓名"].tolist()


def test_xlsx_sheet_with_english_headers(geography: Engine, tmp_path: Path) -> None:
    rows = factories.household_rows(5).rename(
        columns={
            "户号": "household_no",
            "姓名": "name",
            "身份证号": "id_number",
            "手机号": "phone",
            "经度": "lon",
            "纬度": "lat",
            "村代码": "village_code",
            "客户状态": "status",
            "持有产品": "products",
            "他行存款": "deposit_other",
        }
    )
    path = tmp_path / "hh.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"说明": ["封面"]}).to_excel(writer, sheet_name="cover")
        rows.to_excel(writer, sheet_name="客户", index=False)

    report = import_households(geography, path, sheet="客户")

    assert report.rows_stored == 10
    with geography.connect() as conn:
        row = conn.execute(
            text(
                "SELECT p.status, p.products, p.deposit_other, h.geocode_level "
                "FROM person p JOIN household h ON h.id = p.household_id "
                "ORDER BY p.id LIMIT 1"
            )
        ).one()
    assert row.status == "customer"
    assert row.products == ["deposit", "mobile_banking"]
    assert float(row.deposit_other) == 1000.0
    assert row.geocode_level == "exact"


def test_unknown_sheet_names_the_sheets(geography: Engine, tmp_path: Path) -> None:
    path = tmp_path / "hh.xlsx"
    factories.household_rows(1).to_excel(path, sheet_name="客户", index=False)
    with pytest.raises(InvalidInput, match=r"'Sheet9' is not in hh.xlsx.*'客户'"):
        import_households(geography, path, sheet="Sheet9")


def test_each_bad_row_is_rejected_with_its_reason(
    geography: Engine, tmp_path: Path
) -> None:
    rows = factories.household_rows(12)
    bad = rows.copy()
    bad.loc[0, "身份证号"] = bad.loc[0, "身份证号"][:-1] + (
        "0" if bad.loc[0, "身份证号"][-1] != "0" else "1"
    )
    bad.loc[2, "手机号"] = "12345"
    bad.loc[4, "经度"] = "120.0"  # far outside the county
    bad.loc[6, "村代码"] = "331099100999"
    bad.loc[8, "姓名"] = ""
    bad.loc[10, "他行存款"] = "-5"
    bad.loc[12, "持有产品"] = "金条"
    bad.loc[14, "客户状态"] = "也许"
    bad.loc[16, "身份证号"] = bad.loc[15, "身份证号"]
    bad.loc[19, "经度"] = str(float(bad.loc[18, "经度"]) + 0.0001)
    path = _write_csv(bad, tmp_path / "bad.csv", "utf-8")

    report = import_households(geography, path)

    assert report.rows_total == 24
    assert report.rows_rejected == 10
    assert report.rows_stored == 14
    rejects = rejects_frame(geography, report.batch_id)
    reasons = dict(zip(rejects["行号 row"], rejects["原因 reason"], strict=True))
    # file row = frame index + 2 (row 1 holds the headers)
    assert "check digit" in reasons[2]
    assert "mobile number" in reasons[4]
    assert "outside the county" in reasons[6]
    assert "not a village in the store" in reasons[8]
    assert "name (姓名) is empty" in reasons[10]
    assert "non-negative amount" in reasons[12]
    assert "unknown product 金条" in reasons[14]
    assert "customer status" in reasons[16]
    assert reasons[18] == "same ID number as row 17"
    assert "was given at row 20 with a different" in reasons[21]
    # the kept row carries its original cells, to fix and import again
    assert rejects.loc[rejects["行号 row"] == 14, "持有产品"].item() == "金条"


def test_fixed_rejects_import_cleanly(geography: Engine, tmp_path: Path) -> None:
    rows = factories.household_rows(4)
    rows.loc[1, "手机号"] = "1380000"
    first = import_households(geography, _write_csv(rows, tmp_path / "a.csv", "utf-8"))
    assert first.rows_rejected == 1

    fixed = rejects_frame(geography, first.batch_id).drop(
        columns=["行号 row", "原因 reason"]
    )
    fixed["手机号"] = "13800001111"
    second = import_households(
        geography, _write_csv(fixed, tmp_path / "b.csv", "utf-8")
    )

    assert (second.rows_stored, second.rows_rejected) == (1, 0)
    assert _count(geography, "person") == 8


def test_same_file_twice_changes_nothing(geography: Engine, tmp_path: Path) -> None:
    path = _write_csv(factories.household_rows(15), tmp_path / "hh.csv", "gbk")
    import_households(geography, path)
    with geography.connect() as conn:
        before = conn.execute(
            text("SELECT id_number, updated_at FROM person ORDER BY id")
        ).all()

    again = import_households(geography, path)

    with geography.connect() as conn:
        after = conn.execute(
            text("SELECT id_number, updated_at FROM person ORDER BY id")
        ).all()
    assert (again.rows_stored, again.rows_unchanged) == (0, 30)
    assert before == after


def test_same_person_updates_never_duplicates(
    geography: Engine, tmp_path: Path
) -> None:
    rows = factories.household_rows(3)
    import_households(geography, _write_csv(rows, tmp_path / "a.csv", "utf-8"))
    changed = rows.iloc[[0]].copy()
    changed["手机号"] = "13999999999"
    changed = changed.drop(columns=["他行存款", "标签"])  # absent columns are kept

    report = import_households(
        geography, _write_csv(changed, tmp_path / "b.csv", "utf-8")
    )

    assert report.rows_stored == 1
    assert _count(geography, "person") == 6
    with geography.connect() as conn:
        phone, other = conn.execute(
            text("SELECT phone, deposit_other FROM person WHERE id_number = :i"),
            {"i": rows.loc[0, "身份证号"]},
        ).one()
    assert phone == "13999999999"
    assert float(other) == 1000.0


def test_gcj02_points_declared_wgs84_are_caught(
    geography: Engine, tmp_path: Path
) -> None:
    rows = factories.household_rows(30)
    lon, lat = from_wgs84(
        rows["经度"].astype(float).to_numpy(),
        rows["纬度"].astype(float).to_numpy(),
        "gcj02",
    )
    rows["经度"], rows["纬度"] = lon.round(6), lat.round(6)
    path = _write_csv(rows, tmp_path / "amap.csv", "utf-8")

    with pytest.raises(WrongCRS, match=r"amap.csv.*gcj02"):
        import_households(geography, path, crs="wgs84")
    assert _count(geography, "household") == 0

    report = import_households(geography, path, crs="gcj02")
    assert report.rows_stored == 60


def test_failure_midway_leaves_the_store_as_it_was(
    geography: Engine, tmp_path: Path
) -> None:
    import_households(
        geography, _write_csv(factories.household_rows(3), tmp_path / "a.csv", "utf-8")
    )
    with geography.begin() as conn:
        conn.execute(
            text(
                "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN IF NEW.name = '炸弹' THEN RAISE EXCEPTION 'disk full'; END IF; "
                "RETURN NEW; END $$"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER boom BEFORE INSERT ON person FOR EACH ROW "
                "EXECUTE FUNCTION boom()"
            )
        )
    rows = factories.household_rows(40, seed=2)
    rows["户号"] = "N" + rows["户号"]
    rows["身份证号"] = [factories.id_number(i, "19900101", "330100") for i in range(80)]
    rows.loc[79, "姓名"] = "炸弹"

    with pytest.raises(Exception, match="disk full"):
        import_households(geography, _write_csv(rows, tmp_path / "b.csv", "utf-8"))

    assert _count(geography, "household") == 3
    assert _count(geography, "person") == 6
    with geography.connect() as conn:
        status, message = conn.execute(
            text("SELECT status, message FROM import_batch ORDER BY id DESC LIMIT 1")
        ).one()
    assert status == "failed"
    assert message.startswith("Nothing was stored")


def test_missing_required_columns_are_named(geography: Engine, tmp_path: Path) -> None:
    rows = factories.household_rows(2).drop(columns=["身份证号"])
    path = _write_csv(rows, tmp_path / "x.csv", "utf-8")
    with pytest.raises(InvalidInput, match=r"x.csv lacks required columns: id_number"):
        import_households(geography, path)


def test_households_without_coordinates_are_kept_for_geocoding(
    geography: Engine, tmp_path: Path
) -> None:
    rows = factories.household_rows(3).drop(columns=["经度", "纬度"])
    report = import_households(geography, _write_csv(rows, tmp_path / "a.csv", "utf-8"))
    assert report.rows_stored == 6
    with geography.connect() as conn:
        located = conn.execute(
            text("SELECT count(*) FROM household WHERE geom IS NOT NULL")
        ).scalar_one()
    assert located == 0
