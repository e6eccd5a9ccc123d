"""Preview a village move and a polygon edit on a county of one million households.

Builds the demo county at the given size in a throwaway PostGIS, then times
the previews (everything but the commit) of moving a border village and of
redrawing a grid, and one commit. Compared in the same run with the obvious
alternative for the household part of a preview: recomputing every
household's grid of the branch with a plain PostGIS ``ST_Contains`` join.

    .venv/bin/python -m benchmarks.bench_grid_edit [HOUSEHOLDS]
"""

from __future__ import annotations

import os
import statistics
import sys
import time

import shapely
from sqlalchemy import Engine, text

from benchmarks._db import bench_engine, machine
from geogrid.demo.load import build_demo
from geogrid.grids.edit import (
    commit_edit,
    preview_move_villages,
    preview_replace_polygon,
)


def _border_village(engine: Engine) -> tuple[str, str, str]:
    """A village with households, its grid, and a neighbouring grid."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                """
                SELECT v.code, g1.code, g2.code
                FROM grid_village gv
                JOIN admin_unit v ON v.code = gv.village_code
                JOIN grid g1 ON g1.id = gv.grid_id
                JOIN grid g2 ON g2.level = 2 AND g2.branch_id = g1.branch_id
                     AND g2.id <> g1.id
                     AND ST_Length(ST_Intersection(ST_Boundary(v.geom),
                                                   ST_Boundary(g2.geom))) > 0
                WHERE EXISTS (SELECT 1 FROM household h WHERE h.village_code = v.code)
                ORDER BY (SELECT count(*) FROM grid_village x
                          WHERE x.grid_id = g1.id) DESC, v.code
                LIMIT 1
                """
            )
        ).one()
    return row[0], row[1], row[2]


def main(households: int = 1_000_000, repeats: int = 7) -> None:
    with bench_engine() as engine:
        started = time.perf_counter()
        build_demo(engine, households=households, boundaries_dir=None, replace=True)
        build_s = time.perf_counter() - started
        village, _, target = _border_village(engine)

        move_ms = []
        for _ in range(repeats):
            preview = preview_move_villages(engine, [village], target)
            move_ms.append(preview.elapsed_ms)
        moving = len(preview.moves)

        with engine.connect() as conn:
            shape = shapely.from_wkb(
                bytes(
                    conn.execute(
                        text("SELECT ST_AsBinary(geom) FROM grid WHERE code = :g"),
                        {"g": target},
                    ).scalar_one()
                )
            )
        drawn = shape.buffer(0.002)
        redraw_ms = []
        for _ in range(repeats):
            redraw = preview_replace_polygon(engine, target, drawn)
            redraw_ms.append(redraw.elapsed_ms)

        started = time.perf_counter()
        commit_edit(engine, preview, actor="bench", reason="benchmark")
        commit_ms = (time.perf_counter() - started) * 1000

        with engine.connect() as conn:
            started = time.perf_counter()
            conn.execute(
                text(
                    """
                    SELECT h.id, g.id FROM household h
                    JOIN grid g ON g.level = 2 AND ST_Contains(g.geom, h.geom)
                    WHERE g.branch_id = (SELECT branch_id FROM grid WHERE code = :g)
                    """
                ),
                {"g": target},
            ).all()
            plain_ms = (time.perf_counter() - started) * 1000

    print(f"# grid edit previews, {households:,} households; {machine()}")
    print(
        f"load average at end: {os.getloadavg()[0]:.1f}; demo built in {build_s:.0f} s"
    )
    print("| operation | median ms | max ms |")
    print("|---|---|---|")
    print(
        f"| preview: move village {village} ({moving:,} households) "
        f"| {statistics.median(move_ms):.0f} | {max(move_ms):.0f} |"
    )
    print(
        f"| preview: redraw grid {target} (+200 m) "
        f"| {statistics.median(redraw_ms):.0f} | {max(redraw_ms):.0f} |"
    )
    print(f"| commit of the village move | {commit_ms:.0f} | |")
    print(f"| plain PostGIS: reassign the whole branch | {plain_ms:.0f} | |")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
