"""Read query parameters and JSON bodies, refusing bad ones with a clear 400."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from flask import request

from geogrid.crs import parse_crs
from geogrid.errors import InvalidInput

DISPLAY_CRS = ("wgs84", "cgcs2000", "gcj02", "bd09")


def float_arg(
    name: str, default: float | None = None, *, low: float, high: float
) -> float:
    """A finite number from the query string, within [low, high]."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        if default is None:
            raise InvalidInput(
                f"Query parameter {name!r} is required: a number from {low:g} to "
                f"{high:g}.",
                parameter=name,
            )
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not low <= value <= high:
        raise InvalidInput(
            f"Query parameter {name!r} must be a number from {low:g} to {high:g}; "
            f"received {raw!r}.",
            parameter=name,
            received=raw,
        )
    return value


def int_arg(name: str, default: int, *, low: int, high: int) -> int:
    """A whole number from the query string, within [low, high]."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.lstrip("-").isdigit() or not low <= int(raw) <= high:
        raise InvalidInput(
            f"Query parameter {name!r} must be a whole number from {low} to {high}; "
            f"received {raw!r}.",
            parameter=name,
            received=raw,
        )
    return int(raw)


def choice_arg(name: str, choices: Sequence[str], default: str | None) -> str | None:
    """One of ``choices`` from the query string."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if raw not in choices:
        raise InvalidInput(
            f"Query parameter {name!r} must be one of {', '.join(choices)}; "
            f"received {raw!r}.",
            parameter=name,
            received=raw,
        )
    return raw


def bbox_arg() -> tuple[float, float, float, float] | None:
    """``bbox=west,south,east,north`` in degrees of the request's ``crs``, or None."""
    raw = request.args.get("bbox")
    if not raw:
        return None
    parts = raw.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4:
        raise InvalidInput(
            "Query parameter 'bbox' must be four numbers west,south,east,north "
            f"(degrees, comma-separated); received {raw!r}.",
            parameter="bbox",
            received=raw,
        )
    west, south, east, north = values
    return west, south, east, north


def crs_arg() -> str:
    """``crs`` of coordinates sent and returned: wgs84 (default), gcj02, bd09 ..."""
    raw = request.args.get("crs") or "wgs84"
    crs = parse_crs(raw)
    if crs not in DISPLAY_CRS:
        raise InvalidInput(
            f"Query parameter 'crs' must be one of {', '.join(DISPLAY_CRS)} (map "
            f"coordinates in degrees); received {raw!r}.",
            parameter="crs",
            received=raw,
        )
    return crs


def json_body(max_bytes: int = 1_000_000) -> dict[str, Any]:
    """The request's JSON object, at most ``max_bytes`` long."""
    length = request.content_length
    if length is not None and length > max_bytes:
        raise InvalidInput(
            f"The request body is {length / 1e6:.1f} MB; this endpoint accepts at "
            f"most {max_bytes / 1e6:.1f} MB. Simplify the shape (fewer vertices) "
            "and send it again.",
            limit_bytes=max_bytes,
        )
    if not request.is_json:
        raise InvalidInput(
            "The body must be JSON, sent with Content-Type: application/json; "
            f"received {request.mimetype or 'no content type'}."
        )
    raw = request.get_data(cache=True)
    if len(raw) > max_bytes:
        raise InvalidInput(
            f"The request body is {len(raw) / 1e6:.1f} MB; this endpoint accepts "
            f"at most {max_bytes / 1e6:.1f} MB. Simplify the shape and send it "
            "again.",
            limit_bytes=max_bytes,
        )
    try:
        body = json.loads(raw, parse_constant=_refuse_constant)
    except ValueError as exc:
        raise InvalidInput(
            f"The body is not valid JSON: {exc}. Check quotes, commas and brackets.",
        ) from None
    if not isinstance(body, dict):
        raise InvalidInput(
            f"The body must be a JSON object; received a {type(body).__name__}."
        )
    return body


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows (coordinates must be finite)")


# how a JSON sender calls each Python type
_JSON_NAMES = {
    int: "a whole number",
    float: "a number",
    str: "a string",
    bool: "true or false",
    list: "an array",
    dict: "an object",
}


def field(body: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    """``body[name]``, required and of type ``kind``."""
    if name not in body:
        raise InvalidInput(
            f"The body lacks the field {name!r}; see /api/openapi.json for the shape.",
            parameter=name,
        )
    value = body[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        kinds = (kind,) if isinstance(kind, type) else kind
        if float in kinds:  # a number, whole or not
            kinds = tuple(k for k in kinds if k is not int)
        names = " or ".join(_JSON_NAMES.get(k, k.__name__) for k in kinds)
        raise InvalidInput(
            f"Field {name!r} must be {names}; received {value!r}.",
            parameter=name,
        )
    return value
