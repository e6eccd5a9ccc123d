"""Vectorised checks of Chinese resident ID numbers, mobile numbers and codes."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

# GB 11643-1999: weights of the first 17 digits and the check character by sum mod 11
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
ID_CHECK_CHARS = np.array(list("10X98765432"))

# mainland mobile numbers: 11 digits starting with 13-19
_MOBILE_PATTERN = r"^1[3-9]\d{9}$"
_ID_PATTERN = r"^\d{17}[\dX]$"
_ADMIN_CODE_PATTERN = r"^\d{12}$"


def id_check_char(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits of an ID number."""
    digits = np.frombuffer(first17.encode("ascii"), dtype=np.uint8) - 48
    return str(ID_CHECK_CHARS[int(digits @ ID_WEIGHTS) % 11])


def id_check_chars(first17: pd.Series) -> pd.Series:
    """Check characters for many 17-digit prefixes at once."""
    arr = first17.to_numpy(dtype="U17").astype("S17")
    digits = np.frombuffer(arr.tobytes(), dtype=np.uint8).reshape(-1, 17) - 48
    return pd.Series(ID_CHECK_CHARS[(digits @ ID_WEIGHTS) % 11], index=first17.index)


def id_number_problems(ids: pd.Series) -> pd.Series:
    """Why each ID number is invalid, or an empty string when it is valid.

    Checks the 18-character shape, the birth date it encodes and the check
    character. A lower-case ``x`` should be upper-cased before calling.
    """
    ids = ids.fillna("").astype(str)
    problems = pd.Series("", index=ids.index, dtype=object)

    shape_ok = ids.str.fullmatch(_ID_PATTERN)
    problems[~shape_ok] = "ID number must be 17 digits followed by a digit or X"

    ok_ids = ids[shape_ok]
    if ok_ids.empty:
        return problems
    births = pd.to_datetime(ok_ids.str.slice(6, 14), format="%Y%m%d", errors="coerce")
    today = pd.Timestamp(dt.date.today())
    bad_birth = births.isna() | (births > today) | (births.dt.year < 1900)
    problems[bad_birth[bad_birth].index] = (
        "ID number encodes an impossible birth date (digits 7-14 must be YYYYMMDD)"
    )

    expected = id_check_chars(ok_ids.str.slice(0, 17))
    bad_check = (expected != ok_ids.str.slice(17, 18)) & ~bad_birth
    problems[bad_check[bad_check].index] = (
        "ID number check digit does not match (GB 11643); the number was "
        "probably mistyped"
    )
    return problems


def mobile_problems(phones: pd.Series) -> pd.Series:
    """Why each mobile number is invalid ('' when valid or missing)."""
    phones = phones.fillna("").astype(str)
    bad = (phones != "") & ~phones.str.fullmatch(_MOBILE_PATTERN)
    problems = pd.Series("", index=phones.index, dtype=object)
    problems[bad] = "mobile number must be 11 digits starting with 13 to 19"
    return problems


def is_admin_code(codes: pd.Series) -> pd.Series:
    """True where a value is a 12-digit statistical division code."""
    return codes.fillna("").astype(str).str.fullmatch(_ADMIN_CODE_PATTERN)


def admin_level_of(code: str) -> str:
    """County, town or village, read from the zeros of a 12-digit code."""
    if code.endswith("000000"):
        return "county"
    if code.endswith("000"):
        return "town"
    return "village"


def parent_code_of(code: str) -> str | None:
    """Code of the unit one level up (None for a county)."""
    level = admin_level_of(code)
    if level == "village":
        return code[:9] + "000"
    if level == "town":
        return code[:6] + "000000"
    return None
