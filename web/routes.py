"""The route API: a day's visits planned from a visit list, reordered by hand,
downloaded as GPX, KML or XLSX.

A plan is kept in the server's memory for two hours under a random id, only
for the user who made it (another user asking for it gets 404): reordering
reuses its travel matrix, and the downloads write exactly what the page shows.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
from flask import Blueprint, Response, current_app, g
from flask.typing import ResponseReturnValue
from sqlalchemy import Engine

from geogrid import access
from geogrid.auth import User
from geogrid.crs import convert_points
from geogrid.errors import InvalidInput, NotFound
from geogrid.routes import RoutePlan, WeekPlan, retime, to_gpx, to_kml, to_xlsx
from geogrid.routes.export import to_dict, unscheduled_dict
from geogrid.store.models import PRODUCTS
from geogrid.visits import (
    VisitFilter,
    plan_day,
    plan_days,
    start_for,
    visit_list_for,
)
from web.auth import current
from web.cache import TTLCache
from web.params import DISPLAY_CRS, choice_arg, crs_arg, field, json_body

bp = Blueprint("routes", __name__, url_prefix="/api/routes")

PLAN_TTL_S = 2 * 3600
MAX_PLANS = 200
DEFAULT_CANDIDATES = 50
MAX_CANDIDATES = 200
DEFAULT_WEEK_CANDIDATES = 100
MAX_WEEK_CANDIDATES = 300
MAX_DAYS = 6
BODY_MAX_BYTES = 200_000


@dataclass
class _Kept:
    """A plan and what the page shows beside it, for the user who made it."""

    user_id: int
    plan: RoutePlan | WeekPlan
    households: dict[str, dict[str, Any]]
    listed: int


def _plans() -> TTLCache[_Kept]:
    caches = current_app.extensions.setdefault("geogrid_caches", {})
    cache: TTLCache[_Kept] = caches.get("routes") or caches.setdefault(
        "routes", TTLCache(max_items=MAX_PLANS, ttl_s=PLAN_TTL_S)
    )
    return cache


def _engine() -> Engine:
    engine: Engine = current_app.config["ENGINE"]
    return engine


# --- reading the request ----------------------------------------------------------


def _int_field(
    body: dict[str, Any], name: str, default: int | None, low: int, high: int
) -> int | None:
    value = body.get(name, default)
    if value is None:
        return None
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not low <= value <= high
    ):
        raise InvalidInput(
            f"Field {name!r} must be a whole number from {low} to {high}; "
            f"received {value!r}.",
            parameter=name,
        )
    return value


def _str_list(body: dict[str, Any], name: str, most: int) -> tuple[str, ...]:
    value = body.get(name) or []
    if isinstance(value, str):
        value = [v for v in value.replace("，", ",").replace(",", " ").split() if v]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(
            f"Field {name!r} must be a list of strings; received {value!r}.",
            parameter=name,
        )
    if len(value) > most:
        raise InvalidInput(
            f"Field {name!r} holds {len(value)} entries; at most {most} are "
            "accepted. Split the list.",
            parameter=name,
        )
    return tuple(v.strip() for v in value if v.strip())


def _visit_filter(body: dict[str, Any]) -> VisitFilter:
    filters = body.get("filters", {})
    if not isinstance(filters, dict):
        raise InvalidInput(
            f"Field 'filters' must be an object; received {filters!r}.",
            parameter="filters",
        )
    status = filters.get("status") or None
    lacking = filters.get("lacking_product") or None
    if lacking is not None and lacking not in PRODUCTS:
        raise InvalidInput(
            f"Filter 'lacking_product' must be one of {', '.join(PRODUCTS)}; "
            f"received {lacking!r}.",
            parameter="lacking_product",
        )
    other_bank = filters.get("other_bank", False)
    if not isinstance(other_bank, bool):
        raise InvalidInput(
            f"Filter 'other_bank' must be true or false; received {other_bank!r}.",
            parameter="other_bank",
        )
    wanted = VisitFilter(
        grids=_str_list(filters, "grids", 200),
        status=status,
        not_visited_days=_int_field(filters, "not_visited_days", None, 1, 3650),
        lacking_product=lacking,
        other_bank=other_bank,
        labels=_str_list(filters, "labels", 50),
        campaign=_str_list(filters, "campaign", 5_000),
    )
    wanted.check()
    return wanted


def _point(body: dict[str, Any], name: str, crs: str) -> tuple[float, float] | None:
    """A {lon, lat} of the body in ``crs`` as WGS84, None for 'branch' or absent."""
    value = body.get(name)
    if value is None or value == "branch":
        return None
    lon = value.get("lon") if isinstance(value, dict) else None
    lat = value.get("lat") if isinstance(value, dict) else None
    if not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in (lon, lat)
    ):
        raise InvalidInput(
            f'Field {name!r} must be "branch" or an object {{"lon": ..., '
            f'"lat": ...}} in degrees of {crs}; received {value!r}.',
            parameter=name,
        )
    assert isinstance(lon, int | float) and isinstance(lat, int | float)
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidInput(
            f"Field {name!r} is not a point on Earth: lon {lon}, lat {lat}. "
            "Longitude runs from -180 to 180 and latitude from -90 to 90.",
            parameter=name,
        )
    x, y = convert_points(float(lon), float(lat), crs, "wgs84")
    return float(x), float(y)


def _date(body: dict[str, Any]) -> dt.date:
    raw = body.get("date")
    if raw in (None, ""):
        return dt.date.today()
    try:
        return dt.date.fromisoformat(str(raw))
    except ValueError:
        raise InvalidInput(
            f"Field 'date' must be a day as YYYY-MM-DD; received {raw!r}.",
            parameter="date",
        ) from None


def _work_hours(body: dict[str, Any]) -> tuple[str, str]:
    value = body.get("work_hours", ["08:30", "17:30"])
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, str) for v in value)
    ):
        raise InvalidInput(
            'Field \'work_hours\' must be two times ["HH:MM", "HH:MM"]; '
            f"received {value!r}.",
            parameter="work_hours",
        )
    return value[0], value[1]


def _body_crs(body: dict[str, Any]) -> str:
    crs = body.get("crs", "wgs84")
    if crs not in DISPLAY_CRS:
        raise InvalidInput(
            f"Field 'crs' must be one of {', '.join(DISPLAY_CRS)}; received {crs!r}.",
            parameter="crs",
        )
    return str(crs)


# --- shaping the answer -----------------------------------------------------------


def _households(listed: gpd.GeoDataFrame) -> dict[str, dict[str, Any]]:
    """What the page lists beside each stop, by household number."""
    info: dict[str, dict[str, Any]] = {}
    for row in listed.itertuples():
        days = row.days_since_visit
        info[str(row.household_no)] = {
            "household_id": int(row.id),
            "address": row.address if isinstance(row.address, str) else "",
            "grid": row.grid if isinstance(row.grid, str) else None,
            "status": "customer" if bool(row.is_customer) else "potential",
            "why_listed": str(row.reason),
            "days_since_visit": None if days != days else int(days),
            "priority": int(row.priority),
        }
    return info


def _day_answer(plan: RoutePlan, kept: _Kept, crs: str) -> dict[str, Any]:
    body = to_dict(plan, crs="wgs84" if crs == "cgcs2000" else crs)
    for item in (*body["stops"], *body["unscheduled"]):
        item.update(kept.households.get(item["id"], {}))
    return body


def _answer(plan_id: str, kept: _Kept, crs: str) -> dict[str, Any]:
    if isinstance(kept.plan, WeekPlan):
        week = kept.plan
        days = [_day_answer(day, kept, crs) for day in week.days]
        for day in days:
            # a day lists only its own visits; what no day takes is the week's
            day.pop("unscheduled")
            day["totals"].pop("unscheduled")
        unscheduled = [unscheduled_dict(u) for u in week.unscheduled]
        for item in unscheduled:
            item.update(kept.households.get(item["id"], {}))
        body: dict[str, Any] = {
            "week": True,
            "days": days,
            "unscheduled": unscheduled,
            "travel_model": days[0]["travel_model"] if days else None,
            "totals": {
                "days": len(days),
                "visits": week.n_visits,
                "unscheduled": len(unscheduled),
                "distance_km": round(week.total_distance_m / 1000.0, 2),
                "travel_min": round(week.total_travel_s / 60.0, 1),
                "quota_per_day": week.quota_per_day,
            },
        }
    else:
        body = {"week": False, **_day_answer(kept.plan, kept, crs)}
    body["id"] = plan_id
    body["listed"] = kept.listed
    body["downloads"] = {
        fmt: f"/api/routes/{plan_id}/route.{fmt}" for fmt in ("gpx", "kml", "xlsx")
    }
    return body


def _kept(plan_id: str, user: User) -> _Kept:
    kept = _plans().get(plan_id)
    if kept is None or kept.user_id != user.id:
        raise NotFound(
            f"Route {plan_id!r} does not exist or has expired (plans are kept "
            f"{PLAN_TTL_S // 3600} hours); plan the day again."
        )
    return kept


# --- the views --------------------------------------------------------------------


@dataclass
class _Asked:
    """A plan request read and checked: the list, the start and the day's rules."""

    crs: str
    listed: gpd.GeoDataFrame
    chosen: gpd.GeoDataFrame
    start: tuple[float, float]
    end: tuple[float, float] | None
    date: dt.date
    max_visits: int
    service_min: int
    work_hours: tuple[str, str]


def _asked(
    user: User, body: dict[str, Any], default_candidates: int, most_candidates: int
) -> _Asked:
    crs = _body_crs(body)
    wanted = _visit_filter(body)
    candidates = _int_field(body, "candidates", default_candidates, 1, most_candidates)
    max_visits = _int_field(body, "max_visits", 12, 1, 60)
    service_min = _int_field(body, "service_min", 20, 1, 240)
    assert candidates is not None and max_visits is not None
    assert service_min is not None
    engine = _engine()
    listed = visit_list_for(engine, user, wanted)
    if listed.empty:
        raise InvalidInput(
            "No household in your grids matches these filters, so there is "
            "nothing to route; loosen the filters (for example fewer days "
            "without a visit, or no product condition).",
            parameter="filters",
        )
    branch = start_for(engine, user, wanted.grids)
    return _Asked(
        crs=crs,
        listed=listed,
        chosen=listed.head(candidates),
        start=_point(body, "start", crs) or branch,
        # "branch": back to the branch even when the day starts elsewhere
        end=branch if body.get("end") == "branch" else _point(body, "end", crs),
        date=_date(body),
        max_visits=max_visits,
        service_min=service_min,
        work_hours=_work_hours(body),
    )


def _keep(user: User, plan: RoutePlan | WeekPlan, asked: _Asked) -> dict[str, Any]:
    plan_id = secrets.token_urlsafe(12)
    kept = _Kept(user.id, plan, _households(asked.chosen), len(asked.listed))
    _plans().put(plan_id, kept)
    return _answer(plan_id, kept, asked.crs)


@bp.post("/plan")
def plan() -> ResponseReturnValue:
    """Plan a day's route through the visit list the filters give."""
    user = current()
    asked = _asked(user, json_body(BODY_MAX_BYTES), DEFAULT_CANDIDATES, MAX_CANDIDATES)
    route = plan_day(
        _engine(),
        asked.chosen,
        asked.start,
        end=asked.end,
        date=asked.date,
        max_visits=asked.max_visits,
        service_min=asked.service_min,
        work_hours=asked.work_hours,
    )
    return _keep(user, route, asked)


@bp.post("/week")
def week() -> ResponseReturnValue:
    """Spread the visit list over the working days from ``date``, each day a
    compact route under the daily quota."""
    user = current()
    body = json_body(BODY_MAX_BYTES)
    days = _int_field(body, "days", 5, 1, MAX_DAYS)
    assert days is not None
    asked = _asked(user, body, DEFAULT_WEEK_CANDIDATES, MAX_WEEK_CANDIDATES)
    plan = plan_days(
        _engine(),
        asked.chosen,
        asked.start,
        end=asked.end,
        first_day=asked.date,
        days=days,
        quota_per_day=asked.max_visits,
        service_min=asked.service_min,
        work_hours=asked.work_hours,
    )
    return _keep(user, plan, asked)


@bp.get("/<plan_id>")
def plan_again(plan_id: str) -> ResponseReturnValue:
    """A plan made before, as it stands now."""
    user = current()
    return _answer(plan_id, _kept(plan_id, user), crs_arg())


@bp.post("/<plan_id>/order")
def reorder(plan_id: str) -> ResponseReturnValue:
    """The same visits in an order chosen by hand: times and breaks recomputed."""
    user = current()
    kept = _kept(plan_id, user)
    body = json_body(BODY_MAX_BYTES)
    order = field(body, "order", list)
    if not all(isinstance(v, str) for v in order):
        raise InvalidInput(
            f"Field 'order' must be a list of stop ids (household numbers); "
            f"received {order!r}.",
            parameter="order",
        )
    if isinstance(kept.plan, WeekPlan):
        kept.plan.days[_day_index(kept.plan, body)] = retime(
            kept.plan.days[_day_index(kept.plan, body)], order
        )
    else:
        kept.plan = retime(kept.plan, order)
    _plans().put(plan_id, kept)
    return _answer(plan_id, kept, _body_crs(body))


def _day_index(week: WeekPlan, body: dict[str, Any]) -> int:
    """Which day of a week an order is for (the body's ``day``, YYYY-MM-DD)."""
    raw = body.get("day")
    dates = [d.isoformat() for d in week.dates]
    if raw not in dates:
        raise InvalidInput(
            f"This plan covers several days: field 'day' must name one of "
            f"{', '.join(dates)}; received {raw!r}.",
            parameter="day",
        )
    return dates.index(raw)


_MIMETYPES = {
    "gpx": "application/gpx+xml",
    "kml": "application/vnd.google-earth.kml+xml",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@bp.get("/<plan_id>/route.<fmt>")
def download(plan_id: str, fmt: str) -> ResponseReturnValue:
    """The plan as GPX or KML (for navigation apps) or XLSX; recorded as an export."""
    user = current()
    if fmt not in _MIMETYPES:
        raise NotFound(
            f"Routes download as route.gpx, route.kml or route.xlsx; "
            f"received route.{fmt}."
        )
    kept = _kept(plan_id, user)
    plan = kept.plan
    first_day = plan.dates[0] if isinstance(plan, WeekPlan) else plan.date
    crs = choice_arg("crs", ("wgs84", "gcj02", "bd09"), "wgs84") or "wgs84"
    if fmt == "gpx":
        data: bytes = to_gpx(kept.plan, crs=crs).encode("utf-8")
    elif fmt == "kml":
        data = to_kml(kept.plan, crs=crs).encode("utf-8")
    else:
        data = to_xlsx(kept.plan, crs=crs, language=g.get("lang", "zh"))
    access.record_export(
        _engine(),
        user,
        "route",
        fmt,
        plan.n_visits if isinstance(plan, WeekPlan) else len(plan.stops),
        plan=plan_id,
        crs=crs,
        date=first_day.isoformat(),
    )
    response = Response(data, mimetype=_MIMETYPES[fmt])
    name = f"route-{first_day.isoformat()}-{crs}.{fmt}"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
