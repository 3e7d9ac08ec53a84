"""``db.rows.new_row`` leaves a row exactly as the SQLModel constructor does.

For every table model, with every field given, with the required ones only and
with none: the same ``__dict__``, the same Pydantic fields-set and dump, the
same SQLAlchemy state (pending history, modified); then written to SQLite and
changed after the flush, the same rows in the table.
"""

from __future__ import annotations

import subprocess
import sys
import typing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import inspect
from sqlmodel import Session, SQLModel

from maild.db import models
from maild.db.migrate import upgrade
from maild.db.rows import _plan, new_row

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def _tables() -> list[type[SQLModel]]:
    return sorted((m.class_ for m in SQLModel._sa_registry.mappers  # type: ignore[attr-defined]
                   if m.class_.__module__ == "maild.db.models"), key=lambda c: c.__name__)


def _sample(column: sa.Column[Any], annotation: Any) -> Any:
    kind = column.type
    if isinstance(kind, models.UTCDateTime):
        return NOW
    if isinstance(kind, sa.Boolean):
        return True
    if isinstance(kind, sa.Integer):
        return 7
    if isinstance(kind, sa.LargeBinary):
        return b"raw bytes"
    if isinstance(kind, sa.JSON):
        shape = typing.get_origin(annotation) or annotation
        if shape is dict:
            return {"status": "open"}
        (item,) = typing.get_args(annotation)
        return ["a@example.org"] if item is str else [{"email": "a@example.org"}]
    if isinstance(kind, sa.Float | sa.Numeric):
        return 1.5
    return "text"


def _values(cls: type[SQLModel], which: str) -> dict[str, Any]:
    columns = cls.__table__.columns  # type: ignore[attr-defined]
    fields = cls.model_fields
    if which == "none":
        return {}
    return {name: _sample(columns[name], field.annotation) for name, field in fields.items()
            if name != "id" and (which == "all" or field.is_required())}


def _state(obj: SQLModel) -> tuple[Any, ...]:
    st = inspect(obj)
    return (
        {k: v for k, v in obj.__dict__.items() if k != "_sa_instance_state"},
        obj.__pydantic_fields_set__,
        dict(st.committed_state),
        st.modified, st.transient,
        {attr.key: attr.history for attr in st.attrs},
    )


TABLES = _tables()


def test_every_table_model_is_covered() -> None:
    names = {cls.__name__ for cls in TABLES}
    assert {"Case", "LogEntry", "OutboxMail", "InboundMessage", "MessageRef"} <= names
    assert len(names) >= 15


@pytest.mark.parametrize("which", ["all", "required", "none"])
@pytest.mark.parametrize("cls", TABLES, ids=lambda c: c.__name__)
def test_same_object_as_the_constructor(cls: type[SQLModel], which: str) -> None:
    made, fast = cls(**_values(cls, which)), new_row(cls, **_values(cls, which))
    assert type(fast) is cls
    assert _state(fast) == _state(made)
    if which == "all":
        assert fast.model_dump() == made.model_dump()


def test_mutable_defaults_are_not_shared() -> None:
    a, b = new_row(models.OutboxMail), new_row(models.OutboxMail)
    for name, value in a.__dict__.items():
        if isinstance(value, list | dict | set):
            assert value is not b.__dict__[name]


def test_unknown_field_is_an_error() -> None:
    with pytest.raises(TypeError, match="no field nonsense"):
        new_row(models.LogEntry, case_id=1, nonsense=2)


def _written(cls: type[SQLModel], build: Any, path: Path) -> list[dict[str, Any]]:
    """The rows of ``cls`` after adding one built row, flushing, changing one of its
    text fields and committing, in maild's schema as migrated (the search index's
    table included; foreign keys not enforced: the sample ids point nowhere)."""
    engine = sa.create_engine(f"sqlite:///{path}")
    upgrade(engine)
    values = _values(cls, "all")
    changed = next(name for name, value in values.items() if isinstance(value, str))
    with Session(engine) as s:
        row = build(cls, **values)
        s.add(row)
        s.flush()
        setattr(row, changed, "changed")
        s.commit()
        table = cls.__table__  # type: ignore[attr-defined]
        rows = [dict(r) for r in s.connection().execute(sa.select(table)).mappings()]
    engine.dispose()
    assert rows and rows[0][changed] == "changed"
    return rows


@pytest.mark.parametrize("cls", TABLES, ids=lambda c: c.__name__)
def test_same_rows_written_and_updated(cls: type[SQLModel], tmp_path: Path) -> None:
    assert _written(cls, new_row, tmp_path / "fast.db") == \
        _written(cls, lambda c, **v: c(**v), tmp_path / "made.db")


def test_first_row_of_a_fresh_process() -> None:
    """The constructor configures SQLAlchemy's mappers on first use; ``new_row`` must
    too, or a new process's first row has no attribute machinery (``maild ingest``)."""
    code = ("from datetime import UTC, datetime\n"
            "from maild.db.models import InboundMessage\n"
            "from maild.db.rows import new_row\n"
            "row = new_row(InboundMessage, dedup_key='k', disposition='failed', sha256='s',\n"
            "              raw=b'', received_at=datetime.now(UTC))\n"
            "row.subject = 'set after'\n"
            "print(row.subject)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "set after"


def test_a_model_with_listeners_is_refused() -> None:
    """A listener on setting an attribute (what ``@validates`` or a mutable JSON column
    adds) runs in the constructor and would be skipped by ``new_row``: such a model is
    refused at its first row."""
    def shout(target: Any, value: str, old: Any, initiator: Any) -> str:
        return value.upper()

    _plan.cache_clear()
    sa.event.listen(models.LogEntry.text, "set", shout, retval=True)
    try:
        with pytest.raises(TypeError, match=r"listeners the constructor would run.*'text'"):
            new_row(models.LogEntry, case_id=1, at=NOW, author="a", kind="k", text="x")
    finally:
        sa.event.remove(models.LogEntry.text, "set", shout)
        _plan.cache_clear()
    assert new_row(models.LogEntry, case_id=1, at=NOW, author="a", kind="k", text="x")
