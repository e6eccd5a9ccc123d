"""The travel model without road data: great-circle distance times a detour factor."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely

from geogrid.errors import InvalidInput
from geogrid.routes.network._types import Floats
from geogrid.routes.network.road_classes import check_speed
from geogrid.routes.network.travel_matrix import TravelMatrix, lonlat_arrays

DETOUR_FACTOR = 1.3
STRAIGHT_LINE_SPEED_KPH = 30.0
EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class StraightLine:
    """Travel without road data: great-circle distance × factor at a speed.

    Attributes
    ----------
    detour_factor
        Ratio of road distance to straight distance assumed everywhere.
    speed_kph
        Average travel speed.
    """

    detour_factor: float = DETOUR_FACTOR
    speed_kph: float = STRAIGHT_LINE_SPEED_KPH

    name = "straight_line"

    def __post_init__(self) -> None:
        factor = self.detour_factor
        if not (
            isinstance(factor, int | float) and math.isfinite(factor) and factor >= 1
        ):
            raise InvalidInput(
                f"detour_factor must be a number of at least 1 (road distance over "
                f"straight distance); received {self.detour_factor!r}. A rural "
                "county is typically 1.2-1.5.",
                parameter="detour_factor",
            )
        check_speed(self.speed_kph, "speed_kph")

    def matrix(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> TravelMatrix:
        """Travel times and distances between points given in WGS84 degrees."""
        lon_arr, lat_arr = lonlat_arrays(lon, lat)
        distance_m = _haversine_m(lon_arr, lat_arr) * self.detour_factor
        time_s = distance_m / (self.speed_kph / 3.6)

        def legs(pairs: Sequence[tuple[int, int]]) -> list[shapely.LineString]:
            return [
                shapely.LineString([(lon_arr[a], lat_arr[a]), (lon_arr[b], lat_arr[b])])
                for a, b in pairs
            ]

        n = lon_arr.size
        return TravelMatrix(
            model=self.name,
            time_s=time_s,
            distance_m=distance_m,
            access_m=np.zeros(n),
            off_network=np.zeros(n, dtype=bool),
            detour_factor=self.detour_factor,
            speed_kph=self.speed_kph,
            _legs=legs,
        )


def _haversine_m(lon: Floats, lat: Floats) -> Floats:
    lon_rad, lat_rad = np.radians(lon), np.radians(lat)
    dlon = lon_rad[:, None] - lon_rad[None, :]
    dlat = lat_rad[:, None] - lat_rad[None, :]
    cos_product = np.cos(lat_rad)[:, None] * np.cos(lat_rad)[None, :]
    h = np.sin(dlat / 2.0) ** 2 + cos_product * np.sin(dlon / 2.0) ** 2
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
