"""Batch geocoding into frames, its summary and review list, and outside results.

:func:`geocode_many` geocodes each distinct address once (results are shared
by every row that writes it the same way) and returns one row per input
address. :func:`summary_by_level` counts results by level and status;
:func:`review_list` picks the rows a person should look at. Results of an
outside geocoder (AMap, Baidu) come in through :func:`import_external_results`,
which converts their coordinates to WGS84.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from geogrid.errors import InvalidInput
from geogrid.geocode.match import HIGH_CONFIDENCE, LEVELS, STATUSES, GeocodeResult

if TYPE_CHECKING:
    from geogrid.geocode.gazetteer import Gazetteer
    from geogrid.geocode.match import Geocoder

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` with counts of distinct addresses."""

COLUMNS = (
    "address",
    "key",
    "status",
    "level",
    "lon",
    "lat",
    "confidence",
    "approximate",
    "code",
    "village_code",
    "town_code",
    "place",
    "reason",
    "candidates",
    "source",
)
"""Columns of the frame returned by :func:`geocode_many`, in order."""

EXTERNAL_CRS = ("wgs84", "cgcs2000", "gcj02", "bd09")
"""Coordinate systems accepted from outside geocoders."""

_FIELDS = ("key", "code", "village_code", "town_code", "place", "reason")
_CATEGORIES = {
    "status": list(STATUSES),
    "level": list(LEVELS),
    "source": ["auto", "correction"],
}


def geocode_many(
    geocoder: Geocoder,
    addresses: Sequence[Any],
    progress: Progress | None = None,
    progress_every: int = 10_000,
) -> pd.DataFrame:
    """Geocode many addresses; one row per address, in input order.

    Parameters
    ----------
    geocoder
        The geocoder to use.
    addresses
        Addresses as written; None, NaN and non-text values give unmatched rows.
    progress
        Optional callback, called as ``progress(done, total)`` every
        ``progress_every`` distinct addresses and once at the end.
    progress_every
        How many distinct addresses between two progress calls.

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`COLUMNS`. ``lon`` and ``lat`` are NaN without a
        point; ``candidates`` lists ``code name`` pairs separated by ``; ``.
        status, level (ordered door < ... < county) and source are
        categoricals; the other text columns hold str or None.
    """
    started = time.perf_counter()
    values = pd.Series(list(addresses), dtype=object)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)

    results: list[GeocodeResult] = []
    total = len(uniques)
    for done, address in enumerate(uniques, start=1):
        results.append(geocoder.geocode(address))
        if progress is not None and (done % progress_every == 0 or done == total):
            progress(done, total)
    results.append(geocoder.geocode(None))

    frame = _frame(values, results, np.where(codes < 0, len(results) - 1, codes))
    _log_batch(frame, total, time.perf_counter() - started)
    return frame


def _frame(
    values: pd.Series, results: list[GeocodeResult], rows: np.ndarray
) -> pd.DataFrame:
    """Rows of ``results`` picked by ``rows``, as the columns of COLUMNS.

    status, level and source are categoricals (level ordered from door to
    county); the other text columns hold str or None.
    """
    fields: dict[str, list[Any]] = {
        name: [r[i] for r in results] for i, name in enumerate(GeocodeResult._fields)
    }
    columns: dict[str, Any] = {"address": values}
    for name in _FIELDS:
        columns[name] = _text(np.array(fields[name], dtype=object)[rows])
    for name, categories in _CATEGORIES.items():
        index = {value: i for i, value in enumerate(categories)}
        codes = np.array([index.get(v, -1) for v in fields[name]], dtype=np.int8)
        columns[name] = pd.Categorical.from_codes(
            codes[rows], categories=pd.Index(categories), ordered=name == "level"
        )

    points = [p if p is not None else (np.nan, np.nan) for p in fields["point"]]
    lonlat = np.array(points, dtype=float).reshape(-1, 2)[rows]
    columns["lon"], columns["lat"] = lonlat[:, 0], lonlat[:, 1]
    columns["confidence"] = np.array(fields["confidence"], dtype=float)[rows]
    columns["approximate"] = np.array(fields["approximate"], dtype=bool)[rows]
    candidates = [
        "; ".join(f"{c.code} {c.name}" for c in found) if found else None
        for found in fields["candidates"]
    ]
    columns["candidates"] = _text(np.array(candidates, dtype=object)[rows])
    return pd.DataFrame({name: columns[name] for name in COLUMNS}, copy=False)


def _text(values: np.ndarray) -> pd.Series:
    """A column of str or None, kept as objects (no conversion per value)."""
    return pd.Series(values, dtype=object, copy=False)


def _log_batch(frame: pd.DataFrame, distinct: int, seconds: float) -> None:
    counts = frame["status"].value_counts()
    log.info(
        "Geocoded %d addresses (%d distinct) in %.2f s: %d matched, %d ambiguous, "
        "%d unmatched.",
        len(frame),
        distinct,
        seconds,
        counts.get("matched", 0),
        counts.get("ambiguous", 0),
        counts.get("unmatched", 0),
    )


def summary_by_level(results: pd.DataFrame) -> pd.DataFrame:
    """Counts of results by level (rows) and status (columns), with shares.

    Parameters
    ----------
    results
        A frame from :func:`geocode_many`.

    Returns
    -------
    pandas.DataFrame
        Index: the levels, most precise first, then 'none' (no point). Columns:
        one per status, 'total' and 'share' (of all rows, 0..1).
    """
    _require(results, ("status", "level"), "results")
    levels = results["level"].astype(object).fillna("none")
    table = pd.crosstab(levels, results["status"].astype(object))
    table = table.reindex(index=[*LEVELS, "none"], columns=list(STATUSES), fill_value=0)
    table["total"] = table.sum(axis=1)
    table["share"] = table["total"] / max(len(results), 1)
    table.index.name = "level"
    table.columns.name = None
    return table


def review_list(
    results: pd.DataFrame,
    min_confidence: float = HIGH_CONFIDENCE,
    levels: Sequence[str] = ("town", "county"),
) -> pd.DataFrame:
    """Rows a person should check: not matched, unsure, or placed too coarsely.

    Parameters
    ----------
    results
        A frame from :func:`geocode_many`.
    min_confidence
        Matched rows below this confidence are listed.
    levels
        Matched rows resolved only to one of these levels are listed too (a
        household placed in a whole town cannot be given a grid).

    Returns
    -------
    pandas.DataFrame
        The selected rows (original index kept), unmatched first, then
        ambiguous, then matched by rising confidence.
    """
    _require(results, ("status", "level", "confidence"), "results")
    needs_review = (
        (results["status"] != "matched")
        | (results["confidence"] < min_confidence)
        | results["level"].isna()
        | results["level"].isin(list(levels))
    )
    chosen = results[needs_review]
    rank = {"unmatched": 0, "ambiguous": 1, "matched": 2}
    order = [rank[str(status)] for status in chosen["status"]]
    return (
        chosen.assign(_order=order)
        .sort_values(["_order", "confidence"], kind="stable")
        .drop(columns="_order")
    )


def import_external_results(
    df: pd.DataFrame,
    lon_col: str,
    lat_col: str,
    crs: str,
    *,
    geocoder: Geocoder | None = None,
    address_col: str = "address",
) -> pd.DataFrame:
    """Results of an outside geocoder, with their coordinates in WGS84.

    Parameters
    ----------
    df
        One row per address with the outside geocoder's coordinates.
    lon_col, lat_col
        Columns of longitude and latitude.
    crs
        Their coordinate system: 'gcj02' (AMap, Tencent), 'bd09' (Baidu),
        'wgs84' or 'cgcs2000'. It must be given: the offsets between them are
        about 500 m in Zhejiang.
    geocoder
        If given, the addresses in ``address_col`` are geocoded too. The
        declared system is then checked: when the points fall inside the
        villages that this geocoder finds (with high confidence) clearly more
        often under another system, the import is refused. Each point is also
        placed in its village and town.
    address_col
        Column of the addresses, used with ``geocoder``.

    Returns
    -------
    pandas.DataFrame
        A copy of ``df`` with ``lon`` and ``lat`` in WGS84 (NaN where the input
        was missing or not a coordinate in China) and ``crs_source``; input
        columns named lon or lat are kept as ``lon_<crs>`` and ``lat_<crs>``.
        With a geocoder: ``village_code`` and ``town_code`` of the point,
        ``inside_area`` (the point lies in a loaded town) and ``agrees`` (True
        when the point lies in the village the geocoder found for the address,
        False when in another, NA when either is unknown).

    Raises
    ------
    InvalidInput
        A column is missing or the coordinate system is not one of
        :data:`EXTERNAL_CRS`.
    WrongCRS
        With a geocoder: another coordinate system explains the points clearly
        better than the declared one.
    """
    from geogrid.crs import check_declared_crs, parse_crs, to_wgs84

    _require(df, (lon_col, lat_col), "df")
    source = parse_crs(crs)
    if source not in EXTERNAL_CRS:
        raise InvalidInput(
            f"crs: the coordinate system of outside results must be one of "
            f"{', '.join(EXTERNAL_CRS)}; got {crs!r}. AMap and Tencent use gcj02, "
            "Baidu uses bd09."
        )

    lon = pd.to_numeric(df[lon_col], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(df[lat_col], errors="coerce").to_numpy(dtype=float)
    usable = np.isfinite(lon) & np.isfinite(lat)
    usable &= (lon >= 73) & (lon <= 136) & (lat >= 3) & (lat <= 54)
    if (~usable).any():
        log.warning(
            "Left %d of %d outside results without a point: the coordinates were "
            "missing or outside China.",
            int((~usable).sum()),
            len(df),
        )

    ours = None
    if geocoder is not None:
        _require(df, (address_col,), "df")
        ours = geocode_many(geocoder, df[address_col].tolist())
        polygons = _trusted_polygons(ours, geocoder.gazetteer)
        polygons[~usable] = None
        check_declared_crs(lon, lat, polygons, source, source="outside results")

    renamed = {c: f"{c}_{source}" for c in (lon_col, lat_col) if c in ("lon", "lat")}
    out = df.rename(columns=renamed)
    wgs_lon, wgs_lat = np.full(len(df), np.nan), np.full(len(df), np.nan)
    if usable.any():
        converted = to_wgs84(lon[usable], lat[usable], source)
        wgs_lon[usable], wgs_lat[usable] = converted
    out["lon"], out["lat"] = wgs_lon, wgs_lat
    out["crs_source"] = source
    if geocoder is not None and ours is not None:
        out = _with_units(out, geocoder.gazetteer, ours)
    return out


def _trusted_polygons(results: pd.DataFrame, gazetteer: Gazetteer) -> np.ndarray:
    """The village polygon of each confidently geocoded row, else None."""
    trusted = (
        (results["status"] == "matched")
        & (results["confidence"] >= HIGH_CONFIDENCE)
        & results["village_code"].notna()
    ).to_numpy()
    codes = results["village_code"].to_numpy()
    return np.array(
        [
            gazetteer.polygon(c) if ok else None
            for c, ok in zip(codes, trusted, strict=True)
        ],
        dtype=object,
    )


def _with_units(
    out: pd.DataFrame, gazetteer: Gazetteer, ours: pd.DataFrame
) -> pd.DataFrame:
    from geogrid.geocode.reverse import ReverseGeocoder

    found = ReverseGeocoder(gazetteer).reverse_many(out["lon"], out["lat"])
    out["village_code"] = found["village_code"].to_numpy()
    out["town_code"] = found["town_code"].to_numpy()
    out["inside_area"] = found["town_code"].notna().to_numpy()
    known = (
        found["village_code"].notna().to_numpy()
        & ours["village_code"].notna().to_numpy()
    )
    same = found["village_code"].to_numpy() == ours["village_code"].to_numpy()
    out["agrees"] = pd.array(np.where(known, same, False), dtype="boolean")
    out.loc[~known, "agrees"] = pd.NA
    return out


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInput(
            f"{what}: expected a pandas DataFrame, got {type(frame).__name__}."
        )
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"{what}: missing column(s) {', '.join(missing)}; the frame has "
            f"{', '.join(map(str, frame.columns)) or 'no columns'}."
        )
