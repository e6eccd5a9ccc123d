"""The public frames of `DemoCounty`, in WGS84, from the stages' internal state."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geogrid.demo import names as nm
from geogrid.demo._plane import CRS, as_multi, lonlat
from geogrid.demo.geography import COUNTY_CODE, Geography
from geogrid.demo.households import Households
from geogrid.demo.organisation import Organisation


def admin_frames(
    geo: Geography,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Villages, towns (unions of their villages) and the county (union of towns)."""
    villages, towns = geo.villages, geo.towns
    village_gdf = gpd.GeoDataFrame(
        {
            "code": villages.code,
            "name": villages.name,
            "level": "village",
            "parent_code": [towns.code[t] for t in villages.town],
            "kind": np.where(villages.is_community, "社区", "村"),
        },
        geometry=as_multi(villages.cell_deg),
        crs=CRS,
    )
    town_geoms = np.array(
        [
            shapely.coverage_union_all(villages.cell_deg[villages.town == t])
            for t in range(len(towns.code))
        ],
        dtype=object,
    )
    town_gdf = gpd.GeoDataFrame(
        {
            "code": towns.code,
            "name": towns.name,
            "level": "town",
            "parent_code": COUNTY_CODE,
            "kind": towns.kind,
        },
        geometry=as_multi(town_geoms),
        crs=CRS,
    )
    county_gdf = gpd.GeoDataFrame(
        {
            "code": [COUNTY_CODE],
            "name": [nm.COUNTY_NAME],
            "level": ["county"],
            "parent_code": pd.Series([None], dtype=object),
            "kind": ["县"],
        },
        geometry=as_multi(
            np.array([shapely.coverage_union_all(town_geoms)], dtype=object)
        ),
        crs=CRS,
    )
    return village_gdf, town_gdf, county_gdf


def branch_frame(geo: Geography, org: Organisation) -> gpd.GeoDataFrame:
    """One branch per town with its name, street address and point."""
    towns = geo.towns
    names = [
        nm.BANK_NAME + ("营业部" if t == 0 else f"{towns.short[t]}支行")
        for t in range(len(towns.code))
    ]
    streets = [
        nm.STREET_NAMES[(3 * t) % len(nm.STREET_NAMES)] for t in range(len(towns.code))
    ]
    county = nm.PROVINCE + nm.CITY + nm.COUNTY_NAME
    addresses = [
        f"{county}{towns.name[t]}{streets[t]}{18 + 11 * t}号"
        for t in range(len(towns.code))
    ]
    lon, lat = lonlat(org.branch_xy[:, 0], org.branch_xy[:, 1])
    return gpd.GeoDataFrame(
        {
            "code": org.branch_code,
            "name": names,
            "address": addresses,
            "town_code": towns.code,
        },
        geometry=shapely.points(lon, lat),
        crs=CRS,
    )


def grid_frames(
    geo: Geography, org: Organisation, towns_gdf: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """First-level grids (a branch's town) and second-level grids (villages)."""
    towns = geo.towns
    l1_code = [f"G{t + 1:02d}" for t in range(len(towns.code))]
    l1 = gpd.GeoDataFrame(
        {
            "code": l1_code,
            "name": [
                ("营业部" if t == 0 else f"{towns.short[t]}支行") + "辖区"
                for t in range(len(towns.code))
            ],
            "branch_code": org.branch_code,
        },
        geometry=towns_gdf.geometry.to_numpy(),
        crs=CRS,
    )
    codes = np.array(geo.villages.code)
    l2_geoms = np.array(
        [
            shapely.coverage_union_all(geo.villages.cell_deg[v])
            for v in org.grid_villages
        ],
        dtype=object,
    )
    l2 = gpd.GeoDataFrame(
        {
            "code": org.grid_code,
            "name": org.grid_name,
            "branch_code": [org.branch_code[t] for t in org.grid_branch],
            "parent_code": [l1_code[t] for t in org.grid_branch],
            "village_codes": pd.Series(
                [codes[v].tolist() for v in org.grid_villages], dtype=object
            ),
        },
        geometry=as_multi(l2_geoms),
        crs=CRS,
    )
    return l1, l2


def post_frame(org: Organisation) -> pd.DataFrame:
    """The A post of every grid and the B post of those that have one."""
    rows = [(code, a, "A") for code, a in zip(org.grid_code, org.a_post, strict=True)]
    rows += [
        (code, b, "B") for code, b in zip(org.grid_code, org.b_post, strict=True) if b
    ]
    frame = pd.DataFrame(rows, columns=["grid_code", "username", "post"])
    return frame.sort_values(["grid_code", "post"], kind="stable").reset_index(
        drop=True
    )


def household_frame(geo: Geography, hh: Households) -> pd.DataFrame:
    """Households with their village code instead of the village index."""
    return pd.DataFrame(
        {
            "household_no": hh.number,
            "address": hh.address,
            "village_code": np.array(geo.villages.code)[hh.village],
            "group_no": hh.group_no,
            "lon": hh.lon,
            "lat": hh.lat,
            "geocode_level": hh.geocode_level,
            "time_window": pd.Series(hh.time_window, dtype=object),
        }
    )
