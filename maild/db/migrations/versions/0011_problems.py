"""problems: many incidents with one root cause, and the case's link to its problem

``problems`` holds a problem's title, status (open, known_error, resolved),
workaround and root cause; ``cases.problem_id`` links a case to at most one
problem. Existing cases link to none.

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

from maild.db.models import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "problems",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("workaround", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("root_cause", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("opened_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("known_error_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_problems_status", "problems", ["status"])
    if op.get_bind().dialect.name == "sqlite":
        # not batch mode: it copies ``cases`` and drops the old table, which SQLite refuses
        # while the case log and messages refer to it (foreign_keys=ON); a nullable column
        # with a reference is one ALTER TABLE there
        have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("cases")}
        if "problem_id" not in have:  # else left by a downgrade (below)
            op.execute("ALTER TABLE cases ADD COLUMN problem_id INTEGER "
                       "REFERENCES problems (id)")
    else:
        op.add_column("cases", sa.Column("problem_id", sa.Integer(), nullable=True))
        op.create_foreign_key("fk_cases_problem_id", "cases", "problems", ["problem_id"], ["id"])
    op.create_index("ix_cases_problem_id", "cases", ["problem_id"])


def downgrade() -> None:
    op.drop_index("ix_cases_problem_id", table_name="cases")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite drops a column with a reference only by copying ``cases`` and dropping the
        # old table, which it refuses while rows refer to it (foreign_keys=ON, and the
        # migration runs in a transaction, where that cannot be turned off): the column
        # stays, emptied, and ``upgrade`` takes it back as it is
        op.execute("UPDATE cases SET problem_id = NULL")
    else:
        op.drop_constraint("fk_cases_problem_id", "cases", type_="foreignkey")
        op.drop_column("cases", "problem_id")
    op.drop_index("ix_problems_status", table_name="problems")
    op.drop_table("problems")
