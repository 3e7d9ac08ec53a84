"""Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from databases import database_url
from sqlmodel import SQLModel

import maild.db.models  # noqa: F401
from maild.db import migrate
from maild.db.session import make_engine


def test_upgrade_matches_models(tmp_path: Path) -> None:
    """On an empty database (SQLite, or PostgreSQL under MAILD_TEST_DATABASE_URL)."""
    engine = make_engine(database_url(tmp_path, empty=True))
    before, after = migrate.upgrade(engine)
    assert before is None and after == migrate.head()
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": migrate.include_object})
        diff = compare_metadata(ctx, SQLModel.metadata)
    assert diff == []
    migrate.check(engine)  # does not raise
    assert migrate.upgrade(engine) == (after, after)  # idempotent
