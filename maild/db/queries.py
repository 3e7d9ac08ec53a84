"""The reads and writes the service needs, as small named functions over a Session."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from maild.core import addresses
from maild.core.cases import CaseView
from maild.core.values import OPEN_STATUSES, Status
from maild.db.models import Case, Customer, InboundMessage, LogEntry, MessageRef, OutboxMail
from maild.db.rows import new_row


class Recorded(NamedTuple):
    """What is kept of an earlier message: enough to answer for it again."""

    id: int | None
    case_id: int | None
    disposition: str
    reason: str | None


def _core(s: Session, statement: sa.Executable,
          params: dict[str, Any]) -> sa.Result[*tuple[Any, ...]]:
    """A Core statement of columns, run on the session's connection: without the ORM's
    execution layer, which costs more than the statement itself on SQLite (40 against
    100 µs a look-up), and without an autoflush. Callers whose answer depends on rows
    the session may hold unflushed flush them first (``flush_pending``)."""
    return s.connection().execute(statement, params)


_RECORDED = (col(InboundMessage.id), col(InboundMessage.case_id),
             col(InboundMessage.disposition), col(InboundMessage.reason))


def recorded_source(s: Session, source: str) -> Recorded | None:
    """The message already recorded from this mailbox slot (crash between commit and move).

    Columns only: loading the row would load its raw bytes too."""
    row = s.exec(select(*_RECORDED).where(InboundMessage.source == source)).first()
    return Recorded(*row) if row else None


_BY_SOURCES = sa.select(col(InboundMessage.source), *_RECORDED).where(
    col(InboundMessage.source).in_(sa.bindparam("sources", expanding=True)))


def recorded_sources(s: Session, sources: Sequence[str]) -> dict[str, Recorded]:
    """``recorded_source`` for several slots in one query (a batch of the drain)."""
    if not sources:
        return {}
    flush_pending(s, InboundMessage)
    rows = _core(s, _BY_SOURCES, {"sources": list(sources)})
    return {source: Recorded(*rest) for source, *rest in rows if source is not None}


# The statements of every message's path are built once, with bound parameters: building
# a SQLAlchemy statement costs more CPU than running it on SQLite (docs/PERFORMANCE.md).
_SEEN_BEFORE = (sa.select(*_RECORDED)
                .where(col(InboundMessage.dedup_key) == sa.bindparam("key"))
                .where(col(InboundMessage.disposition) != "failed")
                .where(col(InboundMessage.disposition) != "duplicate")
                .limit(1))


def seen_before(s: Session, dedup_key: str) -> Recorded | None:
    """An earlier, successfully handled message with the same key."""
    flush_pending(s, InboundMessage)
    row = _core(s, _SEEN_BEFORE, {"key": dedup_key}).first()
    return Recorded(*row) if row else None


def get_case(s: Session, case_id: int) -> Case | None:
    """The case, locked until commit (PostgreSQL: replicas change one case in turn)."""
    return s.get(Case, case_id, with_for_update=True)


_BY_REFERENCES = (sa.select(col(MessageRef.message_id), col(MessageRef.case_id))
                  .where(col(MessageRef.message_id).in_(sa.bindparam("ids", expanding=True))))


def case_by_references(s: Session, message_ids: Sequence[str]) -> int | None:
    """The case of the first referenced Message-ID we know."""
    if not message_ids:
        return None
    flush_pending(s, MessageRef)
    by_id = {mid: case_id for mid, case_id in _core(s, _BY_REFERENCES, {"ids": list(message_ids)})}
    for mid in message_ids:
        if mid in by_id:
            return int(by_id[mid])
    return None


_REFS = "maild.refs"  # Message-IDs added in this session, flushed or not
_REF_EXISTS = sa.select(sa.literal(1)).where(col(MessageRef.message_id) == sa.bindparam("m"))


@sa.event.listens_for(Session, "after_rollback")
def forget_refs(session: Session) -> None:
    """Forget the refs added so far (called after a rollback, also to a savepoint): the
    look-up in ``remember_ref`` then asks the session, which knows what survived."""
    session.info.pop(_REFS, None)


def remember_ref(s: Session, message_id: str | None, case_id: int, new: bool = False) -> None:
    """Record a Message-ID as part of a case's thread (first one wins).

    ``new``: the id was made just now (our own outgoing mail), so no row can
    hold it yet. The look-up does not autoflush: a ref added earlier in this
    session, flushed or not, is in the session's own list."""
    if not message_id:
        return
    added: set[str] = s.info.setdefault(_REFS, set())
    if message_id in added:
        return
    if not new and _core(s, _REF_EXISTS, {"m": message_id}).first():
        return  # a ref of an earlier transaction or flush (later ones are in ``added``)
    added.add(message_id)
    s.add(new_row(MessageRef, message_id=message_id, case_id=case_id))



_CUSTOMER_ASCII = select(Customer).where(func.lower(Customer.email) == sa.bindparam("key"))
_CUSTOMER_EXACT = select(Customer).where(col(Customer.email) == sa.bindparam("key"))


def customer_by_email(s: Session, email: str) -> Customer | None:
    """By address compared as ``addresses.key`` does (older rows: ASCII in any case)."""
    k = addresses.key(email)
    return s.exec(_CUSTOMER_ASCII if k.isascii() else _CUSTOMER_EXACT,
                  params={"key": k}).first()


def engineer_loads(s: Session,
                   engineers: Sequence[str]) -> tuple[dict[str, int], dict[str, datetime]]:
    """Open cases per engineer, and when each was last given a case.

    Per engineer, so that each answer comes from one index (engineer, status)
    and (engineer, dispatched_at): a MAX there is one index probe, not a scan
    of every case the engineer ever had. All engineers in one statement (a
    UNION ALL of one row per engineer, each two scalar subqueries): one round
    trip per new case."""
    wanted = list(dict.fromkeys(engineers))
    if not wanted:
        return {}, {}
    counts: dict[str, int] = {}
    last: dict[str, datetime] = {}
    params = {f"e{i}": email for i, email in enumerate(wanted)}
    flush_pending(s, Case)
    for n, count, when in _core(s, _loads_statement(len(wanted)), params):
        email = wanted[n]
        if count:
            counts[email] = int(count)
        if when is not None:
            last[email] = when
    return counts, last


@functools.lru_cache(maxsize=32)
def _loads_statement(engineers: int) -> sa.Executable:
    """``engineer_loads``'s statement for that many engineers (``:e0``, ``:e1``, …)."""
    open_statuses = [st.value for st in OPEN_STATUSES]
    parts = []
    for i in range(engineers):
        mine = col(Case.engineer_email) == sa.bindparam(f"e{i}")
        opened = (select(func.count()).select_from(Case)
                  .where(mine, col(Case.status).in_(open_statuses)).scalar_subquery())
        latest = select(func.max(Case.dispatched_at)).where(mine).scalar_subquery()
        parts.append(sa.select(sa.literal(i).label("n"), opened.label("open"),
                               latest.label("latest")))
    return parts[0] if len(parts) == 1 else sa.union_all(*parts)


def add_log(s: Session, case_id: int, at: datetime, author: str, kind: str, text: str) -> None:
    """One line on the case's log. Through the ORM: a Core insert per line was tried for
    the drain and measured no faster (docs/PERFORMANCE.md), with more statements (the unit
    of work sends a message's lines together)."""
    s.add(new_row(LogEntry, case_id=case_id, at=at, author=author, kind=kind, text=text))


def case_log(s: Session, case_id: int) -> list[LogEntry]:
    return list(s.exec(select(LogEntry).where(LogEntry.case_id == case_id)
                       .order_by(col(LogEntry.at), col(LogEntry.id))))


class LogLine(NamedTuple):
    at: datetime
    author: str
    kind: str
    text: str


_LOG_LINES = (sa.select(col(LogEntry.at), col(LogEntry.author), col(LogEntry.kind),
                        col(LogEntry.text))
              .where(col(LogEntry.case_id) == sa.bindparam("case_id"))
              .order_by(col(LogEntry.at), col(LogEntry.id)))


def case_log_lines(s: Session, case_id: int) -> list[LogLine]:
    """``case_log`` as plain rows (what templates show), without building ORM objects."""
    return [LogLine(*row) for row in s.execute(_LOG_LINES, {"case_id": case_id})]


def view_of(case: Case, unsaved: bool = False) -> CaseView:
    """The state machine's view of a stored case (``unsaved``: not inserted yet, id 0)."""
    assert case.id is not None or unsaved
    return CaseView(
        id=case.id or 0, status=Status(case.status), engineer=case.engineer_email,
        priority=case.priority, type=case.type, resolution=case.resolution, rating=case.rating,
        kb=case.kb, rejections=case.rejections, dispatched_at=case.dispatched_at,
        first_response_at=case.first_response_at, resolved_at=case.resolved_at,
        closed_at=case.closed_at, work_started_at=case.work_started_at,
        handling_seconds=case.handling_seconds, kind=case.kind, line=case.line,
    )


def store_view(case: Case, view: CaseView, now: datetime) -> None:
    """Write a state machine result back onto the stored case."""
    case.status = view.status.value
    case.engineer_email = view.engineer
    case.priority = view.priority
    case.type = view.type
    case.resolution = view.resolution
    case.rating = view.rating
    case.kb = view.kb
    case.rejections = view.rejections
    case.dispatched_at = view.dispatched_at
    case.first_response_at = view.first_response_at
    case.resolved_at = view.resolved_at
    case.closed_at = view.closed_at
    case.work_started_at = view.work_started_at
    case.handling_seconds = view.handling_seconds
    case.kind = view.kind
    case.line = view.line
    case.updated_at = now


def failed_alert_since(s: Session, since: datetime) -> bool:
    """Whether operators were already alerted about a failed message since ``since``."""
    row = s.exec(select(OutboxMail.id).where(OutboxMail.template == "failed_alert")
                 .where(col(OutboxMail.created_at) >= since).limit(1)).first()
    return row is not None


def last_outbox_at(s: Session, template: str) -> datetime | None:
    """When mail of ``template`` was last queued (the hourly limit of operators' notices)."""
    return s.exec(select(func.max(OutboxMail.created_at))
                  .where(OutboxMail.template == template)).one()


def failed_outbox_since(s: Session, since: datetime | None, skip_template: str,
                        limit: int) -> tuple[list[OutboxMail], int]:
    """Outbox rows that failed after ``since`` (a failed row's ``next_attempt_at`` is when
    it failed), the first ``limit`` of them and how many there are."""
    where = [col(OutboxMail.status) == "failed", col(OutboxMail.template) != skip_template]
    if since is not None:
        where.append(col(OutboxMail.next_attempt_at) > since)
    rows = list(s.exec(select(OutboxMail).where(*where).order_by(col(OutboxMail.id))
                       .limit(limit)))
    return rows, count_where(s, OutboxMail, *where)


_RESPONSES_SINCE = (
    sa.select(func.count()).select_from(OutboxMail)
    .where(col(OutboxMail.to_addr) == sa.bindparam("to"),
           col(OutboxMail.template).in_(sa.bindparam("templates", expanding=True)),
           col(OutboxMail.created_at) >= sa.bindparam("since")))


def flush_pending(s: Session, model: type, but: object = None) -> None:
    """Flush only when the session holds unflushed changes to rows of ``model`` (other
    than ``but``): a count over that table is then exact without the autoflush, which
    would write every other pending row too, one flush more per query."""
    if any(type(o) is model and o is not but for o in (*s.new, *s.dirty, *s.deleted)):
        s.flush()


def responses_since(s: Session, address: str, templates: frozenset[str],
                    since: datetime) -> int:
    """How many automatic answers went to ``address`` since ``since`` (loop protection)."""
    flush_pending(s, OutboxMail)
    return int(_core(s, _RESPONSES_SINCE, {"to": addresses.key(address),
                                            "templates": sorted(templates),
                                            "since": since}).scalar_one())


_MESSAGES_SINCE = (
    sa.select(func.count()).select_from(InboundMessage)
    .where(col(InboundMessage.from_addr) == sa.bindparam("sender"),
           col(InboundMessage.received_at) >= sa.bindparam("since"),
           col(InboundMessage.disposition).in_(sa.bindparam("dispositions", expanding=True)),
           col(InboundMessage.id) != sa.bindparam("other_than")))


def messages_since(s: Session, sender: str, since: datetime, dispositions: Sequence[str],
                   other_than: int, row: object = None) -> int:
    """How many messages from ``sender`` since ``since`` ended with one of ``dispositions``,
    leaving out the message ``other_than`` (the sender's hourly cap; ``row``, its ORM
    object, may hold unflushed changes: they do not count)."""
    flush_pending(s, InboundMessage, but=row)
    return int(_core(s, _MESSAGES_SINCE, {"sender": sender, "since": since,
                                          "dispositions": list(dispositions),
                                          "other_than": other_than}).scalar_one())


def count_where(s: Session, model: type, *conditions: sa.ColumnElement[bool]) -> int:
    return int(s.exec(select(func.count()).select_from(model).where(*conditions)).one())
