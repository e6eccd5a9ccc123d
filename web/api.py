"""The JSON API: each view parses, asks the core (which applies permissions),
and shapes the response. OpenAPI description at /api/openapi.json."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from flask import Blueprint, Response, current_app, request
from flask.typing import ResponseReturnValue
from sqlalchemy import Engine

from geogrid import access, visit_log
from geogrid.coverage.params import CoverageParameters
from geogrid.crs import convert_points
from geogrid.errors import InvalidInput, NotFound
from geogrid.grids.edit import EditPreview
from geogrid.nearby import (
    DEFAULT_LIMIT,
    DEFAULT_RADIUS_M,
    MAX_LIMIT,
    MAX_RADIUS_M,
    PRODUCT_CHOICES,
    WEIGHTS,
    household_detail,
    nearby_households,
)
from web.auth import current, user_dict
from web.cache import TTLCache
from web.geojson import polygon_from_geojson
from web.params import (
    DISPLAY_CRS,
    bbox_arg,
    choice_arg,
    crs_arg,
    field,
    float_arg,
    int_arg,
    json_body,
)

bp = Blueprint("api", __name__, url_prefix="/api")

EDIT_BODY_MAX_BYTES = 1_000_000
# density cells this large are counted county-wide once and cached
COARSE_CELL_M = 200.0


def _cache(name: str, max_items: int, ttl_s: float) -> TTLCache[Any]:
    """A cache of this app (each app, and so each test database, has its own)."""
    caches = current_app.extensions.setdefault("geogrid_caches", {})
    cache: TTLCache[Any] = caches.get(name) or caches.setdefault(
        name, TTLCache(max_items=max_items, ttl_s=ttl_s)
    )
    return cache


def _proposals() -> TTLCache[Any]:
    return _cache("proposals", 16, 900)


def _reports() -> TTLCache[Any]:
    return _cache("reports", 4, 600)


def _layers() -> TTLCache[Any]:
    return _cache("layers", 64, 300)


def _engine() -> Engine:
    engine: Engine = current_app.config["ENGINE"]
    return engine


def _rounded(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Coordinates to 1e-6 degrees (about 0.1 m): a third of the bytes."""
    if gdf.empty:
        return gdf
    geoms = shapely.transform(gdf.geometry.to_numpy(), lambda xy: np.round(xy, 6))
    return gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))


def _geojson(gdf: gpd.GeoDataFrame, *, exact: bool = False, **members: Any) -> Response:
    """A FeatureCollection response; ``exact`` keeps every digit (shapes to edit,
    whose borders must still meet their neighbours')."""
    body = (gdf if exact else _rounded(gdf)).to_json(
        drop_id=True, na="null", ensure_ascii=False
    )
    if members:
        collection = json.loads(body)
        collection.update(members)
        body = json.dumps(collection, ensure_ascii=False, default=str)
    return Response(body, mimetype="application/geo+json")


def _feature_collection(gdf: gpd.GeoDataFrame) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(_rounded(gdf).to_json(drop_id=True, na="null"))
    return result


# --- the service ------------------------------------------------------------


@bp.get("/health")
def health() -> ResponseReturnValue:
    """Liveness: no log-in needed."""
    return {"status": "ok"}


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    """The OpenAPI 3.1 description of this API."""
    from web.openapi import document

    return document()


@bp.get("/me")
def me() -> ResponseReturnValue:
    """The logged-in user and where their map starts."""
    user = current()
    body = user_dict(user)
    try:
        body["home"] = access.home_branch(_engine(), user, crs=crs_arg())
    except NotFound:
        body["home"] = None
    try:
        body["home_grid"] = access.home_grid(_engine(), user, crs=crs_arg())
    except NotFound:
        body["home_grid"] = None
    return body


@bp.get("/convert")
def convert() -> ResponseReturnValue:
    """A point converted between coordinate systems (the device's WGS84 to GCJ-02)."""
    current()
    names = list(DISPLAY_CRS)
    source = choice_arg("from", names, "wgs84") or "wgs84"
    target = choice_arg("to", names, "wgs84") or "wgs84"
    x, y = convert_points(
        float_arg("lon", low=-180, high=180),
        float_arg("lat", low=-90, high=90),
        source,
        target,
    )
    return {"lon": float(x), "lat": float(y), "crs": target}


# --- map layers -------------------------------------------------------------


@bp.get("/branches")
def branches() -> ResponseReturnValue:
    """Branches whose grids the user sees."""
    frame = access.branch_list(_engine(), current(), crs=crs_arg())
    records = frame.drop(columns="id").astype(object).where(frame.notna(), None)
    return {"branches": records.to_dict("records")}


@bp.get("/grids")
def grids() -> ResponseReturnValue:
    """Grids in view (level 1 or 2) with households and workload ratio.

    The user's grids with their counts are kept for a few minutes (they take
    a pass over every household), then cut to the box asked for.
    """
    user = current()
    level = int_arg("level", 2, low=1, high=2)
    tolerance_m = float_arg("simplify_m", 0.0, low=0.0, high=500.0)
    crs, bbox = crs_arg(), bbox_arg()
    key = ("grids", access.scope_key(_engine(), user), level, tolerance_m, crs)
    gdf = _layers().get_or_compute(
        key,
        lambda: access.grid_layer(
            _engine(), user, level=level, crs=crs, tolerance_m=tolerance_m
        ),
    )
    return _geojson(access.in_bbox(gdf, bbox))


@bp.get("/villages")
def villages() -> ResponseReturnValue:
    """Villages in view inside the user's grids."""
    return _geojson(
        access.village_layer(_engine(), current(), bbox=bbox_arg(), crs=crs_arg())
    )


def snap_cell_m(cell_m: float) -> float:
    """The nearest of 25, 50, 100, 200 ... metres (on a log scale)."""
    return float(25 * 2 ** round(math.log2(max(cell_m, 25.0) / 25)))


@bp.get("/density")
def density() -> ResponseReturnValue:
    """Households counted on cells, for the density heatmap.

    Cells snap to 25 m times a power of two. Coarse cells (200 m and up, the
    county and town views) are counted over all the user's households once
    and kept for a few minutes; fine ones are counted in the box asked for.
    """
    user = current()
    cell_m = snap_cell_m(float_arg("cell_m", 200.0, low=10.0, high=5_000.0))
    crs, bbox = crs_arg(), bbox_arg()
    if cell_m >= COARSE_CELL_M:
        key = ("density", access.scope_key(_engine(), user), cell_m, crs)
        everything = _layers().get_or_compute(
            key,
            lambda: access.household_density(_engine(), user, cell_m=cell_m, crs=crs),
        )
        frame = access.points_in_bbox(everything, bbox)
    else:
        frame = access.household_density(
            _engine(), user, bbox=bbox, cell_m=cell_m, crs=crs
        )
    points = frame[["lat", "lon", "households"]].round({"lat": 6, "lon": 6})
    top = float(frame["households"].quantile(0.98)) if len(frame) else 1.0
    return {
        "points": points.to_numpy().tolist(),
        "max": max(top, 1.0),
        "cell_m": cell_m,
    }


# --- one grid ---------------------------------------------------------------


@bp.get("/grids/<code>")
def grid_profile(code: str) -> ResponseReturnValue:
    """A grid's profile: posts, liaison officers, targets and current figures."""
    return access.grid_profile_for(_engine(), current(), code)


@bp.get("/grids/<code>/shape")
def grid_shape(code: str) -> ResponseReturnValue:
    """A grid's full-resolution shape, for editing its vertices."""
    shape = access.grid_shape(_engine(), current(), code, crs=crs_arg())
    return _geojson(shape, exact=True)


@bp.get("/grids/<code>/history")
def grid_history(code: str) -> ResponseReturnValue:
    """A grid's versions, newest first."""
    frame = access.grid_history_for(_engine(), current(), code)
    frame["changed_at"] = frame["changed_at"].map(lambda t: t.isoformat())
    frame["area_km2"] = frame["area_km2"].astype(float).round(3)
    return {"grid": code, "versions": frame.to_dict("records")}


# --- grid edits -------------------------------------------------------------


def _preview_from(body: dict[str, Any]) -> EditPreview:
    operation = field(body, "operation", str)
    crs = body.get("crs", "wgs84")
    polygon = None
    if operation == "replace_polygon":
        polygon = polygon_from_geojson(field(body, "polygon", dict), crs)
    villages = body.get("villages")
    if villages is not None and (
        not isinstance(villages, list) or not all(isinstance(v, str) for v in villages)
    ):
        raise InvalidInput(
            f"Field 'villages' must be a list of village codes; received {villages!r}.",
            parameter="villages",
        )
    version = body.get("version")
    if version is not None and (
        not isinstance(version, int) or isinstance(version, bool)
    ):
        raise InvalidInput(
            f"Field 'version' must be a whole number; received {version!r}.",
            parameter="version",
        )
    gap_policy = body.get("gap_policy", "give")
    return access.preview_edit(
        _engine(),
        current(),
        operation,
        grid=body.get("grid"),
        villages=villages,
        polygon=polygon,
        version=version,
        gap_policy=gap_policy,
    )


@bp.post("/edits/preview")
def edit_preview() -> ResponseReturnValue:
    """What an edit would change: households moving, workloads, gaps."""
    current()
    body = json_body(EDIT_BODY_MAX_BYTES)
    preview = _preview_from(body)
    return access.preview_for_display(preview, body.get("crs", "wgs84"))


@bp.post("/edits/commit")
def edit_commit() -> ResponseReturnValue:
    """Save an edit previewed before, with a reason; 409 if the grids changed."""
    user = current()
    body = json_body(EDIT_BODY_MAX_BYTES)
    reason = field(body, "reason", str)
    seen = field(body, "versions", dict)
    access.check_seen_versions(_engine(), user, field(body, "grid", str), seen)
    preview = _preview_from(body)
    changeset = access.commit_previewed(
        _engine(), user, preview, seen_versions=seen, reason=reason
    )
    _reports().clear()
    _proposals().clear()
    _layers().clear()
    summary = preview.to_dict()
    return {
        "changeset": changeset,
        "target": summary["target"],
        "changed": sorted(summary["shapes"]),
        "households_moved": summary["households_moving"],
    }


# --- nearby households ------------------------------------------------------


@bp.get("/nearby")
def nearby() -> ResponseReturnValue:
    """Weighted heatmap and the nearest households around a point."""
    result = nearby_households(
        _engine(),
        current(),
        float_arg("lon", low=-180, high=180),
        float_arg("lat", low=-90, high=90),
        radius_m=float_arg("radius_m", DEFAULT_RADIUS_M, low=1, high=MAX_RADIUS_M),
        weight=choice_arg("weight", WEIGHTS, "households") or "households",
        product=choice_arg("product", PRODUCT_CHOICES, None),
        limit=int_arg("limit", DEFAULT_LIMIT, low=1, high=MAX_LIMIT),
        crs=crs_arg(),
    )
    return result.to_dict()


@bp.get("/households/<int:household_id>")
def household(household_id: int) -> ResponseReturnValue:
    """One household's file, if it lies in the user's grids."""
    return household_detail(_engine(), current(), household_id, crs=crs_arg())


# --- visits: recorded where they happen, and checked -----------------------


def _optional(body: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    return None if body.get(name) is None else field(body, name, kind)


@bp.post("/visits")
def record_visit() -> ResponseReturnValue:
    """Record a visit made now, with the device's location, and say if on site."""
    body = json_body(10_000)
    number = (int, float)
    crs = body.get("crs", "wgs84")
    if crs not in DISPLAY_CRS:
        raise InvalidInput(
            f"Field 'crs' must be one of {', '.join(DISPLAY_CRS)}; received {crs!r}.",
            parameter="crs",
        )
    recorded = visit_log.record_visit(
        _engine(),
        current(),
        field(body, "household_id", int),
        purpose=field(body, "purpose", str),
        outcome=field(body, "outcome", str),
        lon=_optional(body, "lon", number),
        lat=_optional(body, "lat", number),
        accuracy_m=_optional(body, "accuracy_m", number),
        note=_optional(body, "note", str),
        crs=crs,
    )
    return recorded, 201


@bp.get("/visits")
def visit_checks() -> ResponseReturnValue:
    """Visits of the last days in the user's grids, each checked, and per staff."""
    user, days = current(), int_arg("days", 30, low=1, high=visit_log.MAX_DAYS)
    staff = request.args.get("staff") or None
    verdicts = [v for v in request.args.get("verdict", "").split(",") if v]
    checks, summary = visit_log.checks_and_summary(
        _engine(),
        user,
        days=days,
        staff=staff,
        verdicts=verdicts or None,
        limit=int_arg("limit", 500, low=1, high=10_000),
        crs=crs_arg(),
    )
    return {
        "visits": json.loads(checks.to_json(orient="records", date_format="iso")),
        "summary": json.loads(summary.to_json(orient="records")),
    }


# --- grid design ------------------------------------------------------------


def _design(code: str) -> access.DesignComparison:
    user = current()
    k = request.args.get("k")
    k_value = int_arg("k", 0, low=1, high=200) if k else None
    seed = int_arg("seed", 0, low=0, high=1_000_000)
    access.check_design_access(_engine(), user, code)  # before the cache
    return _proposals().get_or_compute(
        (code, k_value, seed),
        lambda: access.design_for_branch(_engine(), user, code, k=k_value, seed=seed),
    )


@bp.get("/branches/<code>/proposal")
def proposal(code: str) -> ResponseReturnValue:
    """A proposal of grids for a branch beside its current grids (read-only)."""
    crs = crs_arg()
    design = _design(code)
    proposed = design.proposal.grids[
        [
            "grid",
            "households",
            "ratio_to_mean",
            "polsby_popper",
            "n_villages",
            "area_km2",
            "geometry",
        ]
    ].rename(columns={"ratio_to_mean": "ratio"})
    proposed["ratio"] = proposed["ratio"].round(3)
    proposed["polsby_popper"] = proposed["polsby_popper"].round(3)
    current_grids = design.current.rename(columns={"code": "grid"})
    versions = {
        str(c): int(v)
        for c, v in zip(design.current["code"], design.current["version"], strict=True)
    }
    same_grids = set(proposed["grid"].astype(str)) == set(versions)
    may_adopt = access.may_edit_branch(_engine(), current(), code)
    return {
        "branch": {"code": design.branch, "name": design.branch_name},
        "summary": design.summary,
        "report": design.proposal.report(),
        "current": _feature_collection(
            access.to_display(current_grids.drop(columns="version"), crs)
        ),
        "proposal": _feature_collection(access.to_display(proposed, crs)),
        "versions": versions,
        "may_adopt": may_adopt,
        "adoptable": same_grids and may_adopt,
    }


@bp.post("/branches/<code>/proposal/adopt")
def adopt_proposal(code: str) -> ResponseReturnValue:
    """Adopt the proposal (same k and seed) as new versions of the branch's grids.

    Body: ``k`` (omitted: as many as today), ``seed``, ``reason`` and the
    proposal's ``versions``; 409 when a grid was saved since.
    """
    user = current()
    body = json_body(10_000)
    reason = field(body, "reason", str)
    seen = field(body, "versions", dict)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in seen.values()):
        raise InvalidInput(
            "Field 'versions' must map grid codes to whole version numbers, as "
            f"the proposal answered; received {seen!r}.",
            parameter="versions",
        )
    k = body.get("k")
    seed = body.get("seed", 0)
    for name, value in (("k", k), ("seed", seed)):
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool)
        ):
            raise InvalidInput(
                f"Field {name!r} must be a whole number as used for the proposal; "
                f"received {value!r}.",
                parameter=name,
            )
    access.check_design_access(_engine(), user, code)
    design = _proposals().get_or_compute(
        (code, k, seed),
        lambda: access.design_for_branch(_engine(), user, code, k=k, seed=seed),
    )
    result = access.adopt_design(
        _engine(), user, design, seen_versions=seen, reason=reason
    )
    _reports().clear()
    _proposals().clear()
    _layers().clear()
    return result


@bp.get("/branches/<code>/proposal.geojson")
def proposal_geojson(code: str) -> ResponseReturnValue:
    """The proposal's grids as a GeoJSON file (WGS84), recorded as an export."""
    design = _design(code)
    grids = design.proposal.grids.drop(
        columns=["contiguous", "connected"], errors="ignore"
    )
    access.record_export(
        _engine(), current(), "grid_proposal", "geojson", len(grids), branch=code
    )
    response = _geojson(grids, summary=design.summary)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="proposal-{code}.geojson"'
    )
    return response


# --- blind spots ------------------------------------------------------------


def _report() -> Any:
    user = current()
    scope = access.coverage_scope(user)
    days = int_arg("days", 180, low=1, high=3650)
    resolution = int_arg("resolution", 8, low=5, high=10)
    params = CoverageParameters(days=days, resolution=resolution)
    key = (tuple(sorted(scope.items())), days, resolution)
    return _reports().get_or_compute(
        key, lambda: access.coverage_for(_engine(), user, params)
    )


@bp.get("/coverage/summary")
def coverage_summary() -> ResponseReturnValue:
    """Headline counts of the blind-spot report and its parameters."""
    report = _report()
    return {
        "summary": report.summary,
        "parameters": json.loads(json.dumps(report.parameters, default=str)),
        "layers": list(access.COVERAGE_MAP_LAYERS),
    }


@bp.get("/coverage/layers/<name>")
def coverage_layer(name: str) -> ResponseReturnValue:
    """One blind-spot layer in view, with the columns the map shows."""
    report = _report()
    gdf = access.coverage_layer(report, current(), name, bbox=bbox_arg(), crs=crs_arg())
    return _geojson(gdf)


@bp.get("/coverage/blind-spots")
def coverage_ranked() -> ResponseReturnValue:
    """The ranked blind spots, best opportunity first, each with its bounds."""
    report = _report()
    crs = crs_arg()
    limit = int_arg("limit", 50, low=1, high=1000)
    gdf = access.coverage_layer(report, current(), "blind_spots", crs=crs).head(limit)
    bounds = gdf.geometry.bounds.round(6).to_numpy().tolist()
    records = json.loads(gdf.drop(columns="geometry").to_json(orient="records"))
    for record, box in zip(records, bounds, strict=True):
        record["bbox"] = box
    return {"blind_spots": records, "count": len(report.blind_spots)}


def _report_file(suffix: str, layers: list[str]) -> Response:
    from geogrid.coverage import write_layers

    user = current()
    report = _report()
    frames = {
        name: access.coverage_layer(report, user, name, full=True) for name in layers
    }
    with tempfile.TemporaryDirectory(prefix="geogrid-report-") as folder:
        path = Path(folder) / f"blind-spots{suffix}"
        written = write_layers(frames, path, report.parameters)
        data = written[0].read_bytes()
    access.record_export(
        _engine(),
        user,
        "coverage",
        suffix.lstrip("."),
        sum(len(f) for f in frames.values()),
        layers=layers,
    )
    mimetype = (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        if suffix == ".xlsx"
        else "application/geo+json"
    )
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="blind-spots{suffix}"'
    )
    return response


@bp.get("/coverage/report.xlsx")
def coverage_xlsx() -> ResponseReturnValue:
    """The blind-spot report as XLSX: parameters, then one sheet per layer."""
    return _report_file(".xlsx", list(access.COVERAGE_REPORT_LAYERS))


@bp.get("/coverage/report.geojson")
def coverage_geojson() -> ResponseReturnValue:
    """One report layer (default: the ranked blind spots) as a GeoJSON file."""
    layer = choice_arg("layer", access.COVERAGE_REPORT_LAYERS, "blind_spots")
    return _report_file(".geojson", [layer or "blind_spots"])
