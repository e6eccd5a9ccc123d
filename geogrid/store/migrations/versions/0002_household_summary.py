"""household summary: per-household figures of its people on the household row

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COUNTS = (
    "members",
    "customers",
    "potential_members",
    "customers_without_mobile_banking",
    "customers_without_pos",
    "customers_without_payment",
)


def upgrade() -> None:
    for name in _COUNTS:
        op.add_column(
            "household",
            sa.Column(name, sa.SmallInteger(), nullable=False, server_default="0"),
        )
    op.add_column(
        "household",
        sa.Column(
            "deposit_other_total",
            sa.Numeric(18, 2),
            nullable=False,
            server_default="0",
        ),
    )
    from geogrid.store.summary import refresh_household_summary

    refresh_household_summary(op.get_bind())


def downgrade() -> None:
    op.drop_column("household", "deposit_other_total")
    for name in reversed(_COUNTS):
        op.drop_column("household", name)
