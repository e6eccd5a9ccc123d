"""Validated chunks as binary COPY rows for household and person.

New households are written with their summary figures (members, customers,
deposits elsewhere; see `geogrid.store.summary`), summed over the file's
rows by `Figures` before the households are copied.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from geogrid.ingest.households.cells import Lists
from geogrid.ingest.households.source import AMOUNTS
from geogrid.ingest.households.validation import Chunk
from geogrid.store.bulk import BinaryRows
from geogrid.store.summary import SUMMARY_COLUMNS


class Figures:
    """The household summary of new households, summed over the file's rows.

    Indexed by household code (`keys._FileKeys.household_code`);
    only valid rows count. Stored people who move into a new household are
    counted with the file's values, which may lack columns the store has:
    `loader._Loader.finish` refreshes those households from the store.
    """

    def __init__(self, n_households: int) -> None:
        self.n = n_households
        self.counts = {
            name: np.zeros(n_households, dtype=np.int64)
            for name in SUMMARY_COLUMNS
            if name != "deposit_other_total"
        }
        self.deposit_other = np.zeros(n_households, dtype=np.int64)  # hundredths

    def add(self, chunk: Chunk, products: Lists) -> None:
        ok = chunk.ok
        codes = chunk.household_code[ok]
        customer = chunk.customer[ok]
        held = chunk.products[ok]
        flags = {
            "members": np.ones(len(codes), dtype=bool),
            "customers": customer,
            "potential_members": ~customer,
        }
        for product in ("mobile_banking", "pos", "payment"):
            flags[f"customers_without_{product}"] = (
                customer & ~products.holding(product)[held]
            )
        for name, flag in flags.items():
            self.counts[name] += np.bincount(codes[flag], minlength=self.n)
        amounts = chunk.amounts.get("deposit_other")
        if amounts is not None:
            self.deposit_other += np.bincount(
                codes, weights=amounts[ok], minlength=self.n
            ).astype(np.int64)

    def write(self, rows: BinaryRows, codes: np.ndarray) -> None:
        """Add the figures of these households (by code) to their rows."""
        for name, counts in self.counts.items():
            rows.int2(name, counts[codes])
        rows.numeric("deposit_other_total", self.deposit_other[codes])


def household_rows(
    chunk: Chunk, mask: np.ndarray, ids: np.ndarray | None, batch_id: int | None
) -> BinaryRows:
    keep = pa.array(mask)
    rows = BinaryRows(int(mask.sum()))
    if ids is not None:
        rows.int8("id", ids)
    lon, lat = chunk.lon[mask], chunk.lat[mask]
    rows.text("household_no", chunk.household_no.filter(keep))
    rows.text("address", chunk.address.filter(keep))
    rows.text("village_code", chunk.village_code.filter(keep))
    rows.point("geom", lon, lat, 4326)
    rows.choice("geocode_level", np.isnan(lon).astype(np.int64), [b"exact", None])
    rows.text("time_window", chunk.time_window.filter(keep))
    if batch_id is not None:
        rows.int4("batch_id", np.full(rows.n_rows, batch_id))
    return rows


def person_rows(
    chunk: Chunk,
    mask: np.ndarray,
    household_ids: np.ndarray,
    products: list[bytes],
    labels: list[bytes],
    ids: np.ndarray | None,
    batch_id: int | None,
) -> BinaryRows:
    keep = pa.array(mask)
    rows = BinaryRows(int(mask.sum()))
    if ids is not None:
        rows.int8("id", ids)
    rows.int8("household_id", household_ids[mask])
    rows.text("name", chunk.name.filter(keep))
    rows.text("id_number", chunk.id_number.filter(keep))
    rows.text("phone", chunk.phone.filter(keep))
    rows.choice("gender", np.where(chunk.male[mask], 0, 1), [b"M", b"F"])
    rows.date("birth_date", chunk.birth_date[mask])
    statuses: list[bytes | None] = [b"customer", b"potential"]
    rows.choice("status", np.where(chunk.customer[mask], 0, 1), statuses)
    rows.choice("products", chunk.products[mask], list(products))
    rows.choice("labels", chunk.labels[mask], list(labels))
    zeros = np.zeros(rows.n_rows, dtype=np.int64)
    for column in AMOUNTS:
        amounts = chunk.amounts.get(column)
        rows.numeric(column, zeros if amounts is None else amounts[mask])
    if batch_id is not None:
        rows.int4("batch_id", np.full(rows.n_rows, batch_id))
    return rows
