"""Engine from URL (SQLite tuned for one writer and many readers, or PostgreSQL through
psycopg 3), and transactions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from maild.db.private import private_dir, tighten


def make_engine(url: str, busy_timeout: float = 30.0) -> Engine:
    """An engine; for SQLite: WAL, a busy timeout and foreign keys on.

    ``busy_timeout`` is how long a writer waits for a lock held by another
    process before the operation fails as transient (``maild ingest`` → 75)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            private_dir(Path(path).parent)
        engine = sa.create_engine(url, connect_args={"timeout": busy_timeout})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            if path and path != ":memory:":  # owner-only, whatever the umask
                tighten(*(Path(path + end) for end in ("", "-wal", "-shm")))
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            cur.close()

        return engine
    return sa.create_engine(postgres_url(url), pool_pre_ping=True,
                            connect_args={"connect_timeout": 10, "application_name": "maild"})


def postgres_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 (the driver maild installs);
    SQLAlchemy alone would look for psycopg2."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain):]
    return url


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def begin_write(s: Session) -> None:
    """SQLite: start the transaction now, holding the write lock (``BEGIN IMMEDIATE``).

    Needed before savepoints: Python's sqlite3 begins a transaction only at the
    first INSERT/UPDATE/DELETE, so a SAVEPOINT before that would itself open
    the transaction and its RELEASE would commit it. IMMEDIATE, not DEFERRED:
    the write lock is waited for here (``busy_timeout``) instead of failing at
    the first write when another process wrote since this one's first read.
    PostgreSQL needs nothing."""
    conn = s.connection()
    if conn.dialect.name != "sqlite":
        return
    dbapi = conn.connection.dbapi_connection
    if dbapi is not None and not getattr(dbapi, "in_transaction", True):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
