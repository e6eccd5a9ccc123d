"""Nearby households: the one indexed query against a count done by hand."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyproj
import pytest
from sqlalchemy import Engine, create_engine, text

from geogrid.access import home_grid
from geogrid.auth import User, authenticate
from geogrid.crs import convert_points
from geogrid.errors import InvalidInput, NotFound
from geogrid.nearby import explain_nearby, household_detail, nearby_households

GEOD = pyproj.Geod(ellps="WGS84")
# the search measures metres within 8 cm of the geodesic at 10 km (3 mm at
# 2 km): households this close to the edge may fall either side
EDGE_M = 0.1


@pytest.fixture(scope="module")
def shared_demo(pg_server: Any, demo_template: str) -> Iterator[Engine]:
    """One demo database for the module's tests, which only read it."""
    name = f"geogrid_nearby_{os.getpid()}"
    engine = create_engine(pg_server.create(name, template=demo_template))
    yield engine
    engine.dispose()
    pg_server.drop(name)


def _households(engine: Engine) -> pd.DataFrame:
    sql = """
        SELECT h.id, ST_X(h.geom) AS lon, ST_Y(h.geom) AS lat, g.code AS grid,
               count(p.id) FILTER (WHERE p.status = 'potential') AS potential,
               count(p.id) FILTER (WHERE p.status = 'customer'
                                   AND NOT ('pos' = ANY(p.products))) AS no_pos,
               coalesce(sum(p.deposit_other), 0)::float AS deposit_other
        FROM household h JOIN grid g ON g.id = h.grid_id
        LEFT JOIN person p ON p.household_id = h.id
        WHERE h.geom IS NOT NULL GROUP BY h.id, g.code
    """
    with engine.connect() as conn:
        return pd.read_sql(text(sql), conn)


def _distance_m(frame: pd.DataFrame, lon: float, lat: float) -> np.ndarray:
    """Distances on the WGS84 ellipsoid, as PostGIS measures geography."""
    n = len(frame)
    _, _, distance = GEOD.inv(
        np.full(n, lon),
        np.full(n, lat),
        frame["lon"].to_numpy(),
        frame["lat"].to_numpy(),
    )
    return np.asarray(distance)


def _clear_radius(distance_m: np.ndarray, radius_m: float) -> float:
    """The first radius from ``radius_m`` up with no household near its edge."""
    while (np.abs(distance_m - radius_m) < EDGE_M).any():
        radius_m += 3.0
    return radius_m


def _branch_point(engine: Engine, code: str) -> tuple[float, float]:
    with engine.connect() as conn:
        lon, lat = conn.execute(
            text("SELECT ST_X(geom), ST_Y(geom) FROM branch WHERE code = :c"),
            {"c": code},
        ).one()
    return float(lon), float(lat)


def test_nearby_finds_exactly_the_households_within_the_radius(
    shared_demo: Engine,
) -> None:
    head_office = authenticate(shared_demo, "ho_01", "geogrid-demo")
    lon, lat = _branch_point(shared_demo, "B01")
    everyone = _households(shared_demo)
    everyone["distance_m"] = _distance_m(everyone, lon, lat)

    result = nearby_households(shared_demo, head_office, lon, lat, radius_m=1_500)

    inside = everyone[everyone["distance_m"] <= 1_500]
    unsure = (everyone["distance_m"] - 1_500).abs() < EDGE_M
    assert result.households - len(inside) <= unsure.sum()
    assert len(inside) > 50
    expected = inside.sort_values(["distance_m", "id"]).head(50)
    assert [h["id"] for h in result.nearest] == expected["id"].tolist()
    listed = [h["distance_m"] for h in result.nearest]
    assert listed == sorted(listed)
    assert listed == pytest.approx(expected["distance_m"].round(1).tolist(), abs=0.06)


def test_far_from_the_centre_the_nearest_are_still_ranked_in_metres(
    shared_demo: Engine,
) -> None:
    # at the county's edge few households are near: the list reaches far out,
    # where degrees (east-west stretched) and metres rank differently
    head_office = authenticate(shared_demo, "ho_01", "geogrid-demo")
    everyone = _households(shared_demo)
    lon, lat = everyone["lon"].min() - 0.01, everyone["lat"].median()
    everyone["distance_m"] = _distance_m(everyone, lon, lat)

    result = nearby_households(
        shared_demo, head_office, lon, lat, radius_m=10_000, limit=200
    )

    expected = everyone[everyone["distance_m"] <= 10_000 - EDGE_M]
    expected = expected.sort_values(["distance_m", "id"]).head(200)
    assert [h["id"] for h in result.nearest] == expected["id"].tolist()


@pytest.mark.parametrize(
    ("weight", "product", "column"),
    [
        ("potential", None, "potential"),
        ("without_product", "pos", "no_pos"),
        ("other_deposits", None, "deposit_other"),
    ],
)
def test_the_heatmap_adds_up_the_chosen_weight(
    shared_demo: Engine, weight: str, product: str | None, column: str
) -> None:
    head_office = authenticate(shared_demo, "ho_01", "geogrid-demo")
    lon, lat = _branch_point(shared_demo, "B03")
    everyone = _households(shared_demo)
    distance_m = _distance_m(everyone, lon, lat)
    radius_m = _clear_radius(distance_m, 2_000)
    inside = everyone[distance_m <= radius_m]

    result = nearby_households(
        shared_demo,
        head_office,
        lon,
        lat,
        radius_m=radius_m,
        weight=weight,
        product=product,
    )

    assert result.heat["weight"].sum() == pytest.approx(inside[column].sum(), rel=1e-9)
    assert result.weighted == int((inside[column] > 0).sum())
    assert result.households == len(inside)


def test_an_account_manager_finds_only_households_of_their_grids(
    shared_demo: Engine,
) -> None:
    manager = authenticate(shared_demo, "am_b01_01", "geogrid-demo")
    lon, lat = _branch_point(shared_demo, "B01")
    everyone = _households(shared_demo)
    distance_m = _distance_m(everyone, lon, lat)
    radius_m = _clear_radius(distance_m, 5_000)
    inside = everyone[distance_m <= radius_m]

    result = nearby_households(shared_demo, manager, lon, lat, radius_m=radius_m)

    assert {h["grid"] for h in result.nearest} == {"G01-01"}
    assert result.households == int((inside["grid"] == "G01-01").sum())
    assert result.households < len(inside)
    other = int(everyone.loc[everyone["grid"] == "G01-02", "id"].iloc[0])
    with pytest.raises(NotFound, match="outside your grids"):
        household_detail(shared_demo, manager, other)


def test_a_centre_given_in_gcj02_finds_the_same_households(
    shared_demo: Engine,
) -> None:
    head_office = authenticate(shared_demo, "ho_01", "geogrid-demo")
    lon, lat = _branch_point(shared_demo, "B02")
    gcj_lon, gcj_lat = convert_points(lon, lat, "wgs84", "gcj02")

    plain = nearby_households(shared_demo, head_office, lon, lat)
    shifted = nearby_households(
        shared_demo, head_office, float(gcj_lon), float(gcj_lat), crs="gcj02"
    )

    assert [h["id"] for h in shifted.nearest] == [h["id"] for h in plain.nearest]
    back_lon, back_lat = convert_points(
        shifted.nearest[0]["lon"], shifted.nearest[0]["lat"], "gcj02", "wgs84"
    )
    assert float(back_lon) == pytest.approx(plain.nearest[0]["lon"], abs=1e-7)
    assert float(back_lat) == pytest.approx(plain.nearest[0]["lat"], abs=1e-7)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lon": 28.5, "lat": 121.2}, "Did you swap them"),
        ({"radius_m": 0}, "radius_m must be above 0"),
        ({"radius_m": 50_000}, "at most 10,000 metres"),
        ({"weight": "money"}, "weight must be one of"),
        ({"weight": "without_product"}, "needs product"),
        ({"limit": 0}, "limit must be between 1 and 200"),
    ],
)
def test_bad_nearby_requests_say_what_to_change(
    shared_demo: Engine, kwargs: dict[str, object], message: str
) -> None:
    head_office = authenticate(shared_demo, "ho_01", "geogrid-demo")
    args: dict[str, object] = {"lon": 121.2, "lat": 28.5, **kwargs}
    lon, lat = args.pop("lon"), args.pop("lat")
    with pytest.raises(InvalidInput, match=message):
        nearby_households(shared_demo, head_office, lon, lat, **args)  # type: ignore[arg-type]


def test_the_nearest_is_found_in_metres_where_degrees_would_rank_it_fifth(
    engine: Engine,
) -> None:
    # four households due north, one due east: the eastern one is nearer in
    # metres (a degree of longitude is 12% shorter here) but fifth in degrees
    lon, lat = 121.2, 28.5
    north = [(lon, lat + d) for d in (0.0100, 0.0101, 0.0102, 0.0103)]
    east = (lon + 0.0110, lat)
    with engine.begin() as conn:
        for i, (x, y) in enumerate([*north, east]):
            conn.execute(
                text(
                    "INSERT INTO household (id, household_no, geom) VALUES "
                    "(:i, :no, ST_SetSRID(ST_MakePoint(:x, :y), 4326))"
                ),
                {"i": i + 1, "no": f"H{i + 1}", "x": x, "y": y},
            )
    head_office = User(
        id=1, username="ho", name="ho", role="head_office", branch_id=None
    )

    result = nearby_households(engine, head_office, lon, lat, limit=1)

    assert [h["id"] for h in result.nearest] == [5]
    assert result.nearest[0]["distance_m"] == pytest.approx(
        GEOD.inv(lon, lat, *east)[2], abs=0.1
    )


def test_the_nearby_statement_reads_households_through_the_spatial_index(
    shared_demo: Engine,
) -> None:
    head_office = authenticate(shared_demo, "ho_01", "geogrid-demo")
    manager = authenticate(shared_demo, "am_b01_01", "geogrid-demo")
    lon, lat = _branch_point(shared_demo, "B01")

    county = "\n".join(explain_nearby(shared_demo, head_office, lon, lat))
    own = "\n".join(explain_nearby(shared_demo, manager, lon, lat))

    # over every grid, the heatmap and the nearest list both start from the
    # GiST index; a manager's may start from their grids' households instead;
    # neither ever scans the whole household table
    assert county.count("idx_household_geom") >= 2
    assert "Seq Scan on household" not in county + own


def test_an_account_manager_starts_at_the_heart_of_their_main_grid(
    shared_demo: Engine,
) -> None:
    with shared_demo.connect() as conn:
        # a manager holding an A post on one grid and a B post on another
        username, a_grid = conn.execute(
            text(
                "SELECT s.username, g.code FROM staff s "
                "JOIN grid_post a ON a.staff_id = s.id AND a.post = 'A' "
                "JOIN grid g ON g.id = a.grid_id "
                "WHERE EXISTS (SELECT 1 FROM grid_post b WHERE b.staff_id = s.id "
                "AND b.post = 'B') ORDER BY s.username LIMIT 1"
            )
        ).one()
    manager = authenticate(shared_demo, username, "geogrid-demo")

    home = home_grid(shared_demo, manager)

    assert home["code"] == a_grid and home["post"] == "A"
    with shared_demo.connect() as conn:
        inside = conn.execute(
            text(
                "SELECT ST_Covers(geom, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) "
                "FROM grid WHERE code = :c"
            ),
            {"x": home["lon"], "y": home["lat"], "c": a_grid},
        ).scalar_one()
    assert inside
    around = nearby_households(shared_demo, manager, home["lon"], home["lat"])
    assert around.households > 0
    assert around.nearest[0]["distance_m"] < 1.0  # a household of the grid

    drawn = home_grid(shared_demo, manager, crs="gcj02")
    expected = convert_points(home["lon"], home["lat"], "wgs84", "gcj02")
    assert (drawn["lon"], drawn["lat"]) == pytest.approx(tuple(expected), abs=1e-9)


def test_users_without_a_post_have_no_home_grid(shared_demo: Engine) -> None:
    head_office = authenticate(shared_demo, "ho_01", "geogrid-demo")

    with pytest.raises(NotFound, match="ho_01 holds no A or B post"):
        home_grid(shared_demo, head_office)
