"""Time and peak memory of generating the demo county at two scales.

Run: .venv/bin/python benchmarks/bench_demo_generate.py [households ...]

Each scale runs in a fresh process, so the peak resident memory printed is
that scale's own.
"""

from __future__ import annotations

import multiprocessing
import platform
import resource
import sys
import time

DEFAULT_SCALES = (150_000, 1_000_000)


def measure(households: int) -> tuple[float, float, int]:
    """Seconds to generate, peak resident MB of the process, persons made."""
    from geogrid.demo import generate_county

    started = time.perf_counter()
    county = generate_county(households, seed=7)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return seconds, peak_mb, len(county.persons)


def main(scales: tuple[int, ...]) -> None:
    print(
        f"python {platform.python_version()} on {platform.machine()}, "
        f"{multiprocessing.cpu_count()} cores"
    )
    print(f"{'households':>12} {'persons':>10} {'seconds':>9} {'peak MB':>9}")
    context = multiprocessing.get_context("spawn")
    for households in scales:
        with context.Pool(1) as pool:
            seconds, peak_mb, persons = pool.apply(measure, (households,))
        print(f"{households:>12,} {persons:>10,} {seconds:>9.1f} {peak_mb:>9.0f}")


if __name__ == "__main__":
    arguments = tuple(int(a.replace("_", "")) for a in sys.argv[1:])
    main(arguments or DEFAULT_SCALES)
