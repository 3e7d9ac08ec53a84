"""The outbox drainer on PostgreSQL: each row locked (FOR UPDATE SKIP LOCKED) while it is sent.

Every replica drains the one outbox. A replica locks the oldest due row that
no other replica holds, sends it, and records the result in that same
transaction, so the row lock lasts exactly as long as the attempt and other
replicas skip the row meanwhile. A replica killed mid-send loses the lock
with its connection, and another replica sends the row at once: there is no
lease to wait out (SQLite, one process, keeps the lease of ``edges/smtp.py``).

Delivery is at least once, as SMTP allows: the one mail that can arrive twice
is the one a replica was sending when it died, after the server accepted it
and before the commit; it goes again with the same Message-ID.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import aiosmtplib
from sqlmodel import Session

from maild.core import backoff
from maild.db import queries
from maild.db.models import OutboxMail
from maild.edges import oauth2, tls
from maild.edges.smtp import (
    BATCH,
    FlushStats,
    _client,
    _forget_refused_token,
    attempt,
    never_stop,
)
from maild.runtime import Runtime

log = logging.getLogger("maild.smtp")
T = TypeVar("T")


def _lock_next(s: Session, now: datetime, ignore_schedule: bool) -> OutboxMail | None:
    when = datetime.max.replace(tzinfo=now.tzinfo) if ignore_schedule else now
    rows = queries.due_outbox(s, when, 1)  # FOR UPDATE SKIP LOCKED
    return rows[0] if rows else None


def _record(s: Session, row: OutboxMail, verdict: str, error: str | None, now: datetime,
            retry_hours: int, retry_base_seconds: int, count_attempt: bool = True) -> None:
    """Write the attempt's result and commit, which ends the row's lock."""
    if count_attempt:
        row.attempts += 1
    row.last_error = error
    if verdict == "sent":
        row.status, row.sent_at = "sent", now
    elif verdict == "failed":
        row.status, row.next_attempt_at = "failed", now  # when it failed
    else:
        _retry_or_give_up(row, now, error, retry_hours, retry_base_seconds)
    s.commit()


def _retry_or_give_up(row: OutboxMail, now: datetime, error: str | None, retry_hours: int,
                      retry_base_seconds: int) -> None:
    """The one retry rule (``core.backoff.retry_at``) applied to a locked row."""
    when = backoff.retry_at(row.attempts, row.created_at, now, retry_hours, retry_base_seconds)
    if when is None:
        row.status, row.next_attempt_at = "failed", now
        row.last_error = f"gave up after {row.attempts} attempts: {error}"
    else:
        row.last_error = error
        row.next_attempt_at = when


def _defer_due(rt: Runtime, now: datetime, error: str) -> int:
    """SMTP is down: push the due rows no other replica holds back by their back-off."""
    with Session(rt.engine, expire_on_commit=False) as s:
        rows = queries.due_outbox(s, now, BATCH)
        cfg = rt.settings.smtp
        for row in rows:
            _retry_or_give_up(row, now, error, cfg.retry_hours, cfg.retry_base_seconds)
        s.commit()
        return len(rows)


async def _in_thread(fn: Callable[..., T], *args: object) -> T:
    """``asyncio.to_thread``, but a cancelled caller still waits for the thread, so the
    session it is using is not closed under it (SIGTERM while a row is being written)."""
    work = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await work
        raise


async def flush(rt: Runtime, clock: Callable[[], datetime],
                ignore_schedule: bool = False,
                stop: Callable[[], bool] = never_stop) -> FlushStats:
    """Send everything due now, one locked row at a time; never raises for SMTP trouble.
    ``stop()`` true ends it before the next row (nothing is claimed ahead here)."""
    stats = FlushStats()
    cfg = rt.settings.smtp
    client: aiosmtplib.SMTP | None = None
    try:
        while not stop():
            with Session(rt.engine, expire_on_commit=False) as s:
                row = await _in_thread(_lock_next, s, clock(), ignore_schedule)
                if row is None:
                    return stats
                why = ""
                if client is None or not client.is_connected:
                    client, why = await _connect(rt)
                if client is None:  # SMTP down: this row and the other due ones wait
                    s.rollback()
                    stats.smtp_down = True
                    stats.deferred += await asyncio.to_thread(_defer_due, rt, clock(), why)
                    return stats
                verdict, error = await attempt(client, rt.settings.helpdesk.address,
                                               list(row.recipients), row.raw)
                await _in_thread(_record, s, row, verdict, error, clock(), cfg.retry_hours,
                                 cfg.retry_base_seconds)
            if verdict == "sent":
                log.info("outbox %s sent to %s", row.id, ",".join(row.recipients))
                stats.sent += 1
            elif row.status == "failed":
                stats.failed += 1
            else:
                stats.deferred += 1
        return stats
    finally:
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except aiosmtplib.SMTPException:
                client.close()


async def _connect(rt: Runtime) -> tuple[aiosmtplib.SMTP | None, str]:
    """A connected client, or None and why not (as the SQLite path says it: a TLS failure
    names ``[smtp] ca_file``; a refused XOAUTH2 token is dropped so the next try gets
    a new one)."""
    cfg = rt.settings.smtp
    client = _client(cfg, None)
    try:
        await client.connect()
    except (OSError, aiosmtplib.SMTPException, oauth2.OAuth2Error) as exc:
        log.warning("smtp unavailable (%s:%s): %s; mail waits",
                    cfg.host, cfg.port, tls.describe(exc, "smtp"))
        _forget_refused_token(cfg, exc)
        return None, f"connect: {exc}"
    return client, ""
