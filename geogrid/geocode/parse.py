"""Address parsing: split a normalised address into its administrative and local parts.

An address is read left to right as: province, city, county, town (镇/乡/街道),
village or community (村/社区), then the local part: group (组), street,
building (幢/栋), unit (单元), room (室) and door number (号). Every part is
optional.

With a gazetteer (any object that follows :class:`Lexicon`), the names of the
gazetteer decide where one part ends and the next begins, so names that look
like something else (马路村 holds 路, 新街 holds 街, 太平 is both a town and a
community) are read as what they are. Where two readings are possible, the one
that explains more of the address wins; on a tie, the one with more names the
gazetteer knows, then the one whose village lies in its town, then the one that
reaches a village. A bare name that is both a town and a village of that town
(大溪) means the town when nothing follows it. A bare name followed by a street
suffix (东辉路) is a street, not the village. Without a gazetteer the parts are
found by their suffixes alone.
"""

from __future__ import annotations

import re
from typing import NamedTuple, Protocol

from geogrid.geocode.normalize import CJK, normalize

FORMS = ("full", "alias", "variant", "bare")
"""How a name was written, best first: the official form, a registered alias,
the other unit suffix (村 for a 社区 or the reverse; 镇 for a 街道), the bare
stem without a suffix."""

FORM_RANK = {form: rank for rank, form in enumerate(FORMS)}

PROVINCES = {
    "11": ("北京市", "北京"),
    "12": ("天津市", "天津"),
    "13": ("河北省", "河北"),
    "14": ("山西省", "山西"),
    "15": ("内蒙古自治区", "内蒙古"),
    "21": ("辽宁省", "辽宁"),
    "22": ("吉林省", "吉林"),
    "23": ("黑龙江省", "黑龙江"),
    "31": ("上海市", "上海"),
    "32": ("江苏省", "江苏"),
    "33": ("浙江省", "浙江"),
    "34": ("安徽省", "安徽"),
    "35": ("福建省", "福建"),
    "36": ("江西省", "江西"),
    "37": ("山东省", "山东"),
    "41": ("河南省", "河南"),
    "42": ("湖北省", "湖北"),
    "43": ("湖南省", "湖南"),
    "44": ("广东省", "广东"),
    "45": ("广西壮族自治区", "广西"),
    "46": ("海南省", "海南"),
    "50": ("重庆市", "重庆"),
    "51": ("四川省", "四川"),
    "52": ("贵州省", "贵州"),
    "53": ("云南省", "云南"),
    "54": ("西藏自治区", "西藏"),
    "61": ("陕西省", "陕西"),
    "62": ("甘肃省", "甘肃"),
    "63": ("青海省", "青海"),
    "64": ("宁夏回族自治区", "宁夏"),
    "65": ("新疆维吾尔自治区", "新疆"),
    "71": ("台湾省", "台湾"),
    "81": ("香港特别行政区", "香港"),
    "82": ("澳门特别行政区", "澳门"),
}
"""Full and short name of each province by the first two digits of a code."""


def province_forms(prefix: str) -> tuple[str, ...]:
    """Ways of writing the province whose codes start with ``prefix``."""
    full, short = PROVINCES[prefix]
    return tuple(dict.fromkeys((full, short, short + "省", short + "自治区")))


_PROVINCE_FORMS = sorted(
    ((form, PROVINCES[p][0]) for p in PROVINCES for form in province_forms(p)),
    key=lambda pair: len(pair[0]),
    reverse=True,
)

_UPPER = re.compile(
    rf"(?:(?![镇乡村组号社])[{CJK}]){{1,6}}?(?:自治州|自治县|地区|盟|市|县|区|旗)"
)
_NOT_UPPER_END = (
    "小区",
    "园区",
    "工业区",
    "开发区",
    "景区",
    "校区",
    "厂区",
    "片区",
    "城区",
)
_TOWN = re.compile(rf"(?:(?![村组号路])[{CJK}]){{2,5}}?(?:街道|镇|乡)")
_VILLAGE = re.compile(rf"(?:(?![组号])[{CJK}]){{1,6}}?(?:村|社区)")
_VILLAGE_VILLAGE = re.compile(rf"(?:(?![组号])[{CJK}]){{1,6}}?村村")
_BARE = re.compile(rf"(?:(?![组号路街镇乡村])[{CJK}]){{2,4}}(?=\d|$)")
_STREET_END = frozenset("路街巷弄道桥区园苑厦楼场")
_STREET_AHEAD = re.compile(rf"[{CJK}]{{0,2}}?(?:大道|大街|路|街|巷|弄)(?:\d|$)")
_LOCAL_START = re.compile(r"\d+(?:组|号|幢|栋|座|单元|室|层|楼|弄|巷|-|$)")
_LONGER_VILLAGE = re.compile(rf"[{CJK}]{{1,3}}?(?:村|社区)")
_TAIL = re.compile(
    r"(?P<group>\d+)组"
    r"|(?P<building>\d+|[A-Z])(?:幢|栋|号楼|座)"
    r"|(?P<unit>\d+)单元"
    r"|(?P<room>\d+)室"
    r"|(?P<door>\d+(?:-\d+)*)号"
    r"|(?P<floor>\d+)(?:层|楼)"
    rf"|(?P<street>(?:(?![组号])[{CJK}]){{1,10}}?(?:大道|大街|路|街|巷|弄)(?:\d+[弄巷])?)"
    r"|(?P<end_door>\d+(?:-\d+)*)$"
)


class Entry(NamedTuple):
    """One unit that a written name can stand for."""

    code: str
    level: str
    form: str
    town: str | None
    county: str | None


class Lexicon(Protocol):
    """What the parser needs from a gazetteer."""

    county_keys: tuple[str, ...]

    def entries_at(self, text: str, start: int) -> list[tuple[int, tuple[Entry, ...]]]:
        """Names that start at ``start``: (end, entries), longest first."""
        ...

    @property
    def has_province(self) -> bool:
        """Whether the province of the loaded counties is known."""
        ...

    @property
    def has_city(self) -> bool:
        """Whether the names of the enclosing city were given."""
        ...


class Segment(NamedTuple):
    """A part of the address with the gazetteer units it may name.

    ``entries`` is empty when the gazetteer knows no unit of that name (or when
    the address was parsed without a gazetteer).
    """

    text: str
    entries: tuple[Entry, ...] = ()

    @property
    def known(self) -> bool:
        """Whether the gazetteer knows a unit of this name."""
        return bool(self.entries)


class ParsedAddress(NamedTuple):
    """The parts of an address, each as written after normalisation.

    ``foreign`` names an upper level (province, city or county) that is not the
    loaded one; ``unverified`` lists upper names that could not be checked (a
    city when the gazetteer was given no city names). ``leftover`` holds the
    pieces of the local part that fit no rule (a natural village, a shop);
    ``unexplained_start`` tells whether such a piece directly follows the last
    administrative name. ``admin_text`` is the part of the text before the
    local part (the key under which its reading is cached).
    """

    text: str
    province: str | None = None
    city: str | None = None
    county: Segment | None = None
    town: Segment | None = None
    village: Segment | None = None
    group: str | None = None
    street: str | None = None
    building: str | None = None
    unit: str | None = None
    room: str | None = None
    door: str | None = None
    leftover: tuple[str, ...] = ()
    unexplained_start: bool = False
    foreign: str | None = None
    unverified: tuple[str, ...] = ()
    admin_text: str = ""

    def as_dict(self) -> dict[str, str | None]:
        """The parts as plain strings, keyed by level."""
        names = ("province", "city", "county", "town", "village")
        parts: dict[str, str | None] = {}
        for name in names:
            value = getattr(self, name)
            parts[name] = value.text if isinstance(value, Segment) else value
        for name in ("group", "street", "building", "unit", "room", "door"):
            parts[name] = getattr(self, name)
        return parts


def parse_address(address: str, lexicon: Lexicon | None = None) -> ParsedAddress:
    """Split an address into province, city, county, town, village and local part.

    Parameters
    ----------
    address
        The address as written; it is normalised first (see
        :func:`~geogrid.geocode.normalize.normalize`).
    lexicon
        A gazetteer whose names guide the split. Without one, parts are found
        by their suffixes (市, 县, 镇, 村, 组, 号, ...).

    Returns
    -------
    ParsedAddress
    """
    text = normalize(address)
    if lexicon is None:
        return _parse_by_suffix(text)
    return parse_normalized(text, lexicon)


class ParseCache:
    """Readings of administrative and local parts, kept for one lexicon.

    Many addresses share their administrative part (only group and door
    differ), many share their town and village part (written after any of
    several forms of the county), and many share their local part (3组12号),
    so a batch reads each once. Each part is emptied when it holds ``size``
    entries.
    """

    def __init__(self, size: int = 500_000) -> None:
        self.size = size
        self.admin: dict[tuple[str, bool], _Admin] = {}
        self.towns: dict[tuple[str, bool], _TownVillage] = {}
        self.local: dict[str, _Tail] = {}

    def clear(self) -> None:
        """Forget every reading."""
        self.admin.clear()
        self.towns.clear()
        self.local.clear()


def parse_normalized(
    text: str, lexicon: Lexicon, cache: ParseCache | None = None
) -> ParsedAddress:
    """Parse an already normalised address with the names of a gazetteer.

    Parameters
    ----------
    text
        A normalised address.
    lexicon
        The gazetteer whose names guide the split.
    cache
        Optional readings of parts already seen with this lexicon.
    """
    cut = _LOCAL_START.search(text)
    prefix = text if cut is None else text[: cut.start()]
    if cache is None:
        upper, town, village, end = _parse_prefix(prefix, lexicon, cut is not None)
        tail = _parse_tail(text[end:])
    else:
        upper, town, village, end = _cached_prefix(
            prefix, lexicon, cache, cut is not None
        )
        tail = _cached_tail(text[end:], cache)
    return ParsedAddress(
        text,
        upper.province,
        upper.city,
        upper.county,
        town,
        village,
        *tail,
        upper.foreign,
        upper.unverified,
        prefix,
    )


def _cached_prefix(
    prefix: str, lexicon: Lexicon, cache: ParseCache, more: bool
) -> _Admin:
    key = (prefix, more)
    found = cache.admin.get(key)
    if found is None:
        if len(cache.admin) >= cache.size:
            cache.admin.clear()
        found = cache.admin[key] = _parse_prefix(prefix, lexicon, more, cache)
    return found


def _cached_tail(local: str, cache: ParseCache) -> _Tail:
    found = cache.local.get(local)
    if found is None:
        if len(cache.local) >= cache.size:
            cache.local.clear()
        found = cache.local[local] = _parse_tail(local)
    return found


_Admin = tuple["_Upper", "Segment | None", "Segment | None", int]
_TownVillage = tuple["Segment | None", "Segment | None", int]


def _parse_prefix(
    prefix: str, lexicon: Lexicon, more: bool, cache: ParseCache | None = None
) -> _Admin:
    """Upper levels, town and village of the part before the first number.

    Every rule here treats a number and the end of the text alike, so reading
    the prefix alone (and whether more follows) gives the same answer as
    reading the whole address. The town and village are read from the text
    after the upper levels alone, which nothing before it changes.
    """
    upper = _parse_upper(prefix, _HitCache(prefix, lexicon), lexicon)
    rest = prefix[upper.end :]
    found = cache.towns.get((rest, more)) if cache is not None else None
    if found is None:
        found = _parse_admin(rest, 0, _HitCache(rest, lexicon), more)
        if cache is not None:
            if len(cache.towns) >= cache.size:
                cache.towns.clear()
            cache.towns[(rest, more)] = found
    town, village, end = found
    return upper, town, village, upper.end + end


# -- upper levels ----------------------------------------------------------------


class _Upper(NamedTuple):
    end: int
    province: str | None
    city: str | None
    county: Segment | None
    foreign: str | None
    unverified: tuple[str, ...]


class _HitCache:
    """Gazetteer names by start position, looked up once per position."""

    def __init__(self, text: str, lexicon: Lexicon) -> None:
        self.text = text
        self.lexicon = lexicon
        self.by_start: dict[int, list[tuple[int, tuple[Entry, ...]]]] = {}

    def at(self, start: int) -> list[tuple[int, tuple[Entry, ...]]]:
        found = self.by_start.get(start)
        if found is None:
            found = self.lexicon.entries_at(self.text, start)
            self.by_start[start] = found
        return found

    def of_levels(self, start: int, levels: tuple[str, ...]) -> list[Segment]:
        """Segments at ``start`` naming units of the given levels, longest first."""
        segments = []
        for end, entries in self.at(start):
            chosen = tuple(e for e in entries if e.level in levels)
            if chosen:
                segments.append(Segment(self.text[start:end], chosen))
        return segments


def _parse_upper(text: str, hits: _HitCache, lexicon: Lexicon) -> _Upper:
    pos = 0
    province = city = None
    county: Segment | None = None
    other_province: str | None = None
    unresolved: list[str] = []

    for _ in range(6):
        found = hits.at(pos)
        if found:
            end, entries = found[0]
            levels = {e.level for e in entries}
            name = text[pos:end]
            if "county" in levels:
                county = Segment(name, tuple(e for e in entries if e.level == "county"))
                pos = end
                break
            if "province" in levels or "city" in levels:
                if "province" in levels:
                    province = name
                else:
                    city = name
                pos = end
                continue
            break

        match = _match_province(text, pos)
        if match is not None:
            province = other_province = match
            pos += len(match)
            continue

        skip = _county_ahead(text, pos, lexicon)
        if skip > pos:
            unresolved.append(text[pos:skip])
            pos = skip
            continue

        generic = _UPPER.match(text, pos)
        if generic is not None and not generic.group().endswith(_NOT_UPPER_END):
            if text.startswith("场", generic.end()):
                break
            unresolved.append(generic.group())
            pos = generic.end()
            continue
        break

    foreign, unverified = _classify_upper(other_province, unresolved, county, lexicon)
    if city is None and county is not None and unresolved:
        city = unresolved[-1]
    return _Upper(pos, province, city, county, foreign, unverified)


def _match_province(text: str, pos: int) -> str | None:
    for form, _full in _PROVINCE_FORMS:
        if text.startswith(form, pos):
            return form
    return None


def _county_ahead(text: str, pos: int, lexicon: Lexicon) -> int:
    """Start of a county name a few characters ahead, or ``pos``."""
    window = text[pos : pos + 12]
    starts = [window.find(key) for key in lexicon.county_keys]
    starts = [s for s in starts if s > 0]
    if not starts:
        return pos
    skipped = window[: min(starts)]
    if re.fullmatch(f"[{CJK}]+", skipped) is None:
        return pos
    return pos + min(starts)


def _classify_upper(
    province: str | None,
    unresolved: list[str],
    county: Segment | None,
    lexicon: Lexicon,
) -> tuple[str | None, tuple[str, ...]]:
    """Which upper names lie outside the loaded area, which cannot be checked.

    ``province`` is a province the gazetteer does not know as its own.
    """
    if province is not None and lexicon.has_province:
        return province, ()
    unverified = [province] if province is not None else []
    if county is not None:
        return None, tuple(unverified + unresolved)

    for name in unresolved:
        if name.endswith(("县", "区", "旗")) or lexicon.has_city:
            return name, ()
    return None, tuple(unverified + unresolved)


# -- town and village ---------------------------------------------------------------


_Choice = tuple[Segment | None, Segment | None, int]


def _parse_admin(
    text: str, start: int, hits: _HitCache, more: bool
) -> tuple[Segment | None, Segment | None, int]:
    """Best reading of the town and village that start at ``start``.

    ``more`` tells whether a local part (group, door) follows the text.
    """
    best: _Choice = (None, None, start)
    best_score: tuple[int, ...] = (-1,)

    options = _town_options(text, start, hits)
    for town, after_town in options:
        for village, end in _village_options(text, after_town, hits):
            score = _score(town, village, end - start)
            if score > best_score:
                best, best_score = (town, village, end), score

    # a bare name of a town and of a village in it (大溪), and nothing else
    town, village, end = best
    if town is None and village is not None and end == len(text) and not more:
        for option, after_town in options:
            if option is not None and after_town == end and _is_bare(village):
                codes = {e.code for e in option.entries}
                if any(e.town in codes for e in village.entries):
                    return option, None, end
    return best


def _town_options(
    text: str, start: int, hits: _HitCache
) -> list[tuple[Segment | None, int]]:
    options: list[tuple[Segment | None, int]] = [(None, start)]
    for seg in hits.of_levels(start, ("town",)):
        end = start + len(seg.text)
        if (
            _is_bare(seg)
            and text.startswith(("镇", "乡", "街道"), end)
            and not hits.of_levels(end, ("village",))
        ):
            continue  # the full name is another option
        if _is_bare(seg) and _starts_street(text, end) and not hits.at(end):
            continue
        options.append((seg, end))
    if not hits.at(start):
        generic = _TOWN.match(text, start)
        if generic is not None:
            options.append((Segment(generic.group()), generic.end()))
    return options


def _village_options(
    text: str, start: int, hits: _HitCache
) -> list[tuple[Segment | None, int]]:
    options: list[tuple[Segment | None, int]] = [(None, start)]
    for seg in hits.of_levels(start, ("village",)):
        end = start + len(seg.text)
        if _is_bare(seg) and (
            _starts_street(text, end) or _LONGER_VILLAGE.match(text, end)
        ):
            continue
        options.append((seg, end))
    if len(options) > 1 or any(
        e.level != "village" for _, es in hits.at(start) for e in es
    ):
        return options

    generic = _VILLAGE.match(text, start)
    if generic is not None and text.startswith("村", generic.end()):
        generic = _VILLAGE_VILLAGE.match(text, start)  # 下村村: stem 下村
    if generic is None:
        generic = _BARE.match(text, start)
        if generic is not None and generic.group()[-1] in _STREET_END:
            generic = None
    if generic is not None:
        options.append((Segment(generic.group()), generic.end()))
    return options


def _is_bare(segment: Segment) -> bool:
    return all(e.form == "bare" for e in segment.entries)


def _starts_street(text: str, end: int) -> bool:
    """Whether a street suffix follows a name (东辉路12号, 东城大道88号)."""
    return _STREET_AHEAD.match(text, end) is not None


def _score(
    town: Segment | None, village: Segment | None, consumed: int
) -> tuple[int, ...]:
    consistent = 0
    if town is not None and village is not None and town.known and village.known:
        town_codes = {e.code for e in town.entries}
        consistent = 1 if any(e.town in town_codes for e in village.entries) else -1
    known = sum(1 for seg in (town, village) if seg is not None and seg.known)
    form = sum(
        len(FORMS) - min(FORM_RANK[e.form] for e in seg.entries)
        for seg in (town, village)
        if seg is not None and seg.known
    )
    return (consumed, known, consistent, int(village is not None), form)


# -- local part ----------------------------------------------------------------------


class _Tail(NamedTuple):
    group: str | None
    street: str | None
    building: str | None
    unit: str | None
    room: str | None
    door: str | None
    leftover: tuple[str, ...]
    unexplained_start: bool


def _parse_tail(text: str) -> _Tail:
    """Group, street, building, unit, room and door of the local part.

    The first of each part counts; text between the parts is left over.
    """
    parts: dict[str, str] = {}
    leftover: list[str] = []
    pos = 0
    for match in _TAIL.finditer(text):
        if match.start() > pos:
            leftover.append(text[pos : match.start()])
        pos = match.end()
        name = match.lastgroup
        if name == "end_door":
            name = "door"
        if name is not None and name != "floor":
            parts.setdefault(name, match.group(name))
    if pos < len(text):
        leftover.append(text[pos:])
    return _Tail(
        parts.get("group"),
        parts.get("street"),
        parts.get("building"),
        parts.get("unit"),
        parts.get("room"),
        parts.get("door"),
        tuple(leftover),
        bool(leftover) and text.startswith(leftover[0]),
    )


# -- without a gazetteer ---------------------------------------------------------------


def _parse_by_suffix(text: str) -> ParsedAddress:
    pos = 0
    province = _match_province(text, 0)
    if province is not None:
        pos = len(province)

    uppers = []
    for _ in range(2):
        generic = _UPPER.match(text, pos)
        if generic is None or generic.group().endswith(_NOT_UPPER_END):
            break
        uppers.append(generic.group())
        pos = generic.end()
    city, county = _split_uppers(uppers)

    town = village = None
    match = _TOWN.match(text, pos)
    if match is not None:
        town, pos = Segment(match.group()), match.end()
    match = _VILLAGE.match(text, pos)
    if match is not None:
        village, pos = Segment(match.group()), match.end()

    tail = _parse_tail(text[pos:])
    return ParsedAddress(text, province, city, county, town, village, *tail)


def _split_uppers(uppers: list[str]) -> tuple[str | None, Segment | None]:
    """City and county from one or two upper names; one name is the county."""
    if len(uppers) == 2:
        return uppers[0], Segment(uppers[1])
    if len(uppers) == 1:
        return None, Segment(uppers[0])
    return None, None
