"""The coverage report: penetration, blind spots, cold spots, leakage, gaps.

`coverage_report` runs every analysis over inputs loaded once by
`geogrid.coverage.inputs.load_inputs` and returns a `CoverageReport` of
GeoDataFrames, which the CLI, the viewer and notebooks share.

Household-level work (`place_households`) and the sums per area
(`partition_sums`) run on one partition of households at a time against
small broadcast tables (grids, branches, areas); the sums merge by addition.
Here the whole county is one partition; a distributed engine would map the
same two functions over many and reduce with `merge_sums`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj

from geogrid.coverage import hexes, hotspots, locate, metrics, rank
from geogrid.coverage.inputs import CoverageInputs
from geogrid.coverage.params import CoverageParameters
from geogrid.crs import utm_crs_for
from geogrid.errors import InvalidInput

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]
Ints = npt.NDArray[np.int64]

AREA_KEYS = {
    "villages": "village_pos",
    "grids": "grid_pos",
    "towns": "town_pos",
    "branches": "branch_pos",
    "hexes": "hex_key",
}

LAYERS: dict[str, str] = {
    "blind_spots": "areas lacking customers, ranked by opportunity score",
    "cold_spots": "H3 cells whose low penetration is significant (Gi*)",
    "village_cold_spots": "villages whose low penetration is significant (Gi*)",
    "villages": "penetration, uncovered, unvisited and leakage per village",
    "grids": "the same per second-level grid, with its account manager",
    "towns": "the same per town",
    "branches": "the same per branch, over its jurisdiction",
    "hexes": "the same per H3 cell, with the Gi* test",
    "uncovered_households": "households where nobody is a customer",
    "unvisited_households": "households with no visit in the last `days` days",
    "unvisited_villages": "villages where the unvisited share is high",
    "leakage_villages": "villages whose customers bank mainly elsewhere",
    "leaking_households": "customer households banking mainly elsewhere",
    "ungridded_areas": "land of the region in no second-level grid",
    "ungridded_households": "located households in no second-level grid",
}

# household columns written to the household lists, in this order
HOUSEHOLD_COLUMNS = (
    "household_no",
    "address",
    "village_code",
    "village_name",
    "town_code",
    "grid_code",
    "manager_username",
    "stored_grid_code",
    "branch_code",
    "nearest_branch",
    "branch_distance_m",
    "h3",
    "people",
    "working_age",
    "customers",
    "is_customer",
    "uncovered",
    "last_visit",
    "unvisited",
    "deposit_own",
    "deposit_other",
    "loan_own",
    "loan_other",
    "deposit_other_share",
    "loan_other_share",
    "leaking",
    "ungridded",
)


@dataclass
class CoverageReport:
    """Every coverage layer, in WGS84, with the parameters that made it.

    Attributes
    ----------
    households
        Every household with its placement (grid where it lies, its A-post
        manager, nearest branch and distance, H3 cell) and flags.
    villages, grids, towns, branches, hexes
        Per area: the sums of `geogrid.coverage.metrics.SUM_COLUMNS`, rates
        and flags from `geogrid.coverage.metrics.area_rates`; villages and
        hexes also carry the Gi* columns of `geogrid.coverage.hotspots`
        and their main grid and manager.
    blind_spots
        The areas named by ``rank_by`` that lack customers, best
        opportunity first (`geogrid.coverage.rank`).
    ungridded_areas
        Separate pieces of the region that no second-level grid covers.
    parameters
        Every parameter, the report date, the filter and the CRS used.
    summary
        Headline counts for the whole report.
    """

    households: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    towns: gpd.GeoDataFrame
    branches: gpd.GeoDataFrame
    hexes: gpd.GeoDataFrame
    blind_spots: gpd.GeoDataFrame
    ungridded_areas: gpd.GeoDataFrame
    parameters: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    def layer(self, name: str) -> gpd.GeoDataFrame:
        """One layer of `LAYERS` by name.

        Raises
        ------
        InvalidInput
            When the name is not one of `LAYERS`.
        """
        if name not in LAYERS:
            raise InvalidInput(
                f"Unknown coverage layer {name!r}; choose one of {', '.join(LAYERS)}.",
                parameter="layer",
                allowed=list(LAYERS),
                received=repr(name),
            )
        h, columns = self.households, [*HOUSEHOLD_COLUMNS, "geometry"]
        derived = {
            "cold_spots": lambda: self.hexes[self.hexes["cold_spot"]],
            "village_cold_spots": lambda: self.villages[self.villages["cold_spot"]],
            "uncovered_households": lambda: h.loc[h["uncovered"], columns],
            "unvisited_households": lambda: h.loc[h["unvisited"], columns],
            "unvisited_villages": lambda: self.villages[
                self.villages["unvisited_area"]
            ],
            "leakage_villages": lambda: self.villages[self.villages["leakage_area"]],
            "leaking_households": lambda: h.loc[h["leaking"], columns],
            "ungridded_households": lambda: h.loc[h["ungridded"], columns],
        }
        if name in derived:
            return derived[name]().reset_index(drop=True)
        frame: gpd.GeoDataFrame = getattr(self, name)
        return frame

    def layers(self, names: Iterable[str] | None = None) -> dict[str, gpd.GeoDataFrame]:
        """Several layers by name (all of `LAYERS` when None)."""
        return {name: self.layer(name) for name in (names or LAYERS)}


def coverage_report(
    inputs: CoverageInputs,
    params: CoverageParameters | None = None,
    *,
    progress: Progress | None = None,
) -> CoverageReport:
    """Compute every coverage layer from loaded inputs.

    Parameters
    ----------
    inputs
        From `geogrid.coverage.inputs.load_inputs`.
    params
        Parameters (defaults when None).
    progress
        Called with (step name, fraction done).

    Returns
    -------
    CoverageReport
    """
    params = CoverageParameters() if params is None else params
    step = progress or (lambda name, done: None)
    started = time.perf_counter()
    crs = utm_crs_for(_bounds(inputs))

    step("placing households", 0.05)
    households = place_households(inputs.households, inputs, params, crs)

    step("adding up areas", 0.35)
    areas = _area_layers(households, inputs, params)

    step("testing for cold spots", 0.55)
    _add_cold_spots(areas, inputs, params, crs)

    step("ranking blind spots", 0.85)
    reference = (
        params.reference_penetration
        if params.reference_penetration is not None
        else rank.reference_penetration(areas["villages"])
    )
    blind_spots = _blind_spots(areas, params, reference)
    gaps = locate.ungridded_areas(inputs.region, inputs.grids, crs)

    report = CoverageReport(
        households=households,
        villages=areas["villages"],
        grids=areas["grids"],
        towns=areas["towns"],
        branches=areas["branches"],
        hexes=areas["hexes"],
        blind_spots=blind_spots,
        ungridded_areas=gaps,
        parameters=_parameters(inputs, params, crs, reference),
    )
    report.summary = _summary(report)
    step("done", 1.0)
    log.info(
        "Computed coverage of %d households in %d villages and %d grids in %.1f s",
        len(households),
        len(report.villages),
        len(report.grids),
        time.perf_counter() - started,
    )
    return report


# --- households: one partition at a time -----------------------------------------


def place_households(
    part: gpd.GeoDataFrame,
    inputs: CoverageInputs,
    params: CoverageParameters,
    crs: pyproj.CRS,
) -> gpd.GeoDataFrame:
    """Place and flag one partition of households against the broadcast tables.

    Adds the positions of the grid each household lies in (``grid_pos``),
    its stored grid, village, town, branch and nearest branch, the distance
    to that branch in metres, its H3 cell (``hex_key``, -1 when not
    located) and the flags of `geogrid.coverage.metrics.household_flags`,
    with codes and names for the household lists.
    """
    lon = part["lon"].to_numpy(dtype=np.float64)
    lat = part["lat"].to_numpy(dtype=np.float64)
    grids = inputs.grids
    grid_index = pd.Index(grids["grid_id"].to_numpy())

    out = metrics.household_flags(
        part, as_of=inputs.as_of, days=params.days, leakage_share=params.leakage_share
    )
    stored = part["stored_grid_id"].fillna(-1).to_numpy(dtype=np.int64)
    out["stored_grid_pos"] = grid_index.get_indexer(stored)
    out["grid_pos"] = locate.grid_positions(
        lon, lat, out["stored_grid_pos"].to_numpy(), grids.geometry.to_numpy()
    )
    out["ungridded"] = np.isfinite(lon) & (out["grid_pos"].to_numpy() < 0)
    out["village_pos"] = pd.Index(inputs.villages["village_code"]).get_indexer(
        part["village_code"]
    )
    out["town_pos"] = pd.Index(inputs.towns["town_code"]).get_indexer(part["town_code"])
    branch_of_grid = pd.Index(inputs.branches["branch_id"]).get_indexer(
        grids["branch_id"]
    )
    out["branch_pos"] = _take(branch_of_grid, out["grid_pos"].to_numpy())

    nearest, distance_m = locate.nearest_branch(lon, lat, inputs.branches, crs)
    out["branch_distance_m"] = distance_m
    cells = hexes.cells_for_points(lon, lat, params.resolution)
    out["hex_key"] = np.where(cells == hexes.NO_CELL, -1, cells.astype(np.int64))

    _add_names(out, inputs, nearest)
    return out


def partition_sums(part: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Sums of one placed partition for every kind of area (merge by addition)."""
    sums = metrics.area_sums_by(part, list(AREA_KEYS.values()))
    return {layer: sums[key] for layer, key in AREA_KEYS.items()}


def _take(values: np.ndarray, positions: Ints, missing: Any = -1) -> np.ndarray:
    """values[positions], with `missing` where a position is -1."""
    if len(values) == 0:
        return np.full(len(positions), missing)
    taken = np.asarray(values)[np.maximum(positions, 0)]
    return np.where(positions >= 0, taken, missing)


def _add_names(out: gpd.GeoDataFrame, inputs: CoverageInputs, nearest: Ints) -> None:
    """Codes and names for the household lists."""
    grids, grid_pos = inputs.grids, out["grid_pos"].to_numpy()
    out["grid_code"] = _take(grids["grid_code"].to_numpy(object), grid_pos, None)
    out["manager_username"] = _take(
        grids["manager_username"].to_numpy(object), grid_pos, None
    )
    out["stored_grid_code"] = _take(
        grids["grid_code"].to_numpy(object), out["stored_grid_pos"].to_numpy(), None
    )
    out["branch_code"] = _take(
        inputs.branches["branch_code"].to_numpy(object),
        out["branch_pos"].to_numpy(),
        None,
    )
    out["nearest_branch"] = _take(
        inputs.branches["branch_code"].to_numpy(object), nearest, None
    )
    out["village_name"] = _take(
        inputs.villages["village_name"].to_numpy(object),
        out["village_pos"].to_numpy(),
        None,
    )
    keys = out["hex_key"].to_numpy()
    unique, inverse = np.unique(keys, return_inverse=True)
    names = np.array(
        [None if k < 0 else format(int(k), "x") for k in unique.tolist()], dtype=object
    )
    out["h3"] = names[inverse]


# --- areas ------------------------------------------------------------------------


def _area_layers(
    households: gpd.GeoDataFrame, inputs: CoverageInputs, params: CoverageParameters
) -> dict[str, gpd.GeoDataFrame]:
    sums = partition_sums(households)
    rates = {
        layer: metrics.area_rates(
            merged,
            unvisited_share=params.unvisited_share,
            leakage_share=params.leakage_share,
            min_households=params.min_households,
        )
        for layer, merged in sums.items()
    }
    villages = _attach(inputs.villages, rates["villages"])
    grids = _attach(inputs.grids, rates["grids"])
    towns = _attach(inputs.towns, rates["towns"])
    branches = _attach(_jurisdictions(inputs), rates["branches"])
    cells = hexes.hex_frame(rates["hexes"].index.to_numpy().astype(np.uint64))
    hex_layer = gpd.GeoDataFrame(
        pd.concat(
            [cells.drop(columns="geometry"), rates["hexes"].reset_index(drop=True)],
            axis=1,
        ),
        geometry=cells.geometry.to_numpy(),
        crs=4326,
    )
    hex_layer.index = rates["hexes"].index.rename("hex_key")

    # each village and cell gets the grid holding most of its households
    grid_pos = households["grid_pos"].to_numpy()
    for frame, key, keys in (
        (villages, "village_pos", np.arange(len(villages))),
        (hex_layer, "hex_key", hex_layer.index.to_numpy()),
    ):
        main = _main_grid(households[key].to_numpy(), grid_pos)
        _attach_grid(frame, keys, main, inputs.grids)
    return {
        "villages": villages,
        "grids": grids,
        "towns": towns,
        "branches": branches,
        "hexes": hex_layer,
    }


def _attach(areas: gpd.GeoDataFrame, rates: pd.DataFrame) -> gpd.GeoDataFrame:
    """Area rows in their order with their rates; areas without households get 0."""
    joined = areas.reset_index(drop=True).join(rates, how="left")
    for column in metrics.SUM_COLUMNS:
        if column in joined:
            joined[column] = joined[column].fillna(0)
    for column in ("unvisited_area", "leakage_area"):
        joined[column] = joined[column].fillna(False).astype(bool)
    return gpd.GeoDataFrame(joined, geometry="geometry", crs=4326)


def _jurisdictions(inputs: CoverageInputs) -> gpd.GeoDataFrame:
    """One row per branch (in branch order) with its jurisdiction's outline."""
    outline = (
        inputs.jurisdictions.dissolve(by="branch_id")["geometry"]
        if len(inputs.jurisdictions)
        else gpd.GeoSeries([], crs=4326)
    )
    branches = inputs.branches.drop(columns="geometry").copy()
    branches["geometry"] = branches["branch_id"].map(outline).to_numpy()
    return gpd.GeoDataFrame(branches, geometry="geometry", crs=4326)


def _main_grid(area_key: np.ndarray, grid_pos: np.ndarray) -> pd.Series:
    """Position of the grid holding most of each area's households."""
    ok = (area_key >= 0) & (grid_pos >= 0)
    pairs = pd.DataFrame({"area": area_key[ok], "grid": grid_pos[ok]})
    counts = pairs.groupby(["area", "grid"]).size().reset_index(name="n")
    counts = counts.sort_values(["area", "n", "grid"], ascending=[True, False, True])
    return counts.drop_duplicates("area").set_index("area")["grid"]


def _attach_grid(
    frame: gpd.GeoDataFrame, keys: np.ndarray, main: pd.Series, grids: gpd.GeoDataFrame
) -> None:
    """Main grid code, name, branch and A-post manager of each area (in place).

    `keys` are the areas' keys in the households' key column, row by row.
    """
    pos = pd.Series(keys).map(main).fillna(-1).to_numpy(dtype=np.int64)
    for column in (
        "grid_code",
        "grid_name",
        "branch_code",
        "manager_username",
        "manager_name",
    ):
        frame[column] = _take(grids[column].to_numpy(object), pos, None)


def _add_cold_spots(
    areas: dict[str, gpd.GeoDataFrame],
    inputs: CoverageInputs,
    params: CoverageParameters,
    crs: pyproj.CRS,
) -> None:
    hex_layer = areas["hexes"]
    hex_links = hexes.cell_neighbours(hex_layer.index.to_numpy())
    tests = _gi_star(hex_layer, hex_links, params)
    areas["hexes"] = _with_columns(hex_layer, tests)

    villages = areas["villages"]
    village_links = hotspots.contiguity_neighbours(villages, crs)
    tests = _gi_star(villages, village_links, params)
    areas["villages"] = _with_columns(villages, tests)


def _gi_star(
    areas: pd.DataFrame, links: Mapping[Any, Sequence[Any]], params: CoverageParameters
) -> pd.DataFrame:
    return hotspots.local_gi_star(
        areas,
        links,
        alpha=params.alpha,
        permutations=params.permutations,
        seed=params.seed,
        fdr=params.fdr,
        min_households=params.min_households,
    )


def _with_columns(frame: gpd.GeoDataFrame, extra: pd.DataFrame) -> gpd.GeoDataFrame:
    joined = pd.concat([frame.drop(columns="geometry"), extra], axis=1)
    return gpd.GeoDataFrame(joined, geometry=frame.geometry, crs=4326)


def _blind_spots(
    areas: dict[str, gpd.GeoDataFrame], params: CoverageParameters, reference: float
) -> gpd.GeoDataFrame:
    layer = {"village": "villages", "hex": "hexes", "grid": "grids"}[params.rank_by]
    ranked = rank.opportunity(
        areas[layer],
        reference=reference,
        blind_spot_share=params.blind_spot_share,
        distance_scale_m=params.distance_scale_m,
        balance_weight=params.balance_weight,
    )
    front = [c for c in rank.RANK_COLUMNS if c in ranked]
    rest = [c for c in ranked.columns if c not in front]
    return gpd.GeoDataFrame(ranked[front + rest].reset_index(drop=True), crs=4326)


# --- provenance -------------------------------------------------------------------


def _bounds(inputs: CoverageInputs) -> tuple[float, float, float, float]:
    for frame in (inputs.region, inputs.grids, inputs.villages):
        if len(frame) and not frame.geometry.is_empty.all():
            west, south, east, north = (float(b) for b in frame.total_bounds)
            return west, south, east, north
    h = inputs.households
    located = h[np.isfinite(h["lon"])]
    if len(located) == 0:
        raise InvalidInput(
            "The coverage report needs a region, grids, villages or located "
            "households to work on; the store returned none of them. Load the "
            "county's boundaries and households first (geogrid import ...).",
        )
    return (
        float(located["lon"].min()),
        float(located["lat"].min()),
        float(located["lon"].max()),
        float(located["lat"].max()),
    )


def _parameters(
    inputs: CoverageInputs,
    params: CoverageParameters,
    crs: pyproj.CRS,
    reference: float,
) -> dict[str, Any]:
    record = params.as_record()
    record.update(
        {
            "as_of": inputs.as_of.isoformat(),
            "working_age": f"{inputs.working_age[0]}-{inputs.working_age[1]}",
            "grid_ids": None if inputs.grid_ids is None else list(inputs.grid_ids),
            "branch": inputs.branch,
            "reference_penetration_used": round(reference, 6),
            "hex_cell_area_km2": round(hexes.cell_area_km2(params.resolution), 4),
            "metric_crs": crs.to_string(),
            "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "geogrid_version": _version(),
        }
    )
    return record


def _version() -> str:
    try:
        return version("geogrid")
    except PackageNotFoundError:
        return "unknown"


def _summary(report: CoverageReport) -> dict[str, Any]:
    h = report.households
    households = len(h)
    customer = int(h["is_customer"].sum())
    return {
        "households": households,
        "customer_households": customer,
        "uncovered_households": households - customer,
        "penetration": round(customer / households, 4) if households else None,
        "unvisited_households": int(h["unvisited"].sum()),
        "leaking_households": int(h["leaking"].sum()),
        "ungridded_households": int(h["ungridded"].sum()),
        "unlocated_households": int((~np.isfinite(h["lon"].to_numpy())).sum()),
        "ungridded_areas": len(report.ungridded_areas),
        "ungridded_area_m2": round(float(report.ungridded_areas["area_m2"].sum()), 1),
        "blind_spots": len(report.blind_spots),
        "cold_spot_cells": int(report.hexes["cold_spot"].sum()),
        "cold_spot_villages": int(report.villages["cold_spot"].sum()),
        "leakage_villages": int(report.villages["leakage_area"].sum()),
        "unvisited_villages": int(report.villages["unvisited_area"].sum()),
    }
