"""`DemoCounty`: every table of the synthetic demo county, as generated."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd


@dataclass
class DemoCounty:
    """Every table of the demo county, geometry in WGS84 (EPSG:4326).

    Attributes
    ----------
    county, towns, villages
        Administrative units: code, name, level, parent_code, kind and a
        MultiPolygon. Towns tile the county and villages tile their town.
    roads
        Road segments split at every junction: name, kind, speed_kph and a
        LineString; one connected network.
    branches
        One branch per town: code, name, address, town_code and a Point.
    staff
        username, name, role, branch_code (None for head office and planner)
        and phone.
    grids_l1, grids_l2
        First-level grids (a branch's town) and second-level grids (whole
        villages, one per account manager) with code, name, branch_code,
        parent_code and village_codes (level 2 only) and a MultiPolygon.
    posts
        grid_code, username and post ('A' or 'B').
    liaison
        Liaison officers: grid_code, name, kind, phone and village_code.
    targets
        grid_code, year, metric and target.
    households
        household_no, address, village_code, group_no, lon, lat (WGS84),
        geocode_level and time_window.
    persons
        Members of households with ID number, phone, gender, birth date,
        status, products, labels and balances in yuan.
    visits
        household_no, username, visited_at (Asia/Shanghai), lon, lat,
        purpose and outcome.
    planted
        What was planted on purpose, for demos and tests to find:
        ``blind_spot_villages`` (penetration under 10%, in 3 pockets of
        neighbouring villages), ``high_penetration_villages``,
        ``leakage_villages`` (deposits mostly at other banks, 2 pockets),
        ``unvisited_villages``, ``duplicate_village_names`` (names used in two
        towns), ``grids_with_one_liaison``, ``grids_without_targets`` and
        ``managers_recording_at_the_branch`` (A-post managers who record
        about 40% of their visits at their branch, not at the household).
    as_of
        The day the demo's clock reads.
    """

    county: gpd.GeoDataFrame
    towns: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    branches: gpd.GeoDataFrame
    staff: pd.DataFrame
    grids_l1: gpd.GeoDataFrame
    grids_l2: gpd.GeoDataFrame
    posts: pd.DataFrame
    liaison: pd.DataFrame
    targets: pd.DataFrame
    households: pd.DataFrame
    persons: pd.DataFrame
    visits: pd.DataFrame
    planted: dict[str, list[str]] = field(default_factory=dict)
    as_of: dt.date = field(default_factory=dt.date.today)
