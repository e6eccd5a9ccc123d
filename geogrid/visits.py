"""Whom to visit and in which order: visit lists from the store, and their routes.

A visit list combines filters an account manager chooses (grids; existing or
potential customers; not visited in N days; lacking a product; money at other
banks; labels; a campaign list) and says, for every household, why it is on
the list. Its households are then routed with ``geogrid.routes`` along the
county's roads from the store.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Engine, text

from geogrid.access import grid_in_scope, home_branch, require_role, visible_grid_ids
from geogrid.auth import ACCOUNT_MANAGER, BRANCH_HEAD, HEAD_OFFICE, User
from geogrid.errors import InvalidInput, NotFound
from geogrid.routes import (
    RoadNetwork,
    RoutePlan,
    Stop,
    StraightLine,
    WeekPlan,
    plan_route,
    plan_week,
)
from geogrid.store.models import PRODUCTS

log = logging.getLogger(__name__)

# roles that plan visits: planners see no personal details, so no visit lists
ROUTE_ROLES = (HEAD_OFFICE, BRANCH_HEAD, ACCOUNT_MANAGER)
# labels banks commonly give customers, offered as suggestions (any text works)
COMMON_LABELS = (
    "外出务工",
    "春节返乡",
    "个体工商户",
    "种养殖户",
    "公职人员",
    "老年人",
    "学生",
    "新市民",
)

PRODUCT_NAMES_ZH = {
    "deposit": "存款",
    "loan": "贷款",
    "mobile_banking": "手机银行",
    "pos": "POS",
    "payment": "收单",
    "credit_card": "信用卡",
}


@dataclass
class VisitFilter:
    """What an account manager asks for; every field narrows the list."""

    grids: Sequence[str] = ()
    status: str | None = None  # 'customer' or 'potential'
    not_visited_days: int | None = None
    lacking_product: str | None = None
    other_bank: bool = False
    labels: Sequence[str] = ()
    campaign: Sequence[str] = field(default_factory=tuple)  # household numbers

    def check(self) -> None:
        """Refuse values outside their range, naming the allowed ones."""
        if self.status not in (None, "customer", "potential"):
            raise InvalidInput(
                f"status must be 'customer' or 'potential'; got {self.status!r}."
            )
        if self.not_visited_days is not None and not 0 < self.not_visited_days <= 3650:
            raise InvalidInput(
                "not_visited_days must be between 1 and 3650; got "
                f"{self.not_visited_days}."
            )
        if self.lacking_product is not None and self.lacking_product not in PRODUCTS:
            raise InvalidInput(
                f"lacking_product must be one of {', '.join(PRODUCTS)}; got "
                f"{self.lacking_product!r}."
            )


def visit_list(
    engine: Engine,
    wanted: VisitFilter,
    *,
    grid_ids: Sequence[int] | None = None,
    today: dt.date | None = None,
    limit: int = 5_000,
) -> gpd.GeoDataFrame:
    """Households matching ``wanted``, each with the reasons it is on the list.

    ``grid_ids`` restricts the list to the grids a user may see (None: all).
    Rows are ordered by priority: potential customers with money at other
    banks and no recent visit first.
    """
    wanted.check()
    today = today or dt.date.today()
    conditions = ["h.geom IS NOT NULL"]
    params: dict[str, Any] = {"limit": limit}
    if wanted.grids:
        conditions.append("g.code = ANY(:grids)")
        params["grids"] = list(wanted.grids)
    if grid_ids is not None:
        conditions.append("h.grid_id = ANY(:visible)")
        params["visible"] = list(grid_ids)
    if wanted.campaign:
        conditions.append("h.household_no = ANY(:campaign)")
        params["campaign"] = list(wanted.campaign)

    sql = f"""
        SELECT h.id, h.household_no, h.address, g.code AS grid, h.time_window,
               ST_X(h.geom) AS lon, ST_Y(h.geom) AS lat,
               bool_or(p.status = 'customer') AS is_customer,
               array_agg(DISTINCT prod) FILTER (WHERE prod IS NOT NULL) AS products,
               array_agg(DISTINCT lab) FILTER (WHERE lab IS NOT NULL) AS labels,
               coalesce(sum(p.deposit_other), 0) AS deposit_other,
               coalesce(sum(p.loan_other), 0) AS loan_other,
               (SELECT max(v.visited_at) FROM visit v
                WHERE v.household_id = h.id) AS last_visit
        FROM household h
        LEFT JOIN grid g ON g.id = h.grid_id
        LEFT JOIN person p ON p.household_id = h.id
        LEFT JOIN LATERAL unnest(p.products) prod ON true
        LEFT JOIN LATERAL unnest(p.labels) lab ON true
        WHERE {" AND ".join(conditions)}
        GROUP BY h.id, g.code
    """
    with engine.connect() as conn:
        frame = pd.read_sql(text(sql), conn, params=params)
    frame = _apply(frame, wanted, today)
    frame = frame.sort_values(["priority", "household_no"], ascending=[False, True])
    frame = frame.head(limit).reset_index(drop=True)
    return gpd.GeoDataFrame(
        frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs=4326
    )


def visit_list_for(
    engine: Engine,
    user: User,
    wanted: VisitFilter,
    *,
    today: dt.date | None = None,
    limit: int = 5_000,
) -> gpd.GeoDataFrame:
    """`visit_list` within the grids ``user`` sees.

    Raises
    ------
    PermissionDenied
        For planners (who see no personal details).
    NotFound
        When ``wanted.grids`` names a grid outside the user's grids.
    """
    require_role(user, ROUTE_ROLES, "plan visits")
    wanted.check()
    with engine.connect() as conn:
        for code in wanted.grids:
            grid_in_scope(conn, user, code)
        grid_ids = visible_grid_ids(conn, user)
    return visit_list(engine, wanted, grid_ids=grid_ids, today=today, limit=limit)


def start_for(
    engine: Engine, user: User, grids: Sequence[str] = ()
) -> tuple[float, float]:
    """(lon, lat) in WGS84 of the branch a user's day starts from: the branch
    of the first grid asked for, else the user's own branch."""
    if grids:
        return start_point(engine, "branch", grids[0])
    home = home_branch(engine, user)
    return float(home["lon"]), float(home["lat"])


def _apply(frame: pd.DataFrame, wanted: VisitFilter, today: dt.date) -> pd.DataFrame:
    """Filter in memory and write each household's reasons and priority."""
    for column in ("products", "labels"):
        frame[column] = frame[column].map(lambda v: list(v) if v is not None else [])
    last = pd.to_datetime(frame["last_visit"], utc=True)
    days_since = (pd.Timestamp(today, tz="UTC") - last).dt.days
    frame["days_since_visit"] = days_since
    keep = pd.Series(True, index=frame.index)
    reasons: list[pd.Series] = []

    if wanted.status == "customer":
        keep &= frame["is_customer"].fillna(False).astype(bool)
        reasons.append(pd.Series("我行客户", index=frame.index))
    elif wanted.status == "potential":
        keep &= ~frame["is_customer"].fillna(False).astype(bool)
        reasons.append(pd.Series("潜在客户", index=frame.index))
    if wanted.not_visited_days:
        stale = days_since.isna() | (days_since > wanted.not_visited_days)
        keep &= stale
        reasons.append(
            days_since.map(lambda d: "从未走访" if pd.isna(d) else f"{int(d)}天未走访")
        )
    if wanted.lacking_product:
        lacking = ~frame["products"].map(lambda ps: wanted.lacking_product in ps)
        keep &= lacking
        reasons.append(
            pd.Series(
                f"未开通{PRODUCT_NAMES_ZH[wanted.lacking_product]}", index=frame.index
            )
        )
    if wanted.other_bank:
        elsewhere = (frame["deposit_other"] > 0) | (frame["loan_other"] > 0)
        keep &= elsewhere
        reasons.append(
            frame["deposit_other"].map(lambda x: f"他行存款{x / 10_000:.1f}万")
        )
    if wanted.labels:
        has = frame["labels"].map(lambda ls: bool(set(ls) & set(wanted.labels)))
        keep &= has
        reasons.append(
            frame["labels"].map(
                lambda ls: "标签:" + "、".join(sorted(set(ls) & set(wanted.labels)))
            )
        )
    if wanted.campaign:
        reasons.append(pd.Series("活动名单", index=frame.index))

    frame = frame[keep].copy()
    if not reasons:
        frame["reason"] = "网格内住户"
    elif frame.empty:  # agg over no rows gives a frame, not a column
        frame["reason"] = pd.Series(index=frame.index, dtype="str")
    else:
        joined = pd.concat([r[keep] for r in reasons], axis=1)
        frame["reason"] = joined.astype(str).agg("；".join, axis=1)
    stale_score = frame["days_since_visit"].fillna(999).clip(upper=999) / 999
    money = pd.Series(np.log1p(frame["deposit_other"].astype(float)) / 15)
    frame["priority"] = (
        (
            40 * (~frame["is_customer"].fillna(False).astype(bool))
            + 40 * stale_score
            + 20 * money.clip(upper=1)
        )
        .round()
        .astype(int)
    )
    return frame


@lru_cache(maxsize=8)
def _network(url: str, roads_version: int) -> RoadNetwork | None:
    from geogrid.store.db import engine_for

    with engine_for(url).connect() as conn:
        roads = gpd.read_postgis(
            text("SELECT name, kind, speed_kph::float AS speed_kph, geom FROM road"),
            conn,
            geom_col="geom",
        )
    if roads.empty:
        return None
    return RoadNetwork.from_roads(roads.rename_geometry("geometry"))


def travel_model(engine: Engine) -> RoadNetwork | StraightLine:
    """The county's road network from the store, or straight lines without roads."""
    with engine.connect() as conn:
        version = conn.execute(text("SELECT count(*) FROM road")).scalar_one()
    network = _network(engine.url.render_as_string(hide_password=False), int(version))
    return network if network is not None else StraightLine()


def start_point(
    engine: Engine, start: str | tuple[float, float], grid: str | None
) -> tuple[float, float]:
    """(lon, lat) of a start: a point, or 'branch' (the grid's branch)."""
    if not isinstance(start, str):
        return start
    if start != "branch":
        raise InvalidInput(
            f"start must be 'branch' or a (lon, lat) point; got {start!r}."
        )
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT ST_X(b.geom), ST_Y(b.geom) FROM branch b JOIN grid g "
                "ON g.branch_id = b.id WHERE g.code = :g"
            ),
            {"g": grid},
        ).first()
    if row is None or row[0] is None:
        raise NotFound(
            f"No branch location is known for grid {grid!r}; give a start point."
        )
    return float(row[0]), float(row[1])


def _stops(households: gpd.GeoDataFrame, service_min: int) -> list[Stop]:
    return [
        Stop(
            id=str(row.household_no),
            lon=float(row.lon),
            lat=float(row.lat),
            service_s=service_min * 60,
            time_window=row.time_window if isinstance(row.time_window, str) else None,
            priority=int(min(max(row.priority, 0), 100)),
            label=str(row.reason),
        )
        for row in households.itertuples()
    ]


def _county(engine: Engine) -> shapely.Geometry | None:
    with engine.connect() as conn:
        wkb = conn.execute(
            text(
                "SELECT ST_AsBinary(ST_Union(geom)) FROM admin_unit "
                "WHERE level = 'county'"
            )
        ).scalar()
    return None if wkb is None else shapely.from_wkb(bytes(wkb))


def plan_day(
    engine: Engine,
    households: gpd.GeoDataFrame,
    start: tuple[float, float],
    *,
    end: tuple[float, float] | None = None,
    date: dt.date | None = None,
    max_visits: int = 12,
    service_min: int = 20,
    work_hours: tuple[str, str] = ("08:30", "17:30"),
) -> RoutePlan:
    """A day's route through the listed households, along the county's roads.

    It starts at ``start`` and ends at ``end`` (the start when None), both
    (lon, lat) in WGS84.
    """
    if households.empty:
        raise InvalidInput(
            "The visit list is empty; loosen the filters to plan a route."
        )
    return plan_route(
        _stops(households, service_min),
        start,
        end,
        travel=travel_model(engine),
        date=date,
        work_hours=work_hours,
        max_visits=max_visits,
        county=_county(engine),
    )


def plan_days(
    engine: Engine,
    households: gpd.GeoDataFrame,
    start: tuple[float, float],
    *,
    end: tuple[float, float] | None = None,
    first_day: dt.date | None = None,
    days: int = 5,
    quota_per_day: int = 12,
    service_min: int = 20,
    work_hours: tuple[str, str] = ("08:30", "17:30"),
) -> WeekPlan:
    """Spread the listed households over working days, each day compact."""
    if households.empty:
        raise InvalidInput(
            "The visit list is empty; loosen the filters to plan a week."
        )
    return plan_week(
        _stops(households, service_min),
        start,
        end,
        travel=travel_model(engine),
        first_day=first_day,
        days=days,
        quota_per_day=quota_per_day,
        work_hours=work_hours,
        county=_county(engine),
    )
