"""HTML pages: a folium map shell each; the page's script loads data from the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import folium
from flask import Blueprint, current_app, g, redirect, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user

from geogrid import access, visit_log
from geogrid.auth import ACCOUNT_MANAGER, PLANNER, User
from geogrid.nearby import DEFAULT_RADIUS_M, PRODUCT_CHOICES, WEIGHTS
from geogrid.settings import Config
from geogrid.store.models import PRODUCTS, VISIT_OUTCOMES, VISIT_PURPOSES
from geogrid.visits import COMMON_LABELS, ROUTE_ROLES
from layers.boundaries import workload_scale
from web import maps
from web.auth import current, landing_path, page_login_required, user_dict
from web.i18n import catalogue, translate

bp = Blueprint("pages", __name__)

NAV = {
    "grids": ("/grids", "nav.grids"),
    "design": ("/design", "nav.design"),
    "nearby": ("/nearby", "nav.nearby"),
    "blindspots": ("/blindspots", "nav.blindspots"),
    "routes": ("/routes", "nav.routes"),
    "visits": ("/visits", "nav.visits"),
}


def nav_for(user: User) -> list[tuple[str, str]]:
    """The pages a role's menu lists, its landing page first."""
    if user.role == ACCOUNT_MANAGER:
        names = ["nearby", "routes", "visits", "grids"]
    elif user.role == PLANNER:
        names = ["blindspots", "grids", "design", "nearby", "visits"]
    else:
        names = ["grids", "design", "nearby", "routes", "visits", "blindspots"]
    return [NAV[n] for n in names]


def _config() -> Config:
    config: Config = current_app.config["GEOGRID"]
    return config


def _render(page: str, user: User, fmap: folium.Map, extra: dict[str, Any]) -> str:
    parts = maps.page_parts(fmap)
    lang = g.get("lang", "zh")
    page_config = {
        "page": page,
        "map": parts["map_name"],
        "crs": maps.display_crs(_config()),
        "user": user_dict(user),
        **extra,
    }
    return render_template(
        f"{page}.html",
        page=page,
        title_key=NAV[page][1],
        user=user,
        nav=nav_for(user),
        text=catalogue(lang),
        page_config=page_config,
        **parts,
    )


def _t(key: str) -> str:
    return translate(key)


def _bounds(user: User) -> maps.Bounds:
    engine = current_app.config["ENGINE"]
    return access.visible_bounds(engine, user, crs=maps.display_crs(_config()))


@bp.get("/")
def index() -> ResponseReturnValue:
    """The role's landing page, or the log-in page."""
    if not current_user.is_authenticated:
        return redirect("/login")
    return redirect(landing_path(current()))


@bp.get("/grids")
@page_login_required
def grids() -> ResponseReturnValue:
    """Branch jurisdictions and grids by workload; profile, edits and history."""
    user = current()
    fmap = maps.grids_map(_bounds(user), _config(), _t, editable=user.edits_grids)
    return _render("grids", user, fmap, {"editable": user.edits_grids})


@bp.get("/nearby")
@page_login_required
def nearby() -> ResponseReturnValue:
    """Households near the device, a picked point or the branch: heatmap and list."""
    user = current()
    fmap = maps.nearby_map(_bounds(user), _config(), _t)
    extra = {
        "radius_m": DEFAULT_RADIUS_M,
        "weights": list(WEIGHTS),
        "products": list(PRODUCT_CHOICES),
        "records_visits": user.role in visit_log.RECORDERS,
        "purposes": list(VISIT_PURPOSES),
        "outcomes": list(VISIT_OUTCOMES),
    }
    return _render("nearby", user, fmap, extra)


@bp.get("/design")
@page_login_required
def design() -> ResponseReturnValue:
    """A proposal of grids for a branch beside the current grids."""
    user = current()
    access.require_role(user, ("head_office", "branch_head", "planner"), "design grids")
    engine = current_app.config["ENGINE"]
    branches = access.branch_list(engine, user)[["code", "name"]]
    fmap = maps.design_map(_bounds(user), _config(), _t)
    extra = {
        "branches": branches.to_dict("records"),
        "tiles": maps.tile_config(_config()),
        "workload_scale": workload_scale(),
    }
    return _render("design", user, fmap, extra)


@bp.get("/blindspots")
@page_login_required
def blindspots() -> ResponseReturnValue:
    """Blind-spot layers with legends, the ranked areas, report downloads."""
    user = current()
    access.coverage_scope(user)
    fmap = maps.blindspots_map(_bounds(user), _config(), _t)
    return _render("blindspots", user, fmap, {})


@bp.get("/routes")
@page_login_required
def routes() -> ResponseReturnValue:
    """A day's visits: filters, numbered stops on the map, times, reordering,
    printing and downloads."""
    user = current()
    access.require_role(user, ROUTE_ROLES, "plan visits")
    engine = current_app.config["ENGINE"]
    fmap = maps.routes_map(_bounds(user), _config(), _t)
    extra = {
        "grids": access.grid_choices(engine, user),
        "products": list(PRODUCTS),
        "labels": list(COMMON_LABELS),
        "today": dt.date.today().isoformat(),
    }
    return _render("routes", user, fmap, extra)


@bp.get("/visits")
@page_login_required
def visits() -> ResponseReturnValue:
    """Recent visits checked against the households' locations, per staff."""
    user = current()
    fmap = maps.visits_map(_bounds(user), _config(), _t)
    extra = {"verdicts": list(visit_log.VERDICTS), "days": [7, 30, 90, 180]}
    return _render("visits", user, fmap, extra)
