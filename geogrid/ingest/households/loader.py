"""Storing validated households and people in the import's transaction.

`Loader` finds which households and people of the file the store holds,
copies new rows straight into their tables by binary COPY on a second thread
(`geogrid.store.bulk.CopyThread`) with ids reserved up front, stages stored
rows for one set-based UPDATE per table, drops and rebuilds indexes on a
first load, and keeps the household summary true.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, text

from geogrid.ingest.households.cells import Lists
from geogrid.ingest.households.copy_rows import Figures, household_rows, person_rows
from geogrid.ingest.households.keys import FileKeys, id_keys, isin
from geogrid.ingest.households.source import AMOUNTS
from geogrid.ingest.households.validation import Chunk
from geogrid.store.bulk import (
    BinaryRows,
    CopyThread,
    copy_binary,
    drop_indexes_for_load,
    query_arrow,
    reserve_ids,
)
from geogrid.store.summary import refresh_household_summary

log = logging.getLogger(__name__)

_HOUSEHOLD_STAGE = (
    "household_no, address, village_code, geom, geocode_level, time_window"
)
_PERSON_STAGE = (
    "household_id, name, id_number, phone, gender, birth_date, status, products, "
    "labels, deposit_own, loan_own, deposit_other, loan_other"
)


class Loader:
    """Stores validated chunks in the open transaction.

    New households and people are copied straight into their tables, with
    ids taken from ranges reserved on their sequences; rows already stored are
    staged and updated at the end in one statement per table. Both tables are
    locked against other writers (SHARE ROW EXCLUSIVE) for the whole import,
    so what was found in the store stays true until the commit.

    A table that gains at least as many rows as it holds, and at least
    ``rebuild_min_rows`` (the import passes
    `geogrid.ingest.households.REBUILD_MIN_ROWS`), has its indexes and keys
    dropped for the load and rebuilt by `finish` (see
    `geogrid.store.bulk.drop_indexes_for_load`); it is then locked against
    readers too until the commit.
    """

    def __init__(
        self,
        conn: Connection,
        batch_id: int,
        columns: set[str],
        keys: FileKeys,
        *,
        rebuild_min_rows: int,
    ) -> None:
        self.conn = conn
        self.batch_id = batch_id
        self.columns = columns
        self.keys = keys
        conn.execute(text("LOCK TABLE household, person IN SHARE ROW EXCLUSIVE MODE"))

        # households: stored id of each household number in the file, or -1
        hh_ids, hh_stored = _stored_households(conn, keys.household_nos)
        self.household_id = hh_ids
        self.household_new = hh_ids < 0
        n_new_households = int(self.household_new.sum())

        # people: whether each row's ID number is stored
        person_keys, p_stored = _stored_people(conn, keys)
        self.person_stored = isin(keys.id_key, person_keys) & (keys.id_key >= 0)
        new = (keys.id_key >= 0) & ~self.person_stored & (keys.duplicate_of < 0)
        n_new_people = int(new.sum())

        self.next_household_id = reserve_ids(conn, "household", n_new_households)
        self.next_person_id = reserve_ids(conn, "person", n_new_people)
        self.rebuild: list[str] = []
        for table, n_new, stored in (
            ("household", n_new_households, hh_stored),
            ("person", n_new_people, p_stored),
        ):
            if stored is not None and n_new >= max(stored, rebuild_min_rows):
                self.rebuild += drop_indexes_for_load(conn, table)

        self.staged = (
            bool((~self.household_new).any()),
            bool(self.person_stored.any()),
        )
        if self.staged[0]:
            conn.execute(
                text(
                    f"CREATE TEMP TABLE _hh_stage ON COMMIT DROP AS SELECT "
                    f"{_HOUSEHOLD_STAGE} FROM household WITH NO DATA"
                )
            )
        if self.staged[1]:
            conn.execute(
                text(
                    f"CREATE TEMP TABLE _person_stage ON COMMIT DROP AS SELECT "
                    f"{_PERSON_STAGE} FROM person WITH NO DATA"
                )
            )
        self.new_households = np.zeros(len(keys.household_nos), dtype=bool)
        self.new_people = 0
        # new households wait for the figures of all their people (the
        # household summary) and are copied by `finish`; person has no
        # foreign key to household, so their people can go first
        self.figures = Figures(len(keys.household_nos))
        self.waiting: list[tuple[BinaryRows, np.ndarray]] = []  # rows, codes
        # stored households that gain new people: refreshed by `finish`
        self.gaining: list[np.ndarray] = []
        self.kept: list[tuple[np.ndarray, np.ndarray]] = []  # stored people: key, hh
        self.writer = CopyThread(conn)

    def send(self, chunk: Chunk, products: Lists, labels: Lists) -> None:
        """Queue the chunk's valid rows for COPY."""
        codes = chunk.household_code
        self.figures.add(chunk, products)
        first = chunk.ok & chunk.first_of_household
        new_hh = first & self.household_new[codes]
        count = int(new_hh.sum())
        if count:
            ids = np.arange(self.next_household_id, self.next_household_id + count)
            self.next_household_id += count
            self.household_id[codes[new_hh]] = ids
            self.new_households[codes[new_hh]] = True
            self.waiting.append(
                (household_rows(chunk, new_hh, ids, self.batch_id), codes[new_hh])
            )
        stored_hh = first & ~self.household_new[codes]
        if stored_hh.any():
            self.writer.put("_hh_stage", household_rows(chunk, stored_hh, None, None))

        in_store = self.person_stored[chunk.start : chunk.start + len(codes)]
        new_p = chunk.ok & ~in_store
        count = int(new_p.sum())
        hh_ids = self.household_id[codes]
        if count:
            ids = np.arange(self.next_person_id, self.next_person_id + count)
            self.next_person_id += count
            self.new_people += count
            rows = person_rows(
                chunk, new_p, hh_ids, products.fields, labels.fields, ids, self.batch_id
            )
            self.writer.put("person", rows)
            self.gaining.append(hh_ids[new_p & ~self.household_new[codes]])
        old_p = chunk.ok & in_store
        if old_p.any():
            rows = person_rows(
                chunk, old_p, hh_ids, products.fields, labels.fields, None, None
            )
            self.writer.put("_person_stage", rows)
            self.kept.append((chunk.id_key[old_p], codes[old_p]))

    def finish(self) -> tuple[int, int]:
        """Update stored rows, rebuild dropped indexes; return (stored, valid) rows.

        The household summary (`geogrid.store.summary`) is written with new
        households and refreshed for stored households whose people changed.
        """
        for rows, codes in self.waiting:
            self.figures.write(rows, codes)
            self.writer.put("household", rows)
        self.waiting.clear()
        self.writer.close()
        changed_households = self.new_households.copy()
        changed_people: np.ndarray = np.zeros(0, dtype=np.int64)
        refresh = self.gaining
        if self.staged[0]:
            numbers = self._update_households()
            changed = pc.is_in(self.keys.household_nos, value_set=numbers)
            changed_households |= changed.to_numpy(False)
        if self.staged[1]:
            changed_people, moved = self._update_people()
            refresh.append(moved)
        for statement in self.rebuild:
            started = time.perf_counter()
            self.conn.execute(text(statement))
            log.debug("%s: %.2f s", statement, time.perf_counter() - started)
        touched = np.unique(np.concatenate([np.zeros(0, np.int64), *refresh]))
        if len(touched):
            refresh_household_summary(self.conn, touched.tolist())

        stored = self.new_people
        kept = 0
        for key, household in self.kept:
            kept += len(key)
            stored += int(
                (isin(key, changed_people) | changed_households[household]).sum()
            )
        return stored, self.new_people + kept

    def stop(self) -> None:
        """End the COPY thread (after a failure; a no-op once finished)."""
        self.writer.stop()

    def _update_households(self) -> pa.Array:
        self.conn.execute(text("ANALYZE _hh_stage"))
        changed = self.conn.execute(
            text(
                """
                UPDATE household AS h SET
                    address = COALESCE(s.address, h.address),
                    village_code = COALESCE(s.village_code, h.village_code),
                    geom = COALESCE(s.geom, h.geom),
                    geocode_level = COALESCE(s.geocode_level, h.geocode_level),
                    time_window = COALESCE(s.time_window, h.time_window),
                    batch_id = :batch, updated_at = now()
                FROM _hh_stage s
                WHERE h.household_no = s.household_no
                  AND ((s.address IS NOT NULL AND s.address IS DISTINCT FROM h.address)
                   OR (s.village_code IS NOT NULL
                       AND s.village_code IS DISTINCT FROM h.village_code)
                   OR (s.geom IS NOT NULL AND (h.geom IS NULL
                       OR NOT ST_Equals(s.geom, h.geom)))
                   OR (s.time_window IS NOT NULL
                       AND s.time_window IS DISTINCT FROM h.time_window))
                RETURNING h.household_no
                """
            ),
            {"batch": self.batch_id},
        )
        return pa.array(changed.scalars().all(), type=pa.string())

    def _update_people(self) -> tuple[np.ndarray, np.ndarray]:
        """Update stored people from the stage.

        Returns the keys of the people changed and the households they were
        in and are in now.
        """
        # columns the file did not have keep their stored values
        optional = ["phone", "labels", *AMOUNTS]
        always = ["household_id", "name", "gender", "birth_date", "status", "products"]
        updated = always + [c for c in optional if c in self.columns]
        set_clause = ", ".join(f"{c} = s.{c}" for c in updated)
        distinct = " OR ".join(f"o.{c} IS DISTINCT FROM s.{c}" for c in updated)
        self.conn.execute(text("ANALYZE _person_stage"))
        # the people that change, found in one join, with the household they
        # were in; then updated by primary key
        changed = self.conn.execute(
            text(
                f"WITH changed AS MATERIALIZED (SELECT s.*, o.id AS person_id, "
                f"o.household_id AS before FROM _person_stage s "
                f"JOIN person o ON o.id_number = s.id_number WHERE {distinct}) "
                f"UPDATE person AS p SET {set_clause}, batch_id = :batch, "
                f"updated_at = now() FROM changed s WHERE p.id = s.person_id "
                "RETURNING p.id_number, p.household_id, s.before"
            ),
            {"batch": self.batch_id},
        ).all()
        numbers = pa.array([r[0] for r in changed], type=pa.string())
        households = np.array(
            [r[1] for r in changed] + [r[2] for r in changed], dtype=np.int64
        )
        return id_keys(numbers), households


def array_element_oids(conn: Connection) -> dict[str, int]:
    """Element type of person's array columns, which binary COPY must name."""
    rows = conn.execute(
        text(
            "SELECT a.attname, t.typelem FROM pg_attribute a "
            "JOIN pg_type t ON t.oid = a.atttypid "
            "WHERE a.attrelid = 'person'::regclass "
            "AND a.attname IN ('products', 'labels')"
        )
    ).all()
    return {name: int(oid) for name, oid in rows}


def _count_up_to(conn: Connection, table: str, limit: int) -> int:
    return int(
        conn.execute(
            text(f"SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT :n) s"),
            {"n": limit},
        ).scalar_one()
    )


def _stored_households(
    conn: Connection, numbers: pa.Array
) -> tuple[np.ndarray, int | None]:
    """Stored id of each household number (-1 when new), and the table's size.

    The size is given only when the table holds no more rows than ``numbers``,
    in which case all of it is read; otherwise the numbers are looked up.
    """
    limit = len(numbers) + 1
    stored = _count_up_to(conn, "household", limit)
    ids = np.full(len(numbers), -1, dtype=np.int64)
    if stored == 0:
        return ids, 0
    if stored >= limit:
        _stage_keys(conn, numbers)
    found = query_arrow(
        conn,
        "SELECT household_no, id FROM household"
        + (" JOIN _keys ON key = household_no" if stored >= limit else ""),
        {"household_no": pa.string(), "id": pa.int64()},
    )
    at = pc.index_in(numbers, value_set=found.column("household_no"))
    hit = pc.is_valid(at).to_numpy(zero_copy_only=False)
    where = at.filter(pa.array(hit)).to_numpy()
    ids[hit] = found.column("id").to_numpy()[where]
    return ids, stored if stored < limit else None


def _stored_people(conn: Connection, keys: FileKeys) -> tuple[np.ndarray, int | None]:
    """Keys of the file's stored ID numbers, and the table's size (as above)."""
    wanted = np.flatnonzero(keys.id_key >= 0)
    limit = len(wanted) + 1
    stored = _count_up_to(conn, "person", limit)
    if stored == 0:
        return np.zeros(0, dtype=np.int64), 0
    if stored >= limit:
        first = wanted[keys.duplicate_of[wanted] < 0]
        _stage_keys(conn, keys.id_number.take(pa.array(first)))
    found = query_arrow(
        conn,
        "SELECT id_number FROM person"
        + (" JOIN _keys ON key = id_number" if stored >= limit else ""),
        {"id_number": pa.string()},
    )
    numbers = found.column("id_number").combine_chunks()
    return id_keys(numbers), stored if stored < limit else None


def _stage_keys(conn: Connection, values: pa.Array) -> None:
    conn.execute(text("DROP TABLE IF EXISTS _keys"))
    conn.execute(text("CREATE TEMP TABLE _keys (key text) ON COMMIT DROP"))
    rows = BinaryRows(len(values))
    rows.text("key", values)
    copy_binary(conn, "_keys", rows)
    conn.execute(text("ANALYZE _keys"))
