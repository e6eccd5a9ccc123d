"""The gazetteer: administrative units and local places, indexed for geocoding.

A :class:`Gazetteer` holds counties, towns and villages (with their 12-digit
codes, parent codes and polygons) and, optionally, places below the village:
groups (组), streets, door plates and points of interest. It is built from
in-memory frames (:meth:`Gazetteer.from_frames`) or read from the store
(:meth:`Gazetteer.from_engine`), and knows nothing of any database afterwards.

Every name is normalised (:func:`~geogrid.geocode.normalize.normalize`) and
registered under several keys in one dictionary, so parsing an address is a
series of dictionary look-ups:

- a county: its name (温岭市) and, if at least two characters remain, its name
  without 市/县/区/旗 (温岭);
- a town: its name (太平街道), its stem (太平) and the stem with the other town
  suffixes (太平镇) as a variant;
- a village (村): stem + 村 and stem + 村村 (from XX村村委会) as the official
  form, stem + 社区 as a variant, the bare stem;
- a community (社区 or 居委会): stem + 社区, stem + 村 as a variant, the bare stem;
- aliases: stems with their Chinese numerals in Arabic digits (南塘1村), and any
  names given in ``aliases`` (an old town name, a common nickname).

Bare stems shorter than two characters are not registered.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geogrid.errors import InvalidInput, WrongCRS
from geogrid.geocode.normalize import arabic_numerals, normalize, sound_key
from geogrid.geocode.parse import FORM_RANK, PROVINCES, Entry, province_forms

log = logging.getLogger(__name__)

ADMIN_LEVELS = ("county", "town", "village")
PLACE_KINDS = ("group", "street", "door", "poi")
TOWN_SUFFIXES = ("街道", "镇", "乡")
COUNTY_SUFFIXES = ("市", "县", "区", "旗")
_GEOGRAPHIC_EPSG = (4326, 4490)
_CODE = re.compile(r"\d{12}")


@dataclass(frozen=True, slots=True)
class Unit:
    """An administrative unit of the gazetteer.

    ``stem`` is the normalised name without its unit suffix, ``suffix`` the
    kind of suffix it had: 'village' (村), 'community' (社区, 居委会), 'town'
    (镇, 乡, 街道), 'county' (市, 县, 区, 旗) or None.
    """

    code: str
    name: str
    level: str
    parent_code: str | None
    kind: str | None
    stem: str
    suffix: str | None
    geometry: BaseGeometry | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Place:
    """A named point below the village: group, street, door plate or POI."""

    kind: str
    name: str
    parent_code: str
    lon: float
    lat: float


class Gazetteer:
    """Administrative units and places, with the indexes the geocoder reads.

    Parameters
    ----------
    units
        Counties, towns and villages.
    places
        Groups, streets, door plates and POIs, each under a village or town.
    upper_names
        How people write the city (and, if the code does not tell, the
        province) above the loaded counties, e.g. ``("台州市",)``. A city name
        that is neither one of these nor a loaded county then marks an address
        as outside the area. The province is known from the first two digits of
        the county codes.
    aliases
        Other names of units: written name to unit code (an old town name).
    """

    def __init__(
        self,
        units: Iterable[Unit],
        places: Iterable[Place] = (),
        *,
        upper_names: Sequence[str] = (),
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        self.units: dict[str, Unit] = {u.code: u for u in units}
        self._children: dict[str, list[str]] = defaultdict(list)
        for unit in self.units.values():
            if unit.parent_code is not None:
                self._children[unit.parent_code].append(unit.code)
        self._town = {code: self._ancestor(code, "town", 9) for code in self.units}
        self._county = {code: self._ancestor(code, "county", 6) for code in self.units}

        # caches filled on first use (or by prepare)
        self._polygons: dict[str, BaseGeometry | None] = {}
        self._label_points: dict[str, tuple[float, float] | None] = {}
        self._sounds: dict[str, str] = {}

        self._index_names(upper_names, aliases or {})
        self._places: dict[tuple[str, str, str], Place] = {}
        self._places_named: dict[tuple[str, str], list[Place]] = defaultdict(list)
        self._index_places(places)
        log.info(
            "Built a gazetteer of %d units, %d places and %d name keys.",
            len(self.units),
            len(self._places),
            len(self._keys),
        )

    # -- construction ----------------------------------------------------------

    @classmethod
    def from_frames(
        cls,
        units: pd.DataFrame,
        places: pd.DataFrame | None = None,
        *,
        upper_names: Sequence[str] = (),
        aliases: Mapping[str, str] | None = None,
    ) -> Gazetteer:
        """Gazetteer from data frames of units and (optionally) places.

        Parameters
        ----------
        units
            Columns code (12 digits), name, level ('county', 'town' or
            'village'), parent_code, and optionally kind and geometry (shapely
            polygons in WGS84 or CGCS2000; None where a unit has no polygon).
        places
            Columns kind ('group', 'street', 'door' or 'poi'), name,
            parent_code and geometry (shapely points in WGS84).
        upper_names, aliases
            See :class:`Gazetteer`.

        Raises
        ------
        InvalidInput
            A column is missing, a code is not 12 digits, a level or kind is not
            allowed, a code repeats, or a geometry has the wrong type.
        WrongCRS
            The frame's CRS is not geographic WGS84/CGCS2000, or the
            coordinates are not longitudes and latitudes.
        """
        unit_rows = _unit_rows(units)
        place_rows = _place_rows(places) if places is not None else []
        return cls(unit_rows, place_rows, upper_names=upper_names, aliases=aliases)

    @classmethod
    def from_engine(
        cls,
        engine: Any,
        *,
        upper_names: Sequence[str] = (),
        aliases: Mapping[str, str] | None = None,
    ) -> Gazetteer:
        """Gazetteer read from the store's admin_unit and gazetteer_place tables.

        Parameters
        ----------
        engine
            A SQLAlchemy engine of a geogrid store.
        upper_names, aliases
            See :class:`Gazetteer`.
        """
        import geopandas

        units = geopandas.read_postgis(
            "SELECT code, name, level, parent_code, kind, geom FROM admin_unit",
            engine,
            geom_col="geom",
        ).rename_geometry("geometry")
        places = geopandas.read_postgis(
            "SELECT kind, name, parent_code, geom FROM gazetteer_place",
            engine,
            geom_col="geom",
        ).rename_geometry("geometry")
        return cls.from_frames(
            units,
            places if len(places) else None,
            upper_names=upper_names,
            aliases=aliases,
        )

    # -- name keys ---------------------------------------------------------------

    def _index_names(
        self, upper_names: Sequence[str], aliases: Mapping[str, str]
    ) -> None:
        """Register every key of every name, then freeze them for look-ups."""
        self._building: dict[str, dict[str, Entry]] = defaultdict(dict)
        self._register_units()
        self._register_upper(upper_names)
        for name, code in aliases.items():
            self._register_alias(name, code)
        self._keys = {k: tuple(v.values()) for k, v in self._building.items()}
        del self._building

        lengths: dict[str, set[int]] = defaultdict(set)
        for key in self._keys:
            lengths[key[:2]].add(len(key))
        self._lengths = {k: sorted(v, reverse=True) for k, v in lengths.items()}
        self.county_keys = tuple(
            k
            for k, entries in self._keys.items()
            if any(e.level == "county" for e in entries)
        )

    def _add_key(self, key: str, unit: Unit, form: str) -> None:
        if len(key) < 2:
            return
        entries = self._building[key]
        known = entries.get(unit.code)
        if known is not None and FORM_RANK[known.form] <= FORM_RANK[form]:
            return
        entries[unit.code] = Entry(
            unit.code,
            unit.level,
            form,
            self.town_of(unit.code),
            self.county_of(unit.code),
        )

    def _register_units(self) -> None:
        for unit in self.units.values():
            for key, form in _unit_keys(unit):
                self._add_key(key, unit, form)
            alias_stem = arabic_numerals(unit.stem)
            if alias_stem != unit.stem:
                renamed = _with_stem(unit, alias_stem)
                for key, form in _unit_keys(renamed):
                    self._add_key(key, unit, "alias" if form == "full" else form)

    def _register_upper(self, upper_names: Sequence[str]) -> None:
        counties = [u for u in self.units.values() if u.level == "county"]
        prefixes = {u.code[:2] for u in self.units.values()} & set(PROVINCES)
        self.province_codes = tuple(sorted(prefixes))
        for prefix in self.province_codes:
            code = prefix + "0" * 10
            for form in province_forms(prefix):
                self._building[form][code] = Entry(code, "province", "full", None, None)

        city_code = counties[0].code[:4] + "0" * 8 if counties else "0" * 12
        self.upper_names = tuple(normalize(n) for n in upper_names)
        for name in self.upper_names:
            for key in {name, _strip_suffix(name, ("市", "州", "地区", "盟"))[0]}:
                if len(key) >= 2:
                    self._building[key][city_code] = Entry(
                        city_code, "city", "full", None, None
                    )

    def _register_alias(self, name: str, code: str) -> None:
        unit = self.units.get(code)
        if unit is None:
            raise InvalidInput(
                f"aliases: alias {name!r} points to unit code {code!r}, which is "
                "not in the gazetteer; give the code of a loaded county, town or "
                "village."
            )
        self._add_key(normalize(name), unit, "alias")

    @property
    def has_province(self) -> bool:
        """Whether the province of the loaded counties is known from the codes."""
        return bool(self.province_codes)

    @property
    def has_city(self) -> bool:
        """Whether the names of the enclosing city were given."""
        return bool(self.upper_names)

    def entries_at(self, text: str, start: int) -> list[tuple[int, tuple[Entry, ...]]]:
        """Names that start at ``start``, as (end, entries), longest first.

        Parameters
        ----------
        text
            A normalised address.
        start
            Index of the first character of the name.
        """
        found: list[tuple[int, tuple[Entry, ...]]] = []
        lengths = self._lengths.get(text[start : start + 2])
        if lengths is None:
            return found
        keys = self._keys
        room = len(text) - start
        for length in lengths:
            if length <= room:
                entries = keys.get(text[start : start + length])
                if entries is not None:
                    found.append((start + length, entries))
        return found

    def lookup(self, name: str) -> tuple[Entry, ...]:
        """Units a written name can stand for (the name is normalised first)."""
        return self._keys.get(normalize(name), ())

    # -- hierarchy -------------------------------------------------------------

    def unit(self, code: str) -> Unit:
        """The unit with this code."""
        return self.units[code]

    def children(self, code: str, level: str | None = None) -> list[Unit]:
        """Units directly under ``code`` (optionally only those of ``level``)."""
        units = (self.units[c] for c in self._children.get(code, ()))
        return [u for u in units if level is None or u.level == level]

    def towns(self, county_code: str | None = None) -> list[Unit]:
        """Towns of one county, or of all loaded counties."""
        return [
            u
            for u in self.units.values()
            if u.level == "town"
            and (county_code is None or self.county_of(u.code) == county_code)
        ]

    def town_of(self, code: str) -> str | None:
        """Code of the town of a unit (the unit itself for a town)."""
        return self._town.get(code)

    def county_of(self, code: str) -> str | None:
        """Code of the county of a unit (the unit itself for a county)."""
        return self._county.get(code)

    def _ancestor(self, code: str, level: str, digits: int) -> str | None:
        seen = 0
        current: str | None = code
        while current is not None and seen < 4:
            unit = self.units.get(current)
            if unit is None:
                break
            if unit.level == level:
                return unit.code
            current = unit.parent_code
            seen += 1
        # the statistical code says it even when the parent row is missing
        guess = code[:digits] + "0" * (12 - digits)
        unit = self.units.get(guess)
        return guess if unit is not None and unit.level == level else None

    def full_name(self, code: str) -> str:
        """Town and unit name, e.g. '箬横镇团结村委会' (just the name for a town)."""
        unit = self.units[code]
        town = self.town_of(code)
        if unit.level == "village" and town is not None:
            return self.units[town].name + unit.name
        return unit.name

    # -- places ----------------------------------------------------------------

    def _index_places(self, places: Iterable[Place]) -> None:
        repeated = 0
        for place in places:
            key = (place.parent_code, place.kind, place.name)
            if key in self._places:
                repeated += 1
                continue
            self._places[key] = place
            self._places_named[(place.kind, place.name)].append(place)
        if repeated:
            log.warning(
                "Skipped %d places repeating a kind, parent and name.", repeated
            )
        pois = [name for kind, name in self._places_named if kind == "poi"]
        self._poi_max = max((len(n) for n in pois), default=0)

    def place(self, parent_code: str, kind: str, name: str) -> Place | None:
        """The place of ``kind`` named ``name`` (normalised) under a unit."""
        return self._places.get((parent_code, kind, name))

    def places_named(self, kind: str, name: str) -> list[Place]:
        """Every place of ``kind`` named ``name`` (normalised), anywhere."""
        return self._places_named.get((kind, name), [])

    def pois_in(self, text: str) -> list[Place]:
        """POIs whose name occurs anywhere in a normalised address, longest first."""
        found: list[Place] = []
        if not self._poi_max:
            return found
        for start in range(len(text) - 1):
            for length in range(min(self._poi_max, len(text) - start), 1, -1):
                places = self._places_named.get(("poi", text[start : start + length]))
                if places:
                    found.extend(p for p in places if p not in found)
                    break
        return sorted(found, key=lambda p: len(p.name), reverse=True)

    def all_places(self) -> list[Place]:
        """Every place, in no particular order."""
        return list(self._places.values())

    def prepare(self) -> Gazetteer:
        """Compute now what is otherwise computed on first use.

        The label point of every unit with a polygon and the sound key of
        every village and town. A server calls this once after loading, so the
        first addresses of a batch are not slower than the rest.

        Returns
        -------
        Gazetteer
            The gazetteer itself.
        """
        started = time.perf_counter()
        for code, unit in self.units.items():
            self.label_point(code)
            if unit.level != "county":
                self.sound(code)
        log.info(
            "Prepared label points and sound keys of %d units in %.2f s.",
            len(self.units),
            time.perf_counter() - started,
        )
        return self

    # -- points ----------------------------------------------------------------

    def label_point(self, code: str) -> tuple[float, float] | None:
        """A point well inside the unit's polygon (its pole of inaccessibility).

        The centre of the largest circle that fits in the polygon, computed in
        a frame where a degree of longitude and of latitude have the same
        length, so the point keeps away from every border. Units without a
        polygon get the point of the union of their children's polygons, or
        None. Cached per unit.
        """
        if code not in self._label_points:
            self._label_points[code] = self._compute_label(code)
        return self._label_points[code]

    def _compute_label(self, code: str) -> tuple[float, float] | None:
        geometry = self.polygon(code)
        if geometry is None:
            return None
        return inside_point(geometry)

    def polygon(self, code: str) -> BaseGeometry | None:
        """The unit's polygon, or the union of its children's, or None."""
        if code not in self._polygons:
            self._polygons[code] = self._own_or_children_polygon(code)
        return self._polygons[code]

    def _own_or_children_polygon(self, code: str) -> BaseGeometry | None:
        unit = self.units.get(code)
        if unit is None:
            return None
        if unit.geometry is not None and not unit.geometry.is_empty:
            return unit.geometry
        parts = [self.polygon(child.code) for child in self.children(code)]
        parts = [p for p in parts if p is not None]
        return shapely.union_all(parts) if parts else None

    # -- fuzzy matching --------------------------------------------------------

    def sound(self, code: str) -> str:
        """Sound key of a unit's stem (see :func:`normalize.sound_key`)."""
        if code not in self._sounds:
            self._sounds[code] = sound_key(self.units[code].stem)
        return self._sounds[code]

    def __len__(self) -> int:
        return len(self.units)

    def __repr__(self) -> str:
        levels = pd.Series([u.level for u in self.units.values()]).value_counts()
        counts = ", ".join(f"{n} {lvl}s" for lvl, n in levels.items())
        return f"<Gazetteer: {counts or 'empty'}>"


# -- helpers -----------------------------------------------------------------------


def inside_point(geometry: BaseGeometry) -> tuple[float, float]:
    """Pole of inaccessibility of a polygon, in lon/lat with equal-length degrees.

    Parameters
    ----------
    geometry
        A Polygon or MultiPolygon in WGS84; for a MultiPolygon, its largest
        part is used.
    """
    if not geometry.is_valid:
        geometry = shapely.make_valid(geometry)
    if isinstance(geometry, shapely.MultiPolygon | shapely.GeometryCollection):
        polygons = [g for g in geometry.geoms if isinstance(g, shapely.Polygon)]
        geometry = max(polygons, key=lambda g: g.area)

    lat0 = geometry.centroid.y
    scale = math.cos(math.radians(lat0))
    squared: Any = shapely.transform(geometry, lambda xy: xy * np.array([scale, 1.0]))
    width = max(
        squared.bounds[2] - squared.bounds[0], squared.bounds[3] - squared.bounds[1]
    )
    circle = shapely.maximum_inscribed_circle(squared, tolerance=width / 2000)
    x, y = shapely.get_coordinates(circle)[0]
    return (float(x / scale), float(y))


def split_name(name: str, level: str) -> tuple[str, str | None]:
    """Stem and suffix kind of a normalised unit name."""
    if level == "village":
        if name.endswith("社区") and len(name) > 2:
            return name[:-2], "community"
        if name.endswith("村") and len(name) > 1:
            return name[:-1], "village"
        return name, None
    if level == "town":
        stem, suffix = _strip_suffix(name, TOWN_SUFFIXES)
        return stem, "town" if suffix else None
    stem, suffix = _strip_suffix(name, COUNTY_SUFFIXES)
    return stem, "county" if suffix else None


def _strip_suffix(name: str, suffixes: Sequence[str]) -> tuple[str, str | None]:
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], suffix
    return name, None


def _unit_keys(unit: Unit) -> list[tuple[str, str]]:
    """(key, form) under which a unit's name is registered."""
    name, stem = normalize(unit.name), unit.stem
    if unit.suffix is None:
        return [(name, "full")]
    if unit.level == "county":
        return [(name, "full"), (stem, "bare")]
    if unit.level == "town":
        keys = [
            (stem + s, "full" if stem + s == name else "variant") for s in TOWN_SUFFIXES
        ]
        return [*keys, (stem, "bare")]
    if unit.suffix == "village":
        return [
            (stem + "村", "full"),
            (stem + "村村", "full"),
            (stem + "社区", "variant"),
            (stem, "bare"),
        ]
    return [(stem + "社区", "full"), (stem + "村", "variant"), (stem, "bare")]


def _with_stem(unit: Unit, stem: str) -> Unit:
    suffix = normalize(unit.name)[len(unit.stem) :]
    return Unit(
        unit.code,
        stem + suffix,
        unit.level,
        unit.parent_code,
        unit.kind,
        stem,
        unit.suffix,
    )


def _check_columns(frame: pd.DataFrame, what: str, required: Sequence[str]) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInput(
            f"{what}: expected a pandas DataFrame, got {type(frame).__name__}; "
            f"build one with the columns {', '.join(required)}."
        )
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"{what}: missing column(s) {', '.join(missing)}; the frame has "
            f"{', '.join(map(str, frame.columns)) or 'no columns'}. Add or rename "
            f"them (needed: {', '.join(required)})."
        )


def _check_crs(frame: pd.DataFrame, what: str) -> None:
    crs = getattr(frame, "crs", None) if "geometry" in frame.columns else None
    if crs is not None and crs.to_epsg() not in _GEOGRAPHIC_EPSG:
        raise WrongCRS(
            f"{what}: geometries must be in WGS84 (EPSG:4326) or CGCS2000 "
            f"(EPSG:4490), got {crs.to_string()}; reproject with "
            "frame.to_crs(4326) first."
        )


def _check_lonlat(geometries: list[BaseGeometry | None], what: str) -> None:
    present = [g for g in geometries if g is not None and not g.is_empty]
    if not present:
        return
    minx, miny, maxx, maxy = shapely.total_bounds(np.array(present, dtype=object))
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise WrongCRS(
            f"{what}: coordinates span x {minx:.0f}..{maxx:.0f}, "
            f"y {miny:.0f}..{maxy:.0f}, which are not longitudes and latitudes; "
            "the geometries look projected. "
            "Reproject them to WGS84 (EPSG:4326)."
        )


def _unit_rows(units: pd.DataFrame) -> list[Unit]:
    _check_columns(units, "units", ("code", "name", "level", "parent_code"))
    _check_crs(units, "units")
    codes = units["code"].astype(str).str.strip()
    bad = ~codes.str.fullmatch(_CODE.pattern)
    if bad.any():
        raise InvalidInput(
            "units: column code must hold 12-digit statistical codes; "
            f"{int(bad.sum())} row(s) do not, the first is {codes[bad].iloc[0]!r}. "
            "Pad county and town codes with zeros (331081000000)."
        )
    repeated = codes[codes.duplicated()]
    if len(repeated):
        raise InvalidInput(
            f"units: each code may appear once; {repeated.iloc[0]!r} appears more than "
            "once. Remove the duplicate rows."
        )
    levels = units["level"].astype(str)
    wrong = ~levels.isin(ADMIN_LEVELS)
    if wrong.any():
        raise InvalidInput(
            f"units: column level must be one of {', '.join(ADMIN_LEVELS)}; got "
            f"{levels[wrong].iloc[0]!r}. Map your level names onto these."
        )

    geometries = _geometries(units, "units", ("Polygon", "MultiPolygon"))
    kinds = units["kind"] if "kind" in units.columns else pd.Series([None] * len(units))
    rows = []
    for code, name, level, parent, kind, geom in zip(
        codes,
        units["name"],
        levels,
        units["parent_code"],
        kinds,
        geometries,
        strict=True,
    ):
        stem, suffix = split_name(normalize(str(name)), level)
        parent_code = str(parent).strip() if _present(parent) else None
        rows.append(
            Unit(
                code,
                str(name),
                level,
                parent_code,
                kind if _present(kind) else None,
                stem,
                suffix,
                geom,
            )
        )
    return rows


def _place_rows(places: pd.DataFrame) -> list[Place]:
    _check_columns(places, "places", ("kind", "name", "parent_code", "geometry"))
    _check_crs(places, "places")
    kinds = places["kind"].astype(str)
    wrong = ~kinds.isin(PLACE_KINDS)
    if wrong.any():
        raise InvalidInput(
            f"places: column kind must be one of {', '.join(PLACE_KINDS)}; got "
            f"{kinds[wrong].iloc[0]!r}. Map your kinds onto these."
        )
    geometries = _geometries(places, "places", ("Point",))
    rows = []
    for kind, name, parent, geom in zip(
        kinds, places["name"], places["parent_code"], geometries, strict=True
    ):
        if isinstance(geom, shapely.Point):
            rows.append(
                Place(kind, normalize(str(name)), str(parent).strip(), geom.x, geom.y)
            )
    return rows


def _geometries(
    frame: pd.DataFrame, what: str, allowed: tuple[str, ...]
) -> list[BaseGeometry | None]:
    if "geometry" not in frame.columns:
        return [None] * len(frame)
    geometries = [
        g if isinstance(g, BaseGeometry) and not g.is_empty else None
        for g in frame["geometry"]
    ]
    for geom, raw in zip(geometries, frame["geometry"], strict=True):
        if geom is None and _present(raw) and not isinstance(raw, BaseGeometry):
            raise InvalidInput(
                f"{what}: column geometry must hold shapely geometries; got "
                f"{type(raw).__name__}. Parse WKT with shapely.from_wkt first."
            )
        if geom is not None and geom.geom_type not in allowed:
            raise InvalidInput(
                f"{what}: geometries must be {' or '.join(allowed)}; got "
                f"{geom.geom_type}. Fix or drop those rows."
            )
    _check_lonlat(geometries, what)
    return geometries


def _present(value: Any) -> bool:
    if value is None:
        return False
    return not (isinstance(value, float) and math.isnan(value))
