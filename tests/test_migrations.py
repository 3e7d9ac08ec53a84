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
    engine.dispose()
