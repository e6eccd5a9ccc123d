"""Offline geocoding of Chinese rural addresses against the bank's own gazetteer.

Modules: :mod:`~geogrid.geocode.normalize` (one spelling per address),
:mod:`~geogrid.geocode.parse` (address parts), :mod:`~geogrid.geocode.gazetteer`
(units and places, indexed), :mod:`~geogrid.geocode.match` (the geocoder),
:mod:`~geogrid.geocode.batch` (frames, summaries, outside results) and
:mod:`~geogrid.geocode.reverse` (point to village, town, place and grid).

Examples
--------
>>> gazetteer = Gazetteer.from_frames(units, places)  # doctest: +SKIP
>>> geocoder = Geocoder(gazetteer)  # doctest: +SKIP
>>> results = geocoder.geocode_many(addresses)  # doctest: +SKIP
>>> summary_by_level(results), review_list(results)  # doctest: +SKIP
"""

from geogrid.geocode.batch import (
    COLUMNS,
    EXTERNAL_CRS,
    geocode_many,
    import_external_results,
    review_list,
    summary_by_level,
)
from geogrid.geocode.gazetteer import Gazetteer, Place, Unit, inside_point
from geogrid.geocode.match import (
    APPROXIMATE_LEVELS,
    HIGH_CONFIDENCE,
    LEVELS,
    STATUSES,
    Candidate,
    Correction,
    Geocoder,
    GeocodeResult,
)
from geogrid.geocode.normalize import MAX_ADDRESS_CHARS, normalize, sound_key
from geogrid.geocode.parse import ParsedAddress, Segment, parse_address
from geogrid.geocode.reverse import ReverseGeocoder, ReverseResult, reverse_geocode

__all__ = [
    "APPROXIMATE_LEVELS",
    "COLUMNS",
    "EXTERNAL_CRS",
    "HIGH_CONFIDENCE",
    "LEVELS",
    "MAX_ADDRESS_CHARS",
    "STATUSES",
    "Candidate",
    "Correction",
    "Gazetteer",
    "GeocodeResult",
    "Geocoder",
    "ParsedAddress",
    "Place",
    "ReverseGeocoder",
    "ReverseResult",
    "Segment",
    "Unit",
    "geocode_many",
    "import_external_results",
    "inside_point",
    "normalize",
    "parse_address",
    "reverse_geocode",
    "review_list",
    "sound_key",
    "summary_by_level",
]
