"""Address normalisation and parsing by suffixes (no gazetteer needed)."""

from __future__ import annotations

import pytest

from geogrid.geocode import normalize, parse_address, sound_key
from geogrid.geocode.normalize import arabic_numerals, chinese_to_int


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        # full-width and half-width
        ("团结村３组１２号", "团结村3组12号"),
        ("ＡＢ座", "AB座"),
        # traditional to simplified
        ("溫嶺市箬橫鎮團結村", "温岭市箬横镇团结村"),
        ("後應村", "后应村"),
        # numerals before counters, not inside names
        ("三星村三组", "三星村3组"),
        ("团结村十二号", "团结村12号"),
        ("团结村二十三号", "团结村23号"),
        ("团结村一百零五号", "团结村105号"),
        ("三〇五室", "305室"),
        ("第三组", "3组"),
        ("第3组", "3组"),
        ("03组007号", "3组7号"),
        ("第五村民小组", "5组"),
        ("3小组", "3组"),
        ("3队", "3组"),
        ("十里村", "十里村"),
        # forms of one unit
        ("团结村委会", "团结村"),
        ("团结村民委员会", "团结村"),
        ("迎辉社区居委会", "迎辉社区"),
        ("迎辉社区居民委员会", "迎辉社区"),
        ("团结居委会", "团结社区"),
        ("太平街道办事处", "太平街道"),
        # spaces and punctuation
        (" 温岭市， 太平街道、迎辉社区。", "温岭市太平街道迎辉社区"),
        ("3#楼", "3号楼"),
        ("团结村 3 12", "团结村3-12"),
        ("团结村－12号", "团结村12号"),
        ("（温岭）太平", "温岭太平"),
    ],
)
def test_normalize_rewrites_each_form_into_one(written: str, expected: str) -> None:
    assert normalize(written) == expected


def test_normalize_is_idempotent() -> None:
    written = "浙江省台州市溫嶺市 箬橫鎮 團結村村民委員會 第三組 十二號 3#楼"
    once = normalize(written)
    assert normalize(once) == once


@pytest.mark.parametrize(
    ("numeral", "value"),
    [
        ("三", 3),
        ("十", 10),
        ("十二", 12),
        ("二十", 20),
        ("一百零五", 105),
        ("两百", 200),
    ],
)
def test_chinese_to_int_reads_spoken_numerals(numeral: str, value: int) -> None:
    assert chinese_to_int(numeral) == value


def test_chinese_to_int_refuses_other_text() -> None:
    assert chinese_to_int("三星") is None
    assert chinese_to_int("") is None


def test_arabic_numerals_rewrites_numerals_inside_names() -> None:
    assert arabic_numerals("南塘一") == "南塘1"
    assert arabic_numerals("新二塘庙") == "新2塘庙"


def test_sound_key_equates_near_homophones() -> None:
    assert sound_key("迎辉") == sound_key("迎晖")
    assert sound_key("石仓下") == sound_key("十苍夏")  # shi/si, cang/can
    assert sound_key("南屏") == sound_key("兰平")  # n/l, ing/in
    assert sound_key("迎辉") != sound_key("迎光")


def test_parse_without_gazetteer_splits_by_suffix() -> None:
    parsed = parse_address("浙江省台州市温岭市箬横镇团结村三组12号2幢3单元501室")

    assert parsed.as_dict() == {
        "province": "浙江省",
        "city": "台州市",
        "county": "温岭市",
        "town": "箬横镇",
        "village": "团结村",
        "group": "3",
        "street": None,
        "building": "2",
        "unit": "3",
        "room": "501",
        "door": "12",
    }


def test_parse_without_gazetteer_reads_streets_and_leftovers() -> None:
    parsed = parse_address("温岭市太平街道人民东路88号")
    assert parsed.county is not None and parsed.county.text == "温岭市"
    assert parsed.town is not None and parsed.town.text == "太平街道"
    assert parsed.street == "人民东路"
    assert parsed.door == "88"

    natural = parse_address("团结村王家里12号")
    assert natural.leftover == ("王家里",)
    assert natural.door == "12"
