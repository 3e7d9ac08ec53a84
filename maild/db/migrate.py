"""Alembic, driven from code: ``maild db upgrade`` and the schema check at start-up."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


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
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Migrate to ``revision``; returns (before, after) revision ids."""
    cfg = _config()
    with engine.begin() as conn:
        before = MigrationContext.configure(conn).get_current_revision()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        after = MigrationContext.configure(conn).get_current_revision()
    return before, after


def head() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def check(engine: Engine) -> None:
    """Refuse to run against a database that is missing migrations."""
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    expected = head()
    if current != expected:
        raise SchemaError(
            f"database schema is at {current or 'nothing'}, this maild needs {expected}: "
            "run 'maild db upgrade'"
        )
