"""Stopping the outbox mid-batch: what was claimed but not tried goes back at once.

Before, a clean stop (SIGTERM) in the middle of a batch of 50 left the rest
leased for five minutes; the next start waited that out before sending them.
Real aiosmtpd sink, real database (SQLite file, or PostgreSQL in its pass).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import timedelta

from databases import on_postgres
from maildenv import Maild, new_mail
from servers import SmtpSink
from sqlmodel import Session, select

from maild.core.sla import as_utc
from maild.db.models import OutboxMail, utcnow
from maild.edges import smtp
from maild.service import intake as service

CUSTOMER = "wang.fang@sh.corp.example"
CASES = 5  # an acknowledgement and a dispatch each: 10 mails, one batch


def _fill_outbox(maild: Maild) -> None:
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    for i in range(CASES):
        service.ingest(maild.rt, new_mail(CUSTOMER, f"PC {i} broken", "It does not boot."),
                       utcnow())


def _rows(maild: Maild) -> list[OutboxMail]:
    with Session(maild.rt.engine) as s:
        return list(s.exec(select(OutboxMail).order_by(OutboxMail.id)).all())


def _message_ids(sink: SmtpSink) -> Counter[str]:
    return Counter(str(m.message()["Message-ID"]) for m in sink.messages)


def test_stop_releases_the_unattempted_rest_of_the_batch(maild: Maild,
                                                         smtp_sink: SmtpSink) -> None:
    _fill_outbox(maild)
    assert len(_rows(maild)) == 2 * CASES
    stats = asyncio.run(smtp.flush(maild.rt, utcnow, stop=lambda: len(smtp_sink.messages) >= 3))
    assert stats.sent == 3 and len(smtp_sink.messages) == 3
    after = utcnow()
    pending = [r for r in _rows(maild) if r.status == "pending"]
    assert len(pending) == 2 * CASES - 3
    assert all(as_utc(r.next_attempt_at) <= after for r in pending)  # due now, not leased
    assert all(r.attempts == 0 for r in pending)  # given back, not counted as tried

    stats = asyncio.run(smtp.flush(maild.rt, utcnow))  # the next start, on schedule
    assert stats.sent == 2 * CASES - 3
    ids = _message_ids(smtp_sink)
    assert len(ids) == 2 * CASES and max(ids.values()) == 1  # all sent, none twice
    assert {r.status for r in _rows(maild)} == {"sent"}


def test_cancel_mid_send_keeps_only_the_mail_in_flight_leased(maild: Maild,
                                                              smtp_sink: SmtpSink) -> None:
    """The daemon cancels the outbox after its stop grace; the sink holds the 4th mail
    unanswered, so the cancellation lands mid-send (where it lands in real life)."""
    _fill_outbox(maild)
    smtp_sink.stall_after(3)

    async def cancel_during_the_fourth() -> None:
        task = asyncio.create_task(smtp.flush(maild.rt, utcnow))
        await smtp_sink.wait_for_async(3)
        await asyncio.sleep(0.3)  # the 4th is sent and waits for the server's answer
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert task.cancelled()  # it did not end on its own first

    asyncio.run(cancel_during_the_fourth())
    smtp_sink.unstall()  # (aiosmtpd dropped the 4th when the client went: never answered)
    rows = _rows(maild)
    lease_floor = utcnow() + smtp.LEASE - timedelta(minutes=1)
    leased = [r for r in rows if r.status == "pending" and as_utc(r.next_attempt_at) > lease_floor]
    due = [r for r in rows if r.status == "pending" and r not in leased]
    assert [r.status for r in rows].count("sent") == 3
    # SQLite: the mail in flight keeps its lease (the server may have it). PostgreSQL:
    # its row lock went with the rolled-back transaction, so it is due again at once.
    assert len(leased) == (0 if on_postgres() else 1)
    assert len(due) == 2 * CASES - 3 - len(leased)  # the rest of the batch, given back

    stats = asyncio.run(smtp.flush(maild.rt, utcnow))  # the next start, on schedule
    assert stats.sent == len(due)
    asyncio.run(smtp.flush(maild.rt, utcnow, ignore_schedule=True))  # `maild outbox flush`
    ids = _message_ids(smtp_sink)
    assert len(ids) == 2 * CASES  # every mail arrived
    assert sum(ids.values()) - len(ids) <= 1  # only the one in flight, same Message-ID
    assert {r.status for r in _rows(maild)} == {"sent"}
