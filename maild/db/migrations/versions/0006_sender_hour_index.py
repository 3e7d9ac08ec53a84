"""sender index: one sender's recent mail, for the per-sender cap (docs/TRUST.md)

Every mail that opens or joins a case asks how many mails its sender sent in
the last hour (``maild/flood.py``); without an index that read every message
ever received.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_messages_from_received", "messages", ["from_addr", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_messages_from_received", table_name="messages")
