"""Reading input files as banks have them: CSV, XLSX and GIS files."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyogrio
import shapely

from geogrid.errors import InvalidInput

log = logging.getLogger(__name__)

TABLE_SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm")
GIS_SUFFIXES = (".geojson", ".json", ".shp", ".gpkg")


def detect_text_encoding(raw: bytes) -> str:
    """Encoding of a text file as Excel in China writes it: UTF-8 (BOM or not) or GBK.

    GB18030 is returned for GBK, since it is a strict superset of it.
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    try:
        raw.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            "The file is neither UTF-8 nor GBK text (byte "
            f"{exc.start} cannot be decoded). Save it from Excel as 'CSV UTF-8' "
            "and import it again."
        ) from exc
    return "gb18030"


def read_table(path: Path, sheet: str | None = None) -> pd.DataFrame:
    """Read a CSV or XLSX file with every cell as text (empty cells as '').

    Parameters
    ----------
    path
        A .csv/.txt file (UTF-8, UTF-8 with BOM or GBK) or an .xlsx workbook.
    sheet
        Worksheet name of an XLSX file; the first sheet when None.
    """
    path = Path(path)
    if not path.exists():
        raise InvalidInput(f"Input file {path} does not exist.", path=str(path))
    suffix = path.suffix.lower()

    if suffix in (".xlsx", ".xlsm"):
        frame = _read_xlsx(path, sheet)
    elif suffix in (".csv", ".txt"):
        if sheet is not None:
            raise InvalidInput(
                f"--sheet was given ({sheet!r}) but {path.name} is a CSV file, "
                "which has no sheets. Leave --sheet out."
            )
        frame = _read_csv(path, detect_text_encoding(path.read_bytes()))
    else:
        raise InvalidInput(
            f"Cannot read {path.name}: tables must be .csv or .xlsx files, "
            f"got {suffix or 'no extension'}. Save the table as CSV or XLSX."
        )

    frame.columns = [str(c).strip().lstrip("\ufeff") for c in frame.columns]
    return frame.apply(lambda col: col.str.strip())


def read_table_arrow(
    path: Path, sheet: str | None = None, *, strip: bool = True
) -> pa.Table:
    """Read a CSV or XLSX file as an Arrow table of text columns.

    The same cells as `read_table` gives (every cell as stripped text, empty
    cells as '', repeated headers numbered as pandas does: 'a', 'a.1'), but
    without building pandas objects, which is several times faster for large
    files. ``path`` and ``sheet`` are as for `read_table`.

    Parameters
    ----------
    strip
        False leaves the white space around the cells of a CSV file, for a
        caller that strips them later with `strip_cells`, a part at a time.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".txt") or not path.exists() or sheet is not None:
        return _frame_to_arrow(read_table(path, sheet))
    table = _read_csv_arrow(path, "utf-8")  # Arrow checks the text is UTF-8
    if table is None:
        encoding = detect_text_encoding(path.read_bytes())
        if encoding != "utf-8":
            table = _read_csv_arrow(path, encoding)
    if table is None:
        # pandas' reader names the offending line in its error
        return _frame_to_arrow(read_table(path, sheet))
    names = [str(c).strip().lstrip("\ufeff") for c in table.column_names]
    columns = [strip_cells(c) if strip else c for c in table.columns]
    return pa.Table.from_arrays(columns, names=_unique_headers(names))


def strip_cells(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Cells as one Arrow string array, without white space at either end.

    Unicode white space (such as the ideographic space) is removed too, as
    ``str.strip`` does.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return pc.utf8_trim_whitespace(column.cast(pa.string()))


def _read_csv_arrow(path: Path, encoding: str) -> pa.Table | None:
    """Every cell as text, or None when Arrow cannot read the file so."""
    arrow_encoding = "utf8" if encoding in ("utf-8", "utf-8-sig") else encoding
    read_options = pacsv.ReadOptions(encoding=arrow_encoding)
    try:
        with pacsv.open_csv(path, read_options=read_options) as head:
            headers = head.schema.names
        return pacsv.read_csv(
            path,
            read_options=read_options,
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(headers, pa.string()),
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None


def _unique_headers(names: list[str]) -> list[str]:
    """Number repeated headers as pandas does: 'a', 'a.1', 'a.2'."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        out.append(name if count == 0 else f"{name}.{count}")
    return out


def _frame_to_arrow(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_arrays(
        [
            pa.array(frame.iloc[:, i].astype(object).to_numpy(), type=pa.string())
            for i in range(frame.shape[1])
        ],
        names=[str(c) for c in frame.columns],
    )


def _read_csv(path: Path, encoding: str) -> pd.DataFrame:
    """Every cell as text; Arrow's multi-threaded reader, pandas' for its errors."""
    try:
        return pd.read_csv(
            path, dtype=str, keep_default_na=False, encoding=encoding, engine="pyarrow"
        )
    except (ValueError, pd.errors.ParserError):
        pass
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)
    except pd.errors.ParserError as exc:
        raise InvalidInput(
            f"{path.name} is not a well-formed CSV table ({exc}). Every line must "
            "have as many fields as the header; check for unquoted commas."
        ) from exc


def _read_xlsx(path: Path, sheet: str | None) -> pd.DataFrame:
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        names = workbook.sheetnames
        if sheet is not None and sheet not in names:
            raise InvalidInput(
                f"Worksheet {sheet!r} is not in {path.name}; it has "
                f"{', '.join(repr(n) for n in names)}. Pass one of these to --sheet."
            )
        ws = workbook[sheet] if sheet else workbook[names[0]]
        rows = ws.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            return pd.DataFrame()
        columns = ["" if h is None else str(h) for h in header]
        data = [
            ["" if v is None else _cell_text(v) for v in row]
            for row in rows
            if any(v is not None and v != "" for v in row)
        ]
    finally:
        workbook.close()
    return pd.DataFrame(data, columns=columns, dtype=str)


def _cell_text(value: object) -> str:
    # Excel keeps long digit strings as floats when typed as numbers
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


# -- GIS files ---------------------------------------------------------------------


def read_gis_file(path: Path) -> gpd.GeoDataFrame:
    """Read GeoJSON (collection, feature or bare geometry), Shapefile or GeoPackage.

    The returned frame keeps the file's own CRS (None when it declares none).
    Shapefile attributes are decoded with the encoding named in the .cpg file,
    or detected (UTF-8 or GBK) when there is none.
    """
    path = Path(path)
    if not path.exists():
        raise InvalidInput(f"Input file {path} does not exist.", path=str(path))
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json"):
        return _read_geojson(path)
    if suffix == ".shp":
        return pyogrio.read_dataframe(path, encoding=shapefile_encoding(path))
    if suffix == ".gpkg":
        return pyogrio.read_dataframe(path)
    raise InvalidInput(
        f"Cannot read {path.name}: boundary files must be GeoJSON (.geojson, "
        f".json), Shapefile (.shp) or GeoPackage (.gpkg), got "
        f"{suffix or 'no extension'}."
    )


def _read_geojson(path: Path) -> gpd.GeoDataFrame:
    try:
        raw = path.read_bytes()
        doc = json.loads(raw.decode(detect_text_encoding(raw)))
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"{path.name} is not valid JSON ({exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}). Check the file was fully downloaded."
        ) from exc
    if not isinstance(doc, dict) or "type" not in doc:
        raise InvalidInput(
            f"{path.name} is JSON but not GeoJSON: it has no 'type' member. "
            "Expected a FeatureCollection, a Feature or a geometry."
        )

    kind = doc["type"]
    if kind == "FeatureCollection":
        features = doc.get("features") or []
    elif kind == "Feature":
        features = [doc]
    else:
        features = [{"type": "Feature", "properties": {}, "geometry": doc}]

    records = []
    geoms = []
    for feature in features:
        records.append(feature.get("properties") or {})
        geometry = feature.get("geometry")
        try:
            geoms.append(shapely.geometry.shape(geometry) if geometry else None)
        except (ValueError, TypeError, AttributeError, KeyError, IndexError):
            geoms.append(None)
    crs = _geojson_crs(doc)
    return gpd.GeoDataFrame(pd.DataFrame(records), geometry=geoms, crs=crs)


def _geojson_crs(doc: dict[str, object]) -> str | None:
    named = doc.get("crs")
    if isinstance(named, dict):
        name = (named.get("properties") or {}).get("name", "")
        if isinstance(name, str) and name:
            return name
    return None


def shapefile_encoding(path: Path) -> str:
    """Attribute encoding of a Shapefile: from its .cpg, else detected."""
    cpg = path.with_suffix(".cpg")
    if not cpg.exists():
        cpg = path.with_suffix(".CPG")
    if cpg.exists():
        declared = cpg.read_text(errors="ignore").strip()
        if declared:
            return _normalise_codepage(declared)
    dbf = path.with_suffix(".dbf")
    if not dbf.exists():
        return "UTF-8"
    raw = dbf.read_bytes()
    header_len = int.from_bytes(raw[8:10], "little") if len(raw) > 10 else 0
    detected = detect_text_encoding(raw[header_len:])
    log.info("Detected %s attribute encoding in %s (no .cpg)", detected, dbf.name)
    return "GB18030" if detected == "gb18030" else "UTF-8"


def _normalise_codepage(declared: str) -> str:
    upper = declared.upper().replace("-", "").replace("_", "")
    if upper in ("936", "CP936", "GBK", "GB2312", "GB18030", "ANSI936"):
        return "GB18030"
    if upper in ("65001", "UTF8"):
        return "UTF-8"
    return declared
