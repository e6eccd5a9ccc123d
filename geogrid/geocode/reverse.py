"""Reverse geocoding: from a point to its village, town, nearest place and grid.

A :class:`ReverseGeocoder` indexes the village and town polygons of a
gazetteer (and its places, and optionally a layer of grids) in STR trees, then
answers one point (:meth:`ReverseGeocoder.reverse`) or many at once
(:meth:`ReverseGeocoder.reverse_many`). A point on a shared border belongs to
the unit with the lowest code, so the answer never depends on input order.

Grids are an extension point: pass any GeoDataFrame of polygons with a
``code`` column as ``grids`` and each point also gets the code of the grid that
holds it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely

from geogrid.errors import InvalidInput, WrongCRS
from geogrid.geocode.gazetteer import Gazetteer

log = logging.getLogger(__name__)

METRES_PER_DEGREE = 6_371_008.8 * math.pi / 180
"""Length of a degree of latitude on the mean Earth sphere, in metres."""


@dataclass(frozen=True, slots=True)
class ReverseResult:
    """The units, nearest place and grid at one point."""

    lon: float
    lat: float
    village_code: str | None
    village_name: str | None
    town_code: str | None
    town_name: str | None
    county_code: str | None
    place_name: str | None
    place_kind: str | None
    place_distance_m: float | None
    grid_code: str | None


class ReverseGeocoder:
    """Finds the village, town, nearest place and grid of points.

    Parameters
    ----------
    gazetteer
        Units with polygons (units without one are skipped) and places.
    grids
        Optional GeoDataFrame of grid polygons in WGS84 with a ``code`` column.
    max_place_distance_m
        Places farther than this from a point are not reported.
    """

    def __init__(
        self,
        gazetteer: Gazetteer,
        grids: Any | None = None,
        *,
        max_place_distance_m: float = 300.0,
    ) -> None:
        self.gazetteer = gazetteer
        self.max_place_distance_m = max_place_distance_m
        self._villages, self._village_tree = self._unit_index("village")
        self._towns, self._town_tree = self._unit_index("town")
        self._places = gazetteer.all_places()
        self._origin = self._choose_origin()
        xy = self._to_metres(
            np.array([p.lon for p in self._places]),
            np.array([p.lat for p in self._places]),
        )
        self._place_tree = (
            shapely.STRtree(np.asarray(shapely.points(xy), dtype=object))
            if self._places
            else None
        )
        self._grid_codes, self._grid_tree = _grid_index(grids)
        log.info(
            "Indexed %d villages, %d towns, %d places and %d grids for reverse "
            "geocoding.",
            len(self._villages),
            len(self._towns),
            len(self._places),
            len(self._grid_codes),
        )

    def _unit_index(self, level: str) -> tuple[list[str], shapely.STRtree]:
        units = sorted(c for c, u in self.gazetteer.units.items() if u.level == level)
        pairs = [(c, self.gazetteer.polygon(c)) for c in units]
        pairs = [(c, g) for c, g in pairs if g is not None]
        polygons = np.array([g for _, g in pairs], dtype=object)
        return [c for c, _ in pairs], shapely.STRtree(polygons)

    def _choose_origin(self) -> tuple[float, float]:
        bounds = [self.gazetteer.polygon(c) for c in self._villages + self._towns]
        present = [b for b in bounds if b is not None]
        if present:
            minx, miny, maxx, maxy = shapely.total_bounds(
                np.array(present, dtype=object)
            )
            return ((minx + maxx) / 2, (miny + maxy) / 2)
        if self._places:
            return (self._places[0].lon, self._places[0].lat)
        return (0.0, 0.0)

    def _to_metres(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Local east/north metres around the origin (good to 0.5 % in a county)."""
        lon0, lat0 = self._origin
        x = (lon - lon0) * METRES_PER_DEGREE * math.cos(math.radians(lat0))
        y = (lat - lat0) * METRES_PER_DEGREE
        return np.column_stack([x, y])

    # -- queries ---------------------------------------------------------------

    def reverse(self, lon: float, lat: float) -> ReverseResult:
        """Village, town, nearest place and grid at one point.

        Raises
        ------
        InvalidInput
            The coordinates are not finite longitude and latitude.
        """
        if not (
            _finite(lon) and _finite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90
        ):
            raise InvalidInput(
                f"lon, lat: a point must be a finite longitude (-180..180) and "
                f"latitude (-90..90) in WGS84; got ({lon}, {lat}). Check the column "
                "order and the coordinate system."
            )
        row = self.reverse_many([lon], [lat]).iloc[0]
        return ReverseResult(**{str(k): _none_if_nan(v) for k, v in row.items()})

    def reverse_many(self, lon: Any, lat: Any) -> pd.DataFrame:
        """Village, town, nearest place and grid of many points.

        Parameters
        ----------
        lon, lat
            Sequences of WGS84 coordinates of the same length. Points that are
            missing or out of range get empty rows.

        Returns
        -------
        pandas.DataFrame
            The fields of :class:`ReverseResult`, one row per point.
        """
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        if lon.shape != lat.shape:
            raise InvalidInput(
                f"lon, lat: both must have the same length; got {lon.size} and "
                f"{lat.size}."
            )
        valid = (
            np.isfinite(lon)
            & np.isfinite(lat)
            & (np.abs(lon) <= 180)
            & (np.abs(lat) <= 90)
        )
        points = np.asarray(
            shapely.points(np.where(valid, lon, 0.0), np.where(valid, lat, 0.0)),
            dtype=object,
        )
        points[~valid] = None

        village_codes = _first_hit(self._village_tree, self._villages, points)
        town_codes = self._towns_of(village_codes, points)
        names = {c: u.name for c, u in self.gazetteer.units.items()}
        places = self._nearest_places(lon, lat, valid)
        grids = _first_hit(self._grid_tree, self._grid_codes, points)
        columns = {
            "lon": lon,
            "lat": lat,
            "village_code": _text(village_codes),
            "village_name": _text([names.get(c) if c else None for c in village_codes]),
            "town_code": _text(town_codes),
            "town_name": _text([names.get(c) if c else None for c in town_codes]),
            "county_code": _text(
                [self.gazetteer.county_of(c) if c else None for c in town_codes]
            ),
            "place_name": _text(places[0]),
            "place_kind": _text(places[1]),
            "place_distance_m": places[2],
            "grid_code": _text(grids),
        }
        frame = pd.DataFrame(columns)
        return frame

    def _towns_of(
        self, village_codes: list[str | None], points: np.ndarray
    ) -> list[str | None]:
        towns = [self.gazetteer.town_of(c) if c else None for c in village_codes]
        missing = np.array([t is None for t in towns])
        if missing.any():
            by_polygon = _first_hit(self._town_tree, self._towns, points[missing])
            for index, code in zip(np.flatnonzero(missing), by_polygon, strict=True):
                towns[index] = code
        return towns

    def _nearest_places(
        self, lon: np.ndarray, lat: np.ndarray, valid: np.ndarray
    ) -> tuple[list[str | None], list[str | None], np.ndarray]:
        """Name, kind and distance (m) of the nearest place to each point."""
        n = len(lon)
        names: list[str | None] = [None] * n
        kinds: list[str | None] = [None] * n
        distances = np.full(n, np.nan)
        if self._place_tree is not None and valid.any():
            xy = self._to_metres(lon[valid], lat[valid])
            (query, tree), found = self._place_tree.query_nearest(
                shapely.points(xy),
                max_distance=self.max_place_distance_m,
                return_distance=True,
                all_matches=False,
            )
            rows = np.flatnonzero(valid)[query]
            for row, index, distance in zip(rows, tree, found, strict=True):
                place = self._places[index]
                names[row], kinds[row] = place.name, place.kind
                distances[row] = round(float(distance), 1)
        return names, kinds, distances


def reverse_geocode(
    gazetteer: Gazetteer, lon: float, lat: float, grids: Any | None = None
) -> ReverseResult:
    """Village, town, nearest place and grid at one point (builds the index once).

    For many points, build a :class:`ReverseGeocoder` and call
    :meth:`~ReverseGeocoder.reverse_many`.
    """
    return ReverseGeocoder(gazetteer, grids).reverse(lon, lat)


def _first_hit(
    tree: shapely.STRtree | None, codes: list[str], points: np.ndarray
) -> list[str | None]:
    """Code of the lowest-coded polygon that holds each point, or None."""
    found: list[str | None] = [None] * len(points)
    if tree is None or not codes or not len(points):
        return found
    query, index = tree.query(points, predicate="intersects")
    for row, hit in zip(query, index, strict=True):
        current = found[row]
        if current is None or codes[hit] < current:
            found[row] = codes[hit]
    return found


def _grid_index(grids: Any | None) -> tuple[list[str], shapely.STRtree | None]:
    if grids is None:
        return [], None
    if not hasattr(grids, "geometry") or "code" not in grids.columns:
        raise InvalidInput(
            "grids: expected a GeoDataFrame of grid polygons with a 'code' column; "
            f"got {type(grids).__name__} with columns "
            f"{', '.join(map(str, getattr(grids, 'columns', []))) or 'none'}."
        )
    if grids.crs is not None and grids.crs.to_epsg() not in (4326, 4490):
        raise WrongCRS(
            "grids: polygons must be in WGS84 (EPSG:4326); got "
            f"{grids.crs.to_string()}. Reproject with grids.to_crs(4326)."
        )
    codes = [str(c) for c in grids["code"]]
    return codes, shapely.STRtree(np.asarray(grids.geometry.values, dtype=object))


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _text(values: list[str | None]) -> pd.Series:
    """A column of str or None, kept as objects."""
    return pd.Series(values, dtype=object)


def _none_if_nan(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
