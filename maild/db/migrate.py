"""Alembic, driven from code: ``maild db upgrade`` and the schema check at start-up.

Only ``upgrade`` imports Alembic (and through it Mako, Pygments and every SQL
dialect Alembic knows): the check every command makes at start reads the
``alembic_version`` row with one query and finds the head revision in the
migration files' text, so ``maild ingest``, which an MTA starts once per
message, does not pay a third of a second for a library it never calls.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"  # Alembic's default, which env.py keeps


# Tables that are not SQLModel models (the FTS5 search index is a virtual
# table with shadow tables): autogenerate must neither drop nor compare them.
UNMODELLED = "case_fts"


def include_object(obj: object, name: str | None, type_: str, reflected: bool,
                   compare_to: object) -> bool:
    """Alembic's filter: leave the search index (and FTS5's shadow tables) alone."""
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", "")
    return not str(table or "").startswith(UNMODELLED)


class SchemaError(RuntimeError):
    """The database is not at the schema this maild expects."""


def _config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Migrate to ``revision``; returns (before, after) revision ids."""
    from alembic import command

    cfg = _config()
    with engine.begin() as conn:
        before = current(conn)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        after = current(conn)
    return before, after


_ASSIGNED = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.M)


@cache
def head() -> str | None:
    """The newest revision in ``migrations/versions``: the one no other revises (read from
    the files' ``revision``/``down_revision`` lines, as Alembic reads them, without
    importing it; ``tests/test_imports.py`` checks both agree)."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = {k: ast.literal_eval(v) for k, v in _ASSIGNED.findall(path.read_text("utf-8"))}
        if "revision" not in found:
            continue
        revisions.add(found["revision"])
        down = found.get("down_revision")
        revised.update((down,) if isinstance(down, str) else down or ())
    heads = sorted(revisions - revised)
    if len(heads) > 1:
        raise SchemaError(f"the migrations have several heads: {', '.join(heads)}")
    return heads[0] if heads else None


def current(conn: Connection) -> str | None:
    """The revision the database is at, None for an empty one (Alembic's own table)."""
    if not sa.inspect(conn).has_table(VERSION_TABLE):
        return None
    rows = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    return ",".join(sorted(rows)) or None


def check(engine: Engine) -> None:
    """Refuse to run against a database that is missing migrations."""
    with engine.connect() as conn:
        now = current(conn)
    expected = head()
    if now != expected:
        raise SchemaError(
            f"database schema is at {now or 'nothing'}, this maild needs {expected}: "
            "run 'maild db upgrade'"
        )
