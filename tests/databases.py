"""Where a test's database lives: a SQLite file, or a fresh PostgreSQL database.

Set ``MAILD_TEST_DATABASE_URL`` (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/test``)
and every test that asks for a database gets a new PostgreSQL database of its
own instead of a SQLite file; without it nothing here touches PostgreSQL.

Why a database per test and not a schema per test: PostgreSQL's advisory
locks (the scheduler leader, the message claims) are per database, so a
database per test keeps tests, and test runs of other people on the same
server, from taking each other's locks. It is also the fastest clean start:
a copy of a template database migrated once per test run takes ~0.15 s,
where running the migrations into an empty schema takes ~0.5 s. The URL's own
database is used only to create and drop the others; each is dropped when its
test ends (``drop_created``, called by an autouse fixture in conftest.py).
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

from servers import unavailable

ENV = "MAILD_TEST_DATABASE_URL"
_PREFIX = f"maild_test_{os.getpid()}"
_counter = itertools.count(1)
_created: list[str] = []
_template: list[str] = []  # the migrated template, once made
# DBAPI connections of this test's engines, held (not weakly) so that none is garbage
# collected open in mid-test: they are closed when the test ends
_open: list[Any] = []


def postgres_url() -> str | None:
    """The PostgreSQL URL the tests run against, or None for SQLite."""
    return os.environ.get(ENV, "").strip() or None


def on_postgres() -> bool:
    return postgres_url() is not None


def _admin_conninfo() -> str:
    """The libpq form of the test URL (psycopg does not read SQLAlchemy's driver prefix)."""
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url() or "")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _url_of(name: str) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url() or "").set(database=name)
    return url.render_as_string(hide_password=False)


def _execute(*statements: str) -> None:
    """Run statements on the admin database; an unreachable server fails (CI) or skips."""
    import psycopg

    try:
        conn = psycopg.connect(_admin_conninfo(), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        unavailable(f"{ENV} is set but PostgreSQL is unreachable: {str(exc).strip()}")
    with conn:
        for sql in statements:
            conn.execute(sql.encode())


def _template_name() -> str:
    """A database migrated to head once per test run, copied for each test."""
    if not _template:
        from maild.db import migrate
        from maild.db.session import make_engine

        name = f"{_PREFIX}_template"
        _execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                 f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\'')
        engine = make_engine(_url_of(name))
        try:
            migrate.upgrade(engine)
        finally:
            engine.dispose()  # CREATE DATABASE … TEMPLATE needs it without sessions
        _template.append(name)
    return _template[0]


def new_postgres_database(empty: bool = False) -> str:
    """A new database (at the schema's head, or ``empty``); its SQLAlchemy URL."""
    template = "template0" if empty else _template_name()
    name = f"{_PREFIX}_{next(_counter)}"
    _execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
             f'CREATE DATABASE "{name}" TEMPLATE "{template}" ENCODING \'UTF8\'')
    _created.append(name)
    return _url_of(name)


def database_url(directory: Path, empty: bool = False) -> str:
    """The URL a test's maild uses: ``directory``/maild.db, or a new PostgreSQL database.

    A SQLite file always starts empty; a PostgreSQL one starts migrated unless
    ``empty`` (the tests that check what happens without a schema ask for that)."""
    if on_postgres():
        return new_postgres_database(empty=empty)
    return f"sqlite:///{directory / 'maild.db'}"


def track_connections() -> None:
    """Remember every pooled DBAPI connection, so a test's leftovers can be closed
    (psycopg warns about a connection garbage-collected open; warnings are errors)."""
    from sqlalchemy import event
    from sqlalchemy.pool import Pool

    def remember(dbapi_conn: Any, _record: Any) -> None:
        _open.append(dbapi_conn)

    event.listen(Pool, "connect", remember)


def drop_created() -> None:
    """Close this test's connections, drop the databases it made."""
    for conn in _open:
        conn.close()
    _open.clear()
    names = list(_created)
    _created.clear()
    if names:
        _execute(*(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in names))


def drop_template() -> None:
    if _template:
        _execute(f'DROP DATABASE IF EXISTS "{_template.pop()}" WITH (FORCE)')
