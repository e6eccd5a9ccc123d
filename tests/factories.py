"""Small synthetic inputs built by the tests: geography files and household tables."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geogrid.validate import id_check_char

COUNTY_CODE = "331099000000"
TOWNS = {"331099100000": "东岭镇", "331099101000": "西溪镇"}
WEST, SOUTH = 121.30, 28.60
CELL_DEG = 0.006  # villages about 600 m across
COLS, ROWS = 8, 8  # 4 columns of villages per town

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚")


def county_polygon() -> shapely.Polygon:
    return shapely.box(WEST, SOUTH, WEST + COLS * CELL_DEG, SOUTH + ROWS * CELL_DEG)


def towns_gdf() -> gpd.GeoDataFrame:
    half = COLS // 2 * CELL_DEG
    geoms = [
        shapely.box(WEST, SOUTH, WEST + half, SOUTH + ROWS * CELL_DEG),
        shapely.box(WEST + half, SOUTH, WEST + 2 * half, SOUTH + ROWS * CELL_DEG),
    ]
    return gpd.GeoDataFrame(
        {"code": list(TOWNS), "name": list(TOWNS.values())}, geometry=geoms, crs=4326
    )


def villages_gdf() -> gpd.GeoDataFrame:
    """64 square villages, 32 per town, codes 2xx as NBS numbers villages."""
    records = []
    for col in range(COLS):
        for row in range(ROWS):
            town = list(TOWNS)[col // (COLS // 2)]
            serial = 200 + (col % (COLS // 2)) * ROWS + row
            x0, y0 = WEST + col * CELL_DEG, SOUTH + row * CELL_DEG
            records.append(
                {
                    "code": town[:9] + f"{serial:03d}",
                    "name": f"{SURNAMES[(col * ROWS + row) % 20]}{GIVEN[row]}村",
                    "geometry": shapely.box(x0, y0, x0 + CELL_DEG, y0 + CELL_DEG),
                }
            )
    return gpd.GeoDataFrame(records, crs=4326)


def write_geojson(gdf: gpd.GeoDataFrame, path: Path) -> Path:
    gdf.to_file(path, driver="GeoJSON", engine="pyogrio")
    return path


def write_feature(geom: shapely.Geometry, props: dict[str, str], path: Path) -> Path:
    feature = {
        "type": "Feature",
        "properties": props,
        "geometry": json.loads(shapely.to_geojson(geom)),
    }
    path.write_text(json.dumps(feature, ensure_ascii=False), encoding="utf-8")
    return path


def id_number(serial: int, birth: str = "19800101", region: str = "331099") -> str:
    first17 = f"{region}{birth}{serial % 1000:03d}"
    return first17 + id_check_char(first17)


def household_rows(n_households: int = 20, seed: int = 1) -> pd.DataFrame:
    """People rows with Chinese headers: 2 members per household, all valid.

    Households sit within 80 m of their village's centre, so a 500 m shift
    (WGS84 vs GCJ-02) moves them out of their village.
    """
    rng = np.random.default_rng(seed)
    villages = villages_gdf()
    rows = []
    for h in range(n_households):
        village = villages.iloc[h % len(villages)]
        centre = village.geometry.centroid
        lon = centre.x + rng.uniform(-0.0008, 0.0008)
        lat = centre.y + rng.uniform(-0.0008, 0.0008)
        for m in range(2):
            serial = h * 2 + m
            birth = (
                f"{1950 + serial % 50}{(serial % 12) + 1:02d}{(serial % 28) + 1:02d}"
            )
            rows.append(
                {
                    "户号": f"H{h:05d}",
                    "姓名": SURNAMES[h % 20] + GIVEN[(h + m) % 20],
                    "身份证号": id_number(serial, birth),
                    "手机号": f"138{serial:08d}",
                    "地址": f"青溪县{village['name']}{h % 9 + 1}组{h + 1}号",
                    "村代码": village["code"],
                    "经度": f"{lon:.6f}",
                    "纬度": f"{lat:.6f}",
                    "客户状态": "客户" if m == 0 and h % 2 == 0 else "潜在客户",
                    "持有产品": "存款、手机银行" if m == 0 and h % 2 == 0 else "",
                    "他行存款": str(1000 * (h + 1)),
                    "标签": "外出务工" if h % 3 == 0 else "",
                }
            )
    return pd.DataFrame(rows)
