"""visits, engineers' morning digests, customers' phone lookup key

``visits`` keeps each ``#visit`` window, its arrival and its one lateness
notice; ``digest_runs`` makes the engineers' morning list once per engineer and
day; ``customers.phone_key`` is the phone number as the caller lookup compares
it (``core.phone.phone_key``), filled here for the customers already stored.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from maild.core.phone import phone_key
from maild.db.models import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("engineer_email", sa.String(length=320), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("note", sa.String(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("arrived_at", UTCDateTime(), nullable=True),
        sa.Column("late_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_visits_case_id", "visits", ["case_id"])
    op.create_index("ix_visits_ends_at", "visits", ["ends_at"])
    op.create_table(
        "digest_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("engineer_email", sa.String(length=320), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("engineer_email", "day"),
    )
    op.add_column("customers", sa.Column("phone_key", sa.String(length=64), nullable=True))
    op.create_index("ix_customers_phone_key", "customers", ["phone_key"])
    customers = sa.table("customers", sa.column("id", sa.Integer()),
                         sa.column("phone", sa.String()), sa.column("phone_key", sa.String()))
    conn = op.get_bind()
    rows = conn.execute(sa.select(customers.c.id, customers.c.phone)
                        .where(customers.c.phone.is_not(None))).all()
    for row_id, phone in rows:
        key = phone_key(phone)
        if key is not None:
            conn.execute(sa.update(customers).where(customers.c.id == row_id)
                         .values(phone_key=key))


def downgrade() -> None:
    op.drop_index("ix_customers_phone_key", table_name="customers")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite 3.35+ drops a column in place; a batch copy of the table would trip over
        # the foreign keys of the cases that point at it
        op.execute("ALTER TABLE customers DROP COLUMN phone_key")
    else:
        op.drop_column("customers", "phone_key")
    op.drop_table("digest_runs")
    op.drop_index("ix_visits_ends_at", table_name="visits")
    op.drop_index("ix_visits_case_id", table_name="visits")
    op.drop_table("visits")
