"""Coverage building blocks without a database: H3 cells, the score, the outputs."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from geogrid.coverage import cells_for_points, opportunity
from geogrid.coverage.hexes import cell_neighbours
from geogrid.coverage.metrics import area_sums, household_flags, merge_sums
from geogrid.coverage.output import write_layers
from geogrid.errors import InvalidInput

# --- H3 cells -----------------------------------------------------------------------


def _h3_one_by_one(lon: np.ndarray, lat: np.ndarray, resolution: int) -> np.ndarray:
    return np.array(
        [
            h3.str_to_int(h3.latlng_to_cell(y, x, resolution))
            for x, y in zip(lon, lat, strict=True)
        ],
        dtype=np.uint64,
    )


@pytest.mark.parametrize("resolution", [4, 7, 8, 9, 11])
def test_cells_match_h3_for_every_point(resolution: int) -> None:
    rng = np.random.default_rng(resolution)
    lon = 121.0 + rng.random(20_000) * 0.4
    lat = 28.3 + rng.random(20_000) * 0.4
    np.testing.assert_array_equal(
        cells_for_points(lon, lat, resolution), _h3_one_by_one(lon, lat, resolution)
    )


def test_cells_match_h3_on_and_next_to_cell_edges() -> None:
    # the vertices of some cells, and points a hair's breadth either side
    centre = h3.latlng_to_cell(28.5, 121.2, 8)
    vertices = np.array(
        [v for c in h3.grid_disk(centre, 2) for v in h3.cell_to_boundary(c)]
    )
    offsets = np.array([0.0, 1e-9, -1e-9, 1e-7, -1e-7])
    lat = (vertices[:, 0][:, None] + offsets).ravel()
    lon = (vertices[:, 1][:, None] - offsets).ravel()
    np.testing.assert_array_equal(
        cells_for_points(lon, lat, 8), _h3_one_by_one(lon, lat, 8)
    )


def test_points_without_a_location_get_no_cell() -> None:
    cells = cells_for_points(np.array([121.2, np.nan]), np.array([28.5, np.nan]), 8)
    assert cells[0] == h3.str_to_int(h3.latlng_to_cell(28.5, 121.2, 8))
    assert cells[1] == 0


@pytest.mark.parametrize("resolution", [-1, 16, 8.0, "8"])
def test_an_h3_resolution_that_does_not_exist_is_refused(resolution: object) -> None:
    with pytest.raises(
        InvalidInput,
        match=r"Parameter 'resolution' must be an integer from 0 to 15 "
        r"\(H3 resolution\); received",
    ):
        cells_for_points(np.array([121.2]), np.array([28.5]), resolution)  # type: ignore[arg-type]


def test_neighbours_are_the_adjacent_cells_present() -> None:
    centre = h3.latlng_to_cell(28.5, 121.2, 8)
    ring = h3.grid_ring(centre, 1)
    present = [h3.str_to_int(c) for c in [centre, *ring[:3]]]
    links = cell_neighbours(present)
    assert sorted(links[present[0]]) == sorted(present[1:])
    for cell in present[1:]:
        assert present[0] in links[cell]


# --- sums merge across partitions -----------------------------------------------------


def test_sums_over_partitions_equal_the_sums_over_the_whole() -> None:
    rng = np.random.default_rng(3)
    n = 500
    households = pd.DataFrame(
        {
            "customers": rng.integers(0, 3, n),
            "people": np.full(n, 3),
            "working_age": np.full(n, 2),
            "working_age_customers": rng.integers(0, 2, n),
            "deposit_own": rng.random(n) * 1e4,
            "loan_own": np.zeros(n),
            "deposit_other": rng.random(n) * 1e4,
            "loan_other": np.zeros(n),
            "last_visit": pd.to_datetime(pd.Series(["2026-05-01", None] * (n // 2))),
            "lon": np.full(n, 121.0),
            "branch_distance_m": rng.random(n) * 5000,
            "grid_pos": rng.integers(-1, 4, n),
            "stored_grid_pos": rng.integers(0, 4, n),
            "village_pos": rng.integers(0, 7, n),
        }
    )
    flagged = household_flags(
        households, as_of=pd.Timestamp("2026-06-30").date(), days=90, leakage_share=0.5
    )
    whole = area_sums(flagged, "village_pos")
    parts = merge_sums(area_sums(flagged.iloc[k::3], "village_pos") for k in range(3))
    pd.testing.assert_frame_equal(whole, parts, check_dtype=False)
    assert whole["households"].sum() == n


# --- the opportunity score ----------------------------------------------------------


def _areas() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": ["far", "near", "ordinary", "small"],
            "households": [100, 100, 100, 10],
            "customer_households": [5, 5, 60, 0],
            "uncovered_households": [95, 95, 40, 10],
            "penetration": [0.05, 0.05, 0.6, 0.0],
            "uncovered_other_yuan": [9.5e6, 9.5e6, 4e6, 2e5],
            "branch_distance_m": [10_000.0, 0.0, 1_000.0, 0.0],
        }
    )


def test_the_score_follows_the_documented_formula() -> None:
    ranked = opportunity(
        _areas(),
        reference=0.6,
        blind_spot_share=0.5,
        distance_scale_m=5_000,
        balance_weight=0.5,
    ).set_index("name")

    # the ordinary village is not a blind spot
    assert list(ranked.index) == ["near", "far", "small"]
    near, far, small = ranked.loc["near"], ranked.loc["far"], ranked.loc["small"]
    assert near["gap_households"] == pytest.approx(0.6 * 100 - 5)
    assert near["gap_other_yuan"] == pytest.approx(55 * 9.5e6 / 95)
    assert near["reach"] == 1.0
    assert far["reach"] == pytest.approx(1 / (1 + 10_000 / 5_000))
    assert near["score"] == pytest.approx(100.0)
    assert far["score"] == pytest.approx(100.0 / 3)
    expected_small = 100 * (0.5 * 6 / 55 + 0.5 * (6 * 2e4) / (55 * 1e5))
    assert small["score"] == pytest.approx(expected_small)
    assert near["blind_spot_reason"].startswith("penetration 5.0% is below 0.5 x 60.0%")


def test_balance_weight_moves_money_ahead_of_households() -> None:
    areas = _areas()
    areas.loc[3, "uncovered_other_yuan"] = 5e7  # the small village is rich
    households_only = opportunity(
        areas,
        reference=0.6,
        blind_spot_share=0.5,
        distance_scale_m=5e3,
        balance_weight=0,
    )
    money_only = opportunity(
        areas,
        reference=0.6,
        blind_spot_share=0.5,
        distance_scale_m=5e3,
        balance_weight=1,
    )
    assert households_only["name"].iloc[0] == "near"
    assert money_only["name"].iloc[0] == "small"


# --- outputs record their parameters ------------------------------------------------


def _layers() -> dict[str, gpd.GeoDataFrame]:
    points = gpd.GeoDataFrame(
        {"household_no": ["H1", "H2"], "uncovered": [True, False]},
        geometry=[shapely.Point(121.2, 28.5), shapely.Point(121.21, 28.51)],
        crs=4326,
    )
    areas = gpd.GeoDataFrame(
        {"village_code": ["331099100201"], "penetration": [0.25]},
        geometry=[shapely.box(121.2, 28.5, 121.21, 28.51)],
        crs=4326,
    )
    return {"households": points, "villages": areas}


PARAMETERS = {"days": 90, "resolution": 8, "grid_ids": [3, 4], "branch": None}


def test_geojson_carries_the_parameters_as_a_member(tmp_path: Path) -> None:
    paths = write_layers(_layers(), tmp_path / "out.geojson", PARAMETERS)
    assert [p.name for p in paths] == ["out-households.geojson", "out-villages.geojson"]
    collection = json.loads(paths[0].read_text(encoding="utf-8"))
    assert collection["parameters"]["days"] == 90
    assert collection["parameters"]["grid_ids"] == [3, 4]
    assert collection["layer"] == "households"
    assert len(pyogrio.read_dataframe(paths[1])) == 1


def test_csv_repeats_the_parameters_on_every_row(tmp_path: Path) -> None:
    (path,) = write_layers(
        {"households": _layers()["households"]}, tmp_path / "h.csv", PARAMETERS
    )
    table = pd.read_csv(path, encoding="utf-8-sig")
    assert table["param_days"].tolist() == [90, 90]
    assert table["param_grid_ids"].tolist() == ["[3, 4]"] * 2
    assert {"lon", "lat"} <= set(table.columns)


def test_geopackage_and_workbook_hold_every_layer_and_a_parameters_table(
    tmp_path: Path,
) -> None:
    (gpkg,) = write_layers(_layers(), tmp_path / "r.gpkg", PARAMETERS)
    names = {name for name, _ in pyogrio.list_layers(gpkg)}
    assert names == {"parameters", "households", "villages"}
    table = pyogrio.read_dataframe(gpkg, layer="parameters")
    assert dict(zip(table["name"], table["value"], strict=True))["days"] == "90"

    (xlsx,) = write_layers(_layers(), tmp_path / "r.xlsx", PARAMETERS)
    sheets = pd.read_excel(xlsx, sheet_name=None)
    assert list(sheets) == ["parameters", "households", "villages"]
    assert "wkt" in sheets["villages"].columns


def test_an_unknown_extension_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"must be one of .geojson, .json, .gpkg"):
        write_layers(_layers(), tmp_path / "out.shp", PARAMETERS)
