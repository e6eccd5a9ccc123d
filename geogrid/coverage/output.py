"""Write coverage layers to GeoJSON, GeoPackage, CSV or XLSX, parameters included.

Every output says how it was made:

- GeoPackage: one layer per report layer, and a ``parameters`` table
  (name, value) without geometry;
- XLSX: a ``parameters`` sheet first, then one sheet per layer;
- GeoJSON: a top-level ``parameters`` member of each FeatureCollection (a
  foreign member, which GIS software ignores and ``json.load`` reads);
- CSV: ``param_<name>`` columns repeated on every row, so each row still
  says how it was made after filtering, sorting or pasting elsewhere.

GeoJSON and CSV hold one layer per file: with several layers, ``out.csv``
becomes ``out-<layer>.csv`` for each. In CSV and XLSX, points become lon
and lat columns and polygons a centroid and WKT.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from sqlalchemy import Engine

from geogrid import audit
from geogrid.errors import InvalidInput
from geogrid.export import tabular

log = logging.getLogger(__name__)

FORMATS = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GPKG",
    ".csv": "CSV",
    ".xlsx": "XLSX",
}
XLSX_MAX_ROWS = 1_048_575  # one row of the sheet holds the header


def output_paths(path: Path, names: list[str]) -> list[Path]:
    """The files `write_layers` writes for these layers."""
    driver = _driver(path)
    if driver in ("GPKG", "XLSX") or len(names) == 1:
        return [path]
    return [path.with_name(f"{path.stem}-{name}{path.suffix}") for name in names]


def write_layers(
    layers: Mapping[str, gpd.GeoDataFrame], path: Path, parameters: Mapping[str, Any]
) -> list[Path]:
    """Write named layers to `path`, whose extension picks the format.

    Parameters
    ----------
    layers
        Layer name to GeoDataFrame (WGS84).
    path
        ``.geojson`` (or ``.json``), ``.gpkg``, ``.csv`` or ``.xlsx``.
    parameters
        Recorded in the output as the module docstring describes.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    InvalidInput
        When the extension is not one of these, or a layer has more rows
        than an XLSX sheet holds.
    """
    path = Path(path)
    driver = _driver(path)
    names = list(layers)
    paths = output_paths(path, names)
    path.parent.mkdir(parents=True, exist_ok=True)
    for target in paths:
        target.unlink(missing_ok=True)

    if driver == "GPKG":
        _write_gpkg(layers, path, parameters)
    elif driver == "XLSX":
        _write_xlsx(layers, path, parameters)
    else:
        for name, target in zip(names, paths, strict=True):
            if driver == "GeoJSON":
                _write_geojson(layers[name], target, name, parameters)
            else:
                _write_csv(layers[name], target, parameters)
    log.info(
        "Wrote %d coverage layers with %d rows to %d %s files",
        len(names),
        sum(len(g) for g in layers.values()),
        len(paths),
        driver,
    )
    return paths


def record_export(
    engine: Engine,
    paths: list[Path],
    layers: Mapping[str, gpd.GeoDataFrame],
    parameters: Mapping[str, Any],
    *,
    actor: str | None,
) -> None:
    """Write the export of coverage layers to the audit log."""
    with engine.begin() as conn:
        audit.record(
            conn,
            "export",
            actor=actor,
            object_type="coverage",
            object_id=next(iter(layers)) if len(layers) == 1 else "report",
            layers=list(layers),
            files=[p.name for p in paths],
            rows={name: len(gdf) for name, gdf in layers.items()},
            parameters=_jsonable(dict(parameters)),
        )


def parameter_table(parameters: Mapping[str, Any]) -> pd.DataFrame:
    """Parameters as rows of (name, value), values as text."""
    return pd.DataFrame(
        {
            "name": list(parameters),
            "value": [_as_text(v) for v in parameters.values()],
        }
    )


# --- formats ------------------------------------------------------------------------


def _driver(path: Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InvalidInput(
            f"Cannot write a coverage report to {Path(path).name}: the extension "
            f"picks the format and must be one of {', '.join(FORMATS)}; received "
            f"{suffix or 'no extension'}.",
            parameter="path",
            allowed=list(FORMATS),
            received=suffix,
        )
    return FORMATS[suffix]


def _for_ogr(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Columns GDAL can store: no unsigned 64-bit integers, no index."""
    out = gdf.reset_index(drop=True)
    for column in out.columns:
        if out[column].dtype == np.uint64:
            out[column] = out[column].astype(np.int64)
    return out


def _write_gpkg(
    layers: Mapping[str, gpd.GeoDataFrame], path: Path, parameters: Mapping[str, Any]
) -> None:
    pyogrio.write_dataframe(
        parameter_table(parameters), path, layer="parameters", driver="GPKG"
    )
    for name, gdf in layers.items():
        pyogrio.write_dataframe(
            _for_ogr(gdf),
            path,
            layer=name,
            driver="GPKG",
            geometry_type=None if len(gdf) else "Unknown",
        )


def _write_geojson(
    gdf: gpd.GeoDataFrame, path: Path, name: str, parameters: Mapping[str, Any]
) -> None:
    members = json.dumps(
        {"layer": name, "parameters": _jsonable(dict(parameters))}, ensure_ascii=False
    )
    pyogrio.write_dataframe(
        _for_ogr(gdf),
        path,
        driver="GeoJSON",
        geometry_type=None if len(gdf) else "Unknown",
        layer_options={"FOREIGN_MEMBERS_COLLECTION": members},
    )


def _write_csv(
    gdf: gpd.GeoDataFrame, path: Path, parameters: Mapping[str, Any]
) -> None:
    table = tabular(gdf)
    for name, value in parameters.items():
        table[f"param_{name}"] = _as_text(value)
    # BOM so that Excel in China opens it as UTF-8
    table.to_csv(path, index=False, encoding="utf-8-sig")


def _write_xlsx(
    layers: Mapping[str, gpd.GeoDataFrame], path: Path, parameters: Mapping[str, Any]
) -> None:
    for name, gdf in layers.items():
        if len(gdf) > XLSX_MAX_ROWS:
            raise InvalidInput(
                f"Layer {name!r} has {len(gdf):,} rows, more than the "
                f"{XLSX_MAX_ROWS:,} an XLSX sheet holds; write it to .csv or "
                ".gpkg instead, or filter it by grid or branch.",
                parameter="path",
                received=str(len(gdf)),
            )
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        parameter_table(parameters).to_excel(
            writer, sheet_name="parameters", index=False
        )
        for name, gdf in layers.items():
            table = tabular(gdf)
            for column in table.columns:
                if isinstance(table[column].dtype, pd.DatetimeTZDtype):
                    table[column] = table[column].dt.tz_localize(None)
            table.to_excel(writer, sheet_name=name[:31], index=False)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _jsonable(record: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(record, default=str))
