"""Households near a point for an account manager: a weighted heatmap and a list.

`nearby_households` answers in one PostGIS statement. The GiST index on
``household.geom`` finds candidates through the bounding box of the circle
(``&&``); the distance in metres keeps those inside, measured with the
ellipsoid's metres per degree at the centre (a mid-latitude correction for
east-west), within 8 cm of the geodesic distance at 10 km and 3 mm at 2 km,
and cheaper per household than a point-in-polygon test against a drawn
circle. The user's visible grids filter the same rows. From that one set the
statement sums the chosen weight on cells of about 25 m (the heatmap: a few
thousand cells at most, not every household) and lists the nearest: the
closest candidates by ``<->`` (distance in degrees, the KNN operator), four
per household listed, ranked again by their distance in metres on the
ellipsoid. Degrees stretch east-west distances by 1/cos(latitude), so the
candidates are checked to surely hold the nearest in metres; when they might
not (households stacked at one spot), the list alone is made again from
eight times as many candidates, until they do.

`household_detail` returns one household's file, again only within the
user's grids. Personal details are shaped by ``geogrid.access.personal_view``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, text

from geogrid.access import (
    NO_PEOPLE,
    personal_view,
    points_to_display,
    shape_person,
    visible_grid_ids,
)
from geogrid.auth import User
from geogrid.crs import convert_points, parse_crs
from geogrid.errors import InvalidInput, NotFound

log = logging.getLogger(__name__)

WEIGHTS = ("households", "potential", "without_product", "other_deposits")
PRODUCT_CHOICES = ("mobile_banking", "pos", "payment")
DEFAULT_RADIUS_M = 2_000.0
MAX_RADIUS_M = 10_000.0
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
HEAT_CELL_M = 25.0
# households ranked by degree distance (index order) for each one listed
CANDIDATES_PER_LISTED = 4

_M_PER_DEG = 111_320.0
_A = 6_378_137.0  # WGS84 semi-major axis, m
_E2 = 0.00669437999014  # WGS84 first eccentricity squared

# per household, the weight the user chose (households: 1 each), read from the
# figures kept on the household row (geogrid.store.summary)
_WEIGHT_SQL = {
    "households": "1.0",
    "potential": "n.potential_members",
    "without_product": "CASE :product WHEN 'mobile_banking' THEN "
    "n.customers_without_mobile_banking WHEN 'pos' THEN n.customers_without_pos "
    "ELSE n.customers_without_payment END",
    "other_deposits": "n.deposit_other_total",
}
_SUMMARY = (
    "h.potential_members, h.customers_without_mobile_banking, "
    "h.customers_without_pos, h.customers_without_payment, h.deposit_other_total"
)

# inside the circle: metres east and north of the centre, from the ellipsoid's
# metres per degree at the centre's latitude; east-west uses the mid-latitude
# of the centre and the household (first order), see `_box_params`. Written
# over {x} and {y}, degrees east and north of the centre
_WITHIN = "({x} * :kx * (1 - {y} * :kt)) ^ 2 + ({y} * :ky) ^ 2 <= :r2"

# households in the circle's box: every grid or some grids (where the planner
# can also use the grid_id index), with their position from the centre worked
# out once per row (OFFSET 0 keeps the subquery whole, so the circle test and
# the heat cells reuse it). The box is a constant, so the planner estimates
# how many households it holds and reads a dense town's (tens of thousands)
# by a bitmap scan, each table page once
_NEAR_SQL = f"""
    SELECT b.* FROM (
        SELECT h.id, ST_X(h.geom) - :lon AS x, ST_Y(h.geom) - :lat AS y, {_SUMMARY}
        FROM household h
        WHERE h.geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326) {{grids}}
        OFFSET 0
    ) b
    WHERE {_WITHIN.format(x="b.x", y="b.y")}
"""
_NEAR_ALL_SQL = _NEAR_SQL.format(grids="")
_NEAR_GRIDS_SQL = _NEAR_SQL.format(grids="AND h.grid_id = ANY(:grids)")
# the closest households by degree distance: a nearest-first walk of the
# spatial index inside the circle's box, stopping after :candidates (for a
# manager the planner may read their grids' households and sort them)
_CANDIDATES_SQL = f"""
    SELECT h.id, h.geom, h.geom <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS deg
    FROM household h
    WHERE h.geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)
      AND (:all OR h.grid_id = ANY(:grids))
      AND {_WITHIN.format(x="(ST_X(h.geom) - :lon)", y="(ST_Y(h.geom) - :lat)")}
    ORDER BY h.geom <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)
    LIMIT :candidates
"""

# the heatmap in one pass over the households in the circle: per cell, the
# summed weight, the households and those with a weight
_HEAT_CTES = """
heat AS (
    SELECT (floor((x + :lon) / :dx) + 0.5) * :dx AS lon,
           (floor((y + :lat) / :dy) + 0.5) * :dy AS lat,
           sum(weight) AS weight, count(*) AS households,
           count(*) FILTER (WHERE weight > 0) AS weighted
    FROM (SELECT n.x, n.y, {weight}::float AS weight FROM ({near}) n) w
    GROUP BY 1, 2
),"""
_HEAT_COLUMNS = """
  (SELECT coalesce(sum(households), 0) FROM heat) AS households,
  (SELECT coalesce(sum(weighted), 0) FROM heat) AS weighted,
  (SELECT coalesce(json_agg(json_build_array(lon, lat, weight)), '[]')
     FROM heat WHERE weight > 0) AS heat,"""

# the heatmap (unless {heat_ctes} and {heat_columns} are empty) and the
# nearest households with their files
_NEARBY_SQL = """
WITH {heat_ctes} candidates AS MATERIALIZED ({candidates}), nearest AS (
    SELECT id, geom,
           ST_Distance(geom::geography, ST_MakePoint(:lon, :lat)::geography)
             AS distance_m
    FROM candidates ORDER BY distance_m, id LIMIT :limit
)
SELECT {heat_columns}
  (SELECT max(deg) FROM candidates) AS candidate_deg,
  (SELECT count(*) FROM candidates) AS candidate_count,
  (SELECT coalesce(json_agg(row_to_json(x) ORDER BY x.rank), '[]')
   FROM (
     SELECT row_number() OVER (ORDER BY k.distance_m, k.id) AS rank,
            h.id, h.household_no, {address} AS address, h.village_code,
            g.code AS grid, round(k.distance_m::numeric, 1)::float AS distance_m,
            ST_X(k.geom) AS lon, ST_Y(k.geom) AS lat,
            m.people, m.customers, m.products, m.deposit_other,
            (SELECT (max(v.visited_at) AT TIME ZONE 'Asia/Shanghai')::date
             FROM visit v WHERE v.household_id = h.id) AS last_visit
            {people}
     FROM nearest k
     JOIN household h ON h.id = k.id
     LEFT JOIN grid g ON g.id = h.grid_id
     CROSS JOIN LATERAL (
       SELECT count(*) AS people,
              count(*) FILTER (WHERE p.status = 'customer') AS customers,
              coalesce((SELECT array_agg(DISTINCT x ORDER BY x) FROM person q,
                        unnest(q.products) x WHERE q.household_id = h.id),
                       '{{}}') AS products,
              coalesce(sum(p.deposit_other), 0)::float AS deposit_other
       FROM person p WHERE p.household_id = h.id
     ) m
   ) x) AS nearest
"""

_PEOPLE_SQL = """,
            (SELECT coalesce(json_agg(json_build_object(
                       'name', p.name, 'phone', p.phone, 'status', p.status)
                     ORDER BY p.id), '[]')
             FROM person p WHERE p.household_id = h.id) AS people_list"""


@dataclass
class Nearby:
    """Households around a point: a heatmap of the chosen weight and the nearest.

    Attributes
    ----------
    origin
        (lon, lat) of the centre, in the caller's coordinate system.
    radius_m
        Radius searched, in metres.
    weight
        What the heatmap counts (one of `WEIGHTS`); ``product`` names the
        product for ``without_product``.
    households
        Households within the radius in the user's grids.
    weighted
        Of those, households with a weight above zero.
    heat
        One row per cell of about `HEAT_CELL_M` metres: lon, lat, weight.
    nearest
        The nearest households, closest first: rank, id, household_no, address,
        village_code, grid, distance_m, lon, lat, status, people, customers,
        products, deposit_other, last_visit and, where the role allows,
        people_list (name, phone, status of each member).
    elapsed_ms
        Time the database took, in milliseconds.
    """

    origin: tuple[float, float]
    radius_m: float
    weight: str
    product: str | None
    households: int
    weighted: int
    heat: pd.DataFrame
    nearest: list[dict[str, Any]] = field(default_factory=list)
    elapsed_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form: heat as [lat, lon, weight] rows for Leaflet.heat."""
        heat = self.heat[["lat", "lon", "weight"]].round(
            {"lat": 6, "lon": 6, "weight": 2}
        )
        return {
            "origin": {"lon": self.origin[0], "lat": self.origin[1]},
            "radius_m": self.radius_m,
            "weight": self.weight,
            "product": self.product,
            "households": self.households,
            "weighted": self.weighted,
            "heat": heat.to_numpy().tolist(),
            "heat_max": float(self.heat["weight"].max()) if len(self.heat) else 0.0,
            "nearest": self.nearest,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


def _check_query(
    lon: float,
    lat: float,
    radius_m: float,
    weight: str,
    product: str | None,
    limit: int,
) -> None:
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
    if not (math.isfinite(radius_m) and 0 < radius_m <= MAX_RADIUS_M):
        raise InvalidInput(
            f"radius_m must be above 0 and at most {MAX_RADIUS_M:,.0f} metres; "
            f"received {radius_m!r}.",
            parameter="radius_m",
        )
    if weight not in WEIGHTS:
        raise InvalidInput(
            f"weight must be one of {', '.join(WEIGHTS)}; received {weight!r}.",
            parameter="weight",
        )
    if weight == "without_product" and product not in PRODUCT_CHOICES:
        raise InvalidInput(
            "weight without_product needs product, one of "
            f"{', '.join(PRODUCT_CHOICES)}; received {product!r}.",
            parameter="product",
        )
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(
            f"limit must be between 1 and {MAX_LIMIT}; received {limit!r}.",
            parameter="limit",
        )


def _nearest_is_exact(
    row: Any, households: int, lat: float, radius_m: float, limit: int
) -> bool:
    """Whether the candidates by degree distance surely hold the nearest by metres.

    A household outside the candidates is at least ``candidate_deg`` degrees
    away, hence at least that many degrees times the shortest length of a
    degree within the circle (east-west, at its latitude farthest from the
    equator), less 1% for the ellipsoid, in metres.
    """
    if row.candidate_count >= households or not row.nearest:
        return True
    far_lat = min(abs(lat) + radius_m / _M_PER_DEG, 89.9)
    shortest_m_per_deg = 0.99 * _M_PER_DEG * math.cos(math.radians(far_lat))
    listed = row.nearest[: min(limit, len(row.nearest))]
    return bool(listed[-1]["distance_m"] <= row.candidate_deg * shortest_m_per_deg)


def metres_per_degree(lat: float) -> tuple[float, float]:
    """(east, north) metres per degree at latitude ``lat`` on the WGS84 ellipsoid.

    From the radii of curvature in the prime vertical (N) and the meridian (M).
    """
    phi = math.radians(lat)
    w = 1 - _E2 * math.sin(phi) ** 2
    n = _A / math.sqrt(w)
    m = _A * (1 - _E2) / w**1.5
    return math.radians(n * math.cos(phi)), math.radians(m)


def _box_params(lon: float, lat: float, radius_m: float) -> dict[str, float]:
    """The circle as `_WITHIN` reads it, a degree box surely holding it, and
    heat cells of HEAT_CELL_M."""
    cos_lat = max(math.cos(math.radians(min(abs(lat) + 0.1, 89.9))), 0.01)
    dlat = radius_m / _M_PER_DEG * 1.01
    dlon = radius_m / (_M_PER_DEG * cos_lat) * 1.01
    kx, ky = metres_per_degree(lat)
    return {
        "w": lon - dlon,
        "e": lon + dlon,
        "s": lat - dlat,
        "n": lat + dlat,
        "kx": kx,
        "ky": ky,
        # east-west metres per degree shrink by tan(lat) per radian of
        # latitude; half of it reaches the mid-latitude
        "kt": math.tan(math.radians(lat)) * math.pi / 360,
        "r2": radius_m**2,
        "dy": HEAT_CELL_M / _M_PER_DEG,
        "dx": HEAT_CELL_M / (_M_PER_DEG * cos_lat),
    }


@dataclass
class _Statement:
    """The one statement behind `nearby_households`, for a user and a circle."""

    lon: float
    lat: float
    radius_m: float
    weight: str
    grids: list[int] | None
    view: str

    @classmethod
    def of(
        cls,
        conn: Connection,
        user: User,
        lon: float,
        lat: float,
        radius_m: float,
        weight: str,
    ) -> _Statement:
        grids = visible_grid_ids(conn, user)
        return cls(lon, lat, radius_m, weight, grids, personal_view(user))

    def sql(self, *, heat: bool) -> str:
        """The heatmap and the list, or (``heat=False``) the list alone."""
        listing = {
            "candidates": _CANDIDATES_SQL,
            "address": "NULL::text" if self.view == NO_PEOPLE else "h.address",
            "people": "" if self.view == NO_PEOPLE else _PEOPLE_SQL,
        }
        if not heat:
            return _NEARBY_SQL.format(heat_ctes="", heat_columns="", **listing)
        heat_ctes = _HEAT_CTES.format(
            near=_NEAR_ALL_SQL if self.grids is None else _NEAR_GRIDS_SQL,
            weight=_WEIGHT_SQL[self.weight],
        )
        return _NEARBY_SQL.format(
            heat_ctes=heat_ctes, heat_columns=_HEAT_COLUMNS, **listing
        )

    def params(self, product: str | None, limit: int) -> dict[str, Any]:
        return {
            "lon": self.lon,
            "lat": self.lat,
            "limit": limit,
            "candidates": CANDIDATES_PER_LISTED * limit,
            "product": product or "",
            "grids": self.grids or [],
            "all": self.grids is None,
            **_box_params(self.lon, self.lat, self.radius_m),
        }


def explain_nearby(
    engine: Engine,
    user: User,
    lon: float,
    lat: float,
    *,
    radius_m: float = DEFAULT_RADIUS_M,
    weight: str = "households",
    limit: int = DEFAULT_LIMIT,
) -> list[str]:
    """``EXPLAIN ANALYZE`` of the statement `nearby_households` runs (WGS84 centre).

    For tuning and the benchmarks: the lines of the plan PostgreSQL chose,
    with the rows each step read and the time it took.
    """
    _check_query(lon, lat, radius_m, weight, "pos", limit)
    with engine.connect() as conn:
        statement = _Statement.of(conn, user, lon, lat, radius_m, weight)
        sql = "EXPLAIN (ANALYZE, COSTS OFF, BUFFERS) " + statement.sql(heat=True)
        rows = conn.execute(text(sql), statement.params("pos", limit)).scalars()
        return [str(r) for r in rows]


def nearby_households(
    engine: Engine,
    user: User,
    lon: float,
    lat: float,
    *,
    radius_m: float = DEFAULT_RADIUS_M,
    weight: str = "households",
    product: str | None = None,
    limit: int = DEFAULT_LIMIT,
    crs: str = "wgs84",
) -> Nearby:
    """Heatmap and nearest households within ``radius_m`` of a point.

    Parameters
    ----------
    engine
        The store.
    user
        Only households of the user's visible grids count.
    lon, lat
        The centre, in ``crs``.
    radius_m
        Search radius in metres (default 2 km, at most 10 km).
    weight
        ``households`` (each counts 1), ``potential`` (potential customers
        among the members), ``without_product`` (customers not holding
        ``product``) or ``other_deposits`` (known deposits at other banks,
        yuan).
    product
        mobile_banking, pos or payment, for ``without_product``.
    limit
        How many nearest households to list (default 50).
    crs
        Coordinate system of the centre and of the coordinates returned.

    Returns
    -------
    Nearby
    """
    lon, lat, radius_m = float(lon), float(lat), float(radius_m)
    _check_query(lon, lat, radius_m, weight, product, int(limit))
    crs = parse_crs(crs)
    lon84, lat84 = (
        (lon, lat)
        if crs in ("wgs84", "cgcs2000")
        else tuple(float(v) for v in convert_points(lon, lat, crs, "wgs84"))
    )

    started = time.perf_counter()
    with engine.connect() as conn:
        statement = _Statement.of(conn, user, lon84, lat84, radius_m, weight)
        params = statement.params(product, int(limit))
        row = conn.execute(text(statement.sql(heat=True)), params).one()
        households, weighted, heat_cells = int(row.households), row.weighted, row.heat
        # rare (households stacked at one spot): more candidates, list only
        while not _nearest_is_exact(row, households, lat84, radius_m, int(limit)):
            params["candidates"] = min(8 * params["candidates"], households)
            row = conn.execute(text(statement.sql(heat=False)), params).one()
    elapsed_ms = (time.perf_counter() - started) * 1000

    heat = pd.DataFrame(heat_cells, columns=["lon", "lat", "weight"], dtype=float)
    heat = points_to_display(heat, crs)
    nearest = [_shape_household(h, statement.view, crs) for h in row.nearest]
    log.debug(
        "Found %d households within %.0f m (%d listed) in %.1f ms",
        households,
        radius_m,
        len(nearest),
        elapsed_ms,
    )
    return Nearby(
        origin=(lon, lat),
        radius_m=radius_m,
        weight=weight,
        product=product if weight == "without_product" else None,
        households=households,
        weighted=int(weighted),
        heat=heat,
        nearest=nearest,
        elapsed_ms=elapsed_ms,
    )


def _shape_household(record: dict[str, Any], view: str, crs: str) -> dict[str, Any]:
    out = dict(record)
    out["status"] = "customer" if out.get("customers") else "potential"
    if crs not in ("wgs84", "cgcs2000"):
        x, y = convert_points(out["lon"], out["lat"], "wgs84", crs)
        out["lon"], out["lat"] = float(x), float(y)
    if view == NO_PEOPLE:
        out.pop("people_list", None)
        out.pop("address", None)
    elif "people_list" in out:
        out["people_list"] = [shape_person(p, view) for p in out["people_list"]]
    return out


_DETAIL_SQL = """
SELECT h.id, h.household_no, h.address, h.village_code, v.name AS village,
       g.code AS grid, h.geocode_level, h.time_window,
       ST_X(h.geom) AS lon, ST_Y(h.geom) AS lat
FROM household h
LEFT JOIN grid g ON g.id = h.grid_id
LEFT JOIN admin_unit v ON v.code = h.village_code
WHERE h.id = :id AND (:all OR h.grid_id = ANY(:grids))
"""

_MEMBERS_SQL = """
SELECT name, id_number, phone, gender, status, products,
       deposit_own::float, loan_own::float, deposit_other::float, loan_other::float
FROM person WHERE household_id = :id ORDER BY id
"""

_VISITS_SQL = """
SELECT v.visited_at, s.username AS staff, v.purpose, v.outcome
FROM visit v JOIN staff s ON s.id = v.staff_id
WHERE v.household_id = :id ORDER BY v.visited_at DESC LIMIT 20
"""


def household_detail(
    engine: Engine, user: User, household_id: int, *, crs: str = "wgs84"
) -> dict[str, Any]:
    """One household's file: location, members, products and recent visits.

    Raises NotFound when the household does not exist or lies outside the
    user's grids (the two are not told apart).
    """
    with engine.connect() as conn:
        grids = visible_grid_ids(conn, user)
        params = {"id": int(household_id), "all": grids is None, "grids": grids or []}
        head = conn.execute(text(_DETAIL_SQL), params).mappings().first()
        if head is None:
            raise NotFound(
                f"Household {household_id} does not exist or is outside your "
                "grids; search around a point with /api/nearby instead."
            )
        members = conn.execute(text(_MEMBERS_SQL), params).mappings().all()
        visits = conn.execute(text(_VISITS_SQL), params).mappings().all()

    view = personal_view(user)
    out = dict(head)
    if out["lon"] is not None and parse_crs(crs) not in ("wgs84", "cgcs2000"):
        x, y = convert_points(out["lon"], out["lat"], "wgs84", crs)
        out["lon"], out["lat"] = float(x), float(y)
    if view == NO_PEOPLE:
        out.pop("address")
    out["members"] = [shape_person(dict(m), view) for m in members]
    out["visits"] = [
        {**dict(v), "visited_at": v["visited_at"].isoformat()} for v in visits
    ]
    out["status"] = (
        "customer" if any(m["status"] == "customer" for m in members) else "potential"
    )
    return out
