"""Grid proposals for the demo county's branches, compared and adopted."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from geogrid.errors import InvalidInput, NotFound
from geogrid.grids.check import check_grids
from geogrid.grids.generate import adopt, branch_villages, propose


def _busiest_branch(engine: Engine) -> str:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT b.code FROM branch b JOIN grid g ON g.branch_id = b.id "
                "AND g.level = 2 GROUP BY b.code ORDER BY count(*) DESC, b.code "
                "LIMIT 1"
            )
        ).scalar_one()


def test_branches_get_balanced_contiguous_grids(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        branches = conn.execute(
            text(
                "SELECT b.code, count(g.id) FROM branch b JOIN grid g ON "
                "g.branch_id = b.id AND g.level = 2 GROUP BY b.code "
                "HAVING count(*) > 1 ORDER BY count(*) DESC, b.code LIMIT 3"
            )
        ).all()
    assert branches
    for branch, k in branches:
        proposal = propose(demo_engine, branch, k)
        summary = proposal.summary()
        assert summary["k"] == k
        assert summary["all_contiguous"], (branch, summary)
        assert summary["max_deviation"] <= 0.10, (branch, summary)
        assert "current_max_deviation" in summary["comparison"]


def test_adopting_a_proposal_keeps_every_rule(demo_engine: Engine) -> None:
    branch = _busiest_branch(demo_engine)
    proposal = propose(demo_engine, branch)

    adopt(demo_engine, branch, proposal, actor="ho_01", reason="rebalance")

    problems = check_grids(demo_engine)
    assert not problems["rule"].str.startswith(("tiling", "household")).any()
    _, villages = branch_villages(demo_engine, branch)
    proposed = dict(
        zip(
            proposal.assignment["village_code"],
            proposal.assignment["grid"],
            strict=True,
        )
    )
    whole = villages.dropna(subset=["current_grid"])
    agree = (whole["code"].map(proposed) == whole["current_grid"]).mean()
    assert agree == 1.0


def test_locked_grids_keep_their_villages(demo_engine: Engine) -> None:
    branch = _busiest_branch(demo_engine)
    _, villages = branch_villages(demo_engine, branch)
    keep = villages["current_grid"].dropna().iloc[0]
    before = set(villages.loc[villages["current_grid"] == keep, "code"])

    proposal = propose(demo_engine, branch, lock_grids=[keep], seed=3)

    assigned = proposal.assignment.set_index("village_code")["grid"]
    assert set(assigned[assigned == keep].index) >= before


def test_unknown_branch_and_bad_counts_are_explained(demo_engine: Engine) -> None:
    with pytest.raises(NotFound, match="Branch 'B99' does not exist"):
        propose(demo_engine, "B99")
    with pytest.raises(InvalidInput):
        propose(demo_engine, _busiest_branch(demo_engine), -1)
