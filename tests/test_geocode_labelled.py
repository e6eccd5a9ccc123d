"""Accuracy on the labelled address set (see tests/data/geocode/README.md)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import shapely

from geogrid.geocode import HIGH_CONFIDENCE, Gazetteer, Geocoder

DATA = Path(__file__).parent / "data" / "geocode"
CATEGORIES = {
    "plain",
    "traditional",
    "full_width",
    "numerals",
    "unit_form",
    "missing_upper",
    "spaces_punct",
    "bare_name",
    "other_kind",
    "homophone",
    "typo_no_town",
    "spelling",
    "unknown_village",
    "wrong_town",
    "shared_name",
    "outside",
    "garbage",
    "too_long",
    "special",
}


def load(name: str, upper_names: tuple[str, ...] = ()) -> Gazetteer:
    units = pd.read_csv(DATA / f"{name}_units.csv", dtype=str, keep_default_na=False)
    units["geometry"] = [shapely.from_wkt(w) if w else None for w in units.pop("wkt")]
    units["parent_code"] = units["parent_code"].replace("", None)
    places = pd.read_csv(DATA / f"{name}_places.csv", dtype=str)
    places["geometry"] = shapely.from_wkt(places.pop("wkt"))
    return Gazetteer.from_frames(units, places, upper_names=upper_names)


@pytest.fixture(scope="module")
def gazetteers() -> dict[str, Gazetteer]:
    return {"wenling": load("wenling", ("台州市",)), "synthetic": load("synthetic")}


@pytest.fixture(scope="module")
def labelled(gazetteers: dict[str, Gazetteer]) -> pd.DataFrame:
    """The labelled set with the geocoder's answers beside the expected ones."""
    rows = pd.read_csv(DATA / "labelled.csv", dtype=str, keep_default_na=False)
    parts = []
    for name, gazetteer in gazetteers.items():
        subset = rows[rows["gazetteer"] == name]
        found = Geocoder(gazetteer).geocode_many(subset["address"].tolist())
        found.index = subset.index
        parts.append(subset.join(found.drop(columns="address")))
    return pd.concat(parts).sort_index()


def _describe(rows: pd.DataFrame) -> str:
    columns = [
        "address",
        "expect_status",
        "expect_code",
        "status",
        "code",
        "confidence",
    ]
    return rows[columns].head(10).to_string()


def test_labelled_set_covers_every_rule(labelled: pd.DataFrame) -> None:
    assert len(labelled) >= 500
    counts = labelled["category"].value_counts()
    assert set(counts.index) == CATEGORIES
    rules = ["traditional", "full_width", "numerals", "unit_form", "missing_upper"]
    assert (counts[rules] >= 50).all()
    assert (labelled["expect_status"] == "ambiguous").sum() >= 20
    assert (labelled["expect_status"] == "unmatched").sum() >= 80


def test_addresses_that_name_their_village_are_99_percent_right(
    labelled: pd.DataFrame,
) -> None:
    naming = labelled[(labelled["names_village"] == "1")]
    right = (naming["status"] == "matched") & (naming["code"] == naming["expect_code"])

    assert len(naming) >= 1000
    assert right.mean() >= 0.99, _describe(naming[~right])


def test_no_wrong_village_is_ever_reported_with_high_confidence(
    labelled: pd.DataFrame,
) -> None:
    sure = labelled[
        (labelled["status"] == "matched")
        & labelled["village_code"].notna()
        & (labelled["confidence"] >= HIGH_CONFIDENCE)
    ]
    wrong = sure[sure["village_code"] != sure["intended_code"]]

    assert len(sure) >= 1000
    assert wrong.empty, _describe(wrong)


def test_strict_rows_get_the_expected_status_code_and_level(
    labelled: pd.DataFrame,
) -> None:
    strict = labelled[labelled["strict"] == "1"]
    right = strict["status"] == strict["expect_status"]
    right &= (strict["expect_code"] == "") | (strict["code"] == strict["expect_code"])
    right &= (strict["expect_level"] == "") | (
        strict["level"] == strict["expect_level"]
    )

    assert right.mean() >= 0.99, _describe(strict[~right])


def test_spelling_slips_are_matched_or_sent_to_review(labelled: pd.DataFrame) -> None:
    slips = labelled[labelled["category"] == "spelling"]
    right_village = slips["code"] == slips["intended_code"]
    to_review = (slips["status"] != "matched") | (slips["level"] == "town")
    low = slips["confidence"] < HIGH_CONFIDENCE

    assert (right_village | to_review).mean() >= 0.9, _describe(slips[~right_village])
    assert (low | to_review).all()


def test_addresses_that_must_not_match_get_no_point(labelled: pd.DataFrame) -> None:
    refused = labelled[labelled["expect_status"] != "matched"]

    assert (refused["status"] == refused["expect_status"]).all(), _describe(
        refused[refused["status"] != refused["expect_status"]]
    )
    assert refused["lon"].isna().all()
    assert refused["reason"].str.len().gt(20).all()


def test_village_points_lie_inside_their_village(
    labelled: pd.DataFrame, gazetteers: dict[str, Gazetteer]
) -> None:
    placed = labelled[labelled["level"].isin(["village", "group", "door"])]
    inside = [
        gazetteers[row.gazetteer]
        .polygon(row.village_code)
        .contains(shapely.Point(row.lon, row.lat))
        for row in placed.itertuples()
    ]
    assert len(placed) >= 1000
    assert all(inside)
