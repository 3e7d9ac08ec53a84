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


def test_0009_keeps_the_data_and_fills_the_phone_keys(tmp_path: Path) -> None:
    """From revision 0007 with customers and a case in it (SQLite, or PostgreSQL under
    MAILD_TEST_DATABASE_URL): 0009 adds visits and digest_runs, and writes the phone key
    of every stored customer; down and up again round-trips."""
    import sqlalchemy as sa

    engine = make_engine(database_url(tmp_path, empty=True))
    assert migrate.upgrade(engine, "0007")[1] == "0007"
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO customers (id, name, phone, vip, auto_created, created_at) VALUES "
            "(1, '王芳', '+86 (21) 5555-0101', false, false, '2026-11-01 00:00:00'), "
            "(2, 'Tom', 'ext 12', false, false, '2026-11-01 00:00:00'), "
            "(3, 'Ann', NULL, false, false, '2026-11-01 00:00:00')"))
        conn.execute(sa.text(
            "INSERT INTO cases (id, subject, description, priority, status, channel, "
            "language, customer_id, kb, rejections, created_at, updated_at) VALUES "
            "(1, 'printer', 'jams', 'P3', 'new', 'phone', 'zh', 1, false, 0, "
            "'2026-11-01 00:00:00', '2026-11-01 00:00:00')"))
    assert migrate.upgrade(engine)[1] == migrate.head()
    with engine.connect() as conn:
        keys = dict(conn.execute(sa.text("SELECT id, phone_key FROM customers")).all())
        assert keys == {1: "2155550101", 2: None, 3: None}
        assert conn.execute(sa.text("SELECT subject FROM cases")).scalar_one() == "printer"
        assert conn.execute(sa.text("SELECT count(*) FROM visits")).scalar_one() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM digest_runs")).scalar_one() == 0
    migrate.check(engine)
    from alembic import command

    cfg = migrate._config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0007")
    with engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        assert "visits" not in names and "digest_runs" not in names
    assert migrate.upgrade(engine)[1] == migrate.head()
