"""Who each row is: resident ID numbers as exact keys, repeats, household numbers.

Read once for the whole file before any chunk is validated. An ID number of
valid shape (17 digits and a digit or X) becomes a 64-bit key, which is what
duplicates within the file and people in the store are matched on; its birth
date, sex and GB 11643 validity are read from the digits, all vectorised.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from geogrid.ingest.households.source import Source
from geogrid.store.bulk import fixed_width_bytes
from geogrid.validate import ID_CHECK_CHARS, ID_WEIGHTS, id_number_problems


@dataclass
class FileKeys:
    """ID numbers and household numbers of every row, checked once up front.

    ID numbers are upper-cased without spaces; one of valid shape (17 digits
    and a digit or X) is also kept as an exact 64-bit key, which is what
    duplicates and the store are matched on.
    """

    id_number: pa.Array
    id_key: np.ndarray  # -1 where the shape is wrong
    id_invalid: np.ndarray
    id_problem: dict[int, str]  # row index -> why the ID number is invalid
    birth_date: np.ndarray  # datetime64[D], NaT where the ID number is invalid
    male: np.ndarray
    duplicate_of: np.ndarray  # first row index with the same ID number, or -1
    household_code: np.ndarray  # index into household_nos
    household_nos: pa.Array

    @classmethod
    def of(cls, source: Source) -> FileKeys:
        ids, shaped = _normal_id_numbers(source.whole("id_number"))
        n = len(ids)
        key, birth, male, valid = _read_id_numbers(ids.filter(pa.array(shaped)))

        id_key = np.full(n, -1, dtype=np.int64)
        id_key[shaped] = key
        birth_date = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
        birth_date[shaped] = birth
        is_male = np.zeros(n, dtype=bool)
        is_male[shaped] = male
        ok = np.zeros(n, dtype=bool)
        ok[shaped] = valid
        invalid = ~ok & pc.not_equal(ids, "").to_numpy(False)
        wrong = np.flatnonzero(invalid)
        messages = id_number_problems(pd.Series(ids.take(wrong).to_pylist()))
        id_problem = dict(zip(wrong.tolist(), messages.tolist(), strict=True))

        encoded = source.whole("household_no").dictionary_encode()
        return cls(
            id_number=ids,
            id_key=id_key,
            id_invalid=invalid,
            id_problem=id_problem,
            birth_date=birth_date,
            male=is_male,
            duplicate_of=_first_occurrence(id_key),
            household_code=encoded.indices.to_numpy().astype(np.int64),
            household_nos=encoded.dictionary,
        )


def _normal_id_numbers(ids: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """ID numbers upper-cased, without spaces; and which are of valid shape.

    Only cells that are not already 17 digits and a digit or X are touched,
    and only ASCII letters upper-cased: any other letter makes the number
    invalid anyway.
    """
    plain = _id_shaped(ids)
    if plain.all():
        return ids, plain
    others = pa.array(~plain)
    fixed = pc.replace_substring(pc.ascii_upper(ids.filter(others)), " ", "")
    shaped = plain.copy()
    shaped[~plain] = _id_shaped(fixed)
    return pc.replace_with_mask(ids, others, fixed), shaped


def _id_shaped(ids: pa.Array) -> np.ndarray:
    """Which cells are 17 ASCII digits followed by a digit or X."""
    shaped = pc.equal(pc.binary_length(ids), 18).to_numpy(zero_copy_only=False)
    if not shaped.any():
        return shaped
    chars = fixed_width_bytes(ids.filter(pa.array(shaped)), 18)
    digit = (chars - np.uint8(48)) < 10
    good = digit[:, :17].all(axis=1) & (digit[:, 17] | (chars[:, 17] == ord("X")))
    shaped[shaped] = good
    return shaped


def _read_id_numbers(
    ids: pa.Array,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Key, birth date, sex and validity of ID numbers of valid shape.

    The key packs the 17 digits and the check character (X as 10) into one
    integer, distinct for distinct ID numbers. Validity is that of
    `geogrid.validate.id_number_problems`: a real birth date from 1900 to
    today and a matching GB 11643 check character.
    """
    chars = fixed_width_bytes(ids, 18)
    first8, next8 = _eight_digits(chars[:, :8]), _eight_digits(chars[:, 8:16])
    digit17 = chars[:, 16].astype(np.int64) - 48
    last = np.where(chars[:, 17] == ord("X"), 10, chars[:, 17].astype(np.int64) - 48)
    key = ((first8 * 10**8 + next8) * 10 + digit17) * 11 + last

    # digits 7-14 are the birth date, YYYYMMDD, looked up among real dates
    dates, dates_ymd = _birth_dates()
    ymd = (first8 % 100) * 10**6 + next8 // 100
    at = np.minimum(np.searchsorted(dates_ymd, ymd), len(dates) - 1)
    birth_ok = dates_ymd[at] == ymd
    birth = np.where(birth_ok, dates[at], np.datetime64("NaT"))

    weighted = np.zeros(len(chars), dtype=np.int64)
    for i, weight in enumerate(ID_WEIGHTS):
        weighted += (chars[:, i] - 48) * int(weight)
    check_chars = np.frombuffer("".join(ID_CHECK_CHARS).encode(), dtype=np.uint8)
    check_ok = check_chars[weighted % 11] == chars[:, 17]
    male = digit17 % 2 == 1
    return key, birth, male, birth_ok & check_ok


def _birth_dates() -> tuple[np.ndarray, np.ndarray]:
    """Every possible birth date (1900 to today) and each as the number YYYYMMDD."""
    dates = np.arange(
        np.datetime64("1900-01-01"), np.datetime64(dt.date.today()) + 1
    ).astype("datetime64[D]")
    index = pd.DatetimeIndex(dates)
    ymd = (index.year * 10_000 + index.month * 100 + index.day).to_numpy(np.int64)
    return dates, ymd


def _eight_digits(chars: np.ndarray) -> np.ndarray:
    """Rows of 8 ASCII digits as the numbers they spell (0 to 99,999,999).

    Works on each row as one little-endian 64-bit word, combining digit
    pairs, then pairs of pairs, then halves (the classic SWAR method).
    """
    word = np.ascontiguousarray(chars).view("<u8")[:, 0]
    word = word - np.uint64(0x3030303030303030)
    word = word * np.uint64(10) + (word >> np.uint64(8))
    mask = np.uint64(0x000000FF000000FF)
    high = (word & mask) * np.uint64(100 + (1_000_000 << 32))
    low = ((word >> np.uint64(16)) & mask) * np.uint64(1 + (10_000 << 32))
    return ((high + low) >> np.uint64(32)).astype(np.int64)


def _first_occurrence(keys: np.ndarray) -> np.ndarray:
    """For each row, the first earlier row with the same key (-1 when none)."""
    out = np.full(len(keys), -1, dtype=np.int64)
    valid = keys >= 0
    repeated = pd.Series(keys).duplicated(keep="first").to_numpy() & valid
    if not repeated.any():
        return out
    involved = np.flatnonzero(isin(keys, keys[repeated]))
    first = pd.Series(involved).groupby(keys[involved]).transform("min").to_numpy()
    out[repeated] = first[repeated[involved]]
    return out


def id_keys(numbers: pa.Array) -> np.ndarray:
    """Keys (as in `FileKeys`) of well-formed ID numbers; others are dropped."""
    return _read_id_numbers(numbers.filter(pa.array(_id_shaped(numbers))))[0]


def isin(values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """``np.isin`` by hashing, much faster than numpy's for large arrays."""
    if len(wanted) == 0:
        return np.zeros(len(values), dtype=bool)
    return pd.Series(values).isin(wanted).to_numpy()
