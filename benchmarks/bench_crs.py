"""Time GCJ-02 and BD-09 conversions of a million points against a per-point loop.

Run with ``.venv/bin/python benchmarks/bench_crs.py``. Prints a markdown table:
the vectorised functions of ``geogrid.crs`` on 1,000,000 random points over
China (best of three runs), the plain Python loop one would otherwise write
(on 20,000 points, scaled up), the ratio, and the largest inverse error in
metres.
"""

from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pyproj

from geogrid import crs

N_POINTS = 1_000_000
N_LOOP = 20_000
REPEATS = 3

Pair = tuple[float, float]
Floats = npt.NDArray[np.float64]


# --- the per-point alternative: the published formulas, one point at a time ---


def loop_wgs84_to_gcj02(lon: float, lat: float) -> Pair:
    if not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271):
        return lon, lat
    x, y = lon - 105.0, lat - 35.0
    sin, pi = math.sin, math.pi
    shared = 20 * sin(6 * pi * x) + 20 * sin(2 * pi * x)
    waves_lat = shared + 20 * sin(pi * y) + 40 * sin(pi * y / 3)
    waves_lat += 160 * sin(pi * y / 12) + 320 * sin(pi * y / 30)
    waves_lon = shared + 20 * sin(pi * x) + 40 * sin(pi * x / 3)
    waves_lon += 150 * sin(pi * x / 12) + 300 * sin(pi * x / 30)
    root = math.sqrt(abs(x))
    dlat = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * root
    dlon = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * root
    dlat += waves_lat * 2 / 3
    dlon += waves_lon * 2 / 3

    a, e2 = 6378245.0, 0.00669342162296594323
    w = 1 - e2 * sin(math.radians(lat)) ** 2
    dlat_deg = math.degrees(dlat * w * math.sqrt(w) / (a * (1 - e2)))
    dlon_deg = math.degrees(dlon * math.sqrt(w) / (a * math.cos(math.radians(lat))))
    return lon + dlon_deg, lat + dlat_deg


def loop_gcj02_to_bd09(lon: float, lat: float) -> Pair:
    x_pi = math.pi * 3000.0 / 180.0
    radius = math.hypot(lon, lat) + 0.00002 * math.sin(lat * x_pi)
    angle = math.atan2(lat, lon) + 0.000003 * math.cos(lon * x_pi)
    return radius * math.cos(angle) + 0.0065, radius * math.sin(angle) + 0.006


def loop_invert(
    forward: Callable[[float, float], Pair], lon: float, lat: float
) -> Pair:
    guess_lon, guess_lat = lon, lat
    for _ in range(10):
        fwd_lon, fwd_lat = forward(guess_lon, guess_lat)
        guess_lon, guess_lat = guess_lon - (fwd_lon - lon), guess_lat - (fwd_lat - lat)
        if max(abs(fwd_lon - lon), abs(fwd_lat - lat)) < 1e-7:
            break
    return guess_lon, guess_lat


def loop_wgs84_to_bd09(lon: float, lat: float) -> Pair:
    return loop_gcj02_to_bd09(*loop_wgs84_to_gcj02(lon, lat))


def loop_gcj02_to_wgs84(lon: float, lat: float) -> Pair:
    return loop_invert(loop_wgs84_to_gcj02, lon, lat)


def loop_bd09_to_wgs84(lon: float, lat: float) -> Pair:
    return loop_gcj02_to_wgs84(*loop_invert(loop_gcj02_to_bd09, lon, lat))


# --- measuring -------------------------------------------------------------------


def best_time_s(lon: Floats, lat: Floats, src: str, dst: str) -> float:
    """The shortest of a few timings of the vectorised conversion."""
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        crs.convert_points(lon, lat, src, dst)
        times.append(time.perf_counter() - start)
    return min(times)


def loop_time_s(
    convert: Callable[[float, float], Pair], lon: Floats, lat: Floats
) -> float:
    """Time a per-point loop over the sample, scaled to N_POINTS."""
    start = time.perf_counter()
    for x, y in zip(lon[:N_LOOP].tolist(), lat[:N_LOOP].tolist(), strict=True):
        convert(x, y)
    return (time.perf_counter() - start) * N_POINTS / N_LOOP


def max_distance_m(lon1: Floats, lat1: Floats, lon2: Floats, lat2: Floats) -> float:
    """The largest geodesic distance between paired points, in metres."""
    return float(np.max(pyproj.Geod(ellps="WGS84").inv(lon1, lat1, lon2, lat2)[2]))


def print_timings(wgs_lon: Floats, wgs_lat: Floats) -> None:
    """One table row per conversion: vectorised, per-point loop, ratio."""
    gcj_lon, gcj_lat = crs.wgs84_to_gcj02(wgs_lon, wgs_lat)
    bd_lon, bd_lat = crs.wgs84_to_bd09(wgs_lon, wgs_lat)
    cases = [
        ("wgs84", "gcj02", wgs_lon, wgs_lat, loop_wgs84_to_gcj02),
        ("gcj02", "wgs84", gcj_lon, gcj_lat, loop_gcj02_to_wgs84),
        ("wgs84", "bd09", wgs_lon, wgs_lat, loop_wgs84_to_bd09),
        ("bd09", "wgs84", bd_lon, bd_lat, loop_bd09_to_wgs84),
    ]

    print(f"| conversion | vectorised (s) | loop, from {N_LOOP:,} (s) | speed-up |")
    print("|---|---:|---:|---:|")
    for src, dst, lon, lat, loop in cases:
        vector_s = best_time_s(lon, lat, src, dst)
        loop_s = loop_time_s(loop, lon, lat)
        ratio = loop_s / vector_s
        print(f"| {src} → {dst} | {vector_s:.3f} | {loop_s:.2f} | {ratio:.0f}× |")


def print_accuracy(wgs_lon: Floats, wgs_lat: Floats) -> None:
    """Round-trip errors over all points, and agreement with the loop."""
    for system in ("gcj02", "bd09"):
        shifted = crs.from_wgs84(wgs_lon, wgs_lat, system)
        back_lon, back_lat = crs.to_wgs84(*shifted, system)
        error_m = max_distance_m(wgs_lon, wgs_lat, back_lon, back_lat)
        print(f"- max inverse error {system} → wgs84: {error_m:.1e} m")

    lon, lat = wgs_lon[:N_LOOP], wgs_lat[:N_LOOP]
    loop_lon, loop_lat = np.array(
        [loop_wgs84_to_gcj02(x, y) for x, y in zip(lon, lat, strict=True)]
    ).T
    gap_m = max_distance_m(*crs.wgs84_to_gcj02(lon, lat), loop_lon, loop_lat)
    print(f"- max gap from the float64 per-point formula (gcj02): {gap_m:.1e} m")


def main() -> None:
    rng = np.random.default_rng(2024)
    wgs_lon = rng.uniform(75.0, 134.0, N_POINTS)
    wgs_lat = rng.uniform(18.0, 53.0, N_POINTS)
    print(
        f"{N_POINTS:,} random points over China; {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, numpy {np.__version__}\n"
    )
    print_timings(wgs_lon, wgs_lat)
    print()
    print_accuracy(wgs_lon, wgs_lat)


if __name__ == "__main__":
    main()
