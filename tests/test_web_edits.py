"""Grid edits and proposals through the API: preview, save with a reason, history,
rollback, conflicts, and what is written to the audit log."""

from __future__ import annotations

from typing import Any

import shapely
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from web.app import create_app


def _client(engine: Engine, username: str) -> FlaskClient:
    app = create_app({"ENGINE": engine, "TESTING": True, "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    response = client.post(
        "/api/login", json={"username": username, "password": "geogrid-demo"}
    )
    assert response.status_code == 200
    return client


def _neighbour_village(engine: Engine) -> str:
    with engine.connect() as conn:
        code: str = conn.execute(
            text(
                "SELECT v.code FROM admin_unit v JOIN grid_village m "
                "ON m.village_code = v.code JOIN grid g ON g.id = m.grid_id "
                "JOIN grid t ON t.code = 'G01-01' WHERE g.code = 'G01-02' "
                "AND ST_Intersects(v.geom, t.geom) ORDER BY v.code LIMIT 1"
            )
        ).scalar_one()
    return code


def _audit(engine: Engine, action: str) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT actor, object_type, object_id, detail FROM audit_log "
                    "WHERE action = :a ORDER BY id"
                ),
                {"a": action},
            ).all()
        )


def test_a_previewed_move_is_saved_with_its_reason_and_rolled_back(
    demo_engine: Engine,
) -> None:
    client = _client(demo_engine, "bh_b01")
    move = {"operation": "move_villages", "grid": "G01-01"}
    move["villages"] = [_neighbour_village(demo_engine)]  # type: ignore[assignment]

    preview = client.post("/api/edits/preview", json=move).get_json()
    no_reason = client.post(
        "/api/edits/commit",
        json={**move, "reason": " ", "versions": preview["versions"]},
    )
    saved = client.post(
        "/api/edits/commit",
        json={**move, "reason": "road rebuilt", "versions": preview["versions"]},
    ).get_json()
    history = client.get("/api/grids/G01-01/history").get_json()["versions"]

    workload = {w["grid"]: w for w in preview["workload"]}
    moving = preview["households_moving"]
    assert moving > 0 and preview["moves"][0]["from"] == "G01-02"
    assert workload["G01-01"]["households_after"] == (
        workload["G01-01"]["households_before"] + moving
    )
    assert no_reason.status_code == 400
    assert "needs a reason" in no_reason.get_json()["error"]["message"]
    assert saved["households_moved"] == moving
    assert [v["version"] for v in history] == [2, 1]
    assert history[0]["reason"] == "road rebuilt"
    assert history[0]["changed_by"] == "bh_b01"

    rollback = {"operation": "rollback", "grid": "G01-01", "version": 1}
    undo = client.post("/api/edits/preview", json=rollback).get_json()
    client.post(
        "/api/edits/commit",
        json={**rollback, "reason": "undo", "versions": undo["versions"]},
    )
    profile = client.get("/api/grids/G01-01").get_json()
    assert undo["households_moving"] == moving
    assert profile["version"] == 3
    assert profile["current"]["households"] == workload["G01-01"]["households_before"]
    edits = _audit(demo_engine, "grid_edit")
    assert [(e.actor, e.detail["operation"], e.detail["reason"]) for e in edits] == [
        ("bh_b01", "move_villages", "road rebuilt"),
        ("bh_b01", "rollback", "undo"),
    ]


def test_a_save_after_someone_else_saved_is_a_conflict(demo_engine: Engine) -> None:
    head_office = _client(demo_engine, "ho_01")
    branch_head = _client(demo_engine, "bh_b01")
    move = {
        "operation": "move_villages",
        "grid": "G01-01",
        "villages": [_neighbour_village(demo_engine)],
    }
    seen_by_head_office = head_office.post("/api/edits/preview", json=move).get_json()
    seen_by_branch = branch_head.post("/api/edits/preview", json=move).get_json()
    branch_head.post(
        "/api/edits/commit",
        json={**move, "reason": "first", "versions": seen_by_branch["versions"]},
    )

    late = head_office.post(
        "/api/edits/commit",
        json={**move, "reason": "second", "versions": seen_by_head_office["versions"]},
    )

    assert late.status_code == 409
    error = late.get_json()["error"]
    assert error["code"] == "conflict"
    assert "G01-01 is at version 2, you previewed version 1" in error["message"]
    assert "saved by bh_b01" in error["message"]
    assert [e.detail["reason"] for e in _audit(demo_engine, "grid_edit")] == ["first"]


def test_a_redrawn_grid_previews_its_gains_or_refuses_a_gap(
    demo_engine: Engine,
) -> None:
    client = _client(demo_engine, "ho_01")
    shape = client.get("/api/grids/G01-01/shape").get_json()["features"][0]["geometry"]
    grid = shapely.geometry.shape(shape)
    bigger = shapely.geometry.mapping(grid.buffer(0.004).simplify(0.0005))
    smaller = shapely.geometry.mapping(grid.buffer(-0.004).simplify(0.0005))

    grown = client.post(
        "/api/edits/preview",
        json={"operation": "replace_polygon", "grid": "G01-01", "polygon": bigger},
    ).get_json()
    refused = client.post(
        "/api/edits/preview",
        json={
            "operation": "replace_polygon",
            "grid": "G01-01",
            "polygon": smaller,
            "gap_policy": "refuse",
        },
    )

    gains = {w["grid"]: w for w in grown["workload"]}["G01-01"]
    assert gains["households_after"] > gains["households_before"]
    assert "G01-01" in grown["shapes"]
    assert refused.status_code == 422
    assert "in no grid" in refused.get_json()["error"]["message"]


def test_a_proposal_is_shown_beside_today_and_its_download_is_audited(
    demo_engine: Engine,
) -> None:
    client = _client(demo_engine, "planner_01")

    answer = client.get("/api/branches/B03/proposal?k=3&seed=1").get_json()
    download = client.get("/api/branches/B03/proposal.geojson?k=3&seed=1")

    assert len(answer["proposal"]["features"]) == 3
    assert {f["properties"]["grid"] for f in answer["current"]["features"]} == {
        "G03-01",
        "G03-02",
    }
    assert answer["summary"]["current_k"] == 2 and answer["adoptable"] is False
    proposed = sum(
        f["properties"]["households"] for f in answer["proposal"]["features"]
    )
    current = sum(f["properties"]["households"] for f in answer["current"]["features"])
    assert proposed == current
    assert download.headers["Content-Disposition"].endswith('proposal-B03.geojson"')
    assert len(download.get_json()["features"]) == 3
    exports = _audit(demo_engine, "export")
    assert [(e.actor, e.object_type, e.detail["branch"]) for e in exports] == [
        ("planner_01", "grid_proposal", "B03")
    ]


def _grid_versions(engine: Engine, branch: str) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT g.code, g.version FROM grid g JOIN branch b "
                "ON b.id = g.branch_id WHERE b.code = :b AND g.level = 2"
            ),
            {"b": branch},
        ).all()
    return {r[0]: r[1] for r in rows}


def test_head_office_adopts_a_proposal_as_new_grid_versions(
    demo_engine: Engine,
) -> None:
    client = _client(demo_engine, "ho_01")
    before = _grid_versions(demo_engine, "B02")
    proposal = client.get("/api/branches/B02/proposal?seed=3").get_json()
    assert proposal["adoptable"] is True
    assert proposal["versions"] == before

    done = client.post(
        "/api/branches/B02/proposal/adopt",
        json={"seed": 3, "reason": "balance B02", "versions": proposal["versions"]},
    )
    assert done.status_code == 200, done.get_json()
    result = done.get_json()

    # every grid of the branch has a new version with the proposal's shape
    after = _grid_versions(demo_engine, "B02")
    assert after == {code: v + 1 for code, v in before.items()}
    with demo_engine.connect() as conn:
        for feature in proposal["proposal"]["features"]:
            stored = conn.execute(
                text("SELECT ST_AsBinary(geom) FROM grid WHERE code = :c"),
                {"c": feature["properties"]["grid"]},
            ).scalar_one()
            shape = shapely.from_wkb(bytes(stored))
            drawn = shapely.geometry.shape(feature["geometry"])
            assert shape.symmetric_difference(drawn).area < 1e-4 * shape.area
        # households follow their new grids: each in the grid that covers it
        wrong = conn.execute(
            text(
                "SELECT count(*) FROM household h JOIN grid g ON g.id = h.grid_id "
                "JOIN branch b ON b.id = g.branch_id WHERE b.code = 'B02' "
                "AND NOT ST_Covers(g.geom, h.geom)"
            )
        ).scalar_one()
        reasons = conn.execute(
            text(
                "SELECT DISTINCT v.reason, v.operation FROM grid_version v "
                "JOIN grid g ON g.id = v.grid_id AND v.version = g.version "
                "JOIN branch b ON b.id = g.branch_id WHERE b.code = 'B02' "
                "AND g.level = 2"
            )
        ).all()
    assert wrong == 0
    assert [tuple(r) for r in reasons] == [("balance B02", "adopt_proposal")]
    entries = [e for e in _audit(demo_engine, "grid_edit") if e.object_id == "B02"]
    assert entries[-1].actor == "ho_01"
    assert entries[-1].detail["households_moved"] == result["households_moved"]
    # the map's grid layer shows the new shapes straight away (caches cleared)
    assert (
        client.get("/api/grids/" + next(iter(after)) + "/history").get_json()[
            "versions"
        ][0]["version"]
        == after[next(iter(after))]
    )


def test_adopting_refuses_stale_versions_other_k_and_other_roles(
    demo_engine: Engine,
) -> None:
    client = _client(demo_engine, "ho_01")
    versions = _grid_versions(demo_engine, "B01")
    stale = {**versions, next(iter(versions)): 0}
    conflict = client.post(
        "/api/branches/B01/proposal/adopt",
        json={"reason": "x", "versions": stale},
    )
    assert conflict.status_code == 409
    assert "Generate the proposal again" in conflict.get_json()["error"]["message"]

    other_k = len(versions) + 1
    proposal = client.get(f"/api/branches/B01/proposal?k={other_k}").get_json()
    assert proposal["adoptable"] is False and proposal["may_adopt"] is True
    refused = client.post(
        "/api/branches/B01/proposal/adopt",
        json={"k": other_k, "reason": "x", "versions": versions},
    )
    assert refused.status_code == 400
    assert "same number of grids" in refused.get_json()["error"]["message"]

    no_reason = client.post(
        "/api/branches/B01/proposal/adopt", json={"reason": " ", "versions": versions}
    )
    assert no_reason.status_code == 400

    planner = _client(demo_engine, "planner_01")
    assert planner.get("/api/branches/B01/proposal").get_json()["adoptable"] is False
    assert (
        planner.post(
            "/api/branches/B01/proposal/adopt",
            json={"reason": "x", "versions": versions},
        ).status_code
        == 403
    )
    # nothing changed through any of this
    assert _grid_versions(demo_engine, "B01") == versions
