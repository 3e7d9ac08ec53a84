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


def test_0008_from_0007_with_data_and_back(tmp_path: Path) -> None:
    """Complaints and surveys are added to a database at 0007 that holds cases, and
    removed again by the downgrade, the cases untouched (SQLite, or PostgreSQL)."""
    from datetime import UTC, datetime

    import sqlalchemy as sa
    from alembic import command

    engine = make_engine(database_url(tmp_path, empty=True))
    migrate.upgrade(engine, "0007")
    at = datetime(2026, 11, 20, 8, 0, tzinfo=UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO customers (email, name, vip, auto_created, created_at) "
            "VALUES ('w@sh.corp.example', 'Wang', :f, :f, :at)"), {"f": False, "at": at})
        conn.execute(sa.text(
            "INSERT INTO cases (subject, description, priority, status, channel, language, "
            "customer_id, engineer_email, kb, rejections, created_at, updated_at, closed_at) "
            "VALUES ('Printer', 'jams', 'P3', 'closed', 'email', 'en', 1, "
            "'li.lei@corp.example', :f, 0, :at, :at, :at)"), {"f": False, "at": at})
    before, after = migrate.upgrade(engine)
    assert (before, after) == ("0007", migrate.head())
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO complaints (case_id, engineer, category, text, author, status, "
            "created_at) VALUES (1, 'li.lei@corp.example', 'timeliness', '迟到', "
            "'w@sh.corp.example', 'open', :at)"), {"at": at})
        conn.execute(sa.text("INSERT INTO surveys (case_id, engineer, reason, sent_at) "
                             "VALUES (1, 'li.lei@corp.example', 'complaint', :at)"), {"at": at})
        try:
            with conn.begin_nested():
                conn.execute(sa.text("INSERT INTO surveys (case_id, reason, sent_at) "
                                     "VALUES (1, 'sample', :at)"), {"at": at})
            raise AssertionError("a second survey of one case was accepted")
        except sa.exc.IntegrityError:
            pass
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": migrate.include_object})
        assert compare_metadata(ctx, SQLModel.metadata) == []
        assert conn.execute(sa.text("SELECT subject FROM cases")).scalar() == "Printer"
    with engine.begin() as conn:
        cfg = migrate._config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0007")
    with engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        assert "complaints" not in names and "surveys" not in names
        assert conn.execute(sa.text("SELECT count(*) FROM cases")).scalar() == 1


def test_0009_keeps_the_data_and_fills_the_phone_keys(tmp_path: Path) -> None:
    """From revision 0008 with customers and a case in it (SQLite, or PostgreSQL under
    MAILD_TEST_DATABASE_URL): 0009 adds visits and digest_runs, and writes the phone key
    of every stored customer; down and up again round-trips."""
    import sqlalchemy as sa

    engine = make_engine(database_url(tmp_path, empty=True))
    assert migrate.upgrade(engine, "0008")[1] == "0008"
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
        command.downgrade(cfg, "0008")
    with engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        assert "visits" not in names and "digest_runs" not in names
    assert migrate.upgrade(engine)[1] == migrate.head()
