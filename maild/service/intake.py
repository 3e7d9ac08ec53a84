"""Use cases, one transaction each: ingest one raw message, and the read-side views.

``ingest`` is the single entry point for every inbound message, from IMAP
or from ``maild ingest``: the message row (raw bytes, disposition, reason),
the case change and the notifications are committed together. Any
exception while handling one message ends as a recorded ``failed``
disposition; only an unavailable database escapes, as ``TransientError``,
so that the caller retries later (IMAP leaves the mail; ``ingest`` exits 75).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import sqlalchemy.exc as sa_exc
from sqlmodel import Session

from maild.core import notify
from maild.core.classify import Route, classify
from maild.core.parse import UnparseableMessage, parse
from maild.core.values import Disposition, Inbound, IngestResult, Role, TransientError
from maild.db import locks, queries
from maild.db.models import InboundMessage
from maild.db.rows import new_row
from maild.db.session import begin_write, transaction
from maild.runtime import Runtime
from maild.service import (
    commands,
    flood,
    notices,
    operators,
    problems,
    replies,
    strangers,
    unproven,
    workload,
)
from maild.service.notices import base_context, enqueue, staff_recipient
from maild.service.opening import Handled, new_case
from maild.service.reading import Reading, read

log = logging.getLogger("maild.service")


_SQLITE_TRANSIENT = ("locked", "busy", "unable to open", "disk i/o", "readonly")


def _transient(exc: BaseException) -> bool:
    """Database unreachable or locked: worth retrying, not a property of the message.

    SQLite reports locks and bad SQL alike as OperationalError, so its message
    decides; for a server database every OperationalError is a connection matter."""
    if isinstance(exc, sa_exc.InterfaceError):
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.OperationalError):
        if "sqlite" in type(exc.orig).__module__:
            return any(word in str(exc.orig).lower() for word in _SQLITE_TRANSIENT)
        return True
    return False


def ingest(rt: Runtime, raw: bytes, now: datetime, source: str | None = None) -> IngestResult:
    """Give one raw message its disposition; never raises except ``TransientError``."""
    try:
        return _ingest_retrying_conflicts(rt, raw, now, source)
    except UnparseableMessage as exc:  # expected: recorded, no traceback
        log.warning("message is not an email: source=%s: %s", source, exc)
        return _record_failed(rt, raw, now, source, f"not an email: {exc}")
    except Exception as exc:
        if _transient(exc):
            raise TransientError(str(exc).splitlines()[0]) from exc
        log.exception("message failed: source=%s", source)
        try:
            return _record_failed(rt, raw, now, source, f"{type(exc).__name__}: {exc}")
        except Exception as exc2:
            raise TransientError(f"could not record a failed message: {exc2}") from exc2


CONFLICT_RETRIES = 3


def _ingest_retrying_conflicts(rt: Runtime, raw: bytes, now: datetime,
                               source: str | None) -> IngestResult:
    """``_ingest``, again from the start when another process committed the same new row
    first (two replicas creating one new customer): the whole transaction was rolled
    back, and the next attempt finds the other's row instead of inserting it."""
    for attempt in range(CONFLICT_RETRIES):
        try:
            return _ingest(rt, raw, now, source)
        except sa_exc.IntegrityError:
            if attempt == CONFLICT_RETRIES - 1:
                raise
            log.info("unique-key conflict with another writer: source=%s; trying again",
                     source)
    raise AssertionError("unreachable")


def _fail(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage, seen: Reading) -> Handled:
    return Handled(Disposition.FAILED, None, "no From or Sender address: nobody to answer")


def _duplicate(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage,
               seen: Reading) -> Handled:
    assert seen.earlier is not None
    return Handled(Disposition.DUPLICATE, seen.earlier.case_id,
                   f"same message as #{seen.earlier.id} ({msg.dedup_key[:80]})")


def _ignore(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage,
            seen: Reading) -> Handled:
    return Handled(Disposition.IGNORED, None, seen.facts.auto_generated)


Apply = Callable[[Session, Runtime, Inbound, InboundMessage, Reading], Handled]

# One service function per route of ``core.classify``; each applies it in the caller's
# transaction and returns the disposition. No route's function calls another's.
ROUTES: dict[Route, Apply] = {
    Route.FAIL: _fail,
    Route.DUPLICATE: _duplicate,
    Route.IGNORE: _ignore,
    Route.COMMAND: commands.on_command,
    Route.PROBLEM: problems.on_problem,
    Route.REPLY: replies.on_reply,
    Route.RELEASE: strangers.release,
    Route.HELP: commands.answer_help,
    Route.SEARCH: commands.answer_search,
    Route.WORKLOAD: workload.answer,
    Route.FORWARDED: operators.forwarded,
    Route.PHONE: operators.phone,
    Route.NEW_CASE: new_case,
    Route.HOLD: strangers.hold,
    Route.REJECT: strangers.reject,
}


def handle(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage) -> Handled:
    """Read, decide (``core.classify``), act: the path of every inbound message.

    The route's function applies the decision; its other effects are applied here,
    in one place: the unproven staff member told, a case a stranger named linked,
    and the sender's hourly cap on what maild writes because of them."""
    seen = read(s, rt, msg)
    decision = classify(seen.facts)
    log.debug("message %s: rule %r -> %s", row.id, decision.rule, decision.route)
    with notices.queued(s) as queued:
        handled = ROUTES[decision.route](s, rt, msg, row, seen)
        if decision.unproven:
            unproven.tell(s, rt, msg, row.received_at, decision.unproven)
    if decision.link_case is not None:
        _link(s, decision.link_case, handled, msg.from_addr, row.received_at)
    return flood.cap(s, rt, msg.from_addr, row, queued, handled)


def _link(s: Session, case_id: int, result: Handled, sender: str, now: datetime) -> None:
    """A stranger's mail that named a case by its subject: say where it went instead."""
    where = f"case #{result.case_id}" if result.case_id else result.disposition.value
    queries.add_log(s, case_id, now, "maild", "link",
                    f"mail from {sender} naming this case, not from its customer: {where}")
    if result.case_id is not None and result.case_id != case_id:
        queries.add_log(s, result.case_id, now, "maild", "link",
                        f"the mail named case #{case_id}, whose customer {sender} is not")


def _inbound_row(raw: bytes, now: datetime, source: str | None) -> InboundMessage:
    digest = hashlib.sha256(raw).hexdigest()
    return new_row(InboundMessage, dedup_key=f"sha256:{digest}", source=source,
                   disposition="failed", received_at=now, size=len(raw), sha256=digest, raw=raw)


def _ingest(rt: Runtime, raw: bytes, now: datetime, source: str | None) -> IngestResult:
    with transaction(rt.engine) as s:
        result, row = _ingest_in(s, rt, raw, now, source)
    if row is not None:
        _log_done(row)
    return result


def _ingest_in(s: Session, rt: Runtime, raw: bytes, now: datetime, source: str | None,
               wait: bool = True, looked: bool = False
               ) -> tuple[IngestResult, InboundMessage | None]:
    """One message in the caller's transaction: the result, and the new row (None when
    the slot was recorded before). ``wait=False``: raise ``_Busy`` instead of waiting for
    another transaction deciding the same Message-ID (a batch holds its locks longer, and
    two batches waiting for each other would deadlock). ``looked``: the caller found the
    slot not recorded, in this transaction."""
    if source is not None and not looked:
        done = queries.recorded_source(s, source)
        if done is not None:
            return IngestResult(Disposition(done.disposition), done.id, done.case_id,
                                done.reason, already_recorded=True), None
    msg = parse(raw)
    # replicas: two copies, one decision
    if wait:
        locks.serialize(s, locks.DEDUP, msg.dedup_key)
    elif not locks.try_serialize(s, locks.DEDUP, msg.dedup_key):
        raise _Busy(msg.dedup_key)
    row = _inbound_row(raw, now, source)
    row.dedup_key = msg.dedup_key
    row.message_id = msg.message_id
    row.from_addr = msg.from_addr[:320]
    row.subject = msg.subject[:998]
    s.add(row)
    s.flush()
    handled = handle(s, rt, msg, row)
    row.disposition = handled.disposition.value
    row.case_id = handled.case_id
    row.reason = handled.reason
    if handled.disposition == Disposition.FAILED:
        _alert_operators(s, rt, row, now)
    return IngestResult(handled.disposition, row.id, handled.case_id, handled.reason), row


def _log_done(row: InboundMessage) -> None:
    log.info("message %s: %s case=%s (%s)", row.id, row.disposition, row.case_id, row.reason,
             extra={"message_id": row.id, "case_id": row.case_id, "disposition": row.disposition})


def _record_failed(rt: Runtime, raw: bytes, now: datetime, source: str | None,
                   reason: str) -> IngestResult:
    """Keep the raw bytes with disposition ``failed``; alert operators at most once an hour."""
    with transaction(rt.engine) as s:
        return _record_failed_in(s, rt, raw, now, source, reason)


def _record_failed_in(s: Session, rt: Runtime, raw: bytes, now: datetime, source: str | None,
                      reason: str) -> IngestResult:
    if source is not None and (done := queries.recorded_source(s, source)) is not None:
        return IngestResult(Disposition(done.disposition), done.id, done.case_id,
                            done.reason, already_recorded=True)
    row = _inbound_row(raw, now, source)
    row.reason = reason[:2000]
    try:  # best effort: who sent it helps the operators; a second failure is fine
        msg = parse(raw)
        row.from_addr, row.subject = msg.from_addr[:320], msg.subject[:998]
        row.message_id, row.dedup_key = msg.message_id, msg.dedup_key
    except Exception:
        pass
    s.add(row)
    s.flush()
    _alert_operators(s, rt, row, now)
    return IngestResult(Disposition.FAILED, row.id, None, row.reason)


# -- several messages in one transaction (the mailbox drain) ---------------------------

Item = tuple[bytes, str | None]  # raw bytes and the mailbox slot (``source``)


def ingest_batch(rt: Runtime, items: Sequence[Item], clock: Callable[[], datetime],
                 stop: Callable[[], bool] = lambda: False) -> list[IngestResult | None]:
    """``ingest`` for several messages at once, in one transaction.

    Each message is handled exactly as ``ingest`` handles it, in one shared
    transaction. The batch is first taken at once; if one of its messages fails,
    it all rolls back and goes again with a savepoint per message: the message
    that fails rolls back to its savepoint alone and is recorded ``failed`` (in a
    savepoint of its own), and the others commit with it. What the batch saves
    is a commit, its flush and its search index pass per message, and the reads
    the session keeps (customers, cases, refs) between messages. The result list
    follows ``items``; it is shorter when ``stop()`` turned true (asked before
    each message but the first).

    PostgreSQL, replicas: a message whose Message-ID another transaction is
    deciding is not waited for inside the batch (two batches waiting for each
    other's locks would stall): it is left out before it writes anything (or,
    with savepoints, also after a lock cycle, deadlock detected, rolled back to
    its savepoint) and is ingested alone, by ``ingest``, once the batch has
    committed and holds nothing. Its entry is None only when that too met the
    database unavailable: not recorded, to be looked at again later.

    Raises only ``TransientError`` (the database unavailable; nothing of the
    batch is committed). Any other error outside a message's savepoint (the
    commit itself) falls back to ``ingest`` one message at a time."""
    try:
        return _ingest_batch(rt, items, clock, stop)
    except TransientError:
        raise
    except Exception as exc:
        if _transient(exc):
            raise TransientError(str(exc).splitlines()[0]) from exc
        log.exception("batch of %d message(s) failed as a whole; one at a time instead",
                      len(items))
        out: list[IngestResult | None] = []
        for raw, source in items:
            if out and stop():
                break
            out.append(ingest(rt, raw, clock(), source))
        return out


class _Redo(Exception):
    """A message of a batch taken at once failed: the batch goes again, a savepoint each."""


def _ingest_batch(rt: Runtime, items: Sequence[Item], clock: Callable[[], datetime],
                  stop: Callable[[], bool]) -> list[IngestResult | None]:
    """The batch at once, with no savepoint; when one of its messages fails (rare: mail
    that is not an email, a bug, a unique-key race), the whole transaction is rolled
    back and the batch done again with a savepoint per message, which records that
    message ``failed`` and the others as usual. A savepoint and its release were about a
    tenth of a message's CPU on SQLite (docs/PERFORMANCE.md)."""
    try:
        return _batch(rt, items, clock, stop, _one_at_once)
    except _Redo as redo:
        log.info("a message of a batch of %d failed (%s); the batch again, a savepoint each",
                 len(items), redo)
    return _batch(rt, items, clock, stop, _one_of_batch)


One = Callable[[Session, Runtime, bytes, datetime, str | None],
               tuple[IngestResult | None, InboundMessage | None]]


def _batch(rt: Runtime, items: Sequence[Item], clock: Callable[[], datetime],
           stop: Callable[[], bool], one: One) -> list[IngestResult | None]:
    """The items in one transaction, each message by ``one`` (None: left for later, to be
    ingested alone once the batch has committed)."""
    results: list[IngestResult | None] = []
    rows: list[InboundMessage] = []
    with transaction(rt.engine) as s:
        begin_write(s)  # before a first savepoint, if any
        recorded = queries.recorded_sources(s, [x for _raw, x in items if x is not None])
        for raw, source in items:
            if results and stop():
                break
            if source is not None and (done := recorded.get(source)) is not None:
                results.append(IngestResult(Disposition(done.disposition), done.id,
                                            done.case_id, done.reason, already_recorded=True))
                continue
            result, row = one(s, rt, raw, clock(), source)
            results.append(result)
            if row is not None:
                rows.append(row)
    for row in rows:
        _log_done(row)
    return _alone_after(rt, items, clock, results)


def _one_at_once(s: Session, rt: Runtime, raw: bytes, now: datetime, source: str | None
                 ) -> tuple[IngestResult | None, InboundMessage | None]:
    """One message of a batch taken at once: any failure redoes the batch (``_Redo``)."""
    try:
        return _ingest_in(s, rt, raw, now, source, wait=False, looked=True)
    except _Busy:  # raised before the message wrote anything: no need to undo
        return None, None
    except Exception as exc:
        # a lock cycle on PostgreSQL (deadlock detected) is not the database down:
        # redone with savepoints, that message waits to be ingested alone
        if _transient(exc) and not _lock_conflict(exc):
            raise
        raise _Redo(f"{type(exc).__name__}, source={source}") from exc


def _alone_after(rt: Runtime, items: Sequence[Item], clock: Callable[[], datetime],
                 results: list[IngestResult | None]) -> list[IngestResult | None]:
    """The messages of a committed batch that met another transaction's locks (None),
    each ingested alone now: the batch holds no lock, so they wait for others' at most."""
    for i, result in enumerate(results):
        if result is not None:
            continue
        raw, source = items[i]
        try:
            results[i] = ingest(rt, raw, clock(), source)
        except TransientError as exc:
            log.warning("message left for the next look: source=%s: %s", source, exc)
    return results


# PostgreSQL's answers for "another transaction holds what this statement needs, in a
# cycle" (deadlock detected) and serialization failures: the message is tried again later.
_LOCK_CONFLICTS = ("40P01", "40001", "55P03")


class _Busy(Exception):
    """Another replica's transaction decides this message's Message-ID right now."""


def _one_of_batch(s: Session, rt: Runtime, raw: bytes, now: datetime, source: str | None
                  ) -> tuple[IngestResult | None, InboundMessage | None]:
    """One message of a batch in its own savepoint; a failure is recorded in another."""
    for attempt in range(CONFLICT_RETRIES):
        try:
            with s.begin_nested():
                return _ingest_in(s, rt, raw, now, source, wait=False,
                                  looked=attempt == 0)
        except _Busy:
            _after_savepoint_rollback(s)
            return None, None
        except UnparseableMessage as exc:
            _after_savepoint_rollback(s)
            log.warning("message is not an email: source=%s: %s", source, exc)
            reason = f"not an email: {exc}"
            break
        except sa_exc.IntegrityError:
            _after_savepoint_rollback(s)
            if attempt < CONFLICT_RETRIES - 1:
                log.info("unique-key conflict with another writer: source=%s; trying again",
                         source)
                continue
            log.exception("message failed: source=%s", source)
            reason = "IntegrityError: unique-key conflicts, tried " + str(CONFLICT_RETRIES)
        except Exception as exc:
            _after_savepoint_rollback(s)
            if _lock_conflict(exc):
                return None, None
            if _transient(exc):
                raise
            log.exception("message failed: source=%s", source)
            reason = f"{type(exc).__name__}: {exc}"
            break
    with s.begin_nested():
        return _record_failed_in(s, rt, raw, now, source, reason), None


def _after_savepoint_rollback(s: Session) -> None:
    """What the session remembers beside its objects must not outlive the savepoint."""
    queries.forget_refs(s)


def _lock_conflict(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) in _LOCK_CONFLICTS
def _alert_operators(s: Session, rt: Runtime, row: InboundMessage, now: datetime) -> None:
    if queries.failed_alert_since(s, now - timedelta(hours=1)):
        return
    ctx = base_context(rt, None)
    ctx["failed"] = {"message_id": row.message_id, "from": row.from_addr or "(unknown)",
                     "subject": row.subject or "(unknown)", "reason": row.reason or ""}
    for person in rt.rules.with_role(Role.OPERATOR):
        enqueue(s, rt, notify.Notice("failed_alert", staff_recipient(rt, person.email)), ctx, now)
