"""Random streams and array helpers shared by the stages of the demo generation."""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Strs = npt.NDArray[np.str_]
Geoms = npt.NDArray[np.object_]


def stream(seed: int, stage: str) -> np.random.Generator:
    """An independent random stream for one stage of the generation."""
    return np.random.default_rng([int(seed), zlib.crc32(stage.encode("ascii"))])


def allocate(weights: Floats, total: int) -> Ints:
    """Split `total` into whole numbers proportional to `weights`."""
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    short = total - int(counts.sum())
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:short]] += 1
    return counts


def offsets_within(owner: Ints, sizes: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Running total of `sizes` before each item, restarting with each owner."""
    running = np.cumsum(sizes) - sizes
    first = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    run_length = np.diff(np.r_[first, len(owner)])
    return np.asarray(running - np.repeat(running[first], run_length))


def rank_in_runs(key: npt.NDArray[Any]) -> Ints:
    """0, 1, 2, ... within each run of equal values of a sorted key."""
    first = np.r_[True, key[1:] != key[:-1]]
    index = np.arange(len(key))
    return np.asarray(index - np.maximum.accumulate(np.where(first, index, 0)))


def digits(values: Ints, width: int) -> Strs:
    """Zero-padded decimal text of non-negative integers, `width` digits each."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    codes = (np.asarray(values, dtype=np.int64)[:, None] // powers) % 10 + ord("0")
    return codes.astype(np.uint32).view(f"<U{width}").ravel()


def days(day: dt.date) -> int:
    """Days since 1970-01-01."""
    return (day - dt.date(1970, 1, 1)).days


def has(mask: Ints, vocabulary: Sequence[str], word: str) -> Bools:
    """Whether each bit mask over `vocabulary` has the bit of `word` set."""
    return np.asarray((mask >> vocabulary.index(word)) & 1 == 1)
