"""Importing households and people: encodings, formats, every reject, no loss."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from geogrid.crs import from_wgs84
from geogrid.errors import InvalidInput, WrongCRS
from geogrid.ingest import (
    households,
    import_boundaries,
    import_households,
    rejects_frame,
)
from geogrid.store.summary import summary_mismatches
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


# -- large files: chunks, the COPY thread, index rebuilds, updates ------------------


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 40 rows, and index rebuilds from 10 new rows, as for a big file."""
    monkeypatch.setattr(households, "CHUNK_ROWS", 40)
    monkeypatch.setattr(households, "REBUILD_MIN_ROWS", 10)


def _keys_and_indexes(engine: Engine) -> list[tuple[str, str, str]]:
    """Every index and constraint of the tables an import may touch."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT tablename, indexname, indexdef FROM pg_indexes "
                "WHERE tablename IN ('household', 'person', 'visit', 'task') "
                "UNION ALL "
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                "FROM pg_constraint WHERE conrelid IN ('household'::regclass, "
                "'person'::regclass, 'visit'::regclass, 'task'::regclass) "
                "ORDER BY 1, 2, 3"
            )
        ).all()
    return [tuple(r) for r in rows]


def test_first_load_in_chunks_restores_keys_and_indexes(
    geography: Engine, tmp_path: Path, small_chunks: None
) -> None:
    rows = factories.household_rows(150)
    before = _keys_and_indexes(geography)

    report = import_households(
        geography, _write_csv(rows, tmp_path / "hh.csv", "utf-8-sig")
    )

    assert (report.rows_stored, report.rows_rejected) == (300, 0)
    assert _keys_and_indexes(geography) == before
    with geography.begin() as conn:
        stored = dict(
            conn.execute(
                text(
                    "SELECT p.id_number, h.household_no FROM person p "
                    "JOIN household h ON h.id = p.household_id"
                )
            ).all()
        )
        # ids came from the sequences: the next ordinary insert still fits
        conn.execute(
            text(
                "INSERT INTO household (household_no) VALUES ('after'); "
                "INSERT INTO person (household_id, name, id_number, status, "
                "products, labels, deposit_own, loan_own, deposit_other, loan_other) "
                "SELECT id, '后来', '330100199001010011', 'potential', '{}', '{}', "
                "0, 0, 0, 0 FROM household WHERE household_no = 'after'"
            )
        )
    assert stored == dict(zip(rows["身份证号"], rows["户号"], strict=True))
    assert _count(geography, "household") == 151


def test_failure_midway_through_a_chunked_load_changes_nothing(
    geography: Engine, tmp_path: Path, small_chunks: None
) -> None:
    first = factories.household_rows(3)
    import_households(geography, _write_csv(first, tmp_path / "a.csv", "utf-8"))
    with geography.begin() as conn:
        conn.execute(
            text(
                "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN IF NEW.name = '炸弹' THEN RAISE EXCEPTION 'disk full'; END IF; "
                "RETURN NEW; END $$; "
                "CREATE TRIGGER boom BEFORE INSERT ON person FOR EACH ROW "
                "EXECUTE FUNCTION boom()"
            )
        )
    before = _keys_and_indexes(geography)
    rows = factories.household_rows(150, seed=2)
    rows["户号"] = "N" + rows["户号"]
    rows["身份证号"] = [
        factories.id_number(i, "19900101", "330100") for i in range(len(rows))
    ]
    rows.loc[250, "姓名"] = "炸弹"  # in the eighth of nine chunks
    path = _write_csv(rows, tmp_path / "b.csv", "utf-8")

    with pytest.raises(Exception, match="disk full"):
        import_households(geography, path)

    assert (_count(geography, "household"), _count(geography, "person")) == (3, 6)
    assert _keys_and_indexes(geography) == before
    with geography.begin() as conn:
        status = conn.execute(
            text("SELECT status FROM import_batch ORDER BY id DESC LIMIT 1")
        ).scalar_one()
        conn.execute(text("DROP TRIGGER boom ON person"))
    assert status == "failed"
    # the same file goes in once the cause is gone
    assert import_households(geography, path).rows_stored == 300


def test_chunked_reimport_changes_nothing_and_updates_what_changed(
    geography: Engine, tmp_path: Path, small_chunks: None
) -> None:
    rows = factories.household_rows(150)
    path = _write_csv(rows, tmp_path / "hh.csv", "utf-8")
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
    assert (again.rows_stored, again.rows_unchanged) == (0, 300)
    assert after == before

    changed = rows.copy()
    changed.loc[7, "手机号"] = "13999999999"  # one person
    changed.loc[[20, 21], "地址"] = "青溪县新址1号"  # one household, both members
    newcomer = rows.iloc[[30]].copy()  # joins household H00015
    newcomer["姓名"] = "新人"
    newcomer["身份证号"] = factories.id_number(777, "20010101", "330100")
    changed = pd.concat([changed, newcomer], ignore_index=True)

    report = import_households(
        geography, _write_csv(changed, tmp_path / "changed.csv", "utf-8")
    )

    assert (report.rows_stored, report.rows_unchanged) == (4, 297)
    assert _count(geography, "person") == 301
    with geography.connect() as conn:
        phone = conn.execute(
            text("SELECT phone FROM person WHERE id_number = :i"),
            {"i": rows.loc[7, "身份证号"]},
        ).scalar_one()
        address = conn.execute(
            text("SELECT address FROM household WHERE household_no = 'H00010'")
        ).scalar_one()
        household = conn.execute(
            text(
                "SELECT h.household_no FROM person p JOIN household h "
                "ON h.id = p.household_id WHERE p.name = '新人'"
            )
        ).scalar_one()
    assert (phone, address, household) == ("13999999999", "青溪县新址1号", "H00015")


def test_bad_rows_in_later_chunks_keep_their_row_numbers(
    geography: Engine, tmp_path: Path, small_chunks: None
) -> None:
    rows = factories.household_rows(60)
    rows.loc[100, "身份证号"] = rows.loc[5, "身份证号"]  # a repeat, chunks apart
    rows.loc[101, ["户号", "地址"]] = ["H00002", "别处"]  # joins H00002, elsewhere
    rows.loc[119, "手机号"] = "12345"
    path = _write_csv(rows, tmp_path / "bad.csv", "utf-8")

    report = import_households(geography, path)

    assert (report.rows_stored, report.rows_rejected) == (117, 3)
    reasons = dict(
        zip(
            *rejects_frame(geography, report.batch_id)[["行号 row", "原因 reason"]]
            .to_dict("list")
            .values(),
            strict=True,
        )
    )
    assert reasons == {
        102: "same ID number as row 7",
        103: "household H00002 was given at row 6 with a different address or location",
        121: "mobile number must be 11 digits starting with 13 to 19",
    }


def test_cells_are_cleaned_and_stored_exactly(
    geography: Engine, tmp_path: Path
) -> None:
    rows = factories.household_rows(4)
    rows["他行存款"] = ["12.5万", "1,234.56元", "", "0.125", "7", "1e3", "3", "4"]
    rows.loc[0, "手机号"] = "+86 138-0000-1111"
    rows.loc[1, "身份证号"] = (
        rows.loc[1, "身份证号"][:6] + " " + rows.loc[1, "身份证号"][6:]
    )
    village = rows.loc[2, "村代码"]
    rows.loc[[2, 3], "村代码"] = village + ".0"  # as Excel writes numbers
    rows.loc[2, "标签"] = "低保户、外出务工 低保户"
    rows["性别"] = ["女", "", "男", "", "", "", "", ""]
    rows.loc[4, "姓名"] = "长" * 51
    rows.loc[5, "他行存款"] = "100000000000000"
    with_x = next(
        n for s in range(100) if (n := factories.id_number(s, "19800101")).endswith("X")
    )
    rows.loc[6, "身份证号"] = with_x.lower()
    path = _write_csv(rows, tmp_path / "hh.csv", "utf-8")

    report = import_households(geography, path)

    assert report.reasons == {
        "name (姓名) is longer than 50 characters": 1,
        "deposit_other must be less than 100,000,000,000,000 yuan": 1,
    }
    with geography.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT p.id_number, p.phone, p.gender, p.birth_date, p.status, "
                "p.products, p.labels, p.deposit_other, h.village_code "
                "FROM person p JOIN household h ON h.id = p.household_id "
                "ORDER BY p.id"
            )
        ).all()
    by_id = {r.id_number: r for r in stored}
    first = by_id[rows.loc[0, "身份证号"]]
    assert (first.phone, first.gender, float(first.deposit_other)) == (
        "13800001111",
        "F",
        125_000.0,
    )
    assert first.status == "customer" and first.products == [
        "deposit",
        "mobile_banking",
    ]
    second = by_id[rows.loc[1, "身份证号"].replace(" ", "")]
    assert float(second.deposit_other) == 1234.56
    assert second.birth_date.isoformat() == "1951-02-02"
    third = by_id[rows.loc[2, "身份证号"]]
    assert third.labels == ["低保户", "外出务工"]
    assert (third.village_code, float(third.deposit_other)) == (village, 0.0)
    assert float(by_id[rows.loc[3, "身份证号"]].deposit_other) == 0.12
    assert float(by_id[rows.loc[7, "身份证号"]].deposit_other) == 4.0
    assert with_x in by_id


def test_wrong_crs_is_caught_before_the_first_chunk_is_stored(
    geography: Engine,
    tmp_path: Path,
    small_chunks: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(households, "CRS_SAMPLE_HOUSEHOLDS", 10)
    rows = factories.household_rows(100)
    lon, lat = from_wgs84(
        rows["经度"].astype(float).to_numpy(),
        rows["纬度"].astype(float).to_numpy(),
        "gcj02",
    )
    rows["经度"], rows["纬度"] = lon.round(6), lat.round(6)
    path = _write_csv(rows, tmp_path / "amap.csv", "utf-8")

    with pytest.raises(WrongCRS, match=r"amap.csv.*gcj02"):
        import_households(geography, path, crs="wgs84")
    assert (_count(geography, "household"), _count(geography, "person")) == (0, 0)


def _summary(engine: Engine, household_no: str) -> tuple[int, ...]:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT members, customers, potential_members, "
                "customers_without_mobile_banking, customers_without_pos, "
                "deposit_other_total FROM household WHERE household_no = :n"
            ),
            {"n": household_no},
        ).one()
    return tuple(int(v) for v in row)


def test_imports_keep_the_household_summary_true(
    geography: Engine, tmp_path: Path, small_chunks: None
) -> None:
    """The heatmap's per-household figures follow every kind of import change."""
    rows = factories.household_rows(150)
    import_households(geography, _write_csv(rows, tmp_path / "a.csv", "utf-8"))
    with geography.connect() as conn:
        assert summary_mismatches(conn) == []
    # H00000: a customer with deposit and mobile banking, and a potential member
    assert _summary(geography, "H00000") == (2, 1, 1, 0, 1, 2000)

    changed = rows.copy()
    # the potential member of H00002 becomes a customer with POS only
    changed.loc[5, ["客户状态", "持有产品"]] = ["客户", "POS机"]
    changed.loc[5, "他行存款"] = "50000"
    # the second member of H00004 moves to H00006
    household_columns = ["户号", "地址", "村代码", "经度", "纬度"]
    changed.loc[9, household_columns] = rows.loc[12, household_columns].to_numpy()
    # a new person joins stored household H00008, a new household H09999
    # takes the second member of H00010
    newcomer = rows.iloc[[16]].copy()
    newcomer["身份证号"] = factories.id_number(778, "19900101", "330100")
    changed = pd.concat([changed, newcomer], ignore_index=True)
    changed.loc[21, "户号"] = "H09999"

    import_households(geography, _write_csv(changed, tmp_path / "b.csv", "utf-8"))

    with geography.connect() as conn:
        assert summary_mismatches(conn) == []
    assert _summary(geography, "H00002") == (2, 2, 0, 1, 1, 53000)
    assert _summary(geography, "H00004")[:3] == (1, 1, 0)
    assert _summary(geography, "H00006")[:3] == (3, 1, 2)
    assert _summary(geography, "H00008")[:3] == (3, 2, 1)
    assert _summary(geography, "H00010")[:3] == (1, 1, 0)
    assert _summary(geography, "H09999") == (1, 0, 1, 0, 0, 11000)
