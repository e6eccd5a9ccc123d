"""Grids in and out: import grids drawn elsewhere, export them with the four fixed."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import Connection, Engine, text

from geogrid import audit
from geogrid.crs import convert_gdf, parse_crs
from geogrid.errors import InvalidInput, InvariantViolation
from geogrid.export import write_frame
from geogrid.grids.assign import reassign_households
from geogrid.grids.edit import load_branch
from geogrid.grids.shapes import as_multipolygon, tiling_problems
from geogrid.ingest.columns import map_columns
from geogrid.ingest.readers import read_gis_file
from geogrid.store.models import TARGET_METRICS

log = logging.getLogger(__name__)

GRID_ALIASES = {
    "code": ("网格编号", "网格代码", "grid_code", "grid"),
    "name": ("网格名称", "名称", "grid_name"),
    "level": ("层级", "级别", "grid_level"),
    "branch": ("支行", "支行代码", "branch_code"),
    "parent": ("上级网格", "parent_code", "parent_grid"),
}


def import_grids(
    engine: Engine, path: Path, *, crs: str, actor: str, reason: str
) -> dict[str, int]:
    """Import first- and second-level grids; all or nothing.

    Each feature needs a code, a name, a level (1 or 2) and a branch code;
    level-2 grids also name their parent. Polygons are repaired; level-2
    grids are clipped to their parent. After import the tiling of every
    branch touched is checked: a gap or overlap refuses the whole file.
    """
    source_crs = parse_crs(crs)
    gdf = read_gis_file(path)
    mapping = map_columns(gdf.columns, GRID_ALIASES)
    missing = [c for c in ("code", "name", "level", "branch") if c not in mapping]
    if missing:
        raise InvalidInput(
            f"{Path(path).name} lacks grid columns {', '.join(missing)} (or 网格编号, "
            f"网格名称, 层级, 支行); its columns are "
            f"{', '.join(map(str, gdf.columns.drop('geometry')))}."
        )
    frame = gpd.GeoDataFrame(
        {k: gdf[v].astype(str).str.strip() for k, v in mapping.items()},
        geometry=gdf.geometry.to_numpy(),
    )
    if "parent" not in frame:
        frame["parent"] = ""
    if frame.crs is not None and frame.crs.is_projected:
        frame = frame.to_crs(4326).set_crs(None, allow_override=True)
    elif source_crs != "wgs84":
        frame = convert_gdf(
            frame.set_crs(None, allow_override=True), source_crs, "wgs84"
        )

    problems = _feature_problems(frame)
    if problems:
        raise InvalidInput(
            f"{Path(path).name}: "
            + "; ".join(problems[:10])
            + (f" (and {len(problems) - 10} more)" if len(problems) > 10 else "")
            + ". Fix these features and import again; nothing was stored."
        )

    with engine.begin() as conn:
        branches: dict[str, int] = {
            str(code): int(bid)
            for code, bid in conn.execute(text("SELECT code, id FROM branch")).all()
        }
        unknown = sorted(set(frame["branch"]) - set(branches))
        if unknown:
            raise InvalidInput(
                f"{Path(path).name}: branches {', '.join(unknown)} are not in the "
                "store; create them first."
            )
        written = 0
        for level in (1, 2):
            for record in frame[frame["level"] == str(level)].to_dict("records"):
                written += _upsert_grid(conn, record, level, branches, actor, reason)
        touched = {branches[b] for b in frame["branch"]}
        for branch_id in touched:
            branch = load_branch(conn, branch_id)
            found = tiling_problems(branch.shapes, branch.parent)
            if found:
                worst = max(found, key=lambda p: p.area_m2)
                raise InvariantViolation(
                    f"{Path(path).name}: after import the second-level grids of "
                    f"branch {branch_id} would leave a {worst.kind} of "
                    f"{worst.area_m2:,.0f} m²; nothing was stored.",
                    problems=[(p.kind, round(p.area_m2, 1)) for p in found],
                )
        moved = 0
        for branch_id in touched:
            moved += reassign_households(conn, branch_id=branch_id)
        audit.record(
            conn,
            "import_grids",
            actor=actor,
            object_type="file",
            object_id=Path(path).name,
            grids=written,
            households_moved=moved,
            reason=reason,
        )
    return {"grids": written, "households_moved": moved}


def _feature_problems(frame: gpd.GeoDataFrame) -> list[str]:
    problems = []
    for i, row in enumerate(frame.itertuples(), start=1):
        geom = row.geometry
        if geom is None or geom.is_empty:
            problems.append(f"feature {i} ({row.code}) has no geometry")
        elif geom.geom_type not in ("Polygon", "MultiPolygon"):
            problems.append(f"feature {i} ({row.code}) is a {geom.geom_type}")
        if row.level not in ("1", "2"):
            problems.append(f"feature {i} ({row.code}) level must be 1 or 2")
        if row.level == "2" and not row.parent:
            problems.append(f"feature {i} ({row.code}) is level 2 without a parent")
    dup = frame["code"][frame["code"].duplicated()]
    problems += [f"code {c} appears twice" for c in dup.unique()]
    return problems


def _upsert_grid(
    conn: Connection,
    row: dict[str, Any],
    level: int,
    branches: dict[str, int],
    actor: str,
    reason: str,
) -> int:
    geom = as_multipolygon(shapely.make_valid(row["geometry"]))
    parent_id = None
    if level == 2:
        parent = conn.execute(
            text(
                "SELECT id, ST_AsBinary(geom) FROM grid WHERE code = :c AND level = 1"
            ),
            {"c": row["parent"]},
        ).first()
        if parent is None:
            raise InvalidInput(
                f"Grid {row['code']}: parent {row['parent']} is not a first-level grid."
            )
        parent_id = parent[0]
        geom = as_multipolygon(geom.intersection(shapely.from_wkb(bytes(parent[1]))))
    params = {
        "code": row["code"],
        "name": row["name"],
        "level": level,
        "branch": branches[row["branch"]],
        "parent": parent_id,
        "geom": shapely.to_wkb(geom),
        "actor": actor,
    }
    gid = conn.execute(
        text(
            """
            INSERT INTO grid (code, name, level, branch_id, parent_id, geom, locked,
                              version, updated_by)
            VALUES (:code, :name, :level, :branch, :parent,
                    ST_Multi(ST_GeomFromWKB(:geom, 4326)), false, 1, :actor)
            ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name,
                level = EXCLUDED.level, branch_id = EXCLUDED.branch_id,
                parent_id = EXCLUDED.parent_id, geom = EXCLUDED.geom,
                version = grid.version + 1, updated_by = EXCLUDED.updated_by,
                updated_at = now()
            RETURNING id
            """
        ),
        params,
    ).scalar_one()
    conn.execute(
        text(
            "INSERT INTO grid_version (grid_id, version, geom, operation, reason, "
            "changed_by) SELECT id, version, geom, 'import', :r, :a FROM grid "
            "WHERE id = :id"
        ),
        {"r": reason, "a": actor, "id": gid},
    )
    return 1


def grids_frame(engine: Engine, year: int | None = None) -> gpd.GeoDataFrame:
    """Every grid with its posts, liaison officers, targets and household count."""
    year = year or dt.date.today().year
    with engine.connect() as conn:
        gdf = gpd.read_postgis(
            text(
                """
                SELECT g.code, g.name, g.level, b.code AS branch, p.code AS parent,
                       g.version,
                       (SELECT s.name FROM grid_post gp
                        JOIN staff s ON s.id = gp.staff_id
                        WHERE gp.grid_id = g.id AND gp.post = 'A') AS post_a,
                       (SELECT s.name FROM grid_post gp
                        JOIN staff s ON s.id = gp.staff_id
                        WHERE gp.grid_id = g.id AND gp.post = 'B') AS post_b,
                       (SELECT count(*) FROM liaison_officer l
                        WHERE l.grid_id = g.id) AS liaison_n,
                       (SELECT string_agg(l.name, '、' ORDER BY l.id)
                        FROM liaison_officer l WHERE l.grid_id = g.id) AS liaison,
                       (SELECT count(*) FROM household h
                        WHERE h.grid_id = g.id) AS households,
                       g.geom
                FROM grid g JOIN branch b ON b.id = g.branch_id
                LEFT JOIN grid p ON p.id = g.parent_id
                ORDER BY g.level, g.code
                """
            ),
            conn,
            geom_col="geom",
        )
        targets = pd.read_sql(
            text(
                "SELECT g.code, t.metric, t.target FROM grid_target t "
                "JOIN grid g ON g.id = t.grid_id WHERE t.year = :y"
            ),
            conn,
            params={"y": year},
        )
    wide = targets.pivot_table(index="code", columns="metric", values="target")
    wide = wide.reindex(columns=list(TARGET_METRICS)).add_prefix("t_")
    gdf = gdf.merge(wide, left_on="code", right_index=True, how="left")
    return gdf.rename_geometry("geometry").set_crs(4326, allow_override=True)


def export_grids(
    engine: Engine, path: Path, *, crs: str = "wgs84", actor: str | None = None
) -> int:
    """Write grids with the four fixed to GeoJSON, GeoPackage, Shapefile or XLSX."""
    path = Path(path)
    target = parse_crs(crs)
    gdf = grids_frame(engine)
    if target != "wgs84":
        gdf = convert_gdf(gdf, "wgs84", target)
    if path.suffix.lower() == ".xlsx":
        _write_workbook(engine, gdf, path)
    else:
        write_frame(gdf, path)
    with engine.begin() as conn:
        audit.record(
            conn,
            "export",
            actor=actor,
            object_type="layer",
            object_id="grids",
            file=path.name,
            rows=len(gdf),
            crs=target,
        )
    return len(gdf)


def _write_workbook(engine: Engine, gdf: gpd.GeoDataFrame, path: Path) -> None:
    with engine.connect() as conn:
        posts = pd.read_sql(
            text(
                "SELECT g.code AS grid, p.post, s.username, s.name FROM grid_post p "
                "JOIN grid g ON g.id = p.grid_id JOIN staff s ON s.id = p.staff_id "
                "ORDER BY g.code, p.post"
            ),
            conn,
        )
        liaison = pd.read_sql(
            text(
                "SELECT g.code AS grid, l.name, l.kind, l.phone, l.village_code "
                "FROM liaison_officer l JOIN grid g ON g.id = l.grid_id "
                "ORDER BY g.code, l.id"
            ),
            conn,
        )
        targets = pd.read_sql(
            text(
                "SELECT g.code AS grid, t.year, t.metric, t.target FROM grid_target t "
                "JOIN grid g ON g.id = t.grid_id ORDER BY g.code, t.year, t.metric"
            ),
            conn,
        )
    table = pd.DataFrame(gdf.drop(columns="geometry"))
    table["area_km2"] = gdf.to_crs(gdf.estimate_utm_crs()).area.div(1e6).round(3)
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        table.to_excel(writer, sheet_name="grids", index=False)
        posts.to_excel(writer, sheet_name="posts", index=False)
        liaison.to_excel(writer, sheet_name="liaison", index=False)
        targets.to_excel(writer, sheet_name="targets", index=False)
