"""visit location accuracy: how precisely the device knew where the visit was;
an index on the visit time for the checks of a recent period

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 12:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("visit", sa.Column("accuracy_m", sa.Float(), nullable=True))
    op.add_column("visit", sa.Column("recorded_at", sa.DateTime(timezone=True)))
    op.create_index("ix_visit_visited_at", "visit", ["visited_at"])


def downgrade() -> None:
    op.drop_index("ix_visit_visited_at", table_name="visit")
    op.drop_column("visit", "recorded_at")
    op.drop_column("visit", "accuracy_m")
