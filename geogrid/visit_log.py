"""Visits recorded where they happen, and the check that they happened there.

An account manager records a visit from the phone at the household: purpose,
outcome, a note and the device's location with its accuracy. The visit is
stored with that location, and its distance from the household's location is
the check: within `tolerance_m` (`ON_SITE_M`, or the device's accuracy when
that is larger, up to `MAX_TOLERANCE_M`) it counts as made on site; farther,
it is stored all the same but flagged ``away``, so that a branch head sees
which visits were logged from somewhere else. A visit recorded without a
location is flagged ``no_location``; one at a household that has no location
of its own, ``household_unlocated``.

`visit_checks` lists the visits of a period with that verdict, within the
grids the user sees, and `visit_summary` counts them per member of staff.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection, Engine, text

from geogrid.access import NO_PEOPLE, personal_view, require_role, visible_grid_ids
from geogrid.auth import ACCOUNT_MANAGER, BRANCH_HEAD, HEAD_OFFICE, PLANNER, User
from geogrid.crs import convert_points, parse_crs
from geogrid.errors import InvalidInput, NotFound
from geogrid.store.models import VISIT_OUTCOMES, VISIT_PURPOSES

log = logging.getLogger(__name__)

TIMEZONE = "Asia/Shanghai"  # of the times written to files
ON_SITE_M = 150.0
MAX_TOLERANCE_M = 500.0
MAX_ACCURACY_M = 5_000.0
NOTE_MAX_CHARS = 500
MAX_DAYS = 366
VERDICTS = ("on_site", "away", "no_location", "household_unlocated")
# who records visits (they make them); planners only look
RECORDERS = (HEAD_OFFICE, BRANCH_HEAD, ACCOUNT_MANAGER)
CHECKERS = (HEAD_OFFICE, BRANCH_HEAD, ACCOUNT_MANAGER, PLANNER)


def tolerance_m(accuracy_m: float | None) -> float:
    """How far from the household a visit may be recorded and count as on site."""
    if accuracy_m is None:
        return ON_SITE_M
    return min(max(ON_SITE_M, float(accuracy_m)), MAX_TOLERANCE_M)


def verdict(
    distance_m: float | None, accuracy_m: float | None, *, located: bool = True
) -> str:
    """``on_site``, ``away``, ``no_location`` or ``household_unlocated``."""
    if distance_m is None or not math.isfinite(distance_m):
        return "no_location" if located else "household_unlocated"
    return "on_site" if distance_m <= tolerance_m(accuracy_m) else "away"


def _check_visit(
    purpose: str,
    outcome: str,
    note: str | None,
    lon: float | None,
    lat: float | None,
    accuracy_m: float | None,
) -> None:
    if purpose not in VISIT_PURPOSES:
        raise InvalidInput(
            f"purpose must be one of {', '.join(VISIT_PURPOSES)}; received "
            f"{purpose!r}.",
            parameter="purpose",
        )
    if outcome not in VISIT_OUTCOMES:
        raise InvalidInput(
            f"outcome must be one of {', '.join(VISIT_OUTCOMES)}; received "
            f"{outcome!r}.",
            parameter="outcome",
        )
    if note is not None and len(note) > NOTE_MAX_CHARS:
        raise InvalidInput(
            f"note must be at most {NOTE_MAX_CHARS} characters; received "
            f"{len(note)}. Shorten it.",
            parameter="note",
        )
    if (lon is None) != (lat is None):
        raise InvalidInput(
            "lon and lat go together: give both (the device's location) or "
            f"neither; received lon={lon!r}, lat={lat!r}.",
            parameter="lon/lat",
        )
    if lon is not None and lat is not None:
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise InvalidInput(
                f"lon and lat must be finite numbers; received {lon!r}, {lat!r}.",
                parameter="lon/lat",
            )
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise InvalidInput(
                "lon must be within -180..180 and lat within -90..90 (degrees); "
                f"received lon={lon}, lat={lat}. Did you swap them?",
                parameter="lon/lat",
            )
    if accuracy_m is not None and not (
        math.isfinite(accuracy_m) and 0 <= accuracy_m <= MAX_ACCURACY_M
    ):
        raise InvalidInput(
            f"accuracy_m must be from 0 to {MAX_ACCURACY_M:,.0f} metres; received "
            f"{accuracy_m!r}.",
            parameter="accuracy_m",
        )


_HOUSEHOLD_SQL = """
SELECT h.id, h.household_no, h.geom IS NOT NULL AS located
FROM household h
WHERE h.id = :id AND (:all OR h.grid_id = ANY(:grids))
"""

_INSERT_SQL = """
INSERT INTO visit (household_id, staff_id, visited_at, recorded_at, geom,
                   accuracy_m, purpose, outcome, note)
SELECT h.id, :staff, :at, now(),
       ST_SetSRID(ST_MakePoint(CAST(:lon AS float8), CAST(:lat AS float8)), 4326),
       CAST(:accuracy AS float8), :purpose, :outcome, :note
FROM household h WHERE h.id = :id
RETURNING id, visited_at,
  (SELECT ST_Distance(visit.geom::geography, h.geom::geography)
   FROM household h WHERE h.id = visit.household_id) AS distance_m
"""


def record_visit(
    engine: Engine,
    user: User,
    household_id: int,
    *,
    purpose: str,
    outcome: str,
    lon: float | None = None,
    lat: float | None = None,
    accuracy_m: float | None = None,
    note: str | None = None,
    crs: str = "wgs84",
) -> dict[str, Any]:
    """Store a visit made now at a household of the user's grids, and check it.

    Parameters
    ----------
    engine
        The store.
    user
        Who made the visit: head office, a branch head or an account manager
        (planners only look). Only households of their grids.
    household_id
        The household visited.
    purpose, outcome
        One of `VISIT_PURPOSES` and of `VISIT_OUTCOMES`.
    lon, lat
        Where the device was, in ``crs``; both or neither.
    accuracy_m
        The device's accuracy in metres (the browser's
        ``coords.accuracy``), which widens the on-site tolerance up to
        `MAX_TOLERANCE_M`.
    note
        Free text, at most `NOTE_MAX_CHARS` characters.
    crs
        The system of ``lon`` and ``lat``: a phone's browser reports WGS84.

    Returns
    -------
    dict
        id, household_id, household_no, visited_at (ISO 8601), distance_m
        (None without both locations), tolerance_m and verdict.

    Raises
    ------
    PermissionDenied
        For planners.
    NotFound
        When the household does not exist or lies outside the user's grids.
    InvalidInput
        For a purpose, outcome, location, accuracy or note that breaks its rule.
    """
    require_role(user, RECORDERS, "record visits")
    lon = None if lon is None else float(lon)
    lat = None if lat is None else float(lat)
    accuracy_m = None if accuracy_m is None else float(accuracy_m)
    note = (note or "").strip() or None
    _check_visit(purpose, outcome, note, lon, lat, accuracy_m)
    if (
        lon is not None
        and lat is not None
        and parse_crs(crs)
        not in (
            "wgs84",
            "cgcs2000",
        )
    ):
        x, y = convert_points(lon, lat, crs, "wgs84")
        lon, lat = float(x), float(y)

    with engine.begin() as conn:
        grids = visible_grid_ids(conn, user)
        household = conn.execute(
            text(_HOUSEHOLD_SQL),
            {"id": int(household_id), "all": grids is None, "grids": grids or []},
        ).first()
        if household is None:
            raise NotFound(
                f"Household {household_id} does not exist or is outside your "
                "grids; record visits only to households of the grids you serve."
            )
        stored = conn.execute(
            text(_INSERT_SQL),
            {
                "id": household.id,
                "staff": user.id,
                "at": dt.datetime.now(dt.UTC),
                "lon": lon,
                "lat": lat,
                "accuracy": accuracy_m,
                "purpose": purpose,
                "outcome": outcome,
                "note": note,
            },
        ).one()

    distance_m = None if stored.distance_m is None else float(stored.distance_m)
    result = {
        "id": int(stored.id),
        "household_id": int(household.id),
        "household_no": household.household_no,
        "visited_at": stored.visited_at.isoformat(),
        "purpose": purpose,
        "outcome": outcome,
        "distance_m": None if distance_m is None else round(distance_m, 1),
        "accuracy_m": accuracy_m,
        "tolerance_m": tolerance_m(accuracy_m),
        "verdict": verdict(distance_m, accuracy_m, located=household.located)
        if lon is not None
        else "no_location",
    }
    log.info(
        "Recorded visit %d by %s: %s",
        result["id"],
        user.username,
        result["verdict"],
    )
    return result


# the visits of a period in the user's grids, with their distance and verdict
# (the same rule as `verdict`, in SQL so that it can be filtered and counted),
# worked out once into a temporary table that the list and the summary read
_JUDGE_SQL = """
CREATE TEMPORARY TABLE judged ON COMMIT DROP AS
WITH checked AS (
    SELECT v.id, v.visited_at, v.recorded_at, v.staff_id, v.household_id,
           v.purpose, v.outcome, v.accuracy_m, v.geom,
           ST_Distance(v.geom::geography, h.geom::geography) AS distance_m,
           LEAST(GREATEST(:on_site, coalesce(v.accuracy_m, 0)), :max_tolerance)
             AS tolerance_m,
           h.geom IS NULL AS unlocated
    FROM visit v
    JOIN household h ON h.id = v.household_id
    JOIN staff s ON s.id = v.staff_id
    WHERE v.visited_at >= :since AND v.visited_at < :until
      AND (:all OR h.grid_id = ANY(:grids))
      AND (:staff_all OR s.username = :staff)
), judged AS (
    SELECT c.*, CASE WHEN c.geom IS NULL THEN 'no_location'
                     WHEN c.unlocated THEN 'household_unlocated'
                     WHEN c.distance_m <= c.tolerance_m THEN 'on_site'
                     ELSE 'away' END AS verdict
    FROM checked c
)
SELECT * FROM judged
"""

_ROWS_SQL = """
SELECT j.id, j.visited_at, j.recorded_at, s.username AS staff,
       s.name AS staff_name, h.id AS household_id, h.household_no,
       {address} AS address, g.code AS grid_code, j.purpose, j.outcome,
       j.accuracy_m, round(j.distance_m::numeric, 1)::float AS distance_m,
       j.tolerance_m, j.verdict, ST_X(j.geom) AS lon, ST_Y(j.geom) AS lat,
       ST_X(h.geom) AS household_lon, ST_Y(h.geom) AS household_lat
FROM judged j
JOIN household h ON h.id = j.household_id
JOIN staff s ON s.id = j.staff_id
LEFT JOIN grid g ON g.id = h.grid_id
WHERE :verdict_all OR j.verdict = ANY(:verdicts)
ORDER BY j.visited_at DESC, j.id DESC
{limit}
"""

_SUMMARY_SQL = """
SELECT s.username AS staff, s.name AS staff_name, count(*) AS visits,
       count(*) FILTER (WHERE j.verdict = 'on_site') AS on_site,
       count(*) FILTER (WHERE j.verdict = 'away') AS away,
       count(*) FILTER (WHERE j.verdict = 'no_location') AS no_location,
       count(*) FILTER (WHERE j.verdict = 'household_unlocated')
         AS household_unlocated
FROM judged j JOIN staff s ON s.id = j.staff_id
GROUP BY s.username, s.name
"""


def _judge(
    conn: Connection, user: User, days: int, staff: str | None, today: dt.date | None
) -> None:
    """Judge the period's visits into the transaction's table ``judged``.

    Without JIT compilation: for a few tens of thousands of visits it costs
    ten times what the query does (0.8 s against 0.1 s).
    """
    conn.execute(text("SET LOCAL jit = off"))
    conn.execute(text(_JUDGE_SQL), _period_params(conn, user, days, staff, today))


def _period_params(
    conn: Connection, user: User, days: int, staff: str | None, today: dt.date | None
) -> dict[str, Any]:
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_DAYS:
        raise InvalidInput(
            f"days must be a whole number from 1 to {MAX_DAYS}; received {days!r}.",
            parameter="days",
        )
    end = today or dt.datetime.now(ZoneInfo(TIMEZONE)).date()
    until = dt.datetime.combine(
        end + dt.timedelta(days=1), dt.time(), ZoneInfo(TIMEZONE)
    )
    grids = visible_grid_ids(conn, user)
    return {
        "since": until - dt.timedelta(days=days),
        "until": until,
        "all": grids is None,
        "grids": grids or [],
        "staff_all": staff is None,
        "staff": staff or "",
        "on_site": ON_SITE_M,
        "max_tolerance": MAX_TOLERANCE_M,
    }


def visit_checks(
    engine: Engine,
    user: User,
    *,
    days: int = 30,
    staff: str | None = None,
    verdicts: Sequence[str] | None = None,
    limit: int | None = 10_000,
    crs: str = "wgs84",
    today: dt.date | None = None,
) -> pd.DataFrame:
    """The visits of the last ``days`` days in the user's grids, each checked.

    Parameters
    ----------
    engine
        The store.
    user
        Head office and planners see every grid; branch heads their branch;
        account managers the grids where they hold a post. Planners get no
        addresses and no staff names (user names only).
    days
        How far back: the last ``days`` days up to and including ``today``
        (local time, `TIMEZONE`), from 1 to `MAX_DAYS`.
    staff
        Only the visits of this user name.
    verdicts
        Only visits with these verdicts (of `VERDICTS`); None: all.
    limit
        At most this many visits, newest first; None: all of them.
    crs
        The system of the returned coordinates.
    today
        The last day of the period (default: today).

    Returns
    -------
    pandas.DataFrame
        One row per visit, newest first: id, visited_at, recorded_at, staff,
        staff_name, household_id, household_no, address, grid_code, purpose,
        outcome, accuracy_m, distance_m, tolerance_m, verdict, lon, lat (where
        it was recorded) and household_lon, household_lat.
    """
    return checks_and_summary(
        engine,
        user,
        days=days,
        staff=staff,
        verdicts=verdicts,
        limit=limit,
        crs=crs,
        today=today,
        summary=False,
    )[0]


def visit_summary(
    engine: Engine,
    user: User,
    *,
    days: int = 30,
    staff: str | None = None,
    today: dt.date | None = None,
) -> pd.DataFrame:
    """Per member of staff, every visit of the period counted by verdict.

    The same period, grids and rule as `visit_checks`, counted in the
    database over all the visits (no limit).

    Returns
    -------
    pandas.DataFrame
        staff, staff_name (not for planners), visits, on_site, away,
        no_location, household_unlocated and away_share (away over the visits
        with both locations), most away first, then most visits.
    """
    return checks_and_summary(
        engine, user, days=days, staff=staff, today=today, rows=False
    )[1]


def checks_and_summary(
    engine: Engine,
    user: User,
    *,
    days: int = 30,
    staff: str | None = None,
    verdicts: Sequence[str] | None = None,
    limit: int | None = 10_000,
    crs: str = "wgs84",
    today: dt.date | None = None,
    rows: bool = True,
    summary: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`visit_checks` and `visit_summary` of one period from one judgement.

    The visits are judged once (the costly part: a distance per visit) and
    both read the result, so a page that shows both pays once. ``rows`` or
    ``summary`` False leaves that part out (an empty frame in its place).
    """
    require_role(user, CHECKERS, "check visits")
    wanted = _checked_args(verdicts, limit)
    view = personal_view(user)
    checks = summed = pd.DataFrame()
    with engine.begin() as conn:
        _judge(conn, user, days, staff, today)
        if rows:
            checks = _read_checks(conn, view, wanted, limit)
        if summary:
            summed = pd.read_sql(text(_SUMMARY_SQL), conn)
    if rows:
        checks = _shaped_checks(checks, view, crs)
    if summary:
        summed = _shaped_summary(summed, view)
    return checks, summed


def _checked_args(verdicts: Sequence[str] | None, limit: int | None) -> list[str]:
    """The verdicts asked for, checked with the limit."""
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise InvalidInput(
            f"limit must be a whole number of 1 or more; received {limit!r}.",
            parameter="limit",
        )
    wanted = list(verdicts or [])
    unknown = sorted(set(wanted) - set(VERDICTS))
    if unknown:
        raise InvalidInput(
            f"verdict must be among {', '.join(VERDICTS)}; received "
            f"{', '.join(unknown)}.",
            parameter="verdict",
        )
    return wanted


def _read_checks(
    conn: Connection, view: str, wanted: list[str], limit: int | None
) -> pd.DataFrame:
    sql = _ROWS_SQL.format(
        address="NULL::text" if view == NO_PEOPLE else "h.address",
        limit="" if limit is None else "LIMIT :limit",
    )
    params: dict[str, Any] = {
        "verdict_all": not wanted,
        "verdicts": wanted,
        "limit": limit,
    }
    return pd.read_sql(text(sql), conn, params=params)


def _shaped_checks(frame: pd.DataFrame, view: str, crs: str) -> pd.DataFrame:
    """Coordinates in ``crs``; no addresses or staff names for planners."""
    if parse_crs(crs) not in ("wgs84", "cgcs2000") and len(frame):
        for lon, lat in (("lon", "lat"), ("household_lon", "household_lat")):
            known = frame[lon].notna()
            x, y = convert_points(
                frame.loc[known, lon], frame.loc[known, lat], "wgs84", crs
            )
            frame.loc[known, lon], frame.loc[known, lat] = x, y
    if view == NO_PEOPLE:
        frame = frame.drop(columns=["address", "staff_name"])
    return frame


def _shaped_summary(counts: pd.DataFrame, view: str) -> pd.DataFrame:
    """The away share, most away first; no staff names for planners."""
    if view == NO_PEOPLE:
        counts = counts.drop(columns=["staff_name"])
    checked = counts["on_site"] + counts["away"]
    counts["away_share"] = (counts["away"] / checked.where(checked > 0)).round(3)
    return counts.sort_values(
        ["away_share", "visits", "staff"],
        ascending=[False, False, True],
        na_position="last",
    ).reset_index(drop=True)


def write_visit_checks(
    engine: Engine, user: User, path: Path, *, days: int = 30, staff: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write the checked visits to a file (format by its extension), audited.

    CSV and XLSX get one row per visit; GeoJSON, GeoPackage and Shapefile the
    same rows as points where each visit was recorded (visits without a
    location have an empty geometry). Times are local (`TIMEZONE`). The
    export is written to the audit log with the user, the file name and the
    number of rows.

    Returns
    -------
    (checks, summary)
        The rows written, and `visit_summary` of the same period.
    """
    from geogrid import audit
    from geogrid.export import FORMATS, write_frame

    if path.suffix.lower() not in FORMATS:
        raise InvalidInput(
            f"Cannot write {path.name}: the extension must be one of "
            f"{', '.join(sorted(FORMATS))}.",
            parameter="path",
        )
    checks, summary = checks_and_summary(
        engine, user, days=days, staff=staff, limit=None
    )
    points = gpd.GeoDataFrame(
        checks.drop(columns=["lon", "lat"]),
        geometry=gpd.points_from_xy(checks["lon"], checks["lat"]),
        crs=4326,
    )
    # local wall-clock times: Excel keeps no time zone
    for column in ("visited_at", "recorded_at"):
        points[column] = (
            pd.to_datetime(points[column], utc=True)
            .dt.tz_convert(TIMEZONE)
            .dt.tz_localize(None)
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_frame(points, path)
    with engine.begin() as conn:
        audit.record(
            conn,
            "export",
            actor=user.username,
            object_type="visit_checks",
            object_id=path.suffix.lower().lstrip("."),
            file=path.name,
            rows=len(points),
            days=days,
        )
    log.info("Exported %d checked visits to %s", len(points), path.name)
    return checks, summary
