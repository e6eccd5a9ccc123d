"""Travel matrices: times, distances and leg lines between a set of locations."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import shapely

from geogrid.errors import InvalidInput
from geogrid.routes.network._types import Bools, Floats, Ints

LegsFn = Callable[[Sequence[tuple[int, int]]], list[shapely.LineString]]


@dataclass
class TravelMatrix:
    """Travel times and distances between locations, and the legs' lines.

    Attributes
    ----------
    model
        ``"road_network"`` or ``"straight_line"``.
    time_s, distance_m
        Square matrices, row = from, column = to; ``inf`` where no road
        path exists, and for locations off the network.
    access_m
        Distance from each location to its road (0 for straight lines).
    off_network
        True where a location is farther than the snapping limit from every
        road; its rows and columns are ``inf``.
    detour_factor, speed_kph
        The straight-line model's factor and speed; None on roads.
    """

    model: str
    time_s: Floats
    distance_m: Floats
    access_m: Floats
    off_network: Bools
    detour_factor: float | None = None
    speed_kph: float | None = None
    _legs: LegsFn = field(default=lambda pairs: [], repr=False, compare=False)

    def __len__(self) -> int:
        return int(self.time_s.shape[0])

    def take(self, index: Sequence[int] | Ints) -> TravelMatrix:
        """The matrix of a subset of the locations, in the order given."""
        index = np.asarray(index, dtype=np.int64)
        grid = np.ix_(index, index)
        parent = self._legs

        def legs(pairs: Sequence[tuple[int, int]]) -> list[shapely.LineString]:
            return parent([(int(index[a]), int(index[b])) for a, b in pairs])

        return TravelMatrix(
            model=self.model,
            time_s=self.time_s[grid],
            distance_m=self.distance_m[grid],
            access_m=self.access_m[index],
            off_network=self.off_network[index],
            detour_factor=self.detour_factor,
            speed_kph=self.speed_kph,
            _legs=legs,
        )

    def leg_geometries(
        self, pairs: Sequence[tuple[int, int]]
    ) -> list[shapely.LineString]:
        """The travelled line of each (from, to) pair, in EPSG:4326.

        On roads the line runs from the location to its road, along the
        quickest path and from the road to the other location.
        """
        return self._legs(list(pairs))


def lonlat_arrays(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Floats, Floats]:
    """Check locations given in WGS84 degrees and return them as arrays.

    Raises
    ------
    InvalidInput
        When the counts differ or a coordinate is missing or out of range.
    """
    lon_arr = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    lat_arr = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    if lon_arr.shape != lat_arr.shape:
        raise InvalidInput(
            "Travel matrices need as many longitudes as latitudes; received "
            f"{lon_arr.size} longitudes and {lat_arr.size} latitudes.",
        )
    valid = np.isfinite(lon_arr) & np.isfinite(lat_arr)
    valid &= (np.abs(lon_arr) <= 180.0) & (np.abs(lat_arr) <= 90.0)
    if not valid.all():
        raise InvalidInput(
            "Travel matrices need finite WGS84 longitudes and latitudes; "
            f"{int((~valid).sum())} of {valid.size} locations are missing or out "
            "of range.",
        )
    return lon_arr, lat_arr
