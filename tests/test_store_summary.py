"""The per-household figures on the household row follow the household's people."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from geogrid.cli import main
from geogrid.store.summary import refresh_household_summary, summary_mismatches


def _figures(engine: Engine, household_id: int) -> dict[str, object]:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT members, customers, potential_members, "
                "customers_without_pos, deposit_other_total FROM household "
                "WHERE id = :id"
            ),
            {"id": household_id},
        ).one()
    return dict(row._mapping)


def test_the_demo_loads_figures_that_match_its_people(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        assert summary_mismatches(conn) == []
        members, customers = conn.execute(
            text("SELECT sum(members), sum(customers) FROM household")
        ).one()
        people, customer_people = conn.execute(
            text(
                "SELECT count(*), count(*) FILTER (WHERE status = 'customer') "
                "FROM person"
            )
        ).one()
    assert (members, customers) == (people, customer_people)


def test_a_refresh_follows_changed_and_removed_people(demo_engine: Engine) -> None:
    with demo_engine.begin() as conn:
        household = conn.execute(
            text(
                "SELECT household_id FROM person GROUP BY 1 "
                "HAVING bool_and(status = 'potential') AND count(*) >= 2 "
                "ORDER BY 1 LIMIT 1"
            )
        ).scalar_one()
    before = _figures(demo_engine, household)
    assert before["customers"] == 0

    with demo_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE person SET status = 'customer', products = '{deposit}', "
                "deposit_other = deposit_other + 5000 WHERE id = "
                "(SELECT min(id) FROM person WHERE household_id = :h)"
            ),
            {"h": household},
        )
        assert summary_mismatches(conn) == [household]
        assert refresh_household_summary(conn, [household]) == 1
        assert summary_mismatches(conn) == []
    after = _figures(demo_engine, household)
    assert after["customers"] == 1 and after["customers_without_pos"] == 1
    assert after["potential_members"] == before["potential_members"] - 1
    assert (
        float(after["deposit_other_total"])
        == float(before["deposit_other_total"]) + 5000
    )

    with demo_engine.begin() as conn:
        conn.execute(
            text("DELETE FROM person WHERE household_id = :h"), {"h": household}
        )
        refresh_household_summary(conn, [household])
    assert _figures(demo_engine, household)["members"] == 0
    with demo_engine.connect() as conn:
        assert summary_mismatches(conn) == []


def test_the_command_line_checks_and_refreshes_the_figures(
    demo_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "GEOGRID_DATABASE_URL", demo_engine.url.render_as_string(hide_password=False)
    )
    runner = CliRunner()
    assert runner.invoke(main, ["db", "refresh-summaries", "--check"]).exit_code == 0
    with demo_engine.begin() as conn:
        household = conn.execute(text("SELECT min(household_id) FROM person")).scalar()
        conn.execute(
            text(
                "UPDATE person SET deposit_other = deposit_other + 1 "
                "WHERE household_id = :h"
            ),
            {"h": household},
        )
    stale = runner.invoke(main, ["db", "refresh-summaries", "--check"])
    assert stale.exit_code == 1 and str(household) in stale.output
    fixed = runner.invoke(main, ["db", "refresh-summaries"])
    assert fixed.exit_code == 0 and "1 households" in fixed.output
    assert runner.invoke(main, ["db", "refresh-summaries", "--check"]).exit_code == 0
