"""The IMAP edge: fetch by UID, hand each message to the service's ``ingest``, move it after commit.

A message is moved to the processed (or failed) folder only once its
disposition is committed. A crash in between is harmless: the next fetch
finds the same mailbox slot already recorded (``source`` key) and only
moves it. IDLE is used when the server offers it; otherwise we poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aioimaplib

from maild.config import ImapSettings
from maild.core.values import Disposition, IngestResult
from maild.edges import imap_login, tls
from maild.edges.claims import Ingest, IngestBatch, SlotClaims
from maild.edges.oauth2 import OAuth2Error
from maild.runtime import Runtime

log = logging.getLogger("maild.imap")

FETCH_BATCH = 25
BUSY_WAIT_SECONDS = 30.0  # how long one drain waits for other replicas' messages
_UID_RE = re.compile(rb"UID (\d+)")
_UIDVALIDITY_RE = re.compile(rb"UIDVALIDITY (\d+)")


class ImapError(RuntimeError):
    """The mailbox cannot be used (login refused, folder missing, connection lost)."""


@dataclass
class DrainStats:
    processed: int = 0
    failed: int = 0
    by_disposition: dict[str, int] | None = None

    def count(self, disposition: Disposition) -> None:
        self.processed += 1
        self.failed += disposition == Disposition.FAILED
        if self.by_disposition is None:
            self.by_disposition = {}
        key = disposition.value
        self.by_disposition[key] = self.by_disposition.get(key, 0) + 1


class Mailbox:
    """One logged-in IMAP connection with the configured folder selected."""

    def __init__(self, cfg: ImapSettings, timeout: float = 60.0) -> None:
        self.cfg = cfg
        self.timeout = timeout
        self.client: aioimaplib.IMAP4 | None = None
        self.uidvalidity = "0"
        self.news = False  # the server announced new mail (EXISTS) while answering a command

    def _on_lost(self, exc: Exception | None) -> None:
        """aioimaplib does not wake an IDLE wait when the connection drops without a BYE
        (server killed, network gone): wake it, so that costs a reconnect, not idle_seconds."""
        if self.client is not None:
            self.client.protocol.idle_queue.put_nowait([b"connection lost"])

    async def connect(self) -> None:
        cfg = self.cfg
        ctx = None if cfg.security == "none" else tls.client_context("imap", cfg.ca_file,
                                                                      cfg.verify)
        if cfg.security == "ssl":
            # IMAP4 with a context is IMAPS; IMAP4_SSL takes no conn_lost_cb
            self.client = aioimaplib.IMAP4(cfg.host, cfg.port, timeout=self.timeout,
                                           ssl_context=ctx, conn_lost_cb=self._on_lost)
        else:
            self.client = aioimaplib.IMAP4(cfg.host, cfg.port, timeout=self.timeout,
                                           conn_lost_cb=self._on_lost)
        try:
            await self.client.wait_hello_from_server()
            if ctx is not None and cfg.security == "starttls":
                await imap_login.starttls(self.client, ctx, cfg.host, self.timeout)
            res = await imap_login.login(self.client, cfg, self.timeout)
        except ssl.SSLError as exc:
            raise ImapError(f"TLS with {cfg.host}:{cfg.port} failed: "
                            f"{tls.describe(exc, 'imap')}") from exc
        except (OSError, TimeoutError) as exc:
            raise ImapError(f"cannot connect to {cfg.host}:{cfg.port}: {exc}") from exc
        except OAuth2Error as exc:
            raise ImapError(f"no OAuth2 token for {cfg.username}: {exc}") from exc
        if res.result != "OK":
            raise ImapError(f"login as {cfg.username} refused by {cfg.host}: {_text(res)}")
        await self.client.protocol.capability()  # the post-login list (MOVE, IDLE, UIDPLUS)
        for folder in (cfg.processed_folder, cfg.failed_folder):
            await self.client.create(folder)  # NO when it exists: fine
        res = await self.client.select(cfg.folder)
        if res.result != "OK":
            raise ImapError(f"cannot select folder {cfg.folder!r}: {_text(res)}")
        for line in res.lines:
            m = _UIDVALIDITY_RE.search(bytes(line))
            if m:
                self.uidvalidity = m.group(1).decode()

    @property
    def can_idle(self) -> bool:
        return self.client is not None and self.client.has_capability("IDLE")

    def source(self, uid: int) -> str:
        c = self.cfg
        return f"imap:{c.username}@{c.host}/{c.folder};UIDVALIDITY={self.uidvalidity};UID={uid}"

    async def uids(self) -> list[int]:
        assert self.client is not None
        self.news = False  # this search sees everything announced so far
        res = await self.client.uid_search("ALL", charset=None)
        if res.result != "OK":
            raise ImapError(f"UID SEARCH failed: {_text(res)}")
        return sorted(int(x) for line in res.lines[:-1] for x in bytes(line).split()
                      if x.isdigit())

    async def fetch(self, uids: list[int]) -> list[tuple[int, bytes]]:
        """Raw bytes of each UID, without setting \\Seen."""
        assert self.client is not None
        res = await self.client.uid("fetch", ",".join(map(str, uids)), "(UID BODY.PEEK[])")
        self._note_news(res)
        if res.result != "OK":
            raise ImapError(f"UID FETCH failed: {_text(res)}")
        return parse_fetch(res.lines)

    async def move(self, uids: list[int], folder: str) -> None:
        """MOVE, else COPY + \\Deleted + (UID) EXPUNGE, for a set of UIDs at once."""
        assert self.client is not None
        if not uids:
            return
        uid_set = ",".join(map(str, uids))
        if self.client.has_capability("MOVE"):
            res = await self.client.uid("move", uid_set, folder)
            self._note_news(res)
            if res.result == "OK":
                return
        res = await self.client.uid("copy", uid_set, folder)
        if res.result != "OK":
            raise ImapError(f"cannot copy UIDs {uid_set} to {folder}: {_text(res)}")
        await self.client.uid("store", uid_set, "+FLAGS.SILENT", r"(\Deleted)")
        if self.client.has_capability("UIDPLUS"):
            await self.client.uid("expunge", uid_set)
        else:
            await self.client.expunge()

    def _note_news(self, res: aioimaplib.Response) -> None:
        """An EXISTS inside another command's answer is not pushed again during IDLE:
        remember it, so the caller looks again instead of idling past that mail."""
        if any(isinstance(line, bytes) and line.endswith(b" EXISTS") for line in res.lines):
            self.news = True

    async def wait_for_mail(self, seconds: float) -> None:
        """IDLE until the server reports something or ``seconds`` pass."""
        assert self.client is not None
        idle = await self.client.idle_start(timeout=seconds)
        pushed: list[bytes] = []
        try:
            pushed = await self.client.wait_server_push(timeout=seconds)
        except TimeoutError:
            pass
        finally:
            bye = [bytes(x) for x in pushed or () if bytes(x).startswith(b"BYE")]
            if bye or self._closing():  # DONE would wait for a reply that never comes
                idle.cancel()
            else:
                self.client.idle_done()
                await asyncio.wait_for(idle, self.timeout)
        if bye or self._closing():
            raise ImapError(f"{self.cfg.host} closed the connection while idling: "
                            f"{b' '.join(bye).decode(errors='replace') or 'no reason given'}")

    def _closing(self) -> bool:
        transport = getattr(getattr(self.client, "protocol", None), "transport", None)
        return transport is None or bool(transport.is_closing())

    async def noop(self) -> None:
        assert self.client is not None
        await self.client.noop()

    async def close(self) -> None:
        if self.client is None:
            return
        transport = getattr(self.client.protocol, "transport", None)
        if transport is not None and not transport.is_closing():  # closed: a failed TLS start
            with contextlib.suppress(OSError, TimeoutError, aioimaplib.AioImapException):
                await asyncio.wait_for(self.client.logout(), 5)
        # aioimaplib leaves the socket to the server's close after LOGOUT; close it now so a
        # slow or dead server does not leave it open (or a loop that ends first leak it)
        if transport is not None:
            transport.close()
        self.client = None


def parse_fetch(lines: list[bytes | bytearray]) -> list[tuple[int, bytes]]:
    """(uid, body) pairs from a UID FETCH response; the UID may come before or after the body,
    and servers may add body-less FETCH lines (flag updates) in between."""
    out: list[tuple[int, bytes]] = []
    uid: int | None = None
    body: bytes | None = None
    for line in lines:
        if isinstance(line, bytearray):
            body = bytes(line)
            continue
        if b"FETCH" in line:
            if uid is not None and body is not None:
                out.append((uid, body))
            uid, body = None, None
        m = _UID_RE.search(line)
        if m:
            uid = int(m.group(1))
    if uid is not None and body is not None:
        out.append((uid, body))
    return out


def _text(res: aioimaplib.Response) -> str:
    return b" ".join(bytes(x) for x in res.lines).decode(errors="replace")[:300]


@dataclass(frozen=True)
class _Hooks:
    """What the caller wants told or asked during a drain."""

    on_ingested: Callable[[], None] | None
    stop: Callable[[], bool]
    observe: Callable[[IngestResult, float], None] | None
    batch: IngestBatch | None = None


async def drain(rt: Runtime, box: Mailbox, ingest: Ingest, clock: Callable[[], datetime],
                on_ingested: Callable[[], None] | None = None,
                stop: Callable[[], bool] = lambda: False,
                observe: Callable[[IngestResult, float], None] | None = None,
                batch: IngestBatch | None = None) -> DrainStats:
    """Process every message in the folder once; raises TransientError to retry later.

    ``stop()`` is asked before each message: the one in hand is always finished
    and moved, the rest wait for the next start. ``observe`` gets each result and
    its processing time (metrics). The next batch is fetched while the current
    one is ingested (the server's time overlaps ours); commands still go one at
    a time: the MOVE of a batch waits for that fetch to finish. Messages another
    replica is handling meanwhile are looked at again, after a pause, until it
    has moved them (or died and left them to us).

    With ``batch`` (the service's ``ingest_batch``) each fetched batch is
    ingested in one transaction (a savepoint per message only when it has to
    be redone) instead of one transaction per message; ``stop()`` is then asked between the messages
    of the batch, and the ones done are committed and moved. On every
    database: while batches took a savepoint per message they were slower on
    PostgreSQL (two round trips a message where a commit is one); taken at
    once, with savepoints only to redo a batch one of whose messages failed,
    three replicas drain the same backlog faster and with less CPU than with a
    transaction per message (docs/PERFORMANCE.md)."""
    stats = DrainStats(by_disposition={})
    hooks = _Hooks(on_ingested, stop, observe, batch)
    claims = SlotClaims(rt, ingest)
    try:
        uids = spread(rt, await box.uids())
        deadline = time.monotonic() + BUSY_WAIT_SECONDS
        while uids and not stop():
            busy = await _drain_uids(rt, box, claims, uids, clock, hooks, stats)
            if not busy or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.3)
            present = set(await box.uids())
            uids = [uid for uid in busy if uid in present]
    finally:
        await asyncio.to_thread(claims.close)
    return stats


def spread(rt: Runtime, uids: list[int]) -> list[int]:
    """Replicas (PostgreSQL) start at a random batch and wrap around, so that they mostly
    work on different messages instead of queueing behind each other on the same ones."""
    if rt.engine.dialect.name != "postgresql" or len(uids) <= FETCH_BATCH:
        return uids
    start = random.randrange(0, len(uids), FETCH_BATCH)
    return uids[start:] + uids[:start]


def _discard(task: asyncio.Task[Any] | None) -> None:
    """Stop a prefetch nobody will read (and take its error, so it is not logged twice)."""
    if task is None:
        return
    if not task.done():
        task.cancel()
    elif not task.cancelled():
        task.exception()


@dataclass
class _Moves:
    """UIDs to move after a batch: ``done`` by us now, ``earlier`` recorded before (a crash
    between commit and move, or another replica that may have moved them just now)."""

    done: dict[str, list[int]]
    earlier: dict[str, list[int]]


async def _drain_uids(rt: Runtime, box: Mailbox, claims: SlotClaims, uids: list[int],
                      clock: Callable[[], datetime], hooks: _Hooks,
                      stats: DrainStats) -> list[int]:
    """Ingest and move ``uids``, batch by batch; returns those another replica holds now."""
    cfg = rt.settings.imap
    busy: list[int] = []
    batches = [uids[i:i + FETCH_BATCH] for i in range(0, len(uids), FETCH_BATCH)]
    pending = asyncio.create_task(box.fetch(batches[0])) if batches else None
    try:
        for k in range(len(batches)):
            assert pending is not None
            fetched = await pending
            pending = None
            if hooks.stop():
                break
            log.debug("fetched %d message(s)", len(fetched),
                      extra={"event": "fetched", "uids": [uid for uid, _ in fetched]})
            if k + 1 < len(batches):
                pending = asyncio.create_task(box.fetch(batches[k + 1]))
            folders = (cfg.processed_folder, cfg.failed_folder)
            moves = _Moves({f: [] for f in folders}, {f: [] for f in folders})
            try:
                busy += await _ingest_batch(rt, claims, box, clock, hooks, fetched, moves,
                                            stats)
            finally:  # committed messages leave the folder even when the next one stops us
                if pending is not None:
                    await asyncio.wait([pending])  # one command at a time on the connection
                await _move(box, moves)
                await asyncio.to_thread(claims.release_all)  # moved: other replicas may look
    except BaseException:
        _discard(pending)
        raise
    _discard(pending)  # stopped early: the prefetched batch waits for the next start
    return busy


async def _move(box: Mailbox, moves: _Moves) -> None:
    for folder, moved in moves.done.items():
        await box.move(moved, folder)
    for folder, moved in moves.earlier.items():  # another replica may have moved them
        with contextlib.suppress(ImapError):
            await box.move(moved, folder)


async def _ingest_batch(rt: Runtime, claims: SlotClaims, box: Mailbox,
                        clock: Callable[[], datetime], hooks: _Hooks,
                        fetched: list[tuple[int, bytes]], moves: _Moves,
                        stats: DrainStats) -> list[int]:
    """Ingest one fetched batch into ``moves``; returns the UIDs another replica holds."""
    if hooks.batch is not None:
        return await _ingest_together(rt, claims, box, clock, hooks, fetched, moves, stats)
    busy: list[int] = []
    for uid, raw in fetched:
        if hooks.stop():
            break
        started = time.perf_counter()
        result = await asyncio.to_thread(claims.ingest, raw, clock(), box.source(uid))
        if result is None:
            busy.append(uid)
        else:
            _record(rt, uid, result, time.perf_counter() - started, hooks, moves, stats)
    return busy


async def _ingest_together(rt: Runtime, claims: SlotClaims, box: Mailbox,
                           clock: Callable[[], datetime], hooks: _Hooks,
                           fetched: list[tuple[int, bytes]], moves: _Moves,
                           stats: DrainStats) -> list[int]:
    """``_ingest_batch`` in one transaction (``hooks.batch``)."""
    assert hooks.batch is not None
    if not fetched or hooks.stop():
        return []
    started = time.perf_counter()
    items = [(raw, box.source(uid)) for uid, raw in fetched]
    results = await asyncio.to_thread(claims.ingest_batch, hooks.batch, items, clock,
                                      hooks.stop)
    each = (time.perf_counter() - started) / max(1, len(results))
    busy: list[int] = []
    for (uid, _raw), result in zip(fetched, results, strict=False):
        if result is None:
            busy.append(uid)
        else:
            _record(rt, uid, result, each, hooks, moves, stats)
    return busy


def _record(rt: Runtime, uid: int, result: IngestResult, elapsed: float, hooks: _Hooks,
            moves: _Moves, stats: DrainStats) -> None:
    """One ingested message: observed, counted, and queued for its folder."""
    cfg = rt.settings.imap
    if hooks.observe:
        hooks.observe(result, elapsed)
    failed = result.disposition == Disposition.FAILED
    target = moves.earlier if result.already_recorded else moves.done
    target[cfg.failed_folder if failed else cfg.processed_folder].append(uid)
    stats.count(result.disposition)
    if hooks.on_ingested:
        hooks.on_ingested()
