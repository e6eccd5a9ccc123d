"""The geocoder: from an address to a point, a level, a unit code and a confidence.

Matching rules, in order:

1. Input that cannot be an address (not text, empty, longer than
   :data:`MAX_ADDRESS_CHARS` characters, no Chinese character) is unmatched,
   with the reason.
2. A manual correction whose key is the normalised address wins.
3. A province, city or county that is not the loaded one makes the address
   unmatched ("outside the loaded area"). So does a town the gazetteer does
   not know, unless the county is named and the village is found in it.
4. The town is looked up by name (镇, 乡, 街道, another of these suffixes, or
   the bare stem). A name the gazetteer lacks is matched by sound, else by
   spelling, among the towns of the county; it is kept only when one town is
   clearly the closest.
5. The village is looked up by name and must lie in the town when a town was
   read; if it lies in another town, the address is ambiguous (town and
   village disagree). The kind written (村 or 社区) chooses between a village
   and a community of one name; the other kind is accepted when the town has
   only that one. Two units that fit equally well (the same name in two towns
   and no town written) make the address ambiguous: the candidates are
   listed, none is chosen. A village name the gazetteer lacks is matched by
   sound, else by spelling, only among the villages of the town that was read,
   so that the hierarchy makes the candidate unambiguous; without a town it
   is unmatched, with suggestions. A name of the town that matches nothing
   leaves the address at town level.
6. Below the village, a door plate (street + 号, group + 号, or 号), a POI or a
   group of the gazetteer gives the point. A door plate, POI or street named
   without its village is used when it is the only one of that name in the
   town (or the area). Otherwise the point is the pole of inaccessibility of
   the deepest unit found, well inside it; a unit without a polygon is placed
   in the nearest unit above it that has one, and the level says so.

Levels, most precise first: 'door' (a door plate or POI), 'group' (the point
of a 组), 'village', 'town', 'county', or None without a point. ``approximate``
is true for village, town and county.

Confidence says how sure the geocoder is that the unit code is right, not how
precise the point is (that is the level). An official name in a consistent
town scores 1.0; each weaker reading takes some off:

======================================================  =========
reading                                                  penalty
======================================================  =========
village written bare (no 村/社区) or with the other kind    0.10
town not written                                           0.05
town written with another suffix (镇 for 街道)              0.05
town matched by sound or spelling                          0.10
town unknown, but the county is named                      0.25
a city or province name that cannot be checked             0.05
bare village name followed by text nothing explains        0.30
======================================================  =========

Caps: a village matched by sound 0.7, by spelling 0.6; a town matched by
sound or spelling (nothing below it) 0.7; a town-level fallback (a village was
named but not found) 0.5; a door plate or POI found without its village 0.9
in a named town, else 0.85; a street alone 0.8. A county-level result scores
0.9 when nothing else was written, else 0.3. A manual correction scores 1.0.
Matches at or above :data:`HIGH_CONFIDENCE` (0.8) therefore always rest on an
exact name of the village (or of a door plate, POI or street).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NamedTuple

from rapidfuzz import fuzz

from geogrid.errors import InvalidInput
from geogrid.geocode.gazetteer import TOWN_SUFFIXES, Gazetteer, Place, Unit
from geogrid.geocode.normalize import (
    MAX_ADDRESS_CHARS,
    has_chinese,
    normalize,
    sound_key,
)
from geogrid.geocode.parse import (
    FORM_RANK,
    Entry,
    ParseCache,
    ParsedAddress,
    Segment,
    parse_normalized,
)

if TYPE_CHECKING:
    import pandas as pd

    from geogrid.geocode.batch import Progress

log = logging.getLogger(__name__)

LEVELS = ("door", "group", "village", "town", "county")
"""Levels a point can be resolved to, most precise first."""

APPROXIMATE_LEVELS = ("village", "town", "county")
"""Levels whose point is a representative point inside the unit."""

STATUSES = ("matched", "ambiguous", "unmatched")

HIGH_CONFIDENCE = 0.8
"""Confidence from which a match is trusted without review."""

SOUND_CAP = 0.7
SPELLING_CAP = 0.6
FALLBACK_CAP = 0.5
FUZZY_MIN_SCORE = 80.0
FUZZY_MARGIN = 10.0
SUGGEST_MIN_SCORE = 70.0

_FORM_PENALTY = {"full": 0.0, "alias": 0.0, "variant": 0.10, "bare": 0.10}
_TOWN_FORM_PENALTY = {"full": 0.0, "alias": 0.0, "variant": 0.05, "bare": 0.0}


class Candidate(NamedTuple):
    """A unit the address may mean, with how well its name fits (0..1)."""

    code: str
    name: str
    score: float


@dataclass(frozen=True, slots=True)
class Correction:
    """A manual answer for one address: it wins over the automatic result.

    Mirrors a row of the store's geocode_correction table.
    """

    point: tuple[float, float]
    level: str
    village_code: str | None = None


class GeocodeResult(NamedTuple):
    """What the geocoder made of one address.

    Attributes
    ----------
    status
        'matched', 'ambiguous' or 'unmatched'.
    level
        Precision of ``point``: 'door', 'group', 'village', 'town', 'county',
        or None without a point.
    point
        (lon, lat) in WGS84, or None.
    confidence
        0..1, how sure the geocoder is that ``code`` is right.
    code
        Code of the deepest administrative unit identified.
    approximate
        True when the point stands for a whole village, town or county: it is
        then placed well inside that unit, away from its borders.
    reason
        A sentence for unmatched and ambiguous results and for fallbacks.
    candidates
        The units an ambiguous address may mean (suggestions for unmatched).
    village_code, town_code
        Codes of the village and town, when known.
    place
        Name of the group, door plate or POI that gave the point.
    key
        The normalised address (the key of manual corrections).
    source
        'auto' or 'correction'.
    """

    status: str
    level: str | None
    point: tuple[float, float] | None
    confidence: float
    code: str | None
    approximate: bool
    reason: str | None = None
    candidates: tuple[Candidate, ...] = ()
    village_code: str | None = None
    town_code: str | None = None
    place: str | None = None
    key: str = ""
    source: str = "auto"

    @property
    def lon(self) -> float | None:
        """Longitude of the point, or None."""
        return self.point[0] if self.point else None

    @property
    def lat(self) -> float | None:
        """Latitude of the point, or None."""
        return self.point[1] if self.point else None


@dataclass(frozen=True, slots=True)
class _Identity:
    """What the administrative part of an address names.

    Shared by every address with the same administrative part, so it is worked
    out once per batch; only the local part (group, door, POI) is read per
    address. ``outcome`` is 'village', 'town', 'county', 'ambiguous' or
    'unmatched'. When ``search`` is true, door plates, POIs and streets named
    in the local part are looked for in ``area`` (town codes; None for the
    whole gazetteer) before the outcome is used.
    """

    outcome: str
    code: str | None = None
    confidence: float = 0.0
    notes: tuple[str, ...] = ()
    reason: str | None = None
    candidates: tuple[Candidate, ...] = ()
    bare: bool = False
    search: bool = False
    area: tuple[str, ...] | None = None
    point: tuple[float, float] | None = None
    level: str | None = None
    village_code: str | None = None
    town_code: str | None = None


class Geocoder:
    """Geocodes addresses against a gazetteer, with manual corrections first.

    Parameters
    ----------
    gazetteer
        The units and places to match against.
    corrections
        Manual answers keyed by address; keys are normalised on the way in, so
        raw or normalised addresses both work.
    cache_size
        How many results (by normalised address) and readings of
        administrative parts to keep.

    Examples
    --------
    >>> geocoder = Geocoder(gazetteer)  # doctest: +SKIP
    >>> geocoder.geocode("温岭市箬横镇团结村三组12号").level  # doctest: +SKIP
    'door'
    """

    def __init__(
        self,
        gazetteer: Gazetteer,
        corrections: Mapping[str, Correction] | None = None,
        *,
        cache_size: int = 100_000,
    ) -> None:
        self.gazetteer = gazetteer
        self.corrections = _checked_corrections(corrections or {})
        self.cache_size = cache_size
        self._results: dict[str, GeocodeResult] = {}
        self._parses = ParseCache(cache_size)
        self._identities: dict[tuple[str | bool | None, ...], _Identity] = {}
        counties = [u.name for u in gazetteer.units.values() if u.level == "county"]
        self._area = "、".join(sorted(counties)) or "the loaded towns"
        log.info(
            "Prepared a geocoder over %d units with %d manual corrections.",
            len(gazetteer),
            len(self.corrections),
        )

    def geocode(self, address: Any) -> GeocodeResult:
        """Geocode one address; never raises on bad input.

        Parameters
        ----------
        address
            The address as written. Anything that is not a non-empty string of
            at most :data:`MAX_ADDRESS_CHARS` characters is unmatched.
        """
        if type(address) is str and 0 < len(address) <= MAX_ADDRESS_CHARS:
            key = normalize(address)
        else:
            refused = _refuse(address)
            if refused is not None:
                return refused
            key = normalize(address.strip())
        if not key or len(key) > MAX_ADDRESS_CHARS:
            if not address.strip():
                return _unmatched(key, "The address is empty.")
            return _no_chinese(key) if not key else _too_long(len(key), " written out")

        correction = self.corrections.get(key)
        if correction is not None:
            return self._corrected(key, correction)
        result = self._results.get(key)
        if result is None:
            if len(self._results) >= self.cache_size:
                self._results.clear()
            result = self._results[key] = self._geocode_key(key)
        return result

    def geocode_many(
        self, addresses: Sequence[Any], progress: Progress | None = None
    ) -> pd.DataFrame:
        """Geocode many addresses into a frame; see :func:`batch.geocode_many`."""
        from geogrid.geocode.batch import geocode_many

        return geocode_many(self, addresses, progress=progress)

    def parse(self, address: str) -> ParsedAddress:
        """The parts of an address as the geocoder reads them."""
        return parse_normalized(normalize(address), self.gazetteer)

    def _geocode_key(self, key: str) -> GeocodeResult:
        if not has_chinese(key):
            return _no_chinese(key)
        if len(self._identities) >= self.cache_size:
            self._identities.clear()
        parsed = parse_normalized(key, self.gazetteer, self._parses)
        names = (
            parsed.foreign,
            bool(parsed.unverified),
            parsed.county.text if parsed.county else None,
            parsed.town.text if parsed.town else None,
            parsed.village.text if parsed.village else None,
        )
        identity = self._identities.get(names)
        if identity is None:
            identity = self._identities[names] = self._identify(parsed)
        return self._locate(parsed, identity)

    # -- which unit: from the administrative part ---------------------------------

    def _identify(self, parsed: ParsedAddress) -> _Identity:
        if parsed.foreign is not None:
            return _Identity(
                "unmatched",
                reason=f"The address names {parsed.foreign}, which is outside the "
                f"loaded area ({self._area}); it was not placed.",
            )
        counties = _codes(parsed.county)
        town_codes, town_form = self._towns(parsed.town, counties)
        penalty = _upper_penalty(parsed, town_form)

        if parsed.village is not None:
            return self._identify_village(
                parsed, parsed.village, counties, town_codes, town_form, penalty
            )
        if town_codes:
            return self._identify_town(parsed, town_codes, 1.0 - penalty)
        if parsed.town is not None:
            return _Identity(
                "unmatched",
                reason=f"The town {parsed.town.text} is not in the gazetteer of "
                f"{self._area}; check its name or the county.",
            )
        if counties:
            return self._approximate(
                _Identity("county", sorted(counties)[0], 0.9, search=True)
            )
        return _Identity(
            "unmatched",
            reason="No county, town or village of the loaded area "
            f"({self._area}) was recognised in the address.",
            search=True,
        )

    def _towns(
        self, segment: Segment | None, counties: set[str] | None
    ) -> tuple[tuple[str, ...], str | None]:
        """Codes of the towns the address names, and how the name was read."""
        if segment is None:
            return (), None
        entries = [e for e in segment.entries if _in(e.county, counties)]
        if entries:
            best = min(FORM_RANK[e.form] for e in entries)
            chosen = [e for e in entries if FORM_RANK[e.form] == best]
            return tuple(e.code for e in chosen), chosen[0].form

        stem = _strip(segment.text, TOWN_SUFFIXES)
        towns = [
            t
            for t in self.gazetteer.towns()
            if _in(self.gazetteer.county_of(t.code), counties)
        ]
        match = self._fuzzy(stem, towns)
        if match is not None and len(match[0]) == 1:
            return (match[0][0].code,), "fuzzy"
        return (), "unknown"

    def _identify_town(
        self, parsed: ParsedAddress, town_codes: tuple[str, ...], confidence: float
    ) -> _Identity:
        if len(town_codes) > 1:
            candidates = tuple(self._candidate(c, 1.0) for c in town_codes)
            name = parsed.town.text if parsed.town else ""
            return _Identity(
                "ambiguous",
                reason=f"{len(candidates)} towns are named {name} "
                f"({_names(candidates)}); add the county to choose one.",
                candidates=candidates,
                search=True,
                area=town_codes,
            )
        if parsed.town is not None and not parsed.town.known:
            confidence = min(confidence, SOUND_CAP)
        identity = _Identity(
            "town", town_codes[0], confidence, search=True, area=town_codes
        )
        return self._approximate(identity)

    def _identify_village(
        self,
        parsed: ParsedAddress,
        village: Segment,
        counties: set[str] | None,
        town_codes: tuple[str, ...],
        town_form: str | None,
        penalty: float,
    ) -> _Identity:
        if town_form == "unknown" and not (counties and village.known):
            return self._unknown_town(parsed, village, counties)

        if village.known:
            entries = [e for e in village.entries if _in(e.county, counties)]
            in_town = [e for e in entries if not town_codes or e.town in town_codes]
            if entries and not in_town:
                return self._conflict(village, entries, town_codes)
            if in_town:
                return self._exact_village(village, in_town, town_codes, penalty)

        if len(town_codes) == 1:
            return self._fuzzy_village(village, town_codes[0], penalty)
        return self._village_not_found(village, counties)

    def _exact_village(
        self,
        village: Segment,
        entries: list[Entry],
        town_codes: tuple[str, ...],
        penalty: float,
    ) -> _Identity:
        best = min(FORM_RANK[e.form] for e in entries)
        chosen = [e for e in entries if FORM_RANK[e.form] == best]
        if len(chosen) > 1:
            return self._ambiguous_villages(village, chosen, town_codes)

        entry = chosen[0]
        notes: tuple[str, ...] = ()
        if entry.form == "variant":
            name = self.gazetteer.unit(entry.code).name
            notes = (f"{village.text} was read as {name}.",)
        identity = _Identity(
            "village",
            entry.code,
            1.0 - penalty - _FORM_PENALTY[entry.form],
            notes,
            bare=entry.form == "bare",
        )
        return self._approximate(identity)

    def _fuzzy_village(
        self, village: Segment, town_code: str, penalty: float
    ) -> _Identity:
        stem = _strip(village.text, ("社区", "村"))
        villages = self.gazetteer.children(town_code, "village")
        match = self._fuzzy(stem, villages)
        town_name = self.gazetteer.unit(town_code).name

        if match is None:
            note = (
                f"No village named {village.text} was found in {town_name}; the "
                "point was placed inside the town."
            )
            identity = _Identity(
                "town",
                town_code,
                min(FALLBACK_CAP, 1.0 - penalty),
                (note,),
                candidates=self._suggest(stem, villages),
                search=True,
                area=(town_code,),
            )
            return self._approximate(identity)

        units, how = match
        if len(units) > 1:
            candidates = tuple(self._candidate(u.code, SOUND_CAP) for u in units)
            return _Identity(
                "ambiguous",
                reason=f"{village.text} sounds like {len(units)} villages of "
                f"{town_name} ({_names(candidates)}); write the village name "
                "exactly.",
                candidates=candidates,
                search=True,
                area=(town_code,),
            )

        unit = units[0]
        cap = SOUND_CAP if how == "sound" else SPELLING_CAP
        why = "same sound" if how == "sound" else "close spelling"
        note = (
            f"{village.text} was read as {unit.name} of {town_name} ({why}); check it."
        )
        identity = _Identity("village", unit.code, min(cap, 1.0 - penalty), (note,))
        return self._approximate(identity)

    def _ambiguous_villages(
        self, village: Segment, entries: list[Entry], town_codes: tuple[str, ...]
    ) -> _Identity:
        candidates = tuple(self._candidate(e.code, 1.0) for e in entries)
        if town_codes:
            why = "in the same town; write 村 or 社区 to choose one."
        else:
            why = "and the address names no town; add the town to choose one."
        return _Identity(
            "ambiguous",
            reason=f"{len(candidates)} units are named {village.text} "
            f"({_names(candidates)}) {why}",
            candidates=candidates,
        )

    def _conflict(
        self, village: Segment, entries: list[Entry], town_codes: tuple[str, ...]
    ) -> _Identity:
        towns = "、".join(self.gazetteer.unit(c).name for c in town_codes)
        places = tuple(self._candidate(e.code, 0.5) for e in entries)
        return _Identity(
            "ambiguous",
            reason=f"The address puts {village.text} in {towns}, but {towns} has "
            f"no such village; {village.text} lies in {_names(places)}. Check the "
            "town or the village.",
            candidates=places + tuple(self._candidate(c, 0.5) for c in town_codes),
        )

    def _unknown_town(
        self, parsed: ParsedAddress, village: Segment, counties: set[str] | None
    ) -> _Identity:
        town = parsed.town.text if parsed.town else ""
        suggestions = tuple(
            self._candidate(e.code, 0.5)
            for e in village.entries
            if _in(e.county, counties)
        )
        return _Identity(
            "unmatched",
            reason=f"The town {town} is not in the gazetteer of {self._area}, so "
            "the address may lie in another county; it was not placed.",
            candidates=suggestions,
        )

    def _village_not_found(
        self, village: Segment, counties: set[str] | None
    ) -> _Identity:
        villages = [
            u
            for u in self.gazetteer.units.values()
            if u.level == "village" and _in(self.gazetteer.county_of(u.code), counties)
        ]
        suggestions = self._suggest(_strip(village.text, ("社区", "村")), villages)
        if village.text.endswith(("村", "社区")):
            reason = (
                f"No village named {village.text} is in the gazetteer, and without "
                "a town a close name cannot be chosen safely; add the town or "
                "correct the name."
            )
        else:
            reason = (
                "No county, town or village of the loaded area "
                f"({self._area}) was recognised in the address."
            )
        return _Identity(
            "unmatched", reason=reason, candidates=suggestions, search=True
        )

    def _approximate(self, identity: _Identity) -> _Identity:
        """The identity with a point inside its unit (or the nearest unit above)."""
        gaz = self.gazetteer
        assert identity.code is not None
        unit = gaz.unit(identity.code)
        notes = identity.notes
        code: str | None = unit.code
        point, level = None, None
        while code is not None and code in gaz.units:
            point = gaz.label_point(code)
            if point is not None:
                level = gaz.unit(code).level
                if code != unit.code:
                    above = gaz.unit(code).name
                    notes += (f"{unit.name} has no polygon; placed inside {above}.",)
                break
            code = gaz.unit(code).parent_code
        if point is None:
            notes += (f"{unit.name} and the units above it have no polygon.",)
        return replace(
            identity,
            notes=notes,
            point=point,
            level=level,
            village_code=unit.code if unit.level == "village" else None,
            town_code=gaz.town_of(unit.code),
        )

    # -- which point: from the local part -----------------------------------------

    def _locate(self, parsed: ParsedAddress, identity: _Identity) -> GeocodeResult:
        if identity.search:
            found = self._place_in_area(parsed, identity.area)
            if found is not None:
                return found
        if identity.outcome in ("ambiguous", "unmatched"):
            return GeocodeResult(
                identity.outcome,
                None,
                None,
                0.0,
                None,
                False,
                identity.reason,
                identity.candidates,
                key=parsed.text,
            )

        confidence, notes = identity.confidence, identity.notes
        if identity.outcome == "village":
            if identity.bare and parsed.unexplained_start:
                confidence -= 0.30
            local = self._local_place(parsed, identity.code or "")
            if local is not None:
                place, level = local
                return self._result(
                    parsed,
                    identity,
                    confidence,
                    notes,
                    level,
                    (place.lon, place.lat),
                    place.name,
                )
        elif _wants_more(parsed) and identity.outcome == "county":
            confidence = 0.3
            notes += ("Only the county was recognised; placed inside the county.",)
        elif _wants_more(parsed) and not notes:
            notes += ("Nothing below the town was recognised; placed inside the town.",)
        return self._result(
            parsed, identity, confidence, notes, identity.level, identity.point
        )

    def _local_place(
        self, parsed: ParsedAddress, village_code: str
    ) -> tuple[Place, str] | None:
        """The door plate, POI or group of the local part, inside the village."""
        gaz = self.gazetteer
        if parsed.door is not None:
            names = [f"{parsed.door}号"]
            if parsed.group is not None:
                names.insert(0, f"{parsed.group}组{parsed.door}号")
            if parsed.street is not None:
                names.insert(0, f"{parsed.street}{parsed.door}号")
            for name in names:
                place = gaz.place(village_code, "door", name)
                if place is not None:
                    return place, "door"
        if parsed.leftover:
            pois = [
                p for p in gaz.pois_in(parsed.text) if p.parent_code == village_code
            ]
            if pois:
                return pois[0], "door"
        if parsed.group is not None:
            place = gaz.place(village_code, "group", f"{parsed.group}组")
            if place is not None:
                return place, "group"
        return None

    def _place_in_area(
        self, parsed: ParsedAddress, area: tuple[str, ...] | None
    ) -> GeocodeResult | None:
        """A door plate, POI or street named without its village, if unique."""
        gaz = self.gazetteer
        found: list[list[Place]] = []
        if parsed.street and parsed.door:
            found.append(gaz.places_named("door", f"{parsed.street}{parsed.door}号"))
        if parsed.leftover or (parsed.village and not parsed.village.known):
            found.append(gaz.pois_in(parsed.text))
        if parsed.street:
            found.append(gaz.places_named("street", parsed.street))

        for places in found:
            inside = [
                p for p in places if area is None or gaz.town_of(p.parent_code) in area
            ]
            if len(inside) == 1:
                return self._from_area_place(parsed, inside[0], area)
        return None

    def _from_area_place(
        self, parsed: ParsedAddress, place: Place, area: tuple[str, ...] | None
    ) -> GeocodeResult:
        confidence = 0.9 if area else 0.85
        if place.kind == "street":
            note = f"The street {place.name} was found; placed inside its unit."
            identity = self._approximate(_Identity("village", place.parent_code))
            return self._result(
                parsed,
                identity,
                min(confidence, 0.8),
                (note,),
                identity.level,
                identity.point,
            )
        identity = self._approximate(_Identity("village", place.parent_code))
        return self._result(
            parsed, identity, confidence, (), "door", (place.lon, place.lat), place.name
        )

    def _result(
        self,
        parsed: ParsedAddress,
        identity: _Identity,
        confidence: float,
        notes: tuple[str, ...],
        level: str | None,
        point: tuple[float, float] | None,
        place: str | None = None,
    ) -> GeocodeResult:
        return GeocodeResult(
            "matched",
            level,
            point,
            round(max(0.0, min(1.0, confidence)), 2),
            identity.code,
            level in APPROXIMATE_LEVELS,
            " ".join(notes) or None,
            identity.candidates,
            identity.village_code,
            identity.town_code,
            place,
            parsed.text,
        )

    def _corrected(self, key: str, correction: Correction) -> GeocodeResult:
        village = correction.village_code
        return GeocodeResult(
            status="matched",
            level=correction.level,
            point=correction.point,
            confidence=1.0,
            code=village,
            approximate=correction.level in APPROXIMATE_LEVELS,
            reason="A manual correction was applied.",
            village_code=village,
            town_code=self.gazetteer.town_of(village) if village else None,
            key=key,
            source="correction",
        )

    # -- fuzzy ------------------------------------------------------------------

    def _fuzzy(self, stem: str, units: list[Unit]) -> tuple[list[Unit], str] | None:
        """Units whose stem sounds the same, else the one clearly closest."""
        if len(stem) < 2 or not units:
            return None
        key = sound_key(stem)
        same_sound = [u for u in units if self.gazetteer.sound(u.code) == key]
        if same_sound:
            return same_sound, "sound"

        ranked = sorted(
            ((self._similarity(stem, key, u), u) for u in units),
            key=lambda pair: pair[0],
            reverse=True,
        )
        best = ranked[0][0]
        second = ranked[1][0] if len(ranked) > 1 else 0.0
        if best >= FUZZY_MIN_SCORE and best - second >= FUZZY_MARGIN:
            return [ranked[0][1]], "spelling"
        return None

    def _similarity(self, stem: str, key: str, unit: Unit) -> float:
        by_char = fuzz.ratio(stem, unit.stem)
        by_sound = fuzz.ratio(key, self.gazetteer.sound(unit.code))
        return max(by_char, by_sound - 5.0)

    def _suggest(
        self, stem: str, units: list[Unit], limit: int = 3
    ) -> tuple[Candidate, ...]:
        if len(stem) < 2:
            return ()
        key = sound_key(stem)
        scored = sorted(
            ((self._similarity(stem, key, u), u) for u in units),
            key=lambda pair: pair[0],
            reverse=True,
        )
        return tuple(
            self._candidate(u.code, round(score / 100, 2))
            for score, u in scored[:limit]
            if score >= SUGGEST_MIN_SCORE
        )

    def _candidate(self, code: str, score: float) -> Candidate:
        return Candidate(code, self.gazetteer.full_name(code), score)


# -- helpers ---------------------------------------------------------------------------


def _refuse(address: Any) -> GeocodeResult | None:
    """An unmatched result for input that cannot be an address, else None."""
    if address is None or (isinstance(address, float) and math.isnan(address)):
        return _unmatched("", "The address is empty.")
    if not isinstance(address, str):
        return _unmatched(
            "", f"The address must be text; got {type(address).__name__}."
        )
    stripped = address.strip()
    if not stripped:
        return _unmatched("", "The address is empty.")
    if len(stripped) > MAX_ADDRESS_CHARS:
        return _too_long(len(stripped))
    return None


def _too_long(length: int, how: str = "") -> GeocodeResult:
    return _unmatched(
        "",
        f"The address has {length} characters{how}, more than the limit of "
        f"{MAX_ADDRESS_CHARS}; keep only the administrative part (town, village, "
        "group, door).",
    )


def _no_chinese(key: str) -> GeocodeResult:
    return _unmatched(
        key,
        "The address contains no Chinese characters, so no place name could be "
        "read from it.",
    )


def _unmatched(
    key: str, reason: str, candidates: tuple[Candidate, ...] = ()
) -> GeocodeResult:
    return GeocodeResult(
        "unmatched", None, None, 0.0, None, False, reason, candidates, key=key
    )


def _codes(segment: Segment | None) -> set[str] | None:
    if segment is None or not segment.known:
        return None
    return {e.code for e in segment.entries}


def _in(code: str | None, allowed: set[str] | None) -> bool:
    return allowed is None or code in allowed


def _strip(text: str, suffixes: Sequence[str]) -> str:
    for suffix in suffixes:
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)]
    return text


def _names(candidates: Sequence[Candidate]) -> str:
    return "、".join(c.name for c in candidates)


def _wants_more(parsed: ParsedAddress) -> bool:
    """Whether the address holds a local part that could not be used."""
    return bool(parsed.leftover or parsed.street or parsed.group or parsed.door)


def _upper_penalty(parsed: ParsedAddress, town_form: str | None) -> float:
    """What the county, city and town parts take off the confidence."""
    penalty = 0.05 if parsed.unverified else 0.0
    if town_form is None:
        return penalty + 0.05
    if town_form == "fuzzy":
        return penalty + 0.10
    if town_form == "unknown":
        return penalty + 0.25
    return penalty + _TOWN_FORM_PENALTY[town_form]


def _checked_corrections(
    corrections: Mapping[str, Correction],
) -> dict[str, Correction]:
    checked = {}
    for address, correction in corrections.items():
        lon, lat = correction.point
        if not (
            math.isfinite(lon)
            and math.isfinite(lat)
            and -180 <= lon <= 180
            and -90 <= lat <= 90
        ):
            raise InvalidInput(
                f"corrections: the point of {address!r} must be (lon, lat) in WGS84; "
                f"got {correction.point}. Swap or convert the coordinates."
            )
        if correction.level not in LEVELS:
            raise InvalidInput(
                f"corrections: level of {address!r} must be one of "
                f"{', '.join(LEVELS)}; got {correction.level!r}."
            )
        checked[normalize(address)] = correction
    return checked
