"""Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

import pytest
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


def test_0010_keeps_the_cases_of_0007_as_line_1_incidents(tmp_path: Path) -> None:
    """From the schema before kinds and lines, with cases in it (SQLite, or PostgreSQL under
    MAILD_TEST_DATABASE_URL): every case becomes a line-1 incident, the open one keeps its
    resolution deadline as its line's, and the move table starts empty; down and up again."""
    import sqlalchemy as sa

    engine = make_engine(database_url(tmp_path, empty=True))
    migrate.upgrade(engine, "0007")
    due = "2026-11-18 08:00:00"
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO customers (id, email, name, vip, auto_created, created_at) "
            "VALUES (1, 'a@x.example', 'A', false, false, '2026-11-16 02:00:00')"))
        for case_id, status in ((1, "in_progress"), (2, "closed")):
            conn.execute(sa.text(
                "INSERT INTO cases (id, subject, description, type, priority, status, channel,"
                " language, customer_id, engineer_email, kb, rejections, created_at,"
                " resolution_due, updated_at) VALUES (:id, 'Printer', 'jams', 'printer', 'P3',"
                " :status, 'email', 'en', 1, 'li.lei@corp.example', false, 0,"
                " '2026-11-16 02:00:00', :due, '2026-11-16 02:00:00')"),
                {"id": case_id, "status": status, "due": due})
            conn.execute(sa.text(
                "INSERT INTO case_log (case_id, at, author, kind, text) VALUES (:id,"
                " '2026-11-16 02:00:00', 'maild', 'created', 'opened')"), {"id": case_id})
    assert migrate.upgrade(engine) == ("0007", migrate.head())
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT id, kind, line, line_due FROM cases ORDER BY id")).all()
        moves = conn.execute(sa.text("SELECT count(*) FROM line_moves")).scalar_one()
    assert [(r[0], r[1], r[2]) for r in rows] == [(1, "incident", 1), (2, "incident", 1)]
    assert str(rows[0][3]).startswith("2026-11-18 08:00") and moves == 0
    with engine.begin() as conn:  # the models write into the migrated tables
        conn.execute(sa.text(
            "INSERT INTO line_moves (case_id, from_line, to_line, engineer, auto, at) "
            "VALUES (1, 1, 2, 'wang.qiang@corp.example', true, '2026-11-18 08:00:00')"))
    from alembic import command

    cfg = migrate._config()
    with engine.begin() as conn:  # the CLI offers no downgrade, but the revision has one
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0007")
    with engine.connect() as conn:
        assert migrate.current(conn) == "0007"
        assert "kind" not in {c["name"] for c in sa.inspect(conn).get_columns("cases")}
    assert migrate.upgrade(engine)[1] == migrate.head()


@pytest.mark.parametrize("start", ["0006", "0007"])
def test_problems_migration_keeps_the_cases_of_an_existing_database(tmp_path: Path,
                                                                    start: str) -> None:
    """0011 (from 0007, and 0007 too from 0006) on a database with cases in it: the cases
    stay, linked to no problem, and a problem can then be stored and linked (SQLite, or
    PostgreSQL under the test URL). On SQLite, batch mode's copy-and-drop of ``cases``
    failed here while the case log referred to it."""
    import sqlalchemy as sa

    engine = make_engine(database_url(tmp_path, empty=True))
    migrate.upgrade(engine, start)
    when = "2026-11-20 08:00:00"
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO customers (id, name, email, vip, auto_created, created_at) "
            "VALUES (1, '王芳', 'wang.fang@sh.corp.example', false, false, :at)"), {"at": when})
        for n in (1, 2):
            conn.execute(sa.text(
                "INSERT INTO cases (id, subject, description, priority, status, channel, "
                "language, kb, rejections, customer_id, created_at, updated_at) VALUES "
                "(:id, 'VPN 断线', '每小时断一次', 'P3', 'dispatched', 'email', 'zh', false, 0, "
                "1, :at, :at)"), {"id": n, "at": when})
        conn.execute(sa.text("INSERT INTO case_log (case_id, at, author, kind, text) VALUES "
                             "(1, :at, 'maild', 'created', 'case opened')"), {"at": when})
    before, after = migrate.upgrade(engine)
    assert before == start and after == migrate.head()
    with engine.begin() as conn:
        rows = conn.execute(sa.text("SELECT id, subject, problem_id FROM cases ORDER BY id"))
        assert [tuple(r) for r in rows] == [(1, "VPN 断线", None), (2, "VPN 断线", None)]
        conn.execute(sa.text(
            "INSERT INTO problems (id, title, status, opened_by, created_at, updated_at) "
            "VALUES (1, 'VPN', 'open', 'im@corp.example', :at, :at)"), {"at": when})
        conn.execute(sa.text("UPDATE cases SET problem_id = 1"))
        linked = conn.execute(sa.text("SELECT count(*) FROM cases WHERE problem_id = 1"))
        assert linked.scalar() == 2
        assert conn.execute(sa.text("SELECT count(*) FROM case_log")).scalar() == 1
    migrate.check(engine)
    from alembic import command

    with engine.begin() as conn:  # down below 0011 and up again: the same schema
        cfg = migrate._config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0010")  # below 0011
        assert "problems" not in sa.inspect(conn).get_table_names()
    migrate.upgrade(engine)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": migrate.include_object})
        assert compare_metadata(ctx, SQLModel.metadata) == []
        assert conn.execute(sa.text("SELECT count(*) FROM cases")).scalar() == 2
    engine.dispose()


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


def test_0012_keeps_the_data_and_fills_the_phone_keys(tmp_path: Path) -> None:
    """From revision 0011 with customers and a case in it (SQLite, or PostgreSQL under
    MAILD_TEST_DATABASE_URL): 0012 adds visits and digest_runs, and writes the phone key
    of every stored customer; down and up again round-trips."""
    import sqlalchemy as sa

    engine = make_engine(database_url(tmp_path, empty=True))
    assert migrate.upgrade(engine, "0011")[1] == "0011"
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
        command.downgrade(cfg, "0011")
    with engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        assert "visits" not in names and "digest_runs" not in names
    assert migrate.upgrade(engine)[1] == migrate.head()
