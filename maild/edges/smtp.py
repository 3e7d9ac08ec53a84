"""The outbox sender, one for every database: claim due rows, send them, record each outcome.

How rows are held while they are sent (a lease on SQLite, a row lock on
PostgreSQL) is ``db.outbox``'s; when to try again is ``core.backoff``'s.
Transient trouble (connection refused, 4xx) backs off and retries until
``[smtp] retry_hours`` have passed; a 5xx refusal marks the row ``failed``.
One SMTP connection serves the whole flush; one mail's trouble never stops
the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import aiosmtplib
from aiosmtplib.email import quote_address
from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings

from maild.config import SmtpSettings
from maild.core import addresses, backoff
from maild.db import outbox
from maild.db.outbox import BATCH, LEASE, Claimed
from maild.edges import oauth2, tls
from maild.runtime import Runtime

log = logging.getLogger("maild.smtp")

T = TypeVar("T")
__all__ = ["LEASE", "FlushStats", "attempt", "flush", "idle_seconds"]


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


def idle_seconds(cfg: SmtpSettings) -> float:
    """How long the outbox loop may sleep when nothing wakes it: at most 30 s, and no
    longer than the shortest back-off, so a deferred mail is retried when it is due."""
    return float(max(1, min(30, cfg.retry_base_seconds)))


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
    """Claim, send and record until nothing is due, over one SMTP connection."""
    stats = FlushStats()
    store = outbox.store_for(rt.engine)
    client: aiosmtplib.SMTP | None = None
    try:
        while not stop():  # stopping: claim nothing more
            batch = await _held(store.claim, clock(), ignore_schedule)
            if not batch:
                return stats
            why = ""
            if client is None or not client.is_connected:
                if client is not None:
                    client.close()  # dropped: its transport goes before a new one comes
                client, why = await _connect(rt.settings.smtp, len(batch))
            if client is None:
                await _relay_down(rt, store, batch, clock, stats, why)
                return stats
            if not await _send_batch(rt, store, client, batch, clock, stats, stop):
                return stats
        return stats
    finally:
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except aiosmtplib.SMTPException:
                client.close()


async def _connect(cfg: SmtpSettings, waiting: int) -> tuple[aiosmtplib.SMTP | None, str]:
    """A connected client, or None and why not (logged: a TLS failure names ``[smtp] ca_file``; a
    refused XOAUTH2 token is dropped so the next try gets a new one)."""
    client = _client(cfg, None)
    try:
        await client.connect()
    except (OSError, aiosmtplib.SMTPException, oauth2.OAuth2Error) as exc:
        log.warning("smtp unavailable (%s:%s): %s; %d mail(s) wait",
                    cfg.host, cfg.port, tls.describe(exc, "smtp"), waiting)
        _forget_refused_token(cfg, exc)
        client.close()
        return None, f"connect: {exc}"
    return client, ""


async def _relay_down(rt: Runtime, store: outbox.OutboxStore, batch: list[Claimed],
                      clock: Callable[[], datetime], stats: FlushStats, why: str) -> None:
    """The relay cannot be reached: up to ``BATCH`` due mails wait by their back-off,
    unattempted (a row lock holds one at a time, so claim on until that many)."""
    stats.smtp_down = True
    waited = 0
    while batch:
        for item in batch:
            await _held(_defer, rt, store, item, clock(), why, False)
        waited += len(batch)
        stats.deferred += len(batch)
        if waited >= BATCH:
            return
        batch = await _held(store.claim, clock(), False)  # what is due now, not ahead


async def _held(fn: Callable[..., T], *args: object) -> T:
    """``asyncio.to_thread``, but a cancelled caller still waits for the thread, so a
    connection it is using is not closed under it (SIGTERM while a row is being written)."""
    work = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await work
        raise


async def _send_batch(rt: Runtime, store: outbox.OutboxStore, client: aiosmtplib.SMTP,
                      batch: list[Claimed], clock: Callable[[], datetime], stats: FlushStats,
                      stop: Callable[[], bool]) -> bool:
    """Send a claimed batch over the connection; False when the flush should end now
    (stopping, or the connection dropped: the rest is released or deferred)."""
    sender = rt.settings.helpdesk.address
    tried = 0  # mails of the batch attempted so far
    try:
        for i, item in enumerate(batch):
            if stop():
                log.info("stopping: %d claimed mail(s) released for the next start",
                         len(batch) - i)
                await _held(store.release, batch[i:], clock())
                return False
            if not client.is_connected:  # dropped mid-batch: the rest waits, unattempted
                for rest in batch[i:]:
                    await _held(_defer, rt, store, rest, clock(), "connection lost", False)
                stats.smtp_down = True
                stats.deferred += len(batch) - i
                return False
            tried = i + 1
            await _send_one(rt, store, client, sender, item, clock, stats)
    except asyncio.CancelledError:
        try:  # a quick UPDATE (or a rollback), then go
            store.release(batch[tried:], clock())
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
        await _sendmail(client, sender, rcpts, raw, options)
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


@functools.lru_cache(maxsize=512)
def _quoted(address: str, encoding: str) -> bytes:
    """aiosmtplib's own ``<address>`` (it parses the address with ``email.utils``; a
    ValueError for one it will not send), once per address and encoding. Small, as
    ``addresses.check``'s cache: one-off addresses would make a larger one creep."""
    return quote_address(address).encode(encoding)


def _wire(raw: bytes) -> tuple[bytes, int]:
    """The mail as DATA carries it, and its SIZE: the bytes aiosmtplib's DATA makes
    (CRLF line ends, a final CRLF, dot-stuffed, ``.`` CRLF). maild stores CRLF mail
    with no line that starts with a dot, so a few byte counts usually show there is
    nothing to change, where aiosmtplib runs its regular expressions over the whole
    mail three times (twice when the relay takes SIZE)."""
    lines = raw.count(b"\n")
    if raw.count(b"\r") == lines and raw.count(b"\r\n") == lines:  # no lone CR or LF
        text = raw if raw.endswith(b"\r\n") else raw + b"\r\n"
    else:
        text = normalize_message_line_endings(raw)
    size = len(text)
    if text.startswith(b".") or b"\n." in text:
        text = PERIOD_REGEX.sub(b"..", text)
    return text + b".\r\n", size


async def _sendmail(client: aiosmtplib.SMTP, sender: str, recipients: list[str], raw: bytes,
                    options: list[str]) -> None:
    """``client.sendmail`` (same commands, answers and exceptions; recipients it refused
    while others were taken are not reported, as ``attempt`` never used them), built
    from ``execute_command`` so that addresses are parsed once per flush (``_quoted``)
    and the mail's bytes are checked rather than rewritten (``_wire``)."""
    encoding = "utf-8" if any(o.lower() == "smtputf8" for o in options) else "ascii"
    mail_from = b"FROM:" + _quoted(sender, encoding)
    rcpt_to = [b"TO:" + _quoted(r, encoding) for r in recipients]  # all, before a command
    await client._ehlo_or_helo_if_needed()
    if encoding == "utf-8" and not client.supports_extension("smtputf8"):
        raise aiosmtplib.SMTPNotSupported("SMTPUTF8 is not supported by this server")
    data, size = _wire(raw)
    args = [o.encode("ascii") for o in options]
    if client.supports_extension("size"):
        args.insert(0, f"size={size}".encode("ascii"))
    try:
        reply = await client.execute_command(b"MAIL", mail_from, *args)
        if reply.code != 250:
            raise aiosmtplib.SMTPSenderRefused(reply.code, reply.message, sender)
        refused = []
        for address, to in zip(recipients, rcpt_to, strict=True):
            reply = await client.execute_command(b"RCPT", to)
            if reply.code not in (250, 251):
                refused.append(aiosmtplib.SMTPRecipientRefused(reply.code, reply.message,
                                                               address))
        if len(refused) == len(recipients):
            raise aiosmtplib.SMTPRecipientsRefused(refused)
        await _data(client, data)
    except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
        with contextlib.suppress(ConnectionError, aiosmtplib.SMTPResponseException):
            await client.rset()  # no half-open envelope for the next mail
        raise


async def _data(client: aiosmtplib.SMTP, data: bytes) -> None:
    """DATA, then the mail as ``_wire`` made it (aiosmtplib's ``execute_data_command``
    without its rewriting); a lost or silent connection is closed, as ``client.data``
    closes it."""
    reply = await client.execute_command(b"DATA")
    if reply.code != 354:
        raise aiosmtplib.SMTPDataError(reply.code, reply.message)
    protocol = client.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    try:
        protocol.write(data)
        reply = await protocol.read_response(timeout=client.timeout)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
        client.close()
        raise
    if reply.code != 250:
        raise aiosmtplib.SMTPDataError(reply.code, reply.message)


async def _send_one(rt: Runtime, store: outbox.OutboxStore, client: aiosmtplib.SMTP,
                    sender: str, item: Claimed, clock: Callable[[], datetime],
                    stats: FlushStats) -> None:
    verdict, error = await attempt(client, sender, item.recipients, item.raw)
    outcome = _outcome(rt, item, verdict, error, clock(), True)
    await _held(store.record, item, outcome)
    if outcome.status == "sent":
        log.info("outbox %s sent to %s", item.id, ",".join(item.recipients))
        stats.sent += 1
    elif outcome.status == "failed":
        log.warning("outbox %s to %s failed: %s", item.id, ",".join(item.recipients),
                    outcome.error)
        stats.failed += 1  # refused, or its retry window had passed
    else:
        stats.deferred += 1


def _outcome(rt: Runtime, item: Claimed, verdict: str, error: str | None, now: datetime,
             count_attempt: bool) -> backoff.Outcome:
    cfg = rt.settings.smtp
    return backoff.after_attempt(verdict, error, item.attempts, item.created_at, now,
                                 cfg.retry_hours, cfg.retry_base_seconds, count_attempt)


def _defer(rt: Runtime, store: outbox.OutboxStore, item: Claimed, now: datetime, error: str,
           count_attempt: bool) -> None:
    """Retry later with back-off, or give up once the retry window has passed."""
    store.record(item, _outcome(rt, item, "retry", error, now, count_attempt))
