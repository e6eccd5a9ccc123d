"""Load a generated demo county into the store, replacing what it held."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, Engine, text
from werkzeug.security import generate_password_hash

from geogrid.demo.generate import DemoCounty, generate_county, write_boundaries
from geogrid.demo.geography import COUNTY_PREFIX
from geogrid.errors import InvalidInput
from geogrid.store.bulk import copy_frame, ewkb_hex, pg_text_array
from geogrid.store.summary import SUMMARY_COLUMNS, summary_frame

log = logging.getLogger(__name__)

DEMO_PASSWORD = "geogrid-demo"

# every table the demo fills, children first
TABLES = (
    "audit_log",
    "import_reject",
    "visit",
    "task",
    "person",
    "household",
    "grid_target",
    "liaison_officer",
    "grid_post",
    "grid_village",
    "grid_version",
    "grid",
    "staff",
    "branch",
    "road",
    "gazetteer_place",
    "geocode_correction",
    "admin_unit",
    "import_batch",
)

Progress = Callable[[str, float], None]


def bank_data(engine: Engine) -> str | None:
    """What the store holds besides the demo county, in words; None if nothing.

    Administrative units outside the demo county's code, and import batches
    (the demo loads none), are the bank's own.
    """
    with engine.connect() as conn:
        units, batches = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM admin_unit WHERE code NOT LIKE :prefix),"
                " (SELECT count(*) FROM import_batch)"
            ),
            {"prefix": COUNTY_PREFIX + "%"},
        ).one()
    found = []
    if units:
        found.append(f"{units:,} administrative units outside the demo county")
    if batches:
        found.append(f"{batches:,} import batches")
    return " and ".join(found) or None


def build_demo(
    engine: Engine,
    *,
    households: int = 150_000,
    seed: int = 7,
    boundaries_dir: Path | None = Path("data/boundaries"),
    progress: Progress | None = None,
    replace: bool = False,
) -> dict[str, Any]:
    """Generate the demo county, write its boundary files and load the store.

    The demo replaces everything in the store. When the store holds the
    bank's own data (`bank_data`), it is refused unless ``replace`` is True.

    Returns a summary of what was loaded (counts per table and timings).
    """
    found = None if replace else bank_data(engine)
    if found:
        raise InvalidInput(
            f"The store holds the bank's own data ({found}); the demo county "
            "would replace all of it. Build the demo in another database "
            "(GEOGRID_DATABASE_URL or GEOGRID_DATA_DIR), or pass --replace "
            "(replace=True) to delete that data.",
            parameter="replace",
        )
    step = progress or (lambda name, done: None)
    started = time.perf_counter()

    step("generating", 0.02)
    county = generate_county(households=households, seed=seed)
    generated_s = time.perf_counter() - started
    if boundaries_dir is not None:
        step("writing boundary files", 0.3)
        write_boundaries(county, Path(boundaries_dir))

    step("loading", 0.35)
    with engine.begin() as conn:
        load_county(conn, county, step)
    step("indexing", 0.95)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))

    elapsed_s = time.perf_counter() - started
    summary = {
        "towns": len(county.towns),
        "villages": len(county.villages),
        "branches": len(county.branches),
        "second-level grids": len(county.grids_l2),
        "staff": len(county.staff),
        "households": len(county.households),
        "people": len(county.persons),
        "customers": int((county.persons["status"] == "customer").sum()),
        "visits": len(county.visits),
        "road segments": len(county.roads),
        "demo password": DEMO_PASSWORD,
        "generated in": f"{generated_s:.1f} s",
        "built in": f"{elapsed_s:.1f} s",
    }
    log.info(
        "Built demo county with %d villages, %d households and %d people in %.1f s",
        len(county.villages),
        len(county.households),
        len(county.persons),
        elapsed_s,
    )
    return summary


def load_county(conn: Connection, county: DemoCounty, step: Progress) -> None:
    """Replace the store's contents with the demo county, in one transaction."""
    conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))

    units = pd.concat([county.county, county.towns, county.villages])
    copy_frame(
        conn,
        "admin_unit",
        pd.DataFrame(
            {
                "code": units["code"],
                "name": units["name"],
                "level": units["level"],
                "parent_code": units["parent_code"],
                "kind": units["kind"],
                "geom": ewkb_hex(units.geometry),
            }
        ),
    )
    copy_frame(
        conn,
        "road",
        pd.DataFrame(
            {
                "name": county.roads["name"],
                "kind": county.roads["kind"],
                "speed_kph": county.roads["speed_kph"],
                "geom": ewkb_hex(county.roads.geometry),
            }
        ),
    )
    branch_id = _load_branches(conn, county)
    staff_id = _load_staff(conn, county, branch_id)
    step("loading grids", 0.45)
    grid_id = _load_grids(conn, county, branch_id)
    _load_four_fixed(conn, county, grid_id, staff_id)
    step("loading households", 0.55)
    household_id = _load_households(conn, county, grid_id)
    step("loading people", 0.7)
    _load_people(conn, county, household_id)
    step("loading visits", 0.85)
    _load_visits(conn, county, household_id, staff_id)
    _reset_sequences(conn)


def _load_branches(conn: Connection, county: DemoCounty) -> dict[str, int]:
    branches = county.branches.reset_index(drop=True)
    ids = np.arange(1, len(branches) + 1)
    copy_frame(
        conn,
        "branch",
        pd.DataFrame(
            {
                "id": ids,
                "code": branches["code"],
                "name": branches["name"],
                "address": branches["address"],
                "geom": ewkb_hex(branches.geometry),
            }
        ),
    )
    return dict(zip(branches["code"], ids.tolist(), strict=True))


def _load_staff(
    conn: Connection, county: DemoCounty, branch_id: dict[str, int]
) -> dict[str, int]:
    staff = county.staff.reset_index(drop=True)
    ids = np.arange(1, len(staff) + 1)
    # one hash for the shared demo password: hashing each would take seconds
    password_hash = generate_password_hash(DEMO_PASSWORD)
    copy_frame(
        conn,
        "staff",
        pd.DataFrame(
            {
                "id": ids,
                "username": staff["username"],
                "name": staff["name"],
                "role": staff["role"],
                "branch_id": staff["branch_code"].map(branch_id).astype("Int64"),
                "phone": staff["phone"],
                "password_hash": password_hash,
                "active": True,
            }
        ),
    )
    return dict(zip(staff["username"], ids.tolist(), strict=True))


def _load_grids(
    conn: Connection, county: DemoCounty, branch_id: dict[str, int]
) -> dict[str, int]:
    l1 = county.grids_l1.reset_index(drop=True)
    l2 = county.grids_l2.reset_index(drop=True)
    l1_ids = np.arange(1, len(l1) + 1)
    l2_ids = np.arange(len(l1) + 1, len(l1) + len(l2) + 1)
    grid_id = dict(zip(l1["code"], l1_ids.tolist(), strict=True))
    grid_id.update(zip(l2["code"], l2_ids.tolist(), strict=True))

    grids = pd.DataFrame(
        {
            "id": np.concatenate([l1_ids, l2_ids]),
            "code": pd.concat([l1["code"], l2["code"]], ignore_index=True),
            "name": pd.concat([l1["name"], l2["name"]], ignore_index=True),
            "level": [1] * len(l1) + [2] * len(l2),
            "branch_id": pd.concat([l1["branch_code"], l2["branch_code"]])
            .map(branch_id)
            .to_numpy(),
            "parent_id": pd.array(
                [None] * len(l1) + l2["parent_code"].map(grid_id).tolist(),
                dtype="Int64",
            ),
            "geom": np.concatenate(
                [ewkb_hex(_multi(l1.geometry)), ewkb_hex(_multi(l2.geometry))]
            ),
            "locked": False,
            "version": 1,
            "updated_by": "demo",
        }
    )
    copy_frame(conn, "grid", grids)
    copy_frame(
        conn,
        "grid_version",
        pd.DataFrame(
            {
                "grid_id": grids["id"],
                "version": 1,
                "geom": grids["geom"],
                "operation": "create",
                "reason": "demo county",
                "changed_by": "demo",
            }
        ),
    )
    members = l2[["code", "village_codes"]].explode("village_codes")
    copy_frame(
        conn,
        "grid_village",
        pd.DataFrame(
            {
                "village_code": members["village_codes"],
                "grid_id": members["code"].map(grid_id),
                "locked": False,
            }
        ),
    )
    return grid_id


def _multi(geoms: Any) -> np.ndarray:
    arr = np.array(geoms, dtype=object)
    single = shapely.get_type_id(arr) == 3
    arr[single] = [shapely.MultiPolygon([g]) for g in arr[single]]
    return arr


def _load_four_fixed(
    conn: Connection,
    county: DemoCounty,
    grid_id: dict[str, int],
    staff_id: dict[str, int],
) -> None:
    copy_frame(
        conn,
        "grid_post",
        pd.DataFrame(
            {
                "grid_id": county.posts["grid_code"].map(grid_id),
                "staff_id": county.posts["username"].map(staff_id),
                "post": county.posts["post"],
            }
        ),
    )
    copy_frame(
        conn,
        "liaison_officer",
        pd.DataFrame(
            {
                "grid_id": county.liaison["grid_code"].map(grid_id),
                "name": county.liaison["name"],
                "kind": county.liaison["kind"],
                "phone": county.liaison["phone"],
                "village_code": county.liaison["village_code"],
            }
        ),
    )
    copy_frame(
        conn,
        "grid_target",
        pd.DataFrame(
            {
                "grid_id": county.targets["grid_code"].map(grid_id),
                "year": county.targets["year"],
                "metric": county.targets["metric"],
                "target": county.targets["target"].round(2),
            }
        ),
    )


def _load_households(
    conn: Connection, county: DemoCounty, grid_id: dict[str, int]
) -> pd.Series:
    hh = county.households.reset_index(drop=True)
    ids = pd.Series(np.arange(1, len(hh) + 1), index=hh["household_no"])
    village_grid = (
        county.grids_l2[["code", "village_codes"]]
        .explode("village_codes")
        .set_index("village_codes")["code"]
        .map(grid_id)
    )
    points = shapely.points(hh["lon"].to_numpy(), hh["lat"].to_numpy())
    people = county.persons.reset_index(drop=True)
    figures = summary_frame(people).reindex(hh["household_no"], fill_value=0)
    copy_frame(
        conn,
        "household",
        pd.DataFrame(
            {
                "id": ids.to_numpy(),
                "household_no": hh["household_no"],
                "address": hh["address"],
                "village_code": hh["village_code"],
                "geom": ewkb_hex(points),
                "geocode_level": hh["geocode_level"],
                "grid_id": hh["village_code"].map(village_grid).astype("Int64"),
                "time_window": hh["time_window"],
                **{c: figures[c].to_numpy() for c in SUMMARY_COLUMNS},
            }
        ),
    )
    return ids


def _load_people(conn: Connection, county: DemoCounty, household_id: pd.Series) -> None:
    people = county.persons
    copy_frame(
        conn,
        "person",
        pd.DataFrame(
            {
                "id": np.arange(1, len(people) + 1),
                "household_id": people["household_no"].map(household_id).to_numpy(),
                "name": people["name"],
                "id_number": people["id_number"],
                "phone": people["phone"],
                "gender": people["gender"],
                "birth_date": people["birth_date"],
                "status": people["status"],
                "products": pg_text_array(people["products"]),
                "labels": pg_text_array(people["labels"]),
                "deposit_own": people["deposit_own"].round(2),
                "loan_own": people["loan_own"].round(2),
                "deposit_other": people["deposit_other"].round(2),
                "loan_other": people["loan_other"].round(2),
            }
        ),
    )


def _load_visits(
    conn: Connection,
    county: DemoCounty,
    household_id: pd.Series,
    staff_id: dict[str, int],
) -> None:
    visits = county.visits
    points = shapely.points(visits["lon"].to_numpy(), visits["lat"].to_numpy())
    copy_frame(
        conn,
        "visit",
        pd.DataFrame(
            {
                "household_id": visits["household_no"].map(household_id).to_numpy(),
                "staff_id": visits["username"].map(staff_id).to_numpy(),
                "visited_at": visits["visited_at"],
                "geom": ewkb_hex(points),
                "purpose": visits["purpose"],
                "outcome": visits["outcome"],
            }
        ),
    )


def _reset_sequences(conn: Connection) -> None:
    """Explicit ids were loaded: move each id sequence past the largest id."""
    for table in ("branch", "staff", "grid", "household", "person"):
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            )
        )
