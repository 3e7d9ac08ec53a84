"""report indexes: cases dispatched in a period, and the open backlog at a moment

The monthly report finds the cases dispatched in a period and counts the
backlog open at its end in three parts (``reporting.load_backlog``); without
these indexes each reads table rows for 100,000+ cases (see
docs/PERFORMANCE.md, monthly report over 1,000,000 cases).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_cases_dispatched_at", "cases", ["dispatched_at"])
    op.create_index("ix_cases_backlog_open", "cases", ["status", "created_at", "engineer_email"])
    op.create_index("ix_cases_backlog_resolved", "cases", ["resolved_at", "created_at"])
    op.create_index("ix_cases_backlog_closed", "cases", ["closed_at", "created_at"])


def downgrade() -> None:
    for name in ("ix_cases_backlog_closed", "ix_cases_backlog_resolved", "ix_cases_backlog_open",
                 "ix_cases_dispatched_at"):
        op.drop_index(name, table_name="cases")
