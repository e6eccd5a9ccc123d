"""Road classes and what road attributes mean for travel: speeds and one-way flags.

`KIND_SPEED_KPH` gives the travel speed of each road kind: the demo county's
classes, the store's default kind, and the OpenStreetMap ``highway`` values a
car or e-bike may use. A road's own positive ``speed_kph`` wins over its kind;
a road with neither gets `DEFAULT_SPEED_KPH`.
"""

from __future__ import annotations

import logging
import math
import re
from typing import Any

import geopandas as gpd
import numpy as np

from geogrid.errors import InvalidInput
from geogrid.routes.network._types import Floats

logger = logging.getLogger(__name__)

DEFAULT_SPEED_KPH = 30.0

# travel speed by road kind: the demo county's classes, the store's default
# kind, and the OpenStreetMap highway values a car or e-bike may use
KIND_SPEED_KPH = {
    "county": 60.0,
    "town": 40.0,
    "village": 25.0,
    "local": 30.0,
    "motorway": 100.0,
    "motorway_link": 60.0,
    "trunk": 80.0,
    "trunk_link": 50.0,
    "primary": 60.0,
    "primary_link": 40.0,
    "secondary": 50.0,
    "secondary_link": 40.0,
    "tertiary": 40.0,
    "tertiary_link": 30.0,
    "unclassified": 30.0,
    "residential": 25.0,
    "road": 30.0,
    "living_street": 10.0,
    "service": 15.0,
    "track": 15.0,
}
OSM_HIGHWAYS = frozenset(KIND_SPEED_KPH) - {"county", "town", "village", "local"}

# values of a one-way flag or tag that mean yes
TRUE_WORDS = {"yes", "true", "1"}

_MAXSPEED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph)?\s*$")


def is_true(value: Any) -> bool:
    """Whether a flag value means yes.

    True, 1 and ``"yes"`` / ``"true"`` / ``"1"`` in any case are yes;
    missing values are no.
    """
    if isinstance(value, str):
        return value.strip().lower() in TRUE_WORDS
    return isinstance(value, bool | int | np.integer | np.bool_) and bool(value)


def maxspeed_kph(value: str | None) -> float:
    """The km/h of a numeric OpenStreetMap ``maxspeed`` (mph converted), else NaN."""
    match = _MAXSPEED.match(value or "")
    if match is None:
        return math.nan
    speed = float(match.group(1))
    return speed * 1.609344 if match.group(2) else speed


def speeds_kph(frame: gpd.GeoDataFrame, default_speed_kph: float) -> Floats:
    """Speed of each road: its own, else its kind's, else the default."""
    speed = frame["speed_kph"].to_numpy(np.float64)
    by_kind = frame["kind"].map(KIND_SPEED_KPH).to_numpy(np.float64)
    missing = ~(np.isfinite(speed) & (speed > 0.0))
    speed = np.where(missing, by_kind, speed)
    defaulted = ~np.isfinite(speed)
    if defaulted.any():
        logger.warning(
            "Gave %d of %d roads without a speed or a known kind the default %.0f km/h",
            int(defaulted.sum()),
            len(speed),
            default_speed_kph,
        )
    return np.where(defaulted, default_speed_kph, speed)


def check_speed(speed_kph: float, name: str) -> None:
    """Refuse a speed parameter outside 0-300 km/h.

    Raises
    ------
    InvalidInput
        When `speed_kph` is not a number strictly between 0 and 300.
    """
    if not (isinstance(speed_kph, int | float) and 0.0 < speed_kph < 300.0):
        raise InvalidInput(
            f"{name} must be a speed in km/h between 0 and 300; received "
            f"{speed_kph!r}.",
            parameter=name,
        )
