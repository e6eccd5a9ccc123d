"""Pages of the viewer."""

from __future__ import annotations

from flask import Blueprint, current_app

from geogrid.overview import county_overview
from web.maps import overview_map

bp = Blueprint("views", __name__)


@bp.get("/")
def index() -> str:
    """The county overview map."""
    overview = county_overview(current_app.config["ENGINE"])
    return overview_map(overview, current_app.config["GEOGRID"])


@bp.get("/api/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
