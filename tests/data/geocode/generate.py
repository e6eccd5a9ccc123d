"""Build the geocoding test data: gazetteers and labelled addresses.

Run from the repository root (the output is committed; rerun only to change it):

    .venv/bin/python tests/data/geocode/generate.py

Writes, next to this script:

- wenling_villages.csv: the real list of 661 villages and communities of 温岭市
  (see README.md for its source), copied unchanged;
- wenling_units.csv, wenling_places.csv: that list as a gazetteer, with
  synthetic polygons (Voronoi cells of random seeds, towns first, then the
  villages inside each town) and synthetic groups, door plates and streets;
- synthetic_units.csv, synthetic_places.csv: a small invented county (青禾县)
  built to hold the hard cases: the same village name in two towns, a village
  and a community of one name in one town, a village named like a street, a
  village without a polygon, door plates, streets and POIs;
- labelled.csv: addresses as people write them, with the expected answer.

Every random choice comes from one seeded generator, so reruns give the same
files.
"""

from __future__ import annotations

import csv
import random
import re
import shutil
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import shapely
from opencc import OpenCC
from rapidfuzz import fuzz

from geogrid.geocode.normalize import normalize, sound_key

HERE = Path(__file__).parent
SOURCE = Path("/work/shared/data/wenling/villages.csv")
SEED = 20240611
WENLING_BOX = (121.22, 28.22, 121.60, 28.56)
SYNTHETIC_BOX = (118.40, 29.10, 118.56, 29.22)
UPPER = (
    "",
    "温岭市",
    "温岭",
    "浙江省温岭市",
    "浙江省台州市温岭市",
    "台州市温岭市",
    "台州温岭",
    "浙江温岭",
)
TOWN_STEMS_AS_VILLAGES = {"太平", "横峰", "大溪", "箬横", "城东", "城西", "城北"}
CN_DIGITS = "零一二三四五六七八九"

rng = random.Random(SEED)
np_rng = np.random.default_rng(SEED)
to_traditional = OpenCC("s2t")
to_simplified = OpenCC("t2s")


# -- numbers and spellings -----------------------------------------------------------


def cn_number(value: int) -> str:
    """A number as people write it in Chinese: 3 三, 12 十二, 25 二十五."""
    if value < 10:
        return CN_DIGITS[value]
    tens, ones = divmod(value, 10)
    head = "" if tens == 1 else CN_DIGITS[tens]
    return head + "十" + (CN_DIGITS[ones] if ones else "")


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def traditional(text: str) -> str | None:
    """The traditional spelling, if converting it back gives the same text."""
    converted = to_traditional.convert(text)
    if converted == text or to_simplified.convert(converted) != text:
        return None
    return converted


def split_name(name: str) -> tuple[str, str]:
    """Stem and kind ('village' or 'community') of a name from the village list."""
    for suffix, kind in (
        ("村民委员会", "village"),
        ("村委会", "village"),
        ("社区居委会", "community"),
        ("居委会", "community"),
        ("社区", "community"),
        ("村", "village"),
    ):
        if name.endswith(suffix):
            return name[: -len(suffix)], kind
    return name, "village"


def unit_forms(stem: str, kind: str) -> list[str]:
    if kind == "village":
        return [stem + "村", stem + "村委会", stem + "村民委员会", stem + "村村委会"]
    return [
        stem + "社区",
        stem + "社区居委会",
        stem + "居委会",
        stem + "社区居民委员会",
    ]


# -- polygons -----------------------------------------------------------------------


def spread_points(count: int, area: shapely.Polygon, min_gap: float) -> np.ndarray:
    """``count`` random points inside ``area``, kept ``min_gap`` apart when possible."""
    minx, miny, maxx, maxy = area.bounds
    points: list[tuple[float, float]] = []
    gap = min_gap
    tries = 0
    while len(points) < count:
        x, y = np_rng.uniform(minx, maxx), np_rng.uniform(miny, maxy)
        tries += 1
        if tries % 2000 == 0:
            gap *= 0.8
        if not area.contains(shapely.Point(x, y)):
            continue
        if all((x - px) ** 2 + (y - py) ** 2 >= gap**2 for px, py in points):
            points.append((x, y))
    return np.array(points)


def voronoi_cells(seeds: np.ndarray, frame: shapely.Polygon) -> list[shapely.Geometry]:
    if len(seeds) == 1:
        return [frame]
    regions = shapely.voronoi_polygons(
        shapely.MultiPoint(seeds), extend_to=frame, ordered=True
    )
    return [cell.intersection(frame) for cell in regions.geoms]


def wkt(geometry: shapely.Geometry) -> str:
    return shapely.to_wkt(geometry, rounding_precision=6)


def random_inside(polygon: shapely.Geometry, count: int) -> list[shapely.Point]:
    """Points well inside a polygon (at least a fifth of its size from the border)."""
    inner = polygon.buffer(-0.2 * np.sqrt(polygon.area))
    if inner.is_empty:
        inner = polygon
    return [shapely.Point(xy) for xy in spread_points(count, inner, 0.0)]


# -- gazetteers ---------------------------------------------------------------------


def read_villages() -> list[dict[str, str]]:
    target = HERE / "wenling_villages.csv"
    if SOURCE.exists():
        shutil.copyfile(SOURCE, target)
    with target.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def build_wenling(villages: list[dict[str, str]]) -> tuple[list[dict], list[dict]]:
    box = shapely.box(*WENLING_BOX)
    towns = sorted({(v["town_code"], v["town_name"]) for v in villages})
    units = [
        {
            "code": "331081000000",
            "name": "温岭市",
            "level": "county",
            "parent_code": "",
            "kind": "县级市",
            "wkt": wkt(box),
        }
    ]
    town_seeds = spread_points(len(towns), box, 0.06)
    town_cells = voronoi_cells(town_seeds, box)
    village_cells: dict[str, shapely.Geometry] = {}
    for (code, name), cell in zip(towns, town_cells, strict=True):
        kind = "街道" if name.endswith("街道") else "镇"
        units.append(
            {
                "code": code,
                "name": name,
                "level": "town",
                "parent_code": "331081000000",
                "kind": kind,
                "wkt": wkt(cell),
            }
        )
        members = [v for v in villages if v["town_code"] == code]
        gap = 0.5 * np.sqrt(cell.area / len(members))
        seeds = spread_points(len(members), cell, gap)
        for village, vcell in zip(members, voronoi_cells(seeds, cell), strict=True):
            village_cells[village["village_code"]] = vcell
            units.append(
                {
                    "code": village["village_code"],
                    "name": village["village_name"],
                    "level": "village",
                    "parent_code": code,
                    "kind": split_name(village["village_name"])[1],
                    "wkt": wkt(vcell),
                }
            )

    places = []
    for village in villages:
        code = village["village_code"]
        cell = village_cells[code]
        groups = rng.randint(3, 9)
        for number, point in enumerate(random_inside(cell, groups), start=1):
            places.append(
                {
                    "kind": "group",
                    "name": f"{number}组",
                    "parent_code": code,
                    "wkt": wkt(point),
                }
            )
        if rng.random() < 0.3:
            for point in random_inside(cell, 4):
                name = f"{rng.randint(1, groups)}组{rng.randint(1, 60)}号"
                places.append(
                    {
                        "kind": "door",
                        "name": name,
                        "parent_code": code,
                        "wkt": wkt(point),
                    }
                )
    streets = [
        ("东辉路", "331081001018"),
        ("月河路", "331081001008"),
        ("锦园路", "331081001024"),
    ]
    for street, code in streets:
        if code not in village_cells:
            continue
        points = random_inside(village_cells[code], 4)
        places.append(
            {
                "kind": "street",
                "name": street,
                "parent_code": code,
                "wkt": wkt(points[0]),
            }
        )
        for number, point in zip((8, 12, 16), points[1:], strict=True):
            places.append(
                {
                    "kind": "door",
                    "name": f"{street}{number}号",
                    "parent_code": code,
                    "wkt": wkt(point),
                }
            )
    return units, _unique_places(places)


def _unique_places(places: list[dict]) -> list[dict]:
    seen = set()
    unique = []
    for place in places:
        key = (place["kind"], place["parent_code"], place["name"])
        if key not in seen:
            seen.add(key)
            unique.append(place)
    return unique


SYNTHETIC_TOWNS = [
    ("990101100000", "青禾镇"),
    ("990101200000", "石门乡"),
    ("990101001000", "东城街道"),
    ("990101101000", "白沙镇"),
]
SYNTHETIC_VILLAGES = [
    ("990101100001", "青禾社区居委会", "990101100000"),
    ("990101100201", "李家村委会", "990101100000"),
    ("990101100202", "龙潭村委会", "990101100000"),
    ("990101100203", "十里村委会", "990101100000"),
    ("990101100204", "新一村委会", "990101100000"),
    ("990101100205", "新二村委会", "990101100000"),
    ("990101200201", "李家村委会", "990101200000"),
    ("990101200202", "王家岙村委会", "990101200000"),
    ("990101200203", "三联村委会", "990101200000"),
    ("990101200204", "后山村委会", "990101200000"),
    ("990101001001", "东城社区居委会", "990101001000"),
    ("990101001002", "解放街社区居委会", "990101001000"),
    ("990101001003", "城关社区居委会", "990101001000"),
    ("990101001201", "马路村委会", "990101001000"),
    ("990101101201", "石门村委会", "990101101000"),
    ("990101101001", "白沙社区居委会", "990101101000"),
    ("990101101202", "上林村委会", "990101101000"),
    ("990101101002", "上林社区居委会", "990101101000"),
    ("990101101203", "下洋村委会", "990101101000"),
]
NO_POLYGON = {"990101101203"}


def build_synthetic() -> tuple[list[dict], list[dict]]:
    box = shapely.box(*SYNTHETIC_BOX)
    units = [
        {
            "code": "990101000000",
            "name": "青禾县",
            "level": "county",
            "parent_code": "",
            "kind": "县",
            "wkt": "",
        }
    ]
    cells: dict[str, shapely.Geometry] = {}
    seeds = spread_points(len(SYNTHETIC_TOWNS), box, 0.05)
    for (code, name), cell in zip(
        SYNTHETIC_TOWNS, voronoi_cells(seeds, box), strict=True
    ):
        units.append(
            {
                "code": code,
                "name": name,
                "level": "town",
                "parent_code": "990101000000",
                "kind": "街道" if name.endswith("街道") else name[-1],
                "wkt": wkt(cell),
            }
        )
        members = [v for v in SYNTHETIC_VILLAGES if v[2] == code]
        vseeds = spread_points(
            len(members), cell, 0.5 * np.sqrt(cell.area / len(members))
        )
        for (vcode, vname, _), vcell in zip(
            members, voronoi_cells(vseeds, cell), strict=True
        ):
            cells[vcode] = vcell
            units.append(
                {
                    "code": vcode,
                    "name": vname,
                    "level": "village",
                    "parent_code": code,
                    "kind": split_name(vname)[1],
                    "wkt": "" if vcode in NO_POLYGON else wkt(vcell),
                }
            )

    places = []
    for vcode, _, _ in SYNTHETIC_VILLAGES:
        for number, point in enumerate(random_inside(cells[vcode], 6), start=1):
            places.append(
                {
                    "kind": "group",
                    "name": f"第{cn_number(number)}村民小组",
                    "parent_code": vcode,
                    "wkt": wkt(point),
                }
            )
    extra = [
        ("door", "3组12号", "990101100201"),
        ("door", "3组15号", "990101100201"),
        ("door", "8号", "990101100202"),
        ("street", "人民路", "990101001002"),
        ("door", "人民路12号", "990101001002"),
        ("door", "人民路14号", "990101001002"),
        ("street", "东城大道", "990101001001"),
        ("door", "东城大道88号", "990101001001"),
        ("street", "城关路", "990101001001"),
        ("door", "城关路3号", "990101001001"),
        ("door", "解放路5号", "990101001001"),
        ("poi", "青禾中学", "990101100001"),
        ("poi", "石门卫生院", "990101200204"),
    ]
    for kind, name, parent in extra:
        point = random_inside(cells[parent], 1)[0]
        places.append(
            {"kind": kind, "name": name, "parent_code": parent, "wkt": wkt(point)}
        )
    return units, places


# -- labelled addresses ----------------------------------------------------------------


class Book:
    """Village names of one gazetteer, and what a written name must resolve to."""

    def __init__(self, units: list[dict], places: list[dict]) -> None:
        self.villages = [u for u in units if u["level"] == "village"]
        self.towns = {u["code"]: u["name"] for u in units if u["level"] == "town"}
        self.by_stem: dict[str, list[dict]] = defaultdict(list)
        for v in self.villages:
            stem, kind = split_name(to_simplified.convert(v["name"]))
            v["stem"], v["vkind"] = stem, kind
            self.by_stem[stem].append(v)
        self.places = {
            (p["parent_code"], p["kind"], normalize(p["name"])) for p in places
        }
        self.stems = set(self.by_stem)
        self.county_stems = {
            re.sub(r"[市县区]$", "", u["name"]) for u in units if u["level"] == "county"
        }

    def expected(self, stem: str, kind: str | None, town: str | None) -> list[dict]:
        """Units a name must resolve to: same stem, in the town, written kind first."""
        units = [
            v
            for v in self.by_stem.get(stem, [])
            if town is None or v["parent_code"] == town
        ]
        if kind is None:
            return units
        same = [v for v in units if v["vkind"] == kind]
        return same or units

    def level(self, code: str, group: int | None, door: int | None) -> str:
        if door is not None:
            names = ([f"{group}组{door}号"] if group else []) + [f"{door}号"]
            if any((code, "door", n) in self.places for n in names):
                return "door"
        if group is not None and (code, "group", f"{group}组") in self.places:
            return "group"
        return "town" if code in NO_POLYGON else "village"


def local_part(style: str) -> tuple[str, int | None, int | None]:
    """A group/door part in one of the ways people write it."""
    group, door = rng.randint(1, 9), rng.randint(1, 60)
    forms = {
        "none": ("", None, None),
        "group": (f"{group}组", group, None),
        "group_door": (f"{group}组{door}号", group, door),
        "cn_group": (f"第{cn_number(group)}组", group, None),
        "cn_group_door": (f"{cn_number(group)}组{cn_number(door)}号", group, door),
        "small_group": (f"第{cn_number(group)}村民小组", group, None),
        "door": (f"{door}号", None, door),
        "zero_group": (f"0{group}组", group, None),
    }
    return forms[style]


def row(
    address: str,
    gazetteer: str,
    category: str,
    status: str,
    code: str = "",
    level: str = "",
    names_village: bool = True,
    strict: bool = True,
    intended: str | None = None,
) -> dict:
    """One labelled address.

    ``intended`` is the village the writer meant (defaults to the expected
    code); a result may never name another village with high confidence.
    """
    return {
        "address": address,
        "gazetteer": gazetteer,
        "category": category,
        "expect_status": status,
        "expect_code": code,
        "expect_level": level,
        "intended_code": code if intended is None else intended,
        "names_village": int(names_village),
        "strict": int(strict),
    }


def village_rows(book: Book, gazetteer: str, upper: Iterable[str]) -> list[dict]:
    """One plain and one harder address per village."""
    rows = []
    uppers = list(upper)
    for v in book.villages:
        rows.append(_village_row(book, v, gazetteer, uppers, "plain"))
        rows.append(_village_row(book, v, gazetteer, uppers, rng.choice(CHALLENGES)))
    return [r for r in rows if r is not None]


CHALLENGES = [
    "traditional",
    "full_width",
    "numerals",
    "unit_form",
    "missing_upper",
    "spaces_punct",
    "bare_name",
    "other_kind",
]


def _village_row(
    book: Book, v: dict, gazetteer: str, uppers: list[str], challenge: str
) -> dict | None:
    stem, kind = v["stem"], v["vkind"]
    town_code, town_name = v["parent_code"], book.towns[v["parent_code"]]
    stem_of_town = _town_stem(town_name)
    if stem_of_town in book.county_stems:
        stem_of_town = town_name
    town_written = rng.choice([town_name, town_name, stem_of_town])
    upper = rng.choice(uppers)
    name = rng.choice(unit_forms(stem, kind)[:2])
    written_kind: str | None = kind
    local_style = rng.choice(["none", "group", "group_door", "door"])

    if challenge == "missing_upper":
        upper, town_written = "", rng.choice(["", town_written])
    elif challenge == "unit_form":
        name = rng.choice(unit_forms(stem, kind)[1:])
    elif challenge == "numerals":
        local_style = rng.choice(
            ["cn_group", "cn_group_door", "small_group", "zero_group"]
        )
    elif challenge == "bare_name":
        if stem in TOWN_STEMS_AS_VILLAGES or len(stem) < 2:
            return None
        name, written_kind = stem, None
        local_style = rng.choice(["group", "group_door", "none"])
    elif challenge == "other_kind":
        name = stem + ("社区" if kind == "village" else "村")
        written_kind = "community" if kind == "village" else "village"

    local, group, door = local_part(local_style)
    parts = [upper, town_written, name, local]
    address = "".join(parts)
    if challenge == "spaces_punct":
        address = rng.choice([" ", "，", "、", "  "]).join(
            p for p in parts if p
        ) + rng.choice(["", "。", " "])
    elif challenge == "full_width":
        address = full_width(address)
    elif challenge == "traditional":
        converted = traditional(address)
        if converted is None:
            return None
        address = converted

    town_for_rule = town_code if town_written else None
    expected = book.expected(stem, written_kind, town_for_rule)
    if len(expected) > 1:
        return row(address, gazetteer, challenge, "ambiguous", names_village=False)
    code = expected[0]["code"]
    level = book.level(code, group, door)
    return row(address, gazetteer, challenge, "matched", code, level)


def _town_stem(name: str) -> str:
    return re.sub(r"(街道|镇|乡)$", "", name)


def typo_rows(book: Book, gazetteer: str, count: int) -> list[dict]:
    """Near-homophones and slips, with and without the town."""
    pool = {c for v in book.villages for c in v["stem"]}
    sounds: dict[str, list[str]] = defaultdict(list)
    for char in sorted(pool):
        sounds[sound_key(char)].append(char)

    rows = []
    candidates = [v for v in book.villages if len(v["stem"]) >= 2]
    rng.shuffle(candidates)
    for v in candidates:
        if len(rows) >= count:
            break
        typo = _homophone(v["stem"], sounds)
        if typo is None or typo in book.stems:
            continue
        town = book.towns[v["parent_code"]]
        same_sound = [
            u
            for u in book.villages
            if u["parent_code"] == v["parent_code"]
            and sound_key(u["stem"]) == sound_key(typo)
        ]
        suffix = "村" if v["vkind"] == "village" else "社区"
        address = f"{town}{typo}{suffix}{rng.randint(1, 9)}组"
        if not same_sound:
            continue  # read as a phrase, the slip changed the sound
        if len(same_sound) == 1:
            rows.append(
                row(
                    address,
                    gazetteer,
                    "homophone",
                    "matched",
                    v["code"],
                    "",
                    strict=True,
                )
            )
        else:
            rows.append(
                row(address, gazetteer, "homophone", "ambiguous", intended=v["code"])
            )
        rows.append(
            row(
                f"{typo}{suffix}",
                gazetteer,
                "typo_no_town",
                "unmatched",
                names_village=False,
                intended=v["code"],
            )
        )

    for v in [v for v in candidates if len(v["stem"]) == 3][: count // 2]:
        typo = v["stem"][0] + v["stem"][2]
        if typo in book.stems:
            continue
        town = book.towns[v["parent_code"]]
        rows.append(
            row(
                f"{town}{typo}村",
                gazetteer,
                "spelling",
                "matched",
                v["code"],
                names_village=False,
                strict=False,
            )
        )
    return rows


def _homophone(stem: str, sounds: dict[str, list[str]]) -> str | None:
    positions = list(range(len(stem)))
    rng.shuffle(positions)
    for i in positions:
        others = [c for c in sounds.get(sound_key(stem[i]), []) if c != stem[i]]
        if others:
            return stem[:i] + rng.choice(others) + stem[i + 1 :]
    return None


def unknown_village_rows(book: Book, gazetteer: str) -> list[dict]:
    """Names that are no village of the town: the town is the answer."""
    fakes = [
        "幸福",
        "光明",
        "红旗",
        "跃进",
        "朝阳",
        "向阳",
        "胜利",
        "建设",
        "和平",
        "友谊",
    ]
    rows = []
    for town_code, town_name in sorted(book.towns.items()):
        stems = [v["stem"] for v in book.villages if v["parent_code"] == town_code]
        for fake in fakes:
            if fake in book.stems:
                continue
            close = max(
                (
                    max(fuzz.ratio(fake, s), fuzz.ratio(sound_key(fake), sound_key(s)))
                    for s in stems
                ),
                default=0,
            )
            if close < 60:
                rows.append(
                    row(
                        f"{town_name}{fake}村3组",
                        gazetteer,
                        "unknown_village",
                        "matched",
                        town_code,
                        "town",
                        names_village=False,
                    )
                )
                break
    return rows


def wrong_town_rows(book: Book, gazetteer: str, count: int) -> list[dict]:
    """A village put in a town that has no village of that name: reported."""
    rows = []
    villages = [v for v in book.villages if len(book.by_stem[v["stem"]]) == 1]
    for v in rng.sample(villages, count):
        others = [c for c in book.towns if c != v["parent_code"]]
        town = book.towns[rng.choice(others)]
        suffix = "村" if v["vkind"] == "village" else "社区"
        county = rng.choice(["", "温岭市"])
        address = f"{county}{town}{v['stem']}{suffix}{rng.randint(1, 9)}组"
        rows.append(
            row(
                address,
                gazetteer,
                "wrong_town",
                "ambiguous",
                names_village=False,
                intended=v["code"],
            )
        )
    return rows


def shared_name_rows(book: Book, gazetteer: str) -> list[dict]:
    """Names shared by units of different towns, written without the town."""
    rows = []
    for stem, units in sorted(book.by_stem.items()):
        towns = {u["parent_code"] for u in units}
        if len(towns) < 2:
            continue
        kinds = {u["vkind"] for u in units}
        for kind in sorted(kinds):
            same = [u for u in units if u["vkind"] == kind]
            if len(same) < 2:
                continue
            for form in unit_forms(stem, kind)[:3]:
                for prefix in (
                    ("", "温岭市", "浙江省台州市温岭市")
                    if gazetteer == "wenling"
                    else ("", "青禾县")
                ):
                    rows.append(
                        row(
                            f"{prefix}{form}{rng.randint(1, 9)}组",
                            gazetteer,
                            "shared_name",
                            "ambiguous",
                            names_village=False,
                        )
                    )
    return rows


def outside_rows(book: Book) -> list[dict]:
    """Addresses in other counties, often with a Wenling village name: never placed."""
    sample = rng.sample(book.villages, 30)
    others = [
        "浙江省台州市玉环市楚门镇",
        "台州市路桥区金清镇",
        "浙江省台州市黄岩区",
        "杭州市西湖区转塘街道",
        "江苏省苏州市吴江区",
        "北京市朝阳区",
        "浙江省宁波市象山县石浦镇",
        "台州市椒江区",
        "上海市浦东新区",
        "玉环市",
        "楚门镇",
        "乐清市虹桥镇",
    ]
    rows = []
    for i, v in enumerate(sample):
        prefix = others[i % len(others)]
        rows.append(
            row(
                f"{prefix}{v['stem']}村{rng.randint(1, 9)}组",
                "wenling",
                "outside",
                "unmatched",
                names_village=False,
            )
        )
    return rows


def garbage_rows(gazetteer: str) -> list[dict]:
    texts = [
        "",
        "   ",
        "无",
        "不详",
        "N/A",
        "123456",
        "???",
        "ABC路",
        "😀😀",
        "asdfghjkl",
        "啊啊啊啊啊",
        "测试地址",
        "同上",
        "见身份证",
        "1组2号",
        "null",
        "——",
        "某某某",
        "地球村",
        "外地",
        "12号楼3单元",
        "火星市奥林匹斯山",
    ]
    rows = [
        row(t, gazetteer, "garbage", "unmatched", names_village=False) for t in texts
    ]
    long = "温岭市箬横镇团结村3组12号" * 20
    rows.append(row(long, gazetteer, "too_long", "unmatched", names_village=False))
    return rows


def special_wenling_rows() -> list[dict]:
    """Hand-picked cases of the real list: shared names, kinds, numerals, streets."""
    w = "wenling"
    cases = [
        ("汇头林村", "ambiguous", "", ""),
        ("汇头林村委会3组", "ambiguous", "", ""),
        ("温岭市汇头林村", "ambiguous", "", ""),
        ("泽国镇汇头林村", "matched", "331081100207", "village"),
        ("箬横镇汇头林村5组", "matched", "331081103215", ""),
        ("温岭市箬横汇头林村委会", "matched", "331081103215", "village"),
        ("三星", "ambiguous", "", ""),
        ("三星村", "matched", "331081103296", "village"),
        ("三星社区", "matched", "331081001021", "village"),
        ("太平街道三星村", "matched", "331081001021", "village"),
        ("箬横镇三星社区", "matched", "331081103296", "village"),
        ("三星桥村", "matched", "331081001205", "village"),
        ("箬横镇团结", "ambiguous", "", ""),
        ("箬横团结3组", "ambiguous", "", ""),
        ("箬横镇团结村", "matched", "331081103203", "village"),
        ("箬横镇团结社区", "matched", "331081103004", "village"),
        ("箬横镇团结居委会", "matched", "331081103004", "village"),
        ("泽国镇三星村", "ambiguous", "", ""),
        ("太平街道团结村", "ambiguous", "", ""),
        ("南塘1村", "matched", "331081102203", "village"),
        ("迴龙村", "matched", "331081110219", "village"),
        ("回龙村", "matched", "331081110219", "village"),
        ("温岭市", "matched", "331081000000", "county"),
        ("浙江省台州市温岭市", "matched", "331081000000", "county"),
        ("温岭市太平街道", "matched", "331081001000", "town"),
        ("温岭市泽国", "matched", "331081100000", "town"),
        ("东部新区", "matched", "331081400000", "town"),
        ("太平街道东辉路12号", "matched", "331081001018", "door"),
        ("温岭市太平街道东辉路12号", "matched", "331081001018", "door"),
        ("东辉社区", "matched", "331081001018", "village"),
        ("城东村", "matched", "331081104200", "village"),
        ("新河镇城东村3组", "matched", "331081104200", ""),
        ("温岭市城东街道", "matched", "331081002000", "town"),
    ]
    return [
        row(
            a,
            w,
            "special",
            s,
            c,
            lvl,
            names_village=s == "matched" and lvl not in ("town", "county", "door"),
        )
        for a, s, c, lvl in cases
    ]


def special_synthetic_rows() -> list[dict]:
    s = "synthetic"
    cases = [
        ("青禾县青禾镇李家村3组12号", "matched", "990101100201", "door"),
        ("青禾镇李家村三组十二号", "matched", "990101100201", "door"),
        ("青禾县石门乡李家村2组", "matched", "990101200201", "group"),
        ("李家村", "ambiguous", "", ""),
        ("青禾县李家村5组", "ambiguous", "", ""),
        ("石门乡李家村第五村民小组", "matched", "990101200201", "group"),
        ("石门村3组", "matched", "990101101201", "group"),
        ("石门乡石门村", "ambiguous", "", ""),
        ("青禾县石门乡", "matched", "990101200000", "town"),
        ("龍潭村8號", "matched", "990101100202", "door"),
        ("青禾鎮龍潭村委會", "matched", "990101100202", "village"),
        ("十里村四组", "matched", "990101100203", "group"),
        ("新1村", "matched", "990101100204", "village"),
        ("青禾镇新二村２组", "matched", "990101100205", "group"),
        ("马路村6组", "matched", "990101001201", "group"),
        ("东城街道马路村", "matched", "990101001201", "village"),
        ("东城街道人民路12号", "matched", "990101001002", "door"),
        ("青禾县东城街道解放街社区人民路14号", "matched", "990101001002", "door"),
        ("东城街道城关路3号", "matched", "990101001001", "door"),
        ("东城街道解放路5号", "matched", "990101001001", "door"),
        ("城关社区", "matched", "990101001003", "village"),
        ("东城大道88号", "matched", "990101001001", "door"),
        ("青禾中学", "matched", "990101100001", "door"),
        ("青禾镇青禾社区青禾中学", "matched", "990101100001", "door"),
        ("石门乡后山村石门卫生院", "matched", "990101200204", "door"),
        ("白沙镇上林", "ambiguous", "", ""),
        ("白沙镇上林村2组", "matched", "990101101202", "group"),
        ("白沙镇上林社区", "matched", "990101101002", "village"),
        ("白沙镇上林居委会", "matched", "990101101002", "village"),
        ("白沙镇下洋村", "matched", "990101101203", "town"),
        ("青禾县", "matched", "990101000000", "county"),
        ("青禾县石门乡王家奥村", "matched", "990101200202", ""),
        ("青禾县石门乡王家岙村委会", "matched", "990101200202", "village"),
        ("青禾县石门乡三连村", "matched", "990101200203", ""),
        ("石门乡金星村", "matched", "990101200000", "town"),
        ("黑水县石门乡李家村", "unmatched", "", ""),
        ("青禾县黑水镇龙潭村", "matched", "990101100202", "village"),
        ("黑水镇李家村", "unmatched", "", ""),
    ]
    rows = []
    for a, st, c, lvl in cases:
        names = st == "matched" and lvl not in ("town", "county") and c != ""
        rows.append(row(a, s, "special", st, c, lvl, names_village=names))
    return rows


# -- writing ---------------------------------------------------------------------------


def write(name: str, rows: list[dict]) -> None:
    with (HERE / name).open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {name}")


def main() -> None:
    villages = read_villages()
    wenling_units, wenling_places = build_wenling(villages)
    synthetic_units, synthetic_places = build_synthetic()
    write("wenling_units.csv", wenling_units)
    write("wenling_places.csv", wenling_places)
    write("synthetic_units.csv", synthetic_units)
    write("synthetic_places.csv", synthetic_places)

    wenling = Book(wenling_units, wenling_places)
    synthetic = Book(synthetic_units, synthetic_places)
    rows = village_rows(wenling, "wenling", UPPER)
    rows += village_rows(synthetic, "synthetic", ("", "青禾县"))
    rows += typo_rows(wenling, "wenling", 60)
    rows += unknown_village_rows(wenling, "wenling")
    rows += wrong_town_rows(wenling, "wenling", 25)
    rows += shared_name_rows(wenling, "wenling") + shared_name_rows(
        synthetic, "synthetic"
    )
    rows += outside_rows(wenling)
    rows += garbage_rows("wenling") + garbage_rows("synthetic")[:5]
    rows += special_wenling_rows() + special_synthetic_rows()
    write("labelled.csv", rows)


if __name__ == "__main__":
    main()
