"""The outbox drainer: claim due rows, send them over SMTP, record what happened.

Transient trouble (connection refused, 4xx) backs off and retries until
``[smtp] retry_hours`` have passed; a 5xx refusal marks the row ``failed``.
A row is claimed by pushing its next attempt into the future before any
send, so a crash mid-send retries it later with the same Message-ID.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiosmtplib
import sqlalchemy as sa
from sqlmodel import col

from maild.config import SmtpSettings
from maild.core import addresses, backoff
from maild.db import queries
from maild.db.models import OutboxMail
from maild.db.session import transaction
from maild.edges import oauth2, tls
from maild.runtime import Runtime

log = logging.getLogger("maild.smtp")

LEASE = timedelta(minutes=5)
BATCH = 50


@dataclass
class FlushStats:
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    smtp_down: bool = False

    def add(self, other: FlushStats) -> None:
        self.sent += other.sent
        self.deferred += other.deferred
        self.failed += other.failed
        self.smtp_down = self.smtp_down or other.smtp_down


@dataclass(frozen=True)
class Claimed:
    id: int
    recipients: list[str]
    raw: bytes
    attempts: int
    created_at: datetime


def idle_seconds(cfg: SmtpSettings) -> float:
    """How long the outbox loop may sleep when nothing wakes it: at most 30 s, and no
    longer than the shortest back-off, so a deferred mail is retried when it is due."""
    return float(max(1, min(30, cfg.retry_base_seconds)))


def claim(rt: Runtime, now: datetime, ignore_schedule: bool) -> list[Claimed]:
    """Take up to BATCH due rows, leasing them so no other sender takes them meanwhile."""
    with transaction(rt.engine) as s:
        when = datetime.max.replace(tzinfo=now.tzinfo) if ignore_schedule else now
        rows = queries.due_outbox(s, when, BATCH)
        for row in rows:
            row.next_attempt_at = now + LEASE
        return [Claimed(r.id or 0, list(r.recipients), r.raw, r.attempts, r.created_at)
                for r in rows]


def _mark(rt: Runtime, row_id: int, status: str, now: datetime, error: str | None = None,
          retry_at: datetime | None = None, count_attempt: bool = True) -> None:
    """One UPDATE, no ORM load: the row's raw bytes need not come back to be marked."""
    values: dict[str, Any] = {"status": status, "last_error": error}
    if count_attempt:
        values["attempts"] = col(OutboxMail.attempts) + 1
    if status == "sent":
        values["sent_at"] = now
    if status == "failed":  # a failed row's next_attempt_at says when it failed
        values["next_attempt_at"] = now
    if retry_at is not None:
        values["next_attempt_at"] = retry_at
    with transaction(rt.engine) as s:
        s.execute(sa.update(OutboxMail).where(col(OutboxMail.id) == row_id).values(values))


def _client(cfg: SmtpSettings, tls_context: ssl.SSLContext | None) -> aiosmtplib.SMTP:
    if tls_context is None and cfg.security != "none":
        tls_context = tls.client_context("smtp", cfg.ca_file, cfg.verify)
    tokens = oauth2.source_for(cfg.oauth2) if cfg.auth == "xoauth2" and cfg.oauth2 else None
    return aiosmtplib.SMTP(
        hostname=cfg.host, port=cfg.port, timeout=cfg.timeout_seconds,
        use_tls=cfg.security == "ssl", start_tls=cfg.security == "starttls",
        tls_context=tls_context,
        username=cfg.username or None, password=None if tokens else cfg.password or None,
        oauth_token_generator=tokens.token if tokens else None,
    )


def _forget_refused_token(cfg: SmtpSettings, exc: BaseException) -> None:
    """A refused XOAUTH2 login drops the cached token, so the next try fetches a new one."""
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError) and cfg.auth == "xoauth2" \
            and cfg.oauth2 is not None:
        oauth2.source_for(cfg.oauth2).invalidate()


def release(rt: Runtime, ids: list[int], now: datetime) -> None:
    """Give claimed, unattempted rows back at once (a clean stop), instead of letting
    their lease run out: the next start sends them without a five-minute wait."""
    if not ids:
        return
    with transaction(rt.engine) as s:
        s.execute(sa.update(OutboxMail)
                  .where(col(OutboxMail.id).in_(ids), col(OutboxMail.status) == "pending")
                  .values(next_attempt_at=now))


def never_stop() -> bool:
    return False


async def flush(rt: Runtime, clock: Callable[[], datetime],
                ignore_schedule: bool = False, stop: Callable[[], bool] = never_stop,
                after: Callable[[Runtime, datetime], int] | None = None) -> FlushStats:
    """Send everything due now; returns counts. Never raises for SMTP trouble, and no
    one mail stops the others (``attempt``).

    ``stop()`` true (the daemon is stopping) ends the flush before the next mail;
    the rest of the claimed batch is released, as it is when the flush is cancelled.
    The mail being sent at a cancellation keeps its lease: the server may have it.
    Afterwards ``after(rt, now)`` runs (the daemon and the CLI pass the service's
    ``undelivered.tell_operators``: the operators are told about failed mail), and
    what it queued is sent at once."""
    stats = await _flush_due(rt, clock, ignore_schedule, stop)
    if stop() or after is None:
        return stats
    try:
        told = await asyncio.to_thread(after, rt, clock())
    except Exception:  # the notice is a courtesy: its trouble never stops the outbox
        log.exception("could not queue the operators' notice about failed mail")
        told = 0
    if told:
        stats.add(await _flush_due(rt, clock, ignore_schedule, stop))
    return stats


async def _flush_due(rt: Runtime, clock: Callable[[], datetime], ignore_schedule: bool,
                     stop: Callable[[], bool]) -> FlushStats:
    if rt.engine.dialect.name == "postgresql":  # replicas: a row stays locked while sent
        from maild.edges import outbox_pg

        return await outbox_pg.flush(rt, clock, ignore_schedule, stop)
    stats = FlushStats()
    cfg = rt.settings.smtp
    while not stop():  # stopping: claim nothing more
        batch = await asyncio.to_thread(claim, rt, clock(), ignore_schedule)
        if not batch:
            return stats
        client = _client(cfg, None)
        try:
            await client.connect()
        except (OSError, aiosmtplib.SMTPException, oauth2.OAuth2Error) as exc:
            log.warning("smtp unavailable (%s:%s): %s; %d mail(s) wait",
                        cfg.host, cfg.port, tls.describe(exc, "smtp"), len(batch))
            _forget_refused_token(cfg, exc)
            for item in batch:
                await asyncio.to_thread(_defer, rt, item, clock(), f"connect: {exc}", False)
            stats.smtp_down = True
            stats.deferred += len(batch)
            return stats
        try:
            if not await _send_batch(rt, client, batch, clock, stats, stop):
                return stats
        finally:
            if client.is_connected:
                try:
                    await client.quit()
                except aiosmtplib.SMTPException:
                    client.close()
    return stats


async def _send_batch(rt: Runtime, client: aiosmtplib.SMTP, batch: list[Claimed],
                      clock: Callable[[], datetime], stats: FlushStats,
                      stop: Callable[[], bool]) -> bool:
    """Send a claimed batch over one connection; False when the flush should end now
    (stopping, or the connection dropped: the rest is released or deferred)."""
    sender = rt.settings.helpdesk.address
    tried = 0  # mails of the batch attempted so far
    try:
        for i, item in enumerate(batch):
            if stop():
                log.info("stopping: %d claimed mail(s) released for the next start",
                         len(batch) - i)
                await asyncio.to_thread(release, rt, [c.id for c in batch[i:]], clock())
                return False
            if not client.is_connected:  # dropped mid-batch: the rest waits, unattempted
                for rest in batch[i:]:
                    await asyncio.to_thread(_defer, rt, rest, clock(), "connection lost", False)
                stats.smtp_down = True
                stats.deferred += len(batch) - i
                return False
            tried = i + 1
            await _send_one(rt, client, sender, item, clock, stats)
    except asyncio.CancelledError:
        try:
            release(rt, [c.id for c in batch[tried:]], clock())  # a quick UPDATE, then go
        except Exception as exc:  # the leases then run out instead; the cancel goes on
            log.warning("could not release %d claimed mail(s): %s", len(batch) - tried, exc)
        raise
    return True


async def _reset(client: aiosmtplib.SMTP) -> None:
    """RSET after a mail failed on our side, so no half-open envelope reaches the next one;
    a connection that cannot even do that is closed (the rest of the batch then waits)."""
    if not client.is_connected:
        return
    try:
        await client.rset()
    except Exception:
        client.close()


async def attempt(client: aiosmtplib.SMTP, sender: str, recipients: list[str],
                  raw: bytes) -> tuple[str, str | None]:
    """("sent" | "failed" | "retry", error) for one mail; never raises but for a cancel.

    A 5xx, an address this relay cannot take (no SMTPUTF8 for a non-ASCII local
    part) or any other error of this mail alone fails this mail and no other."""
    try:
        await client._ehlo_or_helo_if_needed()  # SMTPUTF8 is known only after EHLO
        rcpts, options = addresses.send_plan(recipients, raw,
                                             client.supports_extension("smtputf8"))
    except addresses.AddressError as exc:
        return "failed", f"not sendable: {exc}"
    except (OSError, aiosmtplib.SMTPException) as exc:
        return "retry", str(exc)
    except Exception as exc:  # a stored row no rule foresaw: it alone fails
        return "failed", f"not sendable: {type(exc).__name__}: {exc}"
    try:
        await client.sendmail(sender, rcpts, raw, mail_options=options)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        return "failed", f"refused: {exc}"
    except aiosmtplib.SMTPResponseException as exc:
        if 500 <= exc.code < 600:
            return "failed", f"{exc.code} {exc}"
        return "retry", f"{exc.code} {exc.message}"
    except (OSError, aiosmtplib.SMTPException) as exc:
        return "retry", str(exc)
    except Exception as exc:  # this mail's own fault (an encoding, a bug): it alone fails
        log.exception("outbox mail failed to send")
        await _reset(client)
        return "failed", f"{type(exc).__name__}: {exc}"
    return "sent", None


async def _send_one(rt: Runtime, client: aiosmtplib.SMTP, sender: str, item: Claimed,
                    clock: Callable[[], datetime], stats: FlushStats) -> None:
    verdict, error = await attempt(client, sender, item.recipients, item.raw)
    if verdict == "sent":
        await asyncio.to_thread(_mark, rt, item.id, "sent", clock())
        log.info("outbox %s sent to %s", item.id, ",".join(item.recipients))
        stats.sent += 1
    elif verdict == "failed":
        await asyncio.to_thread(_mark, rt, item.id, "failed", clock(), error)
        log.warning("outbox %s to %s failed: %s", item.id, ",".join(item.recipients), error)
        stats.failed += 1
    elif await asyncio.to_thread(_defer, rt, item, clock(), error or "", True):
        stats.failed += 1  # its retry window had passed
    else:
        stats.deferred += 1


def _defer(rt: Runtime, item: Claimed, now: datetime, error: str, count_attempt: bool) -> bool:
    """Retry later with back-off, or give up (True) once the retry window has passed."""
    attempts = item.attempts + (1 if count_attempt else 0)
    cfg = rt.settings.smtp
    when = backoff.retry_at(attempts, item.created_at, now, cfg.retry_hours,
                            cfg.retry_base_seconds)
    if when is None:
        _mark(rt, item.id, "failed", now, f"gave up after {attempts} attempts: {error}",
              count_attempt=count_attempt)
        return True
    _mark(rt, item.id, "pending", now, error, retry_at=when, count_attempt=count_attempt)
    return False
