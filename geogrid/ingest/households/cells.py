"""Columns of text cells cleaned and checked at once; each row's reject reason.

Every check takes a chunk's column as Arrow text and reports the rows that
break a rule through a `Reject` function, which `_Reasons` hands out: a row
keeps the first reason it is given. List cells (products, labels) are parsed
once per distinct value by `Lists`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from geogrid.ingest.households.source import LABEL_MAX_LENGTH
from geogrid.store.bulk import NUMERIC_MAX, binary_text_array
from geogrid.validate import mobile_problems

Reason = str | Callable[[np.ndarray], list[str]]
Reject = Callable[[Any, Reason], None]

_SPLIT = r"[,，、;；|/\s]+"
_MOBILE = r"^1[3-9]\d{9}$"


class _Reasons:
    """Each row's reject reason; the first rule a row breaks is the one kept."""

    def __init__(self, n_rows: int) -> None:
        self.code = np.zeros(n_rows, dtype=np.int32)
        self._texts = [""]
        self._codes: dict[str, int] = {}

    def rejecter(self, start: int, length: int) -> Reject:
        """A ``reject(mask, reason)`` for rows ``start`` to ``start + length``.

        ``reason`` is a message, or a function giving the message of each row
        (by its index in the chunk) among those newly rejected.
        """
        view = self.code[start : start + length]

        def reject(mask: Any, reason: Reason) -> None:
            fresh = np.asarray(mask, dtype=bool) & (view == 0)
            if not fresh.any():
                return
            if isinstance(reason, str):
                view[fresh] = self._code_of(reason)
            else:
                where = np.flatnonzero(fresh)
                view[where] = [self._code_of(t) for t in reason(where)]

        return reject

    def _code_of(self, reason: str) -> int:
        code = self._codes.get(reason)
        if code is None:
            code = self._codes[reason] = len(self._texts)
            self._texts.append(reason)
        return code

    def texts(self, rows: np.ndarray) -> list[str]:
        return [self._texts[c] for c in self.code[rows]]


class Lists:
    """List cells (products, labels) parsed once per distinct value."""

    def __init__(self, vocabulary: dict[str, str] | None, element_oid: int) -> None:
        self.vocabulary = vocabulary
        self.element_oid = element_oid  # the array column's element type
        self.fields: list[bytes] = []  # each distinct list, in binary COPY format
        self.items: list[frozenset[str]] = []  # the same lists' items
        self._parsed: dict[str, tuple[int, int, str, str]] = {}

    def parse(
        self, values: pa.Array
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Field codes, item counts, unknown items and over-long items per cell.

        The last two are '' where there is none.
        """
        encoded = values.dictionary_encode()
        parsed = [self._parse_cell(str(v)) for v in encoded.dictionary.to_pylist()]
        index = encoded.indices.to_numpy()
        columns = [
            np.array(list(part), dtype=object) for part in zip(*parsed, strict=True)
        ]
        if not columns:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty.astype(object), empty.astype(object)
        codes, counts, unknown, too_long = (c[index] for c in columns)
        return codes.astype(np.int64), counts.astype(np.int64), unknown, too_long

    def _parse_cell(self, cell: str) -> tuple[int, int, str, str]:
        found = self._parsed.get(cell)
        if found is not None:
            return found
        items = [x for x in re.split(_SPLIT, cell) if x]
        if self.vocabulary is None:
            kept, bad = sorted(set(items)), ""
        else:
            mapped = [self.vocabulary.get(x.lower()) for x in items]
            bad = next((x for x, m in zip(items, mapped, strict=True) if m is None), "")
            kept = sorted({m for m in mapped if m})
        too_long = next((x for x in kept if len(x) > LABEL_MAX_LENGTH), "")
        self.fields.append(binary_text_array(kept, self.element_oid))
        self.items.append(frozenset(kept))
        found = self._parsed[cell] = (len(self.fields) - 1, len(kept), bad, too_long)
        return found

    def empty_code(self) -> int:
        return self._parse_cell("")[0]

    def holding(self, item: str) -> np.ndarray:
        """Per field code, whether its list holds ``item``."""
        return np.array([item in items for items in self.items], dtype=bool)


def _is_empty(values: pa.Array) -> np.ndarray:
    return pc.equal(values, "").to_numpy(False)


def _null_if_empty(values: pa.Array | None, length: int) -> pa.Array:
    """Cells with '' as NULL; all NULL for a column the file lacks."""
    if values is None:
        return pa.nulls(length, pa.string())
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


def _numbers(values: pa.Array) -> np.ndarray:
    """Cells as floats, NaN where empty or not a number, as ``pd.to_numeric`` reads.

    Arrow's parser accepts the same forms (1, -1.5, .5, 1e3, nan, inf); when
    some cell is not a number, pandas reads the chunk to tell which.
    """
    given = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
    try:
        parsed = pc.cast(given, pa.float64())
    except pa.ArrowInvalid:
        cells = pd.Series(given.to_pylist(), dtype=object)
        parsed = pa.array(pd.to_numeric(cells, errors="coerce"), type=pa.float64())
    return parsed.to_numpy(zero_copy_only=False).copy()


def _lookup(values: pa.Array, mapping: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Each value through ``mapping``, and whether it was a key ('' where not)."""
    encoded = values.dictionary_encode()
    looked_up = [mapping.get(v) for v in encoded.dictionary.to_pylist()]
    index = encoded.indices.to_numpy()
    known = np.array([v is not None for v in looked_up] + [False], dtype=bool)
    mapped = np.array([v or "" for v in looked_up] + [""], dtype=object)
    return mapped[index], known[index]


def _phones(values: pa.Array, reject: Reject) -> pa.Array:
    """Mobile numbers without spaces, dashes or a +86 prefix; check them."""
    fine = pc.or_(pc.equal(values, ""), pc.match_substring_regex(values, _MOBILE))
    if pc.all(fine).as_py() is not False:
        return values
    # clean only the cells that are not already plain mobile numbers
    other = pc.invert(fine)
    cleaned = pc.replace_substring_regex(values.filter(other), r"[\s\-]", "")
    cleaned = pc.replace_substring_regex(cleaned, r"^\+?86(1\d{10})$", r"\1")
    phone = pc.replace_with_mask(values, other, cleaned)
    bad = ~(_is_empty(phone) | pc.match_substring_regex(phone, _MOBILE).to_numpy(False))
    if bad.any():
        messages = mobile_problems(pd.Series(phone.filter(pa.array(bad)).to_pylist()))
        by_row = dict(zip(np.flatnonzero(bad).tolist(), messages.tolist(), strict=True))
        reject(bad, lambda rows: [by_row[int(i)] for i in rows])
    return phone


def _amounts(values: pa.Array, column: str, reject: Reject) -> np.ndarray:
    """Amounts in yuan as hundredths; '12.5万' means 125,000; commas and 元 ignored."""
    plain = pc.match_substring_regex(values, r"^(\d+(\.\d*)?)?$")
    if pc.all(plain).as_py() is not False:  # digits only, or empty: most files
        number, given = _numbers(values), ~_is_empty(values)
    else:
        text_values = pc.replace_substring_regex(values, r"[,，元\s]", "")
        wan = pc.ends_with(text_values, "万").to_numpy(False)
        number = _numbers(pc.replace_substring_regex(text_values, "万+$", ""))
        number = np.where(wan, number * 10_000, number)
        given = ~_is_empty(text_values)
    with np.errstate(invalid="ignore"):
        reject(
            given & (np.isnan(number) | (number < 0)),
            f"{column} must be a non-negative amount in yuan (e.g. 52000 or 5.2万)",
        )
        number = np.where(given & ~np.isnan(number), number, 0.0)
        hundredths = np.round(number * 100)
        too_large = np.abs(hundredths) >= NUMERIC_MAX * 100
    reject(too_large, f"{column} must be less than 100,000,000,000,000 yuan")
    return np.where(too_large, 0, hundredths).astype(np.int64)
