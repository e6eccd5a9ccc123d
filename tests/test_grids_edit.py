"""Editing grids on the demo county: previews, commits, conflicts, rollback, checks."""

from __future__ import annotations

import pytest
import shapely
from sqlalchemy import Engine, text

from geogrid.errors import Conflict, InvalidInput, InvariantViolation
from geogrid.grids.check import check_grids
from geogrid.grids.edit import (
    commit_edit,
    history,
    preview_move_villages,
    preview_replace_polygon,
    preview_rollback,
)
from geogrid.grids.fixed import add_liaison, grid_profile, set_post, set_target


def _border_village(engine: Engine) -> tuple[str, str, str]:
    """(village code, its grid, a neighbouring grid of the same branch)."""
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
                WHERE (SELECT count(*) FROM grid_village x
                       WHERE x.grid_id = g1.id) > 1
                  AND EXISTS (SELECT 1 FROM household h
                              WHERE h.village_code = v.code)
                ORDER BY v.code LIMIT 1
                """
            )
        ).one()
    return row[0], row[1], row[2]


def _grid_of_households(engine: Engine, village: str) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                text(
                    "SELECT DISTINCT g.code FROM household h JOIN grid g "
                    "ON g.id = h.grid_id WHERE h.village_code = :v"
                ),
                {"v": village},
            ).scalars()
        )


def _shape(engine: Engine, grid: str) -> shapely.Geometry:
    """A grid's stored shape."""
    with engine.connect() as conn:
        wkb = conn.execute(
            text("SELECT ST_AsBinary(geom) FROM grid WHERE code = :g"), {"g": grid}
        ).scalar_one()
    return shapely.from_wkb(bytes(wkb))


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def test_moving_a_village_previews_then_commits(demo_engine: Engine) -> None:
    village, source, target = _border_village(demo_engine)
    in_village = _count(
        demo_engine, f"SELECT count(*) FROM household WHERE village_code = '{village}'"
    )

    preview = preview_move_villages(demo_engine, [village], target)

    summary = preview.move_summary()
    assert summary[["from", "to"]].values.tolist() == [[source, target]]
    assert summary["households"].sum() == in_village
    load = preview.workload.set_index("grid")
    assert load.loc[source, "households_after"] == (
        load.loc[source, "households_before"] - in_village
    )
    assert load.loc[target, "households_after"] == (
        load.loc[target, "households_before"] + in_village
    )
    assert set(preview.posts["grid"]) <= {source, target}
    assert _grid_of_households(demo_engine, village) == {source}  # nothing yet

    changeset = commit_edit(demo_engine, preview, actor="ho_01", reason="test move")

    assert _grid_of_households(demo_engine, village) == {target}
    versions = history(demo_engine, target)
    assert versions.iloc[0][["version", "operation", "changed_by"]].tolist() == [
        2,
        "move_villages",
        "ho_01",
    ]
    assert versions.iloc[0]["changeset"] == changeset
    problems = check_grids(demo_engine)
    assert not problems["rule"].str.startswith(("tiling", "household")).any()
    with demo_engine.connect() as conn:
        detail = conn.execute(
            text("SELECT detail FROM audit_log WHERE action = 'grid_edit'")
        ).scalar_one()
    assert detail["reason"] == "test move" and detail["villages"] == [village]


def test_a_stale_preview_is_refused(demo_engine: Engine) -> None:
    village, _, target = _border_village(demo_engine)
    first = preview_move_villages(demo_engine, [village], target)
    second = preview_move_villages(demo_engine, [village], target)
    commit_edit(demo_engine, first, actor="ho_01", reason="first")
    with pytest.raises(Conflict, match=r"was changed by ho_01.*Preview the edit again"):
        commit_edit(demo_engine, second, actor="ho_02", reason="second")


def test_rollback_restores_shapes_and_households(demo_engine: Engine) -> None:
    village, source, target = _border_village(demo_engine)
    original = _shape(demo_engine, target)
    commit_edit(
        demo_engine,
        preview_move_villages(demo_engine, [village], target),
        actor="ho_01",
        reason="move",
    )

    back = preview_rollback(demo_engine, target, 1)
    commit_edit(demo_engine, back, actor="ho_01", reason="undo")

    restored = _shape(demo_engine, target)
    assert restored.symmetric_difference(original).area < 1e-9
    assert _grid_of_households(demo_engine, village) == {source}
    assert history(demo_engine, target)["operation"].tolist()[:2] == [
        "rollback",
        "move_villages",
    ]


def test_drawn_polygon_takes_area_from_neighbours(demo_engine: Engine) -> None:
    village, source, target = _border_village(demo_engine)
    with demo_engine.connect() as conn:
        shape, village_geom = (
            shapely.from_wkb(bytes(w))
            for w in conn.execute(
                text(
                    "SELECT ST_AsBinary(g.geom), ST_AsBinary(v.geom) FROM grid g, "
                    "admin_unit v WHERE g.code = :g AND v.code = :v"
                ),
                {"g": target, "v": village},
            ).one()
        )
    drawn = shapely.union(shape, village_geom)

    preview = preview_replace_polygon(demo_engine, target, drawn)

    assert set(preview.codes[g] for g in preview.changed) == {source, target}
    commit_edit(demo_engine, preview, actor="ho_01", reason="redraw")
    assert _grid_of_households(demo_engine, village) == {target}
    assert check_grids(demo_engine)["rule"].str.startswith("tiling").sum() == 0


def test_shrinking_a_grid_gives_the_gap_or_refuses(demo_engine: Engine) -> None:
    _, _, target = _border_village(demo_engine)
    shape = _shape(demo_engine, target)
    smaller = shape.buffer(-0.003)
    with pytest.raises(InvariantViolation, match=r"m² of the branch in no grid"):
        preview_replace_polygon(demo_engine, target, smaller, gap_policy="refuse")

    preview = preview_replace_polygon(demo_engine, target, smaller)
    assert preview.gap_m2 > 10_000
    assert preview.gap_given_to and preview.target not in preview.gap_given_to
    commit_edit(demo_engine, preview, actor="ho_01", reason="shrink")
    assert check_grids(demo_engine)["rule"].str.startswith("tiling").sum() == 0


def test_cutting_a_hole_says_the_area_would_come_straight_back(
    demo_engine: Engine,
) -> None:
    _, _, target = _border_village(demo_engine)
    shape = shapely.get_geometry(_shape(demo_engine, target), 0)
    inner = shape.centroid.buffer(0.002)  # about 200 m, well inside the grid
    assert shape.contains(inner)
    holed = shapely.Polygon(shape.exterior, [inner.exterior])

    with pytest.raises(InvalidInput) as raised:
        preview_replace_polygon(demo_engine, target, holed)
    message = str(raised.value)
    # names the grid and the area, and says what to do instead
    assert f"taken out of {target} touches no other grid" in message
    assert "reshape the neighbour" in message

    with pytest.raises(InvalidInput, match=f"{target} already has this shape"):
        preview_replace_polygon(demo_engine, target, shape)


def test_self_crossing_drawing_is_repaired_with_a_warning(demo_engine: Engine) -> None:
    _, _, target = _border_village(demo_engine)
    shape = _shape(demo_engine, target)
    minx, miny, maxx, maxy = shape.bounds
    bowtie = shapely.Polygon([(minx, miny), (maxx, maxy), (maxx, miny), (minx, maxy)])
    preview = preview_replace_polygon(demo_engine, target, bowtie)
    assert any("repaired" in w for w in preview.warnings)


def test_edits_outside_the_rules_are_explained(demo_engine: Engine) -> None:
    _, _, target = _border_village(demo_engine)
    with pytest.raises(InvalidInput, match="needs a reason"):
        commit_edit(
            demo_engine,
            preview_move_villages(
                demo_engine, [_border_village(demo_engine)[0]], target
            ),
            actor="x",
            reason=" ",
        )
    with pytest.raises(InvalidInput, match="must be a Polygon"):
        preview_replace_polygon(demo_engine, target, shapely.Point(121.2, 28.5))
    with pytest.raises(Exception, match="not in the store"):
        preview_move_villages(demo_engine, ["331099999999"], target)


def test_check_finds_broken_grids_built_on_purpose(demo_engine: Engine) -> None:
    _, source, target = _border_village(demo_engine)
    with demo_engine.begin() as conn:
        # overlap: grow one grid into its neighbour without shrinking the neighbour
        conn.execute(
            text(
                "UPDATE grid SET geom = ST_Multi(ST_Buffer(geom, 0.002)) "
                "WHERE code = :g"
            ),
            {"g": target},
        )
        # gap: a hole punched in another grid
        conn.execute(
            text(
                "UPDATE grid SET geom = ST_Multi(ST_Difference(geom, "
                "ST_Buffer(ST_PointOnSurface(geom), 0.002))) WHERE code = :g"
            ),
            {"g": source},
        )
        conn.execute(
            text(
                "INSERT INTO household (household_no, geom) VALUES "
                "('LOST-1', ST_SetSRID(ST_MakePoint(100, 30), 4326))"
            )
        )

    problems = check_grids(demo_engine)

    rules = set(problems["rule"])
    assert {"tiling overlap", "tiling gap", "household in no grid"} <= rules
    overlap = problems[problems["rule"] == "tiling overlap"]
    assert overlap["grid"].str.contains(target).any()


def test_four_fixed_checks_and_edits(demo_engine: Engine) -> None:
    problems = check_grids(demo_engine)
    one_liaison = problems[problems["rule"] == "fewer than two liaison officers"]
    no_targets = problems[problems["rule"].str.startswith("no targets")]
    assert len(one_liaison) == 2 and len(no_targets) == 1

    grid = one_liaison["grid"].iloc[0]
    add_liaison(
        demo_engine,
        grid,
        name="王建国",
        kind="village_cadre",
        phone="13900001111",
        actor="ho_01",
    )
    missing = no_targets["grid"].iloc[0]
    year = int(no_targets["rule"].iloc[0].split()[-1])
    for metric in ("deposits", "loans", "mobile_banking", "pos", "payments"):
        set_target(demo_engine, missing, year, metric, 100.0, actor="ho_01")

    after = check_grids(demo_engine)
    assert grid not in set(after.loc[after["rule"].str.contains("liaison"), "grid"])
    assert missing not in set(after.loc[after["rule"].str.contains("target"), "grid"])

    profile = grid_profile(demo_engine, missing)
    assert [t["metric"] for t in profile["targets"]] == sorted(
        ["deposits", "loans", "mobile_banking", "pos", "payments"]
    )
    assert profile["current"]["households"] > 0
    assert 0 <= profile["current"]["penetration"] <= 1
    assert profile["posts"][0]["post"] == "A"

    with pytest.raises(InvalidInput, match="held by account managers"):
        set_post(demo_engine, missing, "B", "planner_01", actor="ho_01")
    with pytest.raises(InvalidInput, match="metric must be one of"):
        set_target(demo_engine, missing, year, "bananas", 1.0, actor="ho_01")
