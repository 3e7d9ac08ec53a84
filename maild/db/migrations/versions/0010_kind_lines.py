"""kind and support lines: incident or request, the line a case is with, its moves up

``cases.kind`` (incident | request; existing cases are incidents, as every case was
before there was a catalogue), ``cases.line`` (1 for every existing case: the
site's engineers), ``cases.line_due`` (when the case's current line has used up
its resolution time, for ``[sla] auto_escalate``; existing open cases get their
resolution deadline) and ``line_moves``, one row per escalation up a line.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from maild.db.models import UTCDateTime

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD/DROP COLUMN, no batch copy of the table: SQLite (3.35+) does both in place,
    # and copying ``cases`` would fail on the rows of other tables that refer to it
    op.add_column("cases", sa.Column("kind", sa.String(length=16), nullable=False,
                                     server_default="incident"))
    op.add_column("cases", sa.Column("line", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("cases", sa.Column("line_due", UTCDateTime(), nullable=True))
    op.execute("UPDATE cases SET line_due = resolution_due")
    op.create_table(
        "line_moves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("from_line", sa.Integer(), nullable=False),
        sa.Column("to_line", sa.Integer(), nullable=False),
        sa.Column("engineer", sa.String(length=320), nullable=False),
        sa.Column("auto", sa.Boolean(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_line_moves_case_id", "line_moves", ["case_id"])
    op.create_index("ix_line_moves_at", "line_moves", ["at"])


def downgrade() -> None:
    op.drop_index("ix_line_moves_at", table_name="line_moves")
    op.drop_index("ix_line_moves_case_id", table_name="line_moves")
    op.drop_table("line_moves")
    for column in ("line_due", "line", "kind"):
        op.drop_column("cases", column)
