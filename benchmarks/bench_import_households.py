"""Load one million household rows from CSV into PostGIS, validation included.

Compares, in the same run, geogrid's import (validation, duplicate checks,
upsert of households and people) with a plain ``GeoDataFrame.to_postgis`` of
the same rows, which validates nothing. Also times a re-import of the same
file, and an import of a tenth as many new rows into the loaded store (the
path of everyday updates, which keeps the indexes).

    .venv/bin/python -m benchmarks.bench_import_households [ROWS]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from benchmarks._db import bench_engine, machine
from geogrid.ingest import import_boundaries, import_households
from geogrid.validate import id_check_chars
from tests import factories


def synthetic_rows(
    n: int, seed: int = 0, region: str = "331099", prefix: str = "H"
) -> pd.DataFrame:
    """n valid person rows, 3 per household, inside the test villages.

    ``region`` starts the ID numbers and ``prefix`` the household numbers, so
    rows made with other values are other people in other households.
    """
    rng = np.random.default_rng(seed)
    villages = factories.villages_gdf()
    i = np.arange(n)
    household = i // 3
    village = household % len(villages)
    centres = shapely.centroid(villages.geometry.to_numpy())
    # one location per household, shared by its members
    jitter = rng.uniform(-0.002, 0.002, size=(household.max() + 1, 2))
    lon = shapely.get_x(centres)[village] + jitter[household, 0]
    lat = shapely.get_y(centres)[village] + jitter[household, 1]
    birth = pd.Timestamp("1940-01-01") + pd.to_timedelta(i // 1000, unit="D")
    first17 = pd.Series(
        region + birth.strftime("%Y%m%d") + pd.Series(i % 1000).map("{:03d}".format)
    )
    ids = first17 + id_check_chars(first17)
    return pd.DataFrame(
        {
            "户号": prefix + pd.Series(household).astype(str).str.zfill(8),
            "姓名": "测试" + pd.Series(i % 97).astype(str),
            "身份证号": ids,
            "手机号": (13_800_000_000 + i).astype(str),
            "村代码": villages["code"].to_numpy()[village],
            "经度": lon.round(6),
            "纬度": lat.round(6),
            "客户状态": np.where(i % 2 == 0, "客户", "潜在客户"),
            "持有产品": np.where(i % 2 == 0, "存款、手机银行", ""),
            "他行存款": (i % 50_000).astype(str),
        }
    )


def main(rows: int = 1_000_000) -> None:
    load_before = os.getloadavg()
    folder = Path(tempfile.mkdtemp(prefix="geogrid-bench-import-"))
    frame = synthetic_rows(rows)
    csv_path = folder / "households.csv"
    frame.to_csv(csv_path, index=False, encoding="utf-8-sig")
    size_mb = csv_path.stat().st_size / 1e6

    with bench_engine() as engine:
        for level, gdf in (
            ("town", factories.towns_gdf()),
            ("village", factories.villages_gdf()),
        ):
            path = factories.write_geojson(gdf, folder / f"{level}.geojson")
            import_boundaries(engine, path, level=level, crs="wgs84")
        county = factories.write_feature(
            factories.county_polygon(),
            {"code": factories.COUNTY_CODE, "name": "青溪县"},
            folder / "county.json",
        )
        import_boundaries(engine, county, level="county", crs="wgs84")

        started = time.perf_counter()
        report = import_households(engine, csv_path)
        geogrid_s = time.perf_counter() - started
        assert report.rows_stored == rows, report.lines()

        started = time.perf_counter()
        again = import_households(engine, csv_path)
        reimport_s = time.perf_counter() - started
        assert again.rows_unchanged == rows

        added = rows // 10
        more_path = folder / "more.csv"
        synthetic_rows(added, seed=1, region="331098", prefix="N").to_csv(
            more_path, index=False
        )
        started = time.perf_counter()
        more = import_households(engine, more_path)
        more_s = time.perf_counter() - started
        assert more.rows_stored == added, more.lines()

        started = time.perf_counter()
        plain = pd.read_csv(csv_path, dtype=str, encoding="utf-8-sig")
        gdf = gpd.GeoDataFrame(
            plain,
            geometry=gpd.points_from_xy(
                plain["经度"].astype(float), plain["纬度"].astype(float)
            ),
            crs=4326,
        )
        gdf.to_postgis(
            "plain_households", engine, if_exists="replace", chunksize=100_000
        )
        plain_s = time.perf_counter() - started

    load_after = os.getloadavg()
    print(f"# household import, {rows:,} rows ({size_mb:.0f} MB CSV); {machine()}")
    print(
        "load average before / after: "
        + " / ".join(
            ", ".join(f"{x:.2f}" for x in load) for load in (load_before, load_after)
        )
    )
    print("| method | seconds | rows/s |")
    print("|---|---|---|")
    for label, seconds, n in (
        ("geogrid import (validated, upserted)", geogrid_s, rows),
        ("geogrid re-import of the same file (no change)", reimport_s, rows),
        (f"geogrid import of {added:,} new rows into the loaded store", more_s, added),
        ("GeoDataFrame.to_postgis (no validation)", plain_s, rows),
    ):
        print(f"| {label} | {seconds:.1f} | {n / seconds:,.0f} |")
    print(f"ratio geogrid / to_postgis time: {geogrid_s / plain_s:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
