"""Recognising Chinese and English column headers."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

_IGNORED = re.compile(r"[\s_\-()（）/]+")


def header_key(header: object) -> str:
    """A header reduced for comparison: lower case, no spaces or brackets."""
    return _IGNORED.sub("", str(header)).lower()


def pick_column(columns: Iterable[object], candidates: Iterable[str]) -> str | None:
    """The first of ``columns`` matching one of ``candidates`` (in their order)."""
    by_key = {header_key(c): str(c) for c in columns}
    for candidate in candidates:
        found = by_key.get(header_key(candidate))
        if found is not None:
            return found
    return None


def map_columns(
    columns: Iterable[object], aliases: Mapping[str, Iterable[str]]
) -> dict[str, str]:
    """Map canonical names to the file's headers, for those present."""
    columns = list(columns)
    found: dict[str, str] = {}
    for canonical, names in aliases.items():
        column = pick_column(columns, [canonical, *names])
        if column is not None:
            found[canonical] = column
    return found
