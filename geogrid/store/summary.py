"""Per-household figures kept on the household row, for queries over many households.

The nearby heatmap weights every household within a radius (up to 50,000 in
a county seat) by its potential customers, its customers without a product
or its deposits at other banks. Reading each household's people for that
costs an index probe per household; the figures below sit on the household
row instead, where the spatial index scan already reads it.

They are derived from ``person`` and must follow it: every writer of people
(the household import, the demo loader) calls `refresh_household_summary`
for the households it touched, in its own transaction. `summary_mismatches`
finds households whose figures disagree with their people, and
``geogrid db refresh-summaries`` recomputes them all (after writes by other
tools).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

# column on household: its SQL aggregate over the household's people
SUMMARY_AGGREGATES: dict[str, str] = {
    "members": "count(*)",
    "customers": "count(*) FILTER (WHERE p.status = 'customer')",
    "potential_members": "count(*) FILTER (WHERE p.status = 'potential')",
    "customers_without_mobile_banking": (
        "count(*) FILTER (WHERE p.status = 'customer' "
        "AND NOT ('mobile_banking' = ANY(p.products)))"
    ),
    "customers_without_pos": (
        "count(*) FILTER (WHERE p.status = 'customer' "
        "AND NOT ('pos' = ANY(p.products)))"
    ),
    "customers_without_payment": (
        "count(*) FILTER (WHERE p.status = 'customer' "
        "AND NOT ('payment' = ANY(p.products)))"
    ),
    "deposit_other_total": "coalesce(sum(p.deposit_other), 0)",
}
SUMMARY_COLUMNS = tuple(SUMMARY_AGGREGATES)

_AGGREGATE = ", ".join(f"{sql} AS {name}" for name, sql in SUMMARY_AGGREGATES.items())
_ASSIGN = ", ".join(f"{name} = s.{name}" for name in SUMMARY_COLUMNS)
_CURRENT = ", ".join(f"h.{name}" for name in SUMMARY_COLUMNS)
_NEW = ", ".join(f"s.{name}" for name in SUMMARY_COLUMNS)
_ZERO = ", ".join(f"{name} = 0" for name in SUMMARY_COLUMNS)
_ANY_NONZERO = " OR ".join(f"h.{name} <> 0" for name in SUMMARY_COLUMNS)


def refresh_household_summary(
    conn: Connection, household_ids: Sequence[int] | None = None
) -> int:
    """Recompute the figures of these households (None: every household).

    Only rows whose figures change are written. Returns how many changed.
    """
    where = "" if household_ids is None else "WHERE p.household_id = ANY(:ids)"
    scope = "" if household_ids is None else "AND h.id = ANY(:ids)"
    params = {} if household_ids is None else {"ids": list(household_ids)}
    changed = conn.execute(
        text(
            f"""
            UPDATE household h SET {_ASSIGN}
            FROM (SELECT p.household_id, {_AGGREGATE}
                  FROM person p {where} GROUP BY p.household_id) s
            WHERE h.id = s.household_id
              AND ({_CURRENT}) IS DISTINCT FROM ({_NEW})
            """
        ),
        params,
    ).rowcount
    # households left without people
    emptied = conn.execute(
        text(
            f"""
            UPDATE household h SET {_ZERO}
            WHERE ({_ANY_NONZERO}) {scope}
              AND NOT EXISTS (SELECT 1 FROM person p WHERE p.household_id = h.id)
            """
        ),
        params,
    ).rowcount
    return int(changed) + int(emptied)


def summary_mismatches(conn: Connection, limit: int = 20) -> list[int]:
    """Ids of households whose figures disagree with their people (at most limit)."""
    rows = conn.execute(
        text(
            f"""
            SELECT h.id FROM household h
            LEFT JOIN (SELECT p.household_id, {_AGGREGATE}
                       FROM person p GROUP BY p.household_id) s
              ON s.household_id = h.id
            WHERE ({_CURRENT}) IS DISTINCT FROM (
                {", ".join(f"coalesce(s.{n}, 0)" for n in SUMMARY_COLUMNS)})
            ORDER BY h.id LIMIT :limit
            """
        ),
        {"limit": limit},
    ).all()
    return [int(r[0]) for r in rows]


def summary_frame(people: pd.DataFrame, key: str = "household_no") -> pd.DataFrame:
    """The same figures computed in memory, one row per value of ``key``.

    ``people`` has the columns ``key``, ``status`` ('customer' or
    'potential'), ``products`` (a list of product codes per person) and
    ``deposit_other``; for writers that load new households and their people
    together (the demo, first imports) and so need no `refresh_household_summary`.
    """
    customer = (people["status"] == "customer").to_numpy()
    flags = pd.DataFrame(
        {
            key: people[key].to_numpy(),
            "members": 1,
            "customers": customer.astype(np.int16),
            "potential_members": (~customer).astype(np.int16),
            "deposit_other_total": people["deposit_other"].astype(float).to_numpy(),
        }
    )
    held = people["products"].explode()
    for product in ("mobile_banking", "pos", "payment"):
        holds = np.zeros(len(people), dtype=bool)
        positions = held.index[held.to_numpy() == product]
        holds[people.index.get_indexer(positions)] = True
        flags[f"customers_without_{product}"] = (customer & ~holds).astype(np.int16)
    summary = flags.groupby(key, sort=False).sum()
    summary["deposit_other_total"] = summary["deposit_other_total"].round(2)
    return summary[list(SUMMARY_COLUMNS)]
