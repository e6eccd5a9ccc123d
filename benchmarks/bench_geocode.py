"""Time batch geocoding of 100,000 Wenling addresses against a naive fuzzy search.

Run with ``.venv/bin/python benchmarks/bench_geocode.py`` (``--n`` addresses,
``--naive-sample`` for the naive search). Prints:

- the gazetteer load time (frames to an indexed gazetteer, then its label
  points and sound keys), from the test data in ``tests/data/geocode``;
- batch geocoding of ``--n`` addresses generated from the real village list of
  温岭市 (many forms: with and without county and town, 村委会/社区居委会
  forms, Chinese numerals, traditional characters, full-width digits, spaces,
  near-homophone slips, a few addresses of other counties and junk), in wall
  and CPU time, with the share right at village level;
- the naive alternative, ``rapidfuzz.process.extractOne`` of each address
  over all 661 full village names (county + town + village), on a sample;
- the ratio of the two speeds, the summary by level and the review list size;
- a calibration loop, so figures from a loaded machine can be judged.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import random
import re
import time
from pathlib import Path

import pandas as pd
import shapely
from opencc import OpenCC
from rapidfuzz import fuzz, process

from geogrid.geocode import Gazetteer, Geocoder, review_list, summary_by_level

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "geocode"
SEED = 11
UPPER = ["", "", "温岭市", "温岭", "浙江省温岭市", "浙江省台州市温岭市", "台州温岭"]
CN = "零一二三四五六七八九"


def load_gazetteer() -> tuple[Gazetteer, float, float]:
    """The Wenling gazetteer; seconds to build it and to prepare it."""
    started = time.perf_counter()
    units = pd.read_csv(DATA / "wenling_units.csv", dtype=str, keep_default_na=False)
    units["geometry"] = [shapely.from_wkt(w) if w else None for w in units.pop("wkt")]
    units["parent_code"] = units["parent_code"].replace("", None)
    places = pd.read_csv(DATA / "wenling_places.csv", dtype=str)
    places["geometry"] = shapely.from_wkt(places.pop("wkt"))
    gazetteer = Gazetteer.from_frames(units, places, upper_names=("台州市",))
    built = time.perf_counter() - started
    started = time.perf_counter()
    gazetteer.prepare()
    return gazetteer, built, time.perf_counter() - started


# -- addresses ------------------------------------------------------------------------


def cn_number(value: int) -> str:
    if value < 10:
        return CN[value]
    tens, ones = divmod(value, 10)
    return ("" if tens == 1 else CN[tens]) + "十" + (CN[ones] if ones else "")


def village_forms(name: str) -> list[str]:
    stem = re.sub(r"(村委会|居委会|社区)$", "", name)
    if name.endswith("村委会"):
        return [stem + "村", stem + "村", stem + "村委会", stem + "村民委员会"]
    return [stem + "社区", stem + "社区", stem + "社区居委会", stem + "居委会"]


def make_addresses(n: int) -> tuple[list[str], list[str]]:
    """``n`` addresses and the village code each one means ('' for none)."""
    rng = random.Random(SEED)
    traditional = OpenCC("s2t")
    with (DATA / "wenling_villages.csv").open(encoding="utf-8") as f:
        villages = list(csv.DictReader(f))
    addresses, truth = [], []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.01:
            addresses.append(
                rng.choice(["", "不详", "N/A", "同上", "玉环市楚门镇团结村"])
            )
            truth.append("")
            continue
        v = rng.choice(villages)
        town = rng.choice([v["town_name"], v["town_name"], ""])
        group, door = rng.randint(1, 9), rng.randint(1, 120)
        local = rng.choice(
            [
                f"{group}组{door}号",
                f"{group}组",
                f"{door}号",
                "",
                f"{cn_number(group)}组{cn_number(door % 100 or 1)}号",
            ]
        )
        address = (
            rng.choice(UPPER) + town + rng.choice(village_forms(v["village_name"]))
        )
        address += local
        if roll < 0.03:
            address = traditional.convert(address)
        elif roll < 0.05:
            address = " ".join([address[:3], address[3:]])
        elif roll < 0.06:
            address = address.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
        addresses.append(address)
        truth.append(v["village_code"])
    return addresses, truth


# -- runs -----------------------------------------------------------------------------


def machine() -> str:
    """One line describing the machine, for the figures' provenance."""
    cpu = platform.processor() or platform.machine()
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def calibration_us() -> float:
    """CPU microseconds of a fixed pure-Python loop (about 1 on an idle core)."""
    started = time.process_time()
    for _ in range(100_000):
        sum(range(100))
    return (time.process_time() - started) * 10


def run_geocoder(
    gazetteer: Gazetteer, addresses: list[str]
) -> tuple[pd.DataFrame, float, float]:
    geocoder = Geocoder(gazetteer)
    wall, cpu = time.perf_counter(), time.process_time()
    frame = geocoder.geocode_many(addresses)
    return frame, time.perf_counter() - wall, time.process_time() - cpu


def run_naive(gazetteer: Gazetteer, addresses: list[str]) -> tuple[list[str], float]:
    """The village whose full name best fits each address, by fuzzy score alone."""
    choices = {
        code: "温岭市" + gazetteer.full_name(code)
        for code, unit in gazetteer.units.items()
        if unit.level == "village"
    }
    started = time.process_time()
    found = []
    for address in addresses:
        best = process.extractOne(address, choices, scorer=fuzz.WRatio)
        found.append(best[2] if best else "")
    return found, time.process_time() - started


def share_right(found: list[str] | pd.Series, truth: list[str]) -> float:
    named = [(f, t) for f, t in zip(found, truth, strict=True) if t]
    return sum(f == t for f, t in named) / len(named)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--naive-sample", type=int, default=2_000)
    args = parser.parse_args()

    print(f"machine: {machine()}")
    print(f"calibration loop: {calibration_us():.2f} us (about 1 on an idle core)")
    gazetteer, built_s, prepared_s = load_gazetteer()
    print(
        f"gazetteer: {len(gazetteer)} units, built in {built_s:.2f} s, "
        f"prepared in {prepared_s:.2f} s"
    )

    addresses, truth = make_addresses(args.n)
    frame, wall_s, cpu_s = run_geocoder(gazetteer, addresses)
    rate_cpu, rate_wall = len(addresses) / cpu_s, len(addresses) / wall_s
    village_right = share_right(frame["village_code"].fillna(""), truth)
    sure = frame[(frame["confidence"] >= 0.8) & frame["village_code"].notna()]
    sure_truth = pd.Series(truth)[sure.index]
    wrong_sure = int((sure["village_code"] != sure_truth).sum())
    print(
        f"geocoder: {len(addresses):,} addresses ({frame['key'].nunique():,} distinct) "
        f"in {wall_s:.2f} s wall, {cpu_s:.2f} s CPU: {rate_cpu:,.0f} addresses/s "
        f"(CPU), {rate_wall:,.0f} addresses/s (wall); right village "
        f"{village_right:.1%}; wrong village at confidence >= 0.8: {wrong_sure}"
    )

    sample = addresses[: args.naive_sample]
    found, naive_s = run_naive(gazetteer, sample)
    naive_rate = len(sample) / naive_s
    print(
        f"naive extractOne: {len(sample):,} addresses in {naive_s:.2f} s CPU: "
        f"{naive_rate:,.0f} addresses/s; right village "
        f"{share_right(found, truth[: len(sample)]):.1%}"
    )
    print(f"ratio: geocoder is {rate_cpu / naive_rate:,.0f} times faster (CPU)")

    print("\nsummary by level:")
    print(summary_by_level(frame).to_string(float_format=lambda x: f"{x:.3f}"))
    print(f"\nreview list: {len(review_list(frame)):,} rows")


if __name__ == "__main__":
    main()
