"""command steps and follow-up cases: what ``#undo`` takes back; a case's predecessor

``command_steps`` keeps, per applied staff command mail, the case's fields
before and after it and who was told, so that ``#undo`` can put them back and
tell the same people. ``cases.follows_id`` names the long-closed case a
customer's mail was about when it opened a new one.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from maild.db.models import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "command_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=320), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("told", sa.JSON(), nullable=False),
        sa.Column("undone_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_command_steps_case_id", "command_steps", ["case_id"])
    if op.get_bind().dialect.name == "sqlite":
        # not batch mode: it copies ``cases`` and drops the old table, which SQLite refuses
        # while the case log and messages refer to it (foreign_keys=ON)
        op.execute("ALTER TABLE cases ADD COLUMN follows_id INTEGER REFERENCES cases (id)")
    else:
        op.add_column("cases", sa.Column("follows_id", sa.Integer(), nullable=True))
        op.create_foreign_key("fk_cases_follows_id", "cases", "cases", ["follows_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_constraint("fk_cases_follows_id", type_="foreignkey")
        batch.drop_column("follows_id")
    op.drop_index("ix_command_steps_case_id", table_name="command_steps")
    op.drop_table("command_steps")
