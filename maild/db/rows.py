"""New rows of the hot path built without SQLModel's constructor.

``Case(...)`` costs about 150 µs on this machine, ``OutboxMail(...)`` 70 and
``LogEntry(...)`` 30: SQLModel's constructor sets every field, given or
default, through its ``__setattr__``, which for a table model runs
SQLAlchemy's attribute event and then Pydantic's ``__setattr__``. A message
that opens a case builds six or seven such rows. ``new_row`` leaves the object
in the state the constructor leaves it (the same ``__dict__``, the same
Pydantic fields-set, the same SQLAlchemy pending history), written directly,
in a tenth of the time. ``tests/test_rows.py`` compares the two for every table
model, so an upgrade of SQLModel or SQLAlchemy that changes what the
constructor leaves fails there, not in production.

Only for table models without relationships (maild has none) and without
validation to run (SQLModel does not validate table models).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, partial
from typing import Any, TypeVar

from sqlalchemy.orm import configure_mappers
from sqlalchemy.orm.base import NO_VALUE
from sqlmodel import SQLModel

T = TypeVar("T", bound=SQLModel)

_REQUIRED = object()  # a field without a default: set only when given
_SHARED = (type(None), str, int, float, bool, bytes, tuple, frozenset)  # safe to share


@cache
def _plan(cls: type[SQLModel]) -> tuple[tuple[str, Any, Callable[[], Any] | None], ...]:
    """Each field of ``cls`` with its default or default factory. Also configures
    SQLAlchemy's mappers, as the constructor's first call does: without that a new
    process's first row has no attribute machinery."""
    configure_mappers()
    _only_plain_attributes(cls)
    plan: list[tuple[str, Any, Callable[[], Any] | None]] = []
    for name, field in cls.model_fields.items():
        if field.is_required():
            plan.append((name, _REQUIRED, None))
        elif field.default_factory is not None or not isinstance(field.default, _SHARED):
            # a fresh value each time, as the constructor gives (a copy of a mutable default)
            plan.append((name, None, partial(field.get_default, call_default_factory=True)))
        else:
            plan.append((name, field.default, None))
    return tuple(plan)


def _only_plain_attributes(cls: type[SQLModel]) -> None:
    """Refuse a model whose rows need what the constructor runs and ``new_row`` skips:
    an "init" listener other than SQLAlchemy's own (which configures the mappers, done
    above), or a listener on setting an attribute (``@validates``, a mutable JSON
    column's coercion). Loud at the first row, not a silently different object."""
    manager = cls._sa_class_manager  # type: ignore[attr-defined]
    extra = [fn for fn in manager.dispatch.init if getattr(fn, "__name__", "") != "_event_on_init"]
    watched = sorted(key for key, attr in manager.items() if list(attr.impl.dispatch.set))
    if extra or watched:
        raise TypeError(f"new_row cannot build {cls.__name__}: it has listeners the "
                        f"constructor would run (init: {len(extra)}, set: {watched})")


def new_row(cls: type[T], **values: Any) -> T:
    """``cls(**values)`` for a table model, without its per-field ``__setattr__``."""
    obj: T = cls._sa_class_manager.new_instance()  # type: ignore[attr-defined]
    row = obj.__dict__
    given = set(values)
    for name, default, factory in _plan(cls):
        if name in values:
            row[name] = values.pop(name)
        elif default is not _REQUIRED:
            row[name] = factory() if factory is not None else default
    if values:
        raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(values))}")
    object.__setattr__(obj, "__pydantic_fields_set__", given)
    state = obj._sa_instance_state  # type: ignore[attr-defined]
    state.committed_state.update(dict.fromkeys((k for k in row if k != "_sa_instance_state"),
                                               NO_VALUE))
    state.modified = len(row) > 1  # as the constructor: set by the first attribute set
    return obj
