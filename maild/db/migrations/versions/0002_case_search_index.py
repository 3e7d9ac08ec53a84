"""case search index (FTS5 on SQLite, tsvector + GIN on PostgreSQL)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

The index text is built in Python (``maild.core.fts.index_text``: CJK runs as
bigrams), so both databases index the same tokens. Existing cases are
indexed here, so an upgrade leaves search complete.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.create_table(
            "case_fts",
            sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="CASCADE"),
                      primary_key=True),
            sa.Column("body", sa.Text(), nullable=False),
        )
        op.execute("CREATE INDEX ix_case_fts_body ON case_fts "
                   "USING gin (to_tsvector('simple', body))")
    else:
        # detail=full keeps token positions for the bigram phrases; no stored length table
        op.execute("CREATE VIRTUAL TABLE case_fts USING fts5(body, tokenize='unicode61', "
                   "columnsize=0)")
    from maild.db.search import reindex  # the same code the session hook uses

    ids = [row[0] for row in bind.execute(sa.text("SELECT id FROM cases ORDER BY id"))]
    reindex(bind, ids)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS case_fts")
