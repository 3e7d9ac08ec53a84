"""The case search index and the queries over it (SQLite FTS5; PostgreSQL tsvector + GIN).

The index holds one row per case: ``core.fts.index_text`` of its subject,
description, resolution and log. Session hooks note every case a flush
touches (or adds a log entry to) and rewrite those rows once, just before
the commit, so the index changes in the same transaction as the case and
can never drift (a rollback rolls it back).

The table is not a SQLModel model (FTS5 tables are virtual); migration 0002
creates it for each dialect and ``env.py`` keeps autogenerate away from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Session, col, or_, select

from maild.core import addresses
from maild.core.fts import Query, fts5_match, index_text, parse_query, tsquery
from maild.db.models import Case, Customer, LogEntry

TABLE = "case_fts"
_meta = sa.MetaData()
# SQLite: the FTS5 table's implicit rowid is the case id.
_sqlite_fts = sa.Table(TABLE, _meta, sa.Column("rowid", sa.Integer, primary_key=True),
                       sa.Column("body", sa.Text))
# PostgreSQL: a plain table with a GIN index on to_tsvector('simple', body).
_pg_fts = sa.Table(TABLE + "_pg", sa.MetaData(), sa.Column("case_id", sa.Integer, primary_key=True),
                   sa.Column("body", sa.Text))
_pg_fts.name = TABLE


_CASE_TEXT = sa.text("SELECT id, subject, description, resolution FROM cases WHERE id IN :ids"
                     ).bindparams(sa.bindparam("ids", expanding=True))
_LOG_TEXT = sa.text("SELECT case_id, text FROM case_log WHERE case_id IN :ids ORDER BY id"
                    ).bindparams(sa.bindparam("ids", expanding=True))
_SQLITE_DELETE = sa.text(f"DELETE FROM {TABLE} WHERE rowid IN :ids"
                         ).bindparams(sa.bindparam("ids", expanding=True))
_SQLITE_INSERT = sa.text(f"INSERT INTO {TABLE} (rowid, body) VALUES (:case_id, :body)")
CHUNK = 500  # case ids per statement: well under any database's limit on parameters


def _as_stored(text: str) -> str:
    """Search text lower-cased, and an address in it written as ``addresses.key`` stores it."""
    return addresses.key(text) if "@" in text else text.lower()


def reindex(conn: sa.Connection, case_ids: Sequence[int]) -> None:
    """Rewrite the index rows of ``case_ids`` from the cases and their log.

    Four statements for all of them (per ``CHUNK``), not four per case: a batch of
    the drain reindexes every case it touched at its one commit."""
    ids = sorted(set(case_ids))
    for start in range(0, len(ids), CHUNK):
        _reindex(conn, ids[start:start + CHUNK])


def _reindex(conn: sa.Connection, ids: list[int]) -> None:
    cases = {row.id: row for row in conn.execute(_CASE_TEXT, {"ids": ids})}
    if not cases:
        return
    notes: dict[int, list[str]] = {case_id: [] for case_id in cases}
    for case_id, text in conn.execute(_LOG_TEXT, {"ids": list(cases)}):
        notes[case_id].append(text)
    rows = [{"case_id": case_id,
             "body": index_text(row.subject, row.description, row.resolution, *notes[case_id])}
            for case_id, row in sorted(cases.items())]
    if conn.dialect.name == "postgresql":  # an upsert: replicas may index one case at once
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        upsert = pg_insert(_pg_fts)
        conn.execute(upsert.on_conflict_do_update(index_elements=[_pg_fts.c.case_id],
                                                  set_={"body": upsert.excluded.body}), rows)
    else:
        conn.execute(_SQLITE_DELETE, {"ids": list(cases)})
        conn.execute(_SQLITE_INSERT, rows)


def _touched(session: Session) -> list[int]:
    ids: set[int] = set()
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, Case) and obj.id is not None:
            ids.add(obj.id)
        elif isinstance(obj, LogEntry):
            ids.add(obj.case_id)
    return sorted(ids)


_DIRTY = "maild.fts_dirty"


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    """Note which cases changed; they are reindexed once, just before the commit.

    A transaction flushes many times (every query autoflushes); rewriting the
    index row at each flush re-read the whole case log again and again."""
    ids = _touched(session)
    if ids:
        session.info.setdefault(_DIRTY, set()).update(ids)


def reindex_pending(session: Session) -> None:
    """Flush, and bring the index rows of the cases changed so far up to date."""
    session.flush()
    ids = session.info.pop(_DIRTY, None)
    if ids:
        reindex(session.connection(), sorted(ids))


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    """At the real commit only: a savepoint's release (a batch commits one per message)
    leaves the rewrite to the commit of the whole, so a case is indexed once."""
    if session.in_nested_transaction():
        return
    reindex_pending(session)  # the commit's own flush comes after this hook: flush now


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    """A real rollback forgets the cases to reindex. SQLAlchemy also calls this after a
    savepoint's rollback (a drain batch redone, one message failing): the cases of the
    batch's other messages must still be reindexed at its commit, so the set is kept
    while the outer transaction lives (a case the savepoint took back is skipped)."""
    if session.in_transaction():
        return
    session.info.pop(_DIRTY, None)


@dataclass(frozen=True)
class Filters:
    """What ``maild search`` narrows by, besides the words."""

    customer: str | None = None  # name, email or employee id (substring, case-insensitive)
    engineer: str | None = None  # engineer email
    status: Sequence[str] = ()
    type: str | None = None
    since: datetime | None = None
    until: datetime | None = None  # exclusive
    kb: bool | None = None  # only knowledge-base entries (True) or only others (False)


def _text_condition(dialect: str, query: Query) -> tuple[Any, list[Any]]:
    """(FROM clause join target, WHERE conditions) for the words of ``query``."""
    if dialect == "postgresql":
        table, key = _pg_fts, _pg_fts.c.case_id
        conds: list[Any] = []
        ts = tsquery(query)
        if ts is not None:
            conds.append(sa.func.to_tsvector(sa.literal_column("'simple'"), table.c.body)
                         .op("@@")(sa.func.to_tsquery(sa.literal_column("'simple'"), ts)))
    else:
        table, key = _sqlite_fts, _sqlite_fts.c.rowid
        conds = []
        match = fts5_match(query)
        if match is not None:
            conds.append(sa.literal_column(TABLE).op("MATCH")(match))
    for char in query.like_terms:
        conds.append(table.c.body.contains(char, autoescape=True))
    return (table, key), conds


def search(s: Session, words: Sequence[str], filters: Filters = Filters(),
           limit: int = 50) -> list[Case]:
    """Cases matching every word and filter, newest (highest case number) first.

    With words, the order is the index's own row order (its rowid is the case
    id), so SQLite walks the matches newest first and stops at ``limit``
    instead of sorting every match: that is what keeps common words fast."""
    query = parse_query(words)
    reindex_pending(s)  # a search inside a transaction sees that transaction's changes
    q = select(Case)
    order: Any = col(Case.id).desc()
    if not query.empty:
        (table, key), conds = _text_condition(s.get_bind().dialect.name, query)
        q = q.join(table, key == Case.id).where(*conds)
        order = key.desc()
    if filters.customer:  # an address in any spelling (A-label domain…) as it is stored
        pattern = f"%{_as_stored(filters.customer)}%"
        q = q.join(Customer, Customer.id == Case.customer_id).where(or_(  # type: ignore[arg-type]
            sa.func.lower(Customer.name).like(pattern),
            sa.func.lower(sa.func.coalesce(Customer.email, "")).like(pattern),
            sa.func.lower(sa.func.coalesce(Customer.employee_id, "")) == filters.customer.lower(),
        ))
    if filters.engineer:
        q = q.where(sa.func.lower(sa.func.coalesce(Case.engineer_email, ""))
                    == addresses.key(filters.engineer))
    if filters.status:
        q = q.where(col(Case.status).in_(list(filters.status)))
    if filters.type:
        q = q.where(Case.type == filters.type)
    if filters.since:
        q = q.where(col(Case.created_at) >= filters.since)
    if filters.until:
        q = q.where(col(Case.created_at) < filters.until)
    if filters.kb is not None:
        q = q.where(Case.kb == filters.kb)
    return list(s.exec(q.order_by(order).limit(limit)))


def search_resolved(s: Session, words: Sequence[str], limit: int = 10) -> list[Case]:
    """``#search`` by mail: resolved or closed cases, knowledge-base entries first."""
    if parse_query(words).empty:
        return []
    done = ("resolved", "closed")
    found = search(s, words, Filters(status=done, kb=True), limit)  # two walks, no sort
    return found + search(s, words, Filters(status=done, kb=False), limit - len(found))
