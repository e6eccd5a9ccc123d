"""The geocoder: matching rules, ambiguity, bad input, corrections, points, batches."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pandas as pd
import pytest
import shapely

from geogrid.errors import InvalidInput
from geogrid.geocode import (
    COLUMNS,
    HIGH_CONFIDENCE,
    LEVELS,
    MAX_ADDRESS_CHARS,
    STATUSES,
    Correction,
    Gazetteer,
    Geocoder,
    review_list,
    summary_by_level,
)

DATA = Path(__file__).parent / "data" / "geocode"

# codes of the real Wenling list used below
TAIPING = "331081001000"
YINGHUI = "331081001003"  # 迎辉社区, 太平街道
SANXING_COMMUNITY = "331081001021"  # 三星社区, 太平街道
SANXING_VILLAGE = "331081103296"  # 三星村委会, 箬横镇
TUANJIE_VILLAGE = "331081103203"  # 团结村委会, 箬横镇
TUANJIE_COMMUNITY = "331081103004"  # 团结居委会, 箬横镇
HUITOULIN = ("331081100207", "331081103215")  # 汇头林村委会 in 泽国镇 and 箬横镇
DAXI_TOWN = "331081101000"
DAXI_COMMUNITY = "331081101004"  # 大溪居委会, 大溪镇
# codes of the synthetic county
LIJIA_QINGHE, LIJIA_SHIMEN = "990101100201", "990101200201"
XIAYANG = "990101101203"  # 下洋村, no polygon
BAISHA = "990101101000"


def load(name: str, upper_names: tuple[str, ...] = ()) -> Gazetteer:
    units = pd.read_csv(DATA / f"{name}_units.csv", dtype=str, keep_default_na=False)
    units["geometry"] = [shapely.from_wkt(w) if w else None for w in units.pop("wkt")]
    units["parent_code"] = units["parent_code"].replace("", None)
    places = pd.read_csv(DATA / f"{name}_places.csv", dtype=str)
    places["geometry"] = shapely.from_wkt(places.pop("wkt"))
    return Gazetteer.from_frames(units, places, upper_names=upper_names)


@pytest.fixture(scope="module")
def wenling() -> Gazetteer:
    return load("wenling", ("台州市",))


@pytest.fixture(scope="module")
def synthetic() -> Gazetteer:
    return load("synthetic")


@pytest.fixture(scope="module")
def geocoder(wenling: Gazetteer) -> Geocoder:
    return Geocoder(wenling)


@pytest.fixture(scope="module")
def qinghe(synthetic: Gazetteer) -> Geocoder:
    return Geocoder(synthetic)


# -- levels and points ---------------------------------------------------------------


def test_full_address_resolves_to_the_door_plate(qinghe: Geocoder) -> None:
    result = qinghe.geocode("青禾县青禾镇李家村三组十二号")

    assert (result.status, result.level, result.code) == (
        "matched",
        "door",
        LIJIA_QINGHE,
    )
    assert result.confidence == 1.0
    assert result.approximate is False
    assert result.place == "3组12号"


def test_group_without_door_plate_resolves_to_the_group(qinghe: Geocoder) -> None:
    result = qinghe.geocode("石门乡李家村第二村民小组")

    assert (result.level, result.code, result.place) == ("group", LIJIA_SHIMEN, "2组")
    assert result.approximate is False


def test_village_point_lies_well_inside_the_village(
    geocoder: Geocoder, wenling: Gazetteer
) -> None:
    result = geocoder.geocode("温岭市太平街道迎辉社区")

    assert (result.level, result.code, result.approximate) == ("village", YINGHUI, True)
    polygon = wenling.polygon(YINGHUI)
    point = shapely.Point(result.point)
    assert polygon is not None and polygon.contains(point)
    # a pole of inaccessibility keeps as far from the border as the polygon allows
    radius = polygon.exterior.distance(point)
    assert radius > 0.5 * shapely.maximum_inscribed_circle(polygon).length


def test_town_only_address_is_placed_inside_the_town(
    geocoder: Geocoder, wenling: Gazetteer
) -> None:
    result = geocoder.geocode("浙江省台州市温岭市太平街道")

    assert (result.level, result.code, result.approximate) == ("town", TAIPING, True)
    assert wenling.polygon(TAIPING).contains(shapely.Point(result.point))


def test_bare_town_name_alone_means_the_town(geocoder: Geocoder) -> None:
    assert geocoder.geocode("温岭市大溪").code == DAXI_TOWN
    assert geocoder.geocode("大溪3组").code == DAXI_COMMUNITY


def test_village_without_polygon_is_placed_in_its_town(
    qinghe: Geocoder, synthetic: Gazetteer
) -> None:
    result = qinghe.geocode("白沙镇下洋村")

    assert (result.code, result.level) == (XIAYANG, "town")
    assert synthetic.polygon(BAISHA).contains(shapely.Point(result.point))
    assert "no polygon" in (result.reason or "")


def test_unknown_group_falls_back_to_the_village(geocoder: Geocoder) -> None:
    result = geocoder.geocode("温岭市太平街道迎辉社区99组")
    assert (result.level, result.code) == ("village", YINGHUI)


def test_street_door_plate_is_found_without_the_village(
    geocoder: Geocoder, qinghe: Geocoder
) -> None:
    # 东辉 is also a community, but 东辉路 is a street
    result = geocoder.geocode("温岭市太平街道东辉路12号")
    assert (result.level, result.code, result.place) == (
        "door",
        "331081001018",
        "东辉路12号",
    )

    # 城关 is a community of 东城街道; 城关路3号 is a door plate of another one
    result = qinghe.geocode("东城街道城关路3号")
    assert (result.level, result.code) == ("door", "990101001001")


def test_poi_named_alone_is_found(qinghe: Geocoder) -> None:
    result = qinghe.geocode("青禾中学")
    assert (result.level, result.code, result.place) == (
        "door",
        "990101100001",
        "青禾中学",
    )


def test_names_that_look_like_streets_are_read_as_villages(qinghe: Geocoder) -> None:
    assert qinghe.geocode("马路村6组").code == "990101001201"
    assert qinghe.geocode("解放街社区").code == "990101001002"


# -- forms of names ------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "温岭市太平街道迎辉社区",
        "温岭市太平街道迎辉社区居委会",
        "温岭市太平街道迎辉居委会",
        "太平街道迎辉社区居民委员会",
        "浙江省台州市温岭市太平街道迎辉社区",
        "台州温岭太平迎辉社区",
        "溫嶺市太平街道迎輝社區",
        "温岭市　太平街道，迎辉社区。",
    ],
)
def test_forms_of_one_community_resolve_alike(geocoder: Geocoder, address: str) -> None:
    result = geocoder.geocode(address)
    assert (result.status, result.code) == ("matched", YINGHUI)
    assert result.confidence >= HIGH_CONFIDENCE


def test_kind_written_decides_between_village_and_community(geocoder: Geocoder) -> None:
    assert geocoder.geocode("箬横镇团结村").code == TUANJIE_VILLAGE
    assert geocoder.geocode("箬横镇团结社区").code == TUANJIE_COMMUNITY
    assert geocoder.geocode("箬横镇团结居委会").code == TUANJIE_COMMUNITY
    # the official kind first, the other kind when the town has only that one
    assert geocoder.geocode("三星村").code == SANXING_VILLAGE
    variant = geocoder.geocode("太平街道三星村")
    assert variant.code == SANXING_COMMUNITY
    assert variant.confidence < geocoder.geocode("太平街道三星社区").confidence


def test_numeral_alias_of_a_name_is_accepted(geocoder: Geocoder) -> None:
    assert geocoder.geocode("南塘1村").code == geocoder.geocode("南塘一村").code


def test_missing_town_costs_confidence_but_not_the_match(geocoder: Geocoder) -> None:
    with_town = geocoder.geocode("太平街道迎辉社区")
    without = geocoder.geocode("迎辉社区")
    bare = geocoder.geocode("迎辉")

    assert with_town.code == without.code == bare.code == YINGHUI
    assert with_town.confidence > without.confidence > bare.confidence


# -- ambiguity -----------------------------------------------------------------------


def test_same_village_name_in_two_towns_is_reported_not_guessed(
    geocoder: Geocoder,
) -> None:
    result = geocoder.geocode("温岭市汇头林村3组")

    assert result.status == "ambiguous"
    assert result.point is None and result.code is None
    assert sorted(c.code for c in result.candidates) == sorted(HUITOULIN)
    assert "add the town" in (result.reason or "")


def test_town_resolves_a_shared_village_name(geocoder: Geocoder) -> None:
    assert geocoder.geocode("箬横镇汇头林村").code == HUITOULIN[1]
    assert geocoder.geocode("泽国汇头林村委会").code == HUITOULIN[0]


def test_bare_name_of_a_village_and_a_community_is_ambiguous(
    geocoder: Geocoder,
) -> None:
    result = geocoder.geocode("箬横镇团结3组")
    assert result.status == "ambiguous"
    assert {c.code for c in result.candidates} == {TUANJIE_VILLAGE, TUANJIE_COMMUNITY}


def test_village_in_the_wrong_town_is_reported(geocoder: Geocoder) -> None:
    result = geocoder.geocode("温岭市泽国镇三星村")

    assert result.status == "ambiguous"
    assert result.point is None
    assert "泽国镇 has no such village" in (result.reason or "")
    assert SANXING_VILLAGE in {c.code for c in result.candidates}


# -- typos ---------------------------------------------------------------------------


def test_near_homophone_is_matched_inside_its_town_with_low_confidence(
    qinghe: Geocoder,
) -> None:
    result = qinghe.geocode("青禾县石门乡王家奥村")  # 岙 written 奥

    assert (result.status, result.code) == ("matched", "990101200202")
    assert result.confidence < HIGH_CONFIDENCE
    assert "same sound" in (result.reason or "")


def test_typo_without_a_town_is_not_guessed(geocoder: Geocoder) -> None:
    result = geocoder.geocode("迎晖社区")  # 辉 written 晖, no town

    assert result.status == "unmatched"
    assert result.point is None
    assert result.candidates and result.candidates[0].code == YINGHUI


def test_typo_of_a_town_is_matched_with_low_confidence(geocoder: Geocoder) -> None:
    result = geocoder.geocode("温岭市松们镇")  # 门 written 们
    assert (result.level, result.code) == ("town", "331081102000")
    assert result.confidence < HIGH_CONFIDENCE


def test_unknown_village_of_a_known_town_falls_back_to_the_town(
    geocoder: Geocoder,
) -> None:
    result = geocoder.geocode("温岭市太平街道青禾村3组")

    assert (result.status, result.level, result.code) == ("matched", "town", TAIPING)
    assert result.confidence <= 0.5
    assert "No village named 青禾村" in (result.reason or "")


def test_village_name_of_another_town_is_not_a_fallback(geocoder: Geocoder) -> None:
    # 幸福村 is a village of 松门镇, not of 太平街道
    result = geocoder.geocode("温岭市太平街道幸福村3组")
    assert result.status == "ambiguous"
    assert "331081102219" in {c.code for c in result.candidates}


# -- addresses that must not match ---------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("，。、", "no Chinese characters"),
        ("N/A", "no Chinese characters"),
        ("123456", "no Chinese characters"),
        ("😀😀", "no Chinese characters"),
        ("不详", "was recognised"),
        ("火星市奥林匹斯山", "outside the loaded area"),
        ("浙江省台州市玉环市楚门镇团结村3组", "玉环市, which is outside"),
        ("台州市路桥区金清镇团结村", "路桥区, which is outside"),
        ("江苏省苏州市吴江区团结村", "江苏省, which is outside"),
        ("楚门镇团结村", "may lie in another county"),
        ("温岭市箬横镇团结村3组12号" * 20, "more than the limit of 200"),
    ],
)
def test_bad_input_is_unmatched_with_a_reason(
    geocoder: Geocoder, address: str, reason: str
) -> None:
    result = geocoder.geocode(address)

    assert result.status == "unmatched"
    assert result.point is None and result.level is None and result.code is None
    assert reason in (result.reason or "")


@pytest.mark.parametrize("value", [None, float("nan"), 42, b"\xe5\x9b\xa2"])
def test_non_text_input_is_unmatched_not_an_error(
    geocoder: Geocoder, value: object
) -> None:
    result = geocoder.geocode(value)
    assert result.status == "unmatched"
    assert result.reason


def test_random_text_never_raises_and_never_half_answers(geocoder: Geocoder) -> None:
    rng = random.Random(3)
    pieces = list("温岭市太平街道迎辉社区箬横镇团结村汇头林组号幢室路街巷")
    pieces += [
        *"0123456789-#，。 ()（）ＡＢ１２😀\t\n",
        "村委会",
        "居委会",
        "第三",
        "十二",
    ]
    for _ in range(2000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 60)))
        result = geocoder.geocode(text)

        assert result.status in STATUSES
        assert 0.0 <= result.confidence <= 1.0
        if result.status != "matched":
            assert result.point is None and result.level is None and result.reason
        elif result.point is not None:
            assert result.level in LEVELS


def test_length_limit_is_on_characters(geocoder: Geocoder) -> None:
    address = "温岭市太平街道迎辉社区"
    padded = address + " " * (MAX_ADDRESS_CHARS - len(address))
    assert geocoder.geocode(padded).status == "matched"
    assert geocoder.geocode(padded + "1").status == "unmatched"


def test_unconfigured_city_is_accepted_but_costs_confidence(
    synthetic: Gazetteer,
) -> None:
    geocoder = Geocoder(synthetic)
    plain = geocoder.geocode("青禾县石门乡王家岙村")
    with_city = geocoder.geocode("某某市青禾县石门乡王家岙村")

    assert with_city.code == plain.code
    assert with_city.confidence == pytest.approx(plain.confidence - 0.05)


# -- corrections ---------------------------------------------------------------------


def test_manual_correction_wins_over_the_automatic_result(wenling: Gazetteer) -> None:
    point = (121.4, 28.4)
    corrections = {"溫嶺市 汇头林村 3組": Correction(point, "door", HUITOULIN[1])}
    geocoder = Geocoder(wenling, corrections)

    result = geocoder.geocode("温岭市汇头林村三组")

    assert (result.status, result.source, result.point) == (
        "matched",
        "correction",
        point,
    )
    assert (result.level, result.code, result.confidence) == ("door", HUITOULIN[1], 1.0)
    assert result.town_code == "331081103000"
    assert Geocoder(wenling).geocode("温岭市汇头林村三组").status == "ambiguous"


def test_correction_with_a_bad_point_is_refused(wenling: Gazetteer) -> None:
    with pytest.raises(InvalidInput, match=r"point of '团结村' must be \(lon, lat\)"):
        Geocoder(wenling, {"团结村": Correction((28.4, 121.4), "door")})
    with pytest.raises(InvalidInput, match="level of '团结村' must be one of door"):
        Geocoder(wenling, {"团结村": Correction((121.4, 28.4), "house")})


# -- batches -------------------------------------------------------------------------


def test_geocode_many_keeps_order_and_shares_results(geocoder: Geocoder) -> None:
    addresses = [
        "温岭市太平街道迎辉社区3组",
        None,
        "温岭市汇头林村",
        "温岭市太平街道迎辉社区三组",
        float("nan"),
        "N/A",
    ]
    calls: list[tuple[int, int]] = []

    frame = geocoder.geocode_many(addresses, progress=lambda d, t: calls.append((d, t)))

    assert list(frame.columns) == list(COLUMNS)
    assert frame["address"].tolist()[:4] == addresses[:4]
    assert frame["status"].tolist() == [
        "matched",
        "unmatched",
        "ambiguous",
        "matched",
        "unmatched",
        "unmatched",
    ]
    assert frame.loc[0, "code"] == frame.loc[3, "code"] == YINGHUI
    assert (
        frame.loc[0, ["lon", "lat"]].tolist() == frame.loc[3, ["lon", "lat"]].tolist()
    )
    assert math.isnan(frame.loc[2, "lon"])
    assert HUITOULIN[0] in frame.loc[2, "candidates"]
    assert calls == [(4, 4)]  # distinct addresses; None and NaN need no work


def test_summary_and_review_list(geocoder: Geocoder) -> None:
    frame = geocoder.geocode_many(
        [
            "温岭市太平街道迎辉社区",
            "太平街道",
            "汇头林村",
            "N/A",
            "迎辉社区2组",
            "东门口小卖部",
        ]
    )

    summary = summary_by_level(frame)
    assert summary.loc["village", "matched"] == 2  # 迎辉社区, 东门 (low confidence)
    assert summary.loc["town", "matched"] == 1
    assert summary.loc["none", "ambiguous"] == 1
    assert summary.loc["none", "unmatched"] == 1
    assert summary["total"].sum() == len(frame)
    assert summary["share"].sum() == pytest.approx(1.0)

    review = review_list(frame)
    # unmatched, ambiguous, then by rising confidence; a town is too coarse
    assert review["address"].tolist() == ["N/A", "汇头林村", "东门口小卖部", "太平街道"]


def test_review_list_needs_result_columns() -> None:
    with pytest.raises(InvalidInput, match="results: missing column"):
        review_list(pd.DataFrame({"address": ["x"]}))
