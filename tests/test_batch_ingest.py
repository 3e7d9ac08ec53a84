"""The mailbox drain ingests each fetched batch in one transaction
(``service.intake.ingest_batch``): at once while every message goes well; when one
fails, the batch goes again with a savepoint per message, so that the poisoned
message rolls back alone and is recorded ``failed``; the others of its batch commit
(once: nothing of the first try is left) and are moved."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
from maildenv import Maild, new_mail, outbox, write_config
from servers import Dovecot
from sqlmodel import Session, col, select

from maild.core.classify import Route
from maild.core.values import Disposition, TransientError
from maild.db import search
from maild.db.models import Case, InboundMessage, LogEntry, MessageRef, OutboxMail, utcnow
from maild.edges import imap
from maild.service import intake

CUSTOMER = "wang.fang@sh.corp.example"
POISON = "poisoned printer"


def _poison_new_cases(monkeypatch: pytest.MonkeyPatch) -> None:
    """Open the case as usual (case, log, refs, outbox rows), then fail: all of it must
    go with the savepoint."""
    real = intake.ROUTES[Route.NEW_CASE]

    def poisoned(s: Any, rt: Any, msg: Any, row: Any, seen: Any) -> Any:
        handled = real(s, rt, msg, row, seen)
        if msg.subject == POISON:
            raise RuntimeError("poisoned on purpose")
        return handled

    monkeypatch.setitem(intake.ROUTES, Route.NEW_CASE, poisoned)


@pytest.mark.integration
def test_one_poisoned_message_fails_alone_and_its_batch_commits(
        maild: Maild, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch) -> None:
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    _poison_new_cases(monkeypatch)
    subjects = [f"printer {i}" for i in range(5)] + [POISON] + [f"vpn {i}" for i in range(5)]
    for subject in subjects:
        dovecot.deliver(new_mail(CUSTOMER, subject, "It jams."))
    stats = maild.run_once()

    assert stats.drained.processed == len(subjects)
    assert stats.drained.by_disposition == {"new_case": 10, "failed": 1}
    assert dovecot.count("INBOX") == 0
    assert dovecot.count(maild.settings.imap.failed_folder) == 1
    assert dovecot.count(maild.settings.imap.processed_folder) == 10
    with Session(maild.rt.engine) as s:
        rows = {r.subject: r for r in s.exec(select(InboundMessage))}
        assert rows[POISON].disposition == Disposition.FAILED.value
        assert rows[POISON].case_id is None
        assert "poisoned on purpose" in (rows[POISON].reason or "")
        assert all(rows[x].disposition == "new_case" for x in subjects if x != POISON)
        cases = list(s.exec(select(Case)))
        assert sorted(c.subject for c in cases) == sorted(x for x in subjects if x != POISON)
        # nothing of the rolled-back case survives: no log, no refs, no notifications
        ids = {c.id for c in cases}
        assert {e.case_id for e in s.exec(select(LogEntry))} <= ids
        assert {r.case_id for r in s.exec(select(MessageRef))} <= ids
        mails = list(s.exec(select(OutboxMail).where(col(OutboxMail.case_id).is_not(None))))
        assert {m.case_id for m in mails} == ids
    acks = [m for m in outbox(maild) if m.template == "ack"]
    assert len(acks) == 10  # every good case got its acknowledgement, sent
    assert POISON not in " ".join(m.subject for m in acks)


def _statements(m: Maild) -> list[str]:
    seen: list[str] = []

    @sa.event.listens_for(m.rt.engine, "before_cursor_execute")
    def _note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement.split()[0].upper())

    return seen


def test_a_batch_without_trouble_takes_no_savepoint_and_one_with_trouble_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    m = Maild(write_config(tmp_path, 1, 1))
    m.add_customer(CUSTOMER, "王芳")
    _poison_new_cases(monkeypatch)
    seen = _statements(m)
    good = [(new_mail(CUSTOMER, f"printer {i}", "jams"), f"good{i}") for i in range(3)]
    assert [r.disposition if r else None for r in intake.ingest_batch(m.rt, good, utcnow)] \
        == [Disposition.NEW_CASE] * 3
    assert "SAVEPOINT" not in seen
    seen.clear()
    bad = [(new_mail(CUSTOMER, "scanner", "x"), "bad0"),
           (new_mail(CUSTOMER, POISON, "y"), "bad1")]
    assert [r.disposition if r else None for r in intake.ingest_batch(m.rt, bad, utcnow)] \
        == [Disposition.NEW_CASE, Disposition.FAILED]
    assert "SAVEPOINT" in seen  # the second try, after the first was rolled back
    with Session(m.rt.engine) as s:
        assert sorted(c.subject for c in s.exec(select(Case))) == [
            "printer 0", "printer 1", "printer 2", "scanner"]
        assert len([o for o in s.exec(select(OutboxMail)) if o.template == "ack"]) == 4


def test_batch_results_follow_the_items_and_a_poisoned_one_is_failed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without servers: the results line up with the items; a slot recorded earlier is
    answered from its row (``already_recorded``), as ``ingest`` does."""
    m = Maild(write_config(tmp_path, 1, 1))
    m.add_customer(CUSTOMER, "王芳")
    _poison_new_cases(monkeypatch)
    raws = [new_mail(CUSTOMER, "one", "a"), new_mail(CUSTOMER, POISON, "b"), b"\x00\x01",
            new_mail(CUSTOMER, "two", "c")]
    items = [(raw, f"slot{i}") for i, raw in enumerate(raws)]
    results = intake.ingest_batch(m.rt, items, utcnow)
    assert [r.disposition if r else None for r in results] == [
        Disposition.NEW_CASE, Disposition.FAILED, Disposition.FAILED, Disposition.NEW_CASE]
    again = intake.ingest_batch(m.rt, items[:2], utcnow)
    assert all(r is not None and r.already_recorded for r in again)
    assert [r.message_row_id for r in again if r] == [r.message_row_id for r in results[:2]
                                                      if r]


def test_a_stop_request_ends_the_batch_after_the_message_in_hand(tmp_path: Path) -> None:
    m = Maild(write_config(tmp_path, 1, 1))
    m.add_customer(CUSTOMER, "王芳")
    items = [(new_mail(CUSTOMER, f"s{i}", "x"), f"slot{i}") for i in range(5)]
    asked = []

    def stop() -> bool:
        asked.append(1)
        return len(asked) >= 2

    results = intake.ingest_batch(m.rt, items, utcnow, stop)
    assert len(results) == 2  # the first is always done; stopped before the third
    with Session(m.rt.engine) as s:
        assert len(list(s.exec(select(InboundMessage)))) == 2


def test_database_unavailable_commits_nothing_of_the_batch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A transient error (SQLite locked) rolls the whole batch back and is raised as
    ``TransientError``: the mailbox keeps every message of it for the next drain."""
    import sqlalchemy.exc as sa_exc

    m = Maild(write_config(tmp_path, 1, 1))
    m.add_customer(CUSTOMER, "王芳")
    real = intake.ROUTES[Route.NEW_CASE]

    def locked(s: Any, rt: Any, msg: Any, row: Any, seen: Any) -> Any:
        if msg.subject == "third":
            raise sa_exc.OperationalError("INSERT", {}, Exception("database is locked"))
        return real(s, rt, msg, row, seen)

    monkeypatch.setitem(intake.ROUTES, Route.NEW_CASE, locked)
    items = [(new_mail(CUSTOMER, x, "x"), x) for x in ("first", "second", "third")]
    with pytest.raises(TransientError):
        intake.ingest_batch(m.rt, items, utcnow)
    with Session(m.rt.engine) as s:
        assert list(s.exec(select(InboundMessage))) == []
        assert list(s.exec(select(Case))) == []


@pytest.mark.integration
async def test_drain_with_batches_moves_each_message_once(maild: Maild,
                                                          dovecot: Dovecot) -> None:
    """Over several fetch batches with ``batch``: each message recorded once and moved."""
    count = imap.FETCH_BATCH * 2 + 3
    raws = [new_mail(f"stranger{i}@example.org", f"hello {i}", "help") for i in range(count)]
    await asyncio.to_thread(lambda: [dovecot.deliver(raw) for raw in raws])
    box = imap.Mailbox(maild.settings.imap)
    await box.connect()
    try:
        stats = await imap.drain(maild.rt, box, intake.ingest, utcnow,
                                 batch=intake.ingest_batch)
    finally:
        await box.close()
    assert stats.processed == count and stats.by_disposition == {"held": count}
    assert await asyncio.to_thread(dovecot.count, "INBOX") == 0
    assert await asyncio.to_thread(dovecot.count, "Processed") == count
    with Session(maild.rt.engine) as s:
        assert len(list(s.exec(select(InboundMessage)))) == count


def test_a_redone_batch_keeps_every_committed_case_in_the_search_index(
        tmp_path: Path) -> None:
    """The redo rolls one message back to its savepoint; the cases of the others, opened
    before it in the same transaction, are still indexed at the commit."""
    m = Maild(write_config(tmp_path, 1, 1))
    m.add_customer(CUSTOMER, "王芳")
    items = [(new_mail(CUSTOMER, "zebraprinter jams", "It jams."), "s0"),
             (b"\x00\x01", "s1"),  # not an email: the batch is redone with savepoints
             (new_mail(CUSTOMER, "giraffescanner broken", "No scans."), "s2")]
    results = intake.ingest_batch(m.rt, items, utcnow)
    assert [r.disposition if r else None for r in results] == [
        Disposition.NEW_CASE, Disposition.FAILED, Disposition.NEW_CASE]
    with Session(m.rt.engine) as s:
        assert search.search(s, ["zebraprinter"]) and search.search(s, ["giraffescanner"])


def test_a_lock_cycle_in_a_batch_is_not_the_database_down(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL's "deadlock detected" while a batch is taken at once: the batch is redone
    with savepoints (where such a message waits to be ingested alone), not given up as
    ``TransientError`` (which the drain takes for an outage and backs off)."""
    m = Maild(write_config(tmp_path, 1, 1))
    m.add_customer(CUSTOMER, "王芳")
    real = intake.ROUTES[Route.NEW_CASE]
    raised: list[str] = []

    class DeadlockDetected(Exception):
        sqlstate = "40P01"  # what psycopg's exception carries

    def deadlocked(s: Any, rt: Any, msg: Any, row: Any, seen: Any) -> Any:
        if msg.subject == "second" and not raised:
            raised.append(msg.subject)
            raise sa_exc.OperationalError("UPDATE cases", {}, DeadlockDetected("deadlock"))
        return real(s, rt, msg, row, seen)

    monkeypatch.setitem(intake.ROUTES, Route.NEW_CASE, deadlocked)
    items = [(new_mail(CUSTOMER, x, "x"), x) for x in ("first", "second", "third")]
    results = intake.ingest_batch(m.rt, items, utcnow)
    assert raised == ["second"]
    assert [r.disposition if r else None for r in results] == [Disposition.NEW_CASE] * 3
