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
