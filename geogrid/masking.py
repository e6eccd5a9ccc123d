"""Masking of ID and phone numbers for roles that do not need them."""

from __future__ import annotations

import pandas as pd


def mask_tail(values: pd.Series, keep: int = 4) -> pd.Series:
    """Replace all but the last ``keep`` characters with '*' (None stays None)."""
    text = values.astype("string")
    masked = (
        text.str.len()
        .sub(keep)
        .clip(lower=0)
        .map(lambda n: "*" * int(n) if pd.notna(n) else None)
    )
    return (masked + text.str[-keep:]).astype(object).where(text.notna(), None)


def mask_id_number(value: str | None) -> str | None:
    """'330102199001011234' -> '**************1234'."""
    if value is None:
        return None
    return "*" * max(len(value) - 4, 0) + value[-4:]


def mask_phone(value: str | None) -> str | None:
    """'13812345678' -> '*******5678'."""
    return mask_id_number(value)
