"""engineer load indexes: open cases per engineer and last dispatch, for routing

Every new case asks, for the engineers of its site, how many open cases
each has and when each was last given one (``queries.engineer_loads``).
With only single-column indexes that read every case the engineer ever had,
so ingesting got slower as the database grew (docs/PERFORMANCE.md, backlog).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_cases_engineer_status", "cases", ["engineer_email", "status"])
    op.create_index("ix_cases_engineer_dispatched", "cases", ["engineer_email", "dispatched_at"])


def downgrade() -> None:
    op.drop_index("ix_cases_engineer_dispatched", table_name="cases")
    op.drop_index("ix_cases_engineer_status", table_name="cases")
