"""Route exports: GPX and KML for phone navigation, XLSX for the printed plan.

GPX and KML are written with the standard library's ElementTree: a waypoint
(placemark) per visit, numbered in visiting order, plus the start and end,
and the route's line as a track (LineString). Coordinates are WGS84 unless
``crs`` asks for another system: Chinese navigation apps (AMap, Tencent) read
GCJ-02, Baidu reads BD-09, and both are a few hundred metres off WGS84.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import shapely
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from geogrid.crs import convert_points, parse_crs
from geogrid.errors import InvalidInput
from geogrid.routes.solve import PlannedStop, RoutePlan, Unscheduled
from geogrid.routes.week import WeekPlan

logger = logging.getLogger(__name__)

GPX_NS = "http://www.topografix.com/GPX/1/1"
KML_NS = "http://www.opengis.net/kml/2.2"
EXPORT_CRS = ("wgs84", "gcj02", "bd09")
_DECIMALS = 7

# column titles of the spreadsheet, per language
_TITLES = {
    "en": {
        "date": "Date",
        "sequence": "No.",
        "stop_id": "Stop",
        "label": "Label",
        "lon": "Longitude",
        "lat": "Latitude",
        "arrival": "Arrival",
        "service_start": "Visit starts",
        "departure": "Departure",
        "waiting_min": "Wait (min)",
        "leg_km": "Leg (km)",
        "leg_min": "Leg (min)",
        "time_window": "Time window",
        "late_min": "Late (min)",
        "reason": "Reason",
        "detail": "Detail",
        "item": "Item",
        "value": "Value",
        "stops_sheet": "Route",
        "unscheduled_sheet": "Unscheduled",
        "summary_sheet": "Summary",
        "travel_model": "Travel model",
        "coordinates": "Coordinates",
        "days": "Days",
        "visits": "Visits",
        "unscheduled": "Unscheduled",
        "distance_km": "Distance (km)",
        "travel_min": "Travel (min)",
        "nn_distance_km": "Nearest-neighbour order distance (km)",
        "nn_travel_min": "Nearest-neighbour order travel (min)",
        "return": "Return",
    },
    "zh": {
        "date": "日期",
        "sequence": "序号",
        "stop_id": "编号",
        "label": "标注",
        "lon": "经度",
        "lat": "纬度",
        "arrival": "到达",
        "service_start": "开始拜访",
        "departure": "离开",
        "waiting_min": "等待(分钟)",
        "leg_km": "路程(公里)",
        "leg_min": "用时(分钟)",
        "time_window": "可访时段",
        "late_min": "迟到(分钟)",
        "reason": "原因",
        "detail": "说明",
        "item": "项目",
        "value": "数值",
        "stops_sheet": "路线",
        "unscheduled_sheet": "未安排",
        "summary_sheet": "汇总",
        "travel_model": "出行模型",
        "coordinates": "坐标系",
        "days": "天数",
        "visits": "拜访户数",
        "unscheduled": "未安排户数",
        "distance_km": "总路程(公里)",
        "travel_min": "总行驶(分钟)",
        "nn_distance_km": "就近顺序路程(公里)",
        "nn_travel_min": "就近顺序行驶(分钟)",
        "return": "返回",
    },
}

Plan = RoutePlan | WeekPlan


def to_gpx(plan: Plan, *, crs: str = "wgs84") -> str:
    """The route as GPX 1.1: a waypoint per visit and a track per day.

    Parameters
    ----------
    plan
        A day's or a week's plan.
    crs
        ``wgs84``, ``gcj02`` or ``bd09``.

    Returns
    -------
    str
        The XML document.
    """
    crs = _export_crs(crs)
    ET.register_namespace("", GPX_NS)
    root = ET.Element(_gpx("gpx"), {"version": "1.1", "creator": "geogrid"})
    metadata = ET.SubElement(root, _gpx("metadata"))
    ET.SubElement(metadata, _gpx("name")).text = _title(plan)
    ET.SubElement(metadata, _gpx("desc")).text = f"Coordinates in {crs}"

    for day in _days(plan):
        for name, lon, lat, when, desc in _waypoints(day, crs, len(_days(plan)) > 1):
            wpt = ET.SubElement(root, _gpx("wpt"), _gpx_point(lon, lat))
            if when is not None:
                ET.SubElement(wpt, _gpx("time")).text = _utc(when)
            ET.SubElement(wpt, _gpx("name")).text = name
            ET.SubElement(wpt, _gpx("desc")).text = desc
    for day in _days(plan):
        track = ET.SubElement(root, _gpx("trk"))
        ET.SubElement(track, _gpx("name")).text = f"Route {day.date.isoformat()}"
        segment = ET.SubElement(track, _gpx("trkseg"))
        for lon, lat in _line_coords(day, crs):
            ET.SubElement(segment, _gpx("trkpt"), _gpx_point(lon, lat))
    return _xml(root)


def to_kml(plan: Plan, *, crs: str = "wgs84") -> str:
    """The route as KML: a folder per day with placemarks and the route's line.

    Parameters
    ----------
    plan
        A day's or a week's plan.
    crs
        ``wgs84``, ``gcj02`` or ``bd09``.

    Returns
    -------
    str
        The XML document.
    """
    crs = _export_crs(crs)
    ET.register_namespace("", KML_NS)
    root = ET.Element(_kml("kml"))
    document = ET.SubElement(root, _kml("Document"))
    ET.SubElement(document, _kml("name")).text = _title(plan)
    ET.SubElement(document, _kml("description")).text = f"Coordinates in {crs}"

    for day in _days(plan):
        folder = ET.SubElement(document, _kml("Folder"))
        ET.SubElement(folder, _kml("name")).text = day.date.isoformat()
        for name, lon, lat, when, desc in _waypoints(day, crs, False):
            placemark = ET.SubElement(folder, _kml("Placemark"))
            ET.SubElement(placemark, _kml("name")).text = name
            ET.SubElement(placemark, _kml("description")).text = desc
            if when is not None:
                stamp = ET.SubElement(placemark, _kml("TimeStamp"))
                ET.SubElement(stamp, _kml("when")).text = when.isoformat()
            point = ET.SubElement(placemark, _kml("Point"))
            ET.SubElement(point, _kml("coordinates")).text = _kml_coords([(lon, lat)])
        coords = _line_coords(day, crs)
        if len(coords) >= 2:
            placemark = ET.SubElement(folder, _kml("Placemark"))
            ET.SubElement(placemark, _kml("name")).text = f"Route {day.date}"
            line = ET.SubElement(placemark, _kml("LineString"))
            ET.SubElement(line, _kml("tessellate")).text = "1"
            ET.SubElement(line, _kml("coordinates")).text = _kml_coords(coords)
    return _xml(root)


def to_xlsx(plan: Plan, *, crs: str = "wgs84", language: str = "en") -> bytes:
    """The route as a workbook: visits in order, what was left out, totals.

    Parameters
    ----------
    plan
        A day's or a week's plan.
    crs
        ``wgs84``, ``gcj02`` or ``bd09`` for the longitude and latitude
        columns.
    language
        ``en`` or ``zh`` column titles.

    Returns
    -------
    bytes
        The .xlsx file.
    """
    crs = _export_crs(crs)
    if language not in _TITLES:
        raise InvalidInput(
            f"language must be one of {sorted(_TITLES)}; received {language!r}.",
            parameter="language",
        )
    titles = _TITLES[language]
    book = openpyxl.Workbook()
    stops_sheet = book.active
    assert stops_sheet is not None
    stops_sheet.title = titles["stops_sheet"]
    _stops_sheet(stops_sheet, plan, crs, titles)
    _unscheduled_sheet(book.create_sheet(titles["unscheduled_sheet"]), plan, titles)
    _summary_sheet(book.create_sheet(titles["summary_sheet"]), plan, crs, titles)

    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def write_route(
    plan: Plan, path: str | Path, *, crs: str = "wgs84", language: str = "en"
) -> Path:
    """Write a plan as .gpx, .kml or .xlsx, chosen by the file's suffix.

    Parameters
    ----------
    plan
        A day's or a week's plan.
    path
        Where to write; the suffix picks the format.
    crs
        ``wgs84``, ``gcj02`` or ``bd09``.
    language
        Column titles of a spreadsheet, ``en`` or ``zh``.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    InvalidInput
        When the suffix is none of .gpx, .kml, .xlsx.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".gpx":
        path.write_text(to_gpx(plan, crs=crs), encoding="utf-8")
    elif suffix == ".kml":
        path.write_text(to_kml(plan, crs=crs), encoding="utf-8")
    elif suffix == ".xlsx":
        path.write_bytes(to_xlsx(plan, crs=crs, language=language))
    else:
        raise InvalidInput(
            f"Route exports are .gpx, .kml or .xlsx files; received {path.name!r}. "
            "Change the file's suffix.",
            path=str(path),
        )
    n_days = len(_days(plan))
    logger.info("Wrote route of %d day(s) to %s in %s", n_days, path.name, crs)
    return path


# --- shared pieces ------------------------------------------------------------


def _export_crs(crs: str) -> str:
    name = parse_crs(crs)
    if name == "cgcs2000":
        return "wgs84"
    if name not in EXPORT_CRS:
        raise InvalidInput(
            f"Routes export in {', '.join(EXPORT_CRS)}; received {crs!r}. GPS "
            "devices read wgs84, AMap and Tencent gcj02, Baidu bd09.",
            parameter="crs",
        )
    return name


def _days(plan: Plan) -> list[RoutePlan]:
    return plan.days if isinstance(plan, WeekPlan) else [plan]


def _title(plan: Plan) -> str:
    days = _days(plan)
    if len(days) == 1:
        return f"Visits {days[0].date.isoformat()}"
    return f"Visits {days[0].date.isoformat()} to {days[-1].date.isoformat()}"


def _converted(lon: Any, lat: Any, crs: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = convert_points(np.asarray(lon, float), np.asarray(lat, float), "wgs84", crs)
    return np.atleast_1d(x), np.atleast_1d(y)


def _waypoints(
    day: RoutePlan, crs: str, with_date: bool
) -> Iterator[tuple[str, float, float, dt.datetime | None, str]]:
    """Name, lon, lat, time and description of the start, visits and end."""
    prefix = f"{day.date:%m-%d} " if with_date else ""
    lon = [day.start[0], *(s.stop.lon for s in day.stops), day.end[0]]
    lat = [day.start[1], *(s.stop.lat for s in day.stops), day.end[1]]
    x, y = _converted(lon, lat, crs)
    yield f"{prefix}Start", x[0], y[0], day.at(day.departure_s), "Start"
    for k, stop in enumerate(day.stops, start=1):
        yield (
            f"{prefix}{stop.sequence:02d} {stop.id}",
            x[k],
            y[k],
            stop.arrival,
            _stop_desc(stop),
        )
    if day.end != day.start or not day.stops:
        yield f"{prefix}End", x[-1], y[-1], day.at(day.return_s), "End"


def _stop_desc(stop: PlannedStop) -> str:
    parts = [
        f"arrive {stop.arrival:%H:%M}",
        f"visit {stop.service_start:%H:%M}-{stop.departure:%H:%M}",
    ]
    if stop.stop.label:
        parts.insert(0, stop.stop.label)
    if stop.stop.time_window is not None:
        parts.append(f"window {stop.stop.time_window}")
    return "; ".join(parts)


def _line_coords(day: RoutePlan, crs: str) -> list[tuple[float, float]]:
    if day.geometry is None:
        return []
    coords = shapely.get_coordinates(day.geometry)
    x, y = _converted(coords[:, 0], coords[:, 1], crs)
    return list(zip(x.tolist(), y.tolist(), strict=True))


def _gpx(tag: str) -> str:
    return f"{{{GPX_NS}}}{tag}"


def _kml(tag: str) -> str:
    return f"{{{KML_NS}}}{tag}"


def _gpx_point(lon: float, lat: float) -> dict[str, str]:
    return {"lat": f"{lat:.{_DECIMALS}f}", "lon": f"{lon:.{_DECIMALS}f}"}


def _kml_coords(coords: list[tuple[float, float]]) -> str:
    return " ".join(f"{x:.{_DECIMALS}f},{y:.{_DECIMALS}f}" for x, y in coords)


def _utc(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _xml(root: ET.Element) -> str:
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


# --- the workbook -------------------------------------------------------------


def _stops_sheet(
    sheet: Worksheet, plan: Plan, crs: str, titles: dict[str, str]
) -> None:
    columns = [
        "date",
        "sequence",
        "stop_id",
        "label",
        "lon",
        "lat",
        "arrival",
        "service_start",
        "departure",
        "waiting_min",
        "leg_km",
        "leg_min",
        "time_window",
        "late_min",
    ]
    _header(sheet, [titles[c] for c in columns])
    for day in _days(plan):
        x, y = _converted(
            [s.stop.lon for s in day.stops], [s.stop.lat for s in day.stops], crs
        )
        for k, stop in enumerate(day.stops):
            sheet.append(
                [
                    day.date,
                    stop.sequence,
                    str(stop.id),
                    stop.stop.label or "",
                    round(float(x[k]), _DECIMALS),
                    round(float(y[k]), _DECIMALS),
                    _local(stop.arrival),
                    _local(stop.service_start),
                    _local(stop.departure),
                    round(stop.waiting_s / 60.0, 1),
                    round(stop.leg_distance_m / 1000.0, 2),
                    round(stop.leg_time_s / 60.0, 1),
                    "" if stop.stop.time_window is None else str(stop.stop.time_window),
                    round(stop.late_s / 60.0, 1),
                ]
            )
    for row in sheet.iter_rows(min_row=2):
        row[0].number_format = "yyyy-mm-dd"
        for cell in row[6:9]:
            cell.number_format = "hh:mm"


def _unscheduled_sheet(sheet: Worksheet, plan: Plan, titles: dict[str, str]) -> None:
    _header(sheet, [titles["stop_id"], titles["reason"], titles["detail"]])
    for item in _all_unscheduled(plan):
        sheet.append([str(item.stop_id), item.reason, item.detail])


def _all_unscheduled(plan: Plan) -> list[Unscheduled]:
    if isinstance(plan, WeekPlan):
        return [*plan.unscheduled, *(u for day in plan.days for u in day.unscheduled)]
    return plan.unscheduled


def _summary_sheet(
    sheet: Worksheet, plan: Plan, crs: str, titles: dict[str, str]
) -> None:
    days = _days(plan)
    first = days[0]
    model = first.travel_model
    if first.detour_factor is not None:
        model += f" (x{first.detour_factor:g} at {first.speed_kph:g} km/h)"
    _header(sheet, [titles["item"], titles["value"]])
    rows: list[tuple[str, Any]] = [
        ("travel_model", model),
        ("coordinates", crs),
        ("days", len(days)),
        ("visits", sum(len(d.stops) for d in days)),
        ("unscheduled", len(_all_unscheduled(plan))),
        ("distance_km", _km(sum(d.total_distance_m for d in days))),
        ("travel_min", _minutes(sum(d.total_travel_s for d in days))),
        ("nn_distance_km", _km(sum(d.baseline.distance_m for d in days))),
        ("nn_travel_min", _minutes(sum(d.baseline.travel_s for d in days))),
    ]
    for key, value in rows:
        sheet.append([titles[key], value])

    # a line per day
    sheet.append([])
    columns = ["date", "visits", "departure", "return", "distance_km", "travel_min"]
    _header(sheet, [titles[c] for c in columns], row=sheet.max_row + 1)
    for day in days:
        sheet.append(
            [
                day.date,
                len(day.stops),
                _local(day.at(day.departure_s)),
                _local(day.at(day.return_s)),
                _km(day.total_distance_m),
                _minutes(day.total_travel_s),
            ]
        )


def _km(distance_m: float) -> float:
    return round(distance_m / 1000.0, 2)


def _minutes(seconds: float) -> float:
    return round(seconds / 60.0, 1)


def _header(sheet: Worksheet, titles: list[str], row: int = 1) -> None:
    for column, title in enumerate(titles, start=1):
        cell = sheet.cell(row=row, column=column, value=title)
        cell.font = Font(bold=True)


def _local(when: dt.datetime) -> dt.datetime:
    # Excel has no time zones: local wall-clock time
    return when.replace(tzinfo=None)


# --- JSON for the viewer --------------------------------------------------------


def to_dict(plan: RoutePlan, *, crs: str = "wgs84") -> dict[str, Any]:
    """A day's route as plain JSON values: what the viewer's route page draws.

    Parameters
    ----------
    plan
        A day's plan.
    crs
        ``wgs84``, ``gcj02`` or ``bd09`` for every coordinate (the map's).

    Returns
    -------
    dict
        ``stops`` in visiting order (sequence, id, label, lon, lat, arrival,
        start, departure as ``HH:MM``, wait, lateness, leg time and distance,
        time window), ``unscheduled`` (id, reason, detail), ``violations``,
        ``totals`` (visits, distance, travel and working time, the
        nearest-neighbour order's distance and travel and the ratios),
        ``travel_model`` (with the detour factor and speed of straight
        lines), ``start``, ``end`` and ``line``, a GeoJSON LineString of the
        route (None when nothing moves).
    """
    crs = _export_crs(crs)
    lon = [plan.start[0], plan.end[0], *(s.stop.lon for s in plan.stops)]
    lat = [plan.start[1], plan.end[1], *(s.stop.lat for s in plan.stops)]
    x, y = _converted(lon, lat, crs)
    stops = [
        {
            "sequence": stop.sequence,
            "id": str(stop.id),
            "label": stop.stop.label or "",
            "lon": round(float(x[k + 2]), _DECIMALS),
            "lat": round(float(y[k + 2]), _DECIMALS),
            "arrival": f"{stop.arrival:%H:%M}",
            "start": f"{stop.service_start:%H:%M}",
            "departure": f"{stop.departure:%H:%M}",
            "waiting_min": round(stop.waiting_s / 60.0, 1),
            "late_min": round(stop.late_s / 60.0, 1),
            "leg_min": round(stop.leg_time_s / 60.0, 1),
            "leg_km": round(stop.leg_distance_m / 1000.0, 2),
            "access_m": round(stop.access_m, 1),
            "time_window": _window_text(stop.stop.time_window),
        }
        for k, stop in enumerate(plan.stops)
    ]
    line = _line_coords(plan, crs)
    baseline = plan.baseline
    return {
        "date": plan.date.isoformat(),
        "timezone": plan.timezone,
        "optimised": plan.optimised,
        "travel_model": {
            "name": plan.travel_model,
            "detour_factor": plan.detour_factor,
            "speed_kph": plan.speed_kph,
        },
        "crs": crs,
        "start": {
            "lon": round(float(x[0]), _DECIMALS),
            "lat": round(float(y[0]), _DECIMALS),
        },
        "end": {
            "lon": round(float(x[1]), _DECIMALS),
            "lat": round(float(y[1]), _DECIMALS),
        },
        "departure": f"{plan.at(plan.departure_s):%H:%M}",
        "return": f"{plan.at(plan.return_s):%H:%M}",
        "stops": stops,
        "unscheduled": [unscheduled_dict(u) for u in plan.unscheduled],
        "violations": [
            {
                "id": None if v.stop_id is None else str(v.stop_id),
                "kind": v.kind,
                "detail": v.detail,
            }
            for v in plan.violations
        ],
        "totals": {
            "visits": len(plan.stops),
            "unscheduled": len(plan.unscheduled),
            "distance_km": round(plan.total_distance_m / 1000.0, 2),
            "travel_min": round(plan.total_travel_s / 60.0, 1),
            "duration_min": round(plan.total_duration_s / 60.0, 1),
            "nn_distance_km": round(baseline.distance_m / 1000.0, 2),
            "nn_travel_min": round(baseline.travel_s / 60.0, 1),
            "distance_ratio": _finite(plan.distance_ratio),
            "travel_ratio": _finite(plan.travel_ratio),
        },
        "line": (
            {
                "type": "LineString",
                "coordinates": [
                    [round(a, _DECIMALS), round(b, _DECIMALS)] for a, b in line
                ],
            }
            if len(line) >= 2
            else None
        ),
    }


def _point_dict(lon: float, lat: float) -> dict[str, float]:
    return {"lon": round(float(lon), _DECIMALS), "lat": round(float(lat), _DECIMALS)}


def unscheduled_dict(item: Unscheduled) -> dict[str, str]:
    """A stop left out, as JSON values: id, reason, detail."""
    return {"id": str(item.stop_id), "reason": item.reason, "detail": item.detail}


def _finite(value: float) -> float | None:
    return round(value, 3) if np.isfinite(value) else None


def _window_text(spec: Any) -> str:
    return "" if spec is None else str(spec)
