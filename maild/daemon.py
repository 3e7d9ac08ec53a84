"""The daemon: the mailbox loop, the outbox loop and the scheduler, as asyncio tasks.

``run_once`` is the same work, done once and returned from (``maild run
--once``, the tests, the demo): one code path for tests and production.
Both loops survive any error: they back off with jitter (``core.backoff``)
and reconnect. ``stopping`` (SIGTERM/SIGINT) lets the message in hand finish
and be moved before the loops end; ``request_reload`` (SIGHUP) swaps in fresh
rules and templates (``reload.RuntimeHolder``), read at the next message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from maild import arenas
from maild.config import ConfigError
from maild.core import backoff
from maild.core.values import IngestResult
from maild.db.models import utcnow
from maild.edges import imap, lmtp, scheduler, smtp
from maild.edges.leader import lead
from maild.metrics import Metrics, max_poll_age, serve
from maild.runtime import ReloadError, Runtime, RuntimeHolder
from maild.service.intake import ingest, ingest_batch
from maild.service.scheduled import jobs
from maild.service.undelivered import tell_operators

log = logging.getLogger("maild.daemon")

IMAP_BACKOFF = (1.0, 300.0)  # base and cap (seconds) between mailbox reconnects
SMTP_BACKOFF = (5.0, 300.0)  # … and between outbox attempts while SMTP is down
OUTBOX_INTERVAL = 30.0  # the outbox is looked at this often even without a wake-up


@dataclass
class RunStats:
    drained: imap.DrainStats = field(default_factory=imap.DrainStats)
    outbox: smtp.FlushStats = field(default_factory=smtp.FlushStats)
    outbox_seconds: float = 0.0


class Daemon:
    def __init__(self, rt: Runtime, clock: Callable[[], datetime] = utcnow,
                 rng: Callable[[], float] = random.random, stop_grace: float = 30.0) -> None:
        self.holder = RuntimeHolder(rt)
        self.clock = clock
        self.rng = rng
        self.stop_grace = stop_grace  # after SIGTERM, wait this long for the work in hand
        self.stopping = asyncio.Event()
        self.outbox_wakeup = asyncio.Event()
        self.metrics = Metrics(lambda: self.holder.current.engine, clock,
                               max_poll_age(rt.settings))
        self._imap_failures = 0
        self._scheduler: AsyncIOScheduler | None = None
        self._reloads: set[asyncio.Task[None]] = set()

    @property
    def rt(self) -> Runtime:
        """The current rules, templates, settings and database (replaced on reload)."""
        return self.holder.current

    async def run_once(self) -> RunStats:
        """Drain the mailbox, then the outbox, once."""
        stats = RunStats()
        box = imap.Mailbox(self.rt.settings.imap)
        try:
            await box.connect()
            stats.drained = await imap.drain(self.rt, box, ingest, self.clock,
                                             observe=self._observe, batch=ingest_batch)
            self.metrics.polled()
        finally:
            await box.close()
        started = time.perf_counter()
        stats.outbox = await smtp.flush(self.rt, self.clock, after=tell_operators)
        stats.outbox_seconds = time.perf_counter() - started
        return stats

    async def run(self) -> None:
        """Run until ``stopping`` is set (SIGTERM/SIGINT), then finish the work in hand."""
        try:
            await asyncio.to_thread(self.holder.freeze)
        except ReloadError as exc:
            raise ConfigError(str(exc)) from exc
        server = await self._serve_metrics()
        intake = await self._serve_lmtp()
        tasks = [asyncio.create_task(self._mail_loop(), name="mail"),
                 asyncio.create_task(self._outbox_loop(), name="outbox"),
                 asyncio.create_task(lead(self.rt, self._leading, self.stopping), name="leader")]
        log.info("running (pid %d)", os.getpid(), extra={"event": "running"})
        try:
            await self.stopping.wait()
            log.info("stopping: finishing the message in hand", extra={"event": "stopping"})
            if intake is not None:
                intake.close()  # no new LMTP deliveries; the one in hand is answered
            _, late = await asyncio.wait(tasks, timeout=self.stop_grace)
            if late:
                log.warning("stop: %s still busy after %.0f s; cancelled",
                            ", ".join(t.get_name() for t in late), self.stop_grace)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._leading(False)
            for srv in (intake, server):
                if srv is not None:
                    srv.close()
                    await srv.wait_closed()
            log.info("stopped", extra={"event": "stopped"})

    def _leading(self, leading: bool) -> None:
        """The scheduled jobs run only in the replica that leads (maild/edges/leader.py)."""
        if leading and self._scheduler is None:
            self._scheduler = AsyncIOScheduler(timezone=self.rt.settings.helpdesk.tz)
            scheduler.schedule(self._scheduler, self.rt, jobs(self.rt), self.clock)
            self._scheduler.start()
        elif not leading and self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None

    def request_reload(self) -> None:
        """SIGHUP: reload rules and templates in a worker thread; refused files keep the old."""
        task = asyncio.create_task(self._reload(), name="reload")
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)

    async def _reload(self) -> None:
        if await asyncio.to_thread(self.holder.reload) and self._scheduler is not None:
            self._scheduler.remove_all_jobs()  # the jobs hold the Runtime they were given
            scheduler.schedule(self._scheduler, self.rt, jobs(self.rt), self.clock)

    async def _serve_lmtp(self) -> asyncio.Server | None:
        """LMTP intake when ``[lmtp] listen`` is set: the MTA delivers into this process."""
        listen = self.rt.settings.lmtp.listen
        if not listen:
            return None
        handler = lmtp.Handler(self.rt.settings.helpdesk.address,
                               lambda raw, now: ingest(self.rt, raw, now, None), self.clock,
                               self.outbox_wakeup.set)
        return await lmtp.serve(listen, handler)

    async def _serve_metrics(self) -> asyncio.Server | None:
        listen = self.rt.settings.metrics.listen
        if not listen:
            return None
        host, port = self.rt.settings.metrics.address()
        try:
            return await serve(self.metrics, host, port)
        except OSError as exc:
            raise ConfigError(f"[metrics] listen = {listen!r}: cannot listen: {exc}") from exc

    async def _sleep(self, seconds: float, wakeup: asyncio.Event | None = None) -> None:
        """Sleep ``seconds``, or less if stopping (or ``wakeup``) is set."""
        events = [self.stopping] + ([wakeup] if wakeup else [])
        waiters = [asyncio.ensure_future(e.wait()) for e in events]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()

    def _observe(self, result: IngestResult, seconds: float) -> None:
        self.metrics.message(result.disposition.value, seconds)

    async def _mail_loop(self) -> None:
        """Connect, drain, then IDLE (or poll); reconnect with back-off after any error.
        With ``[imap] host = ""`` there is no mailbox (mail comes by LMTP or pipe)."""
        if not self.rt.settings.imap.host:
            await self.stopping.wait()
            return
        while not self.stopping.is_set():
            box = imap.Mailbox(self.rt.settings.imap)
            try:
                await box.connect()
                await self._serve_mailbox(box)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._imap_failures += 1
                self.metrics.reconnect("imap")
                delay = backoff.delay(self._imap_failures, *IMAP_BACKOFF, self.rng)
                log.warning("mailbox loop: %s: %s; reconnecting in %.1f s",
                            type(exc).__name__, exc, delay,
                            extra={"event": "reconnect", "edge": "imap",
                                   "failures": self._imap_failures})
                await self._sleep(delay)
            finally:
                await box.close()

    async def _serve_mailbox(self, box: imap.Mailbox) -> None:
        """Drain, then wait for mail: IDLE re-issued every ``idle_seconds``, else poll + NOOP."""
        cfg = box.cfg
        while not self.stopping.is_set():
            drained = await imap.drain(self.rt, box, ingest, self.clock,
                                       self.outbox_wakeup.set, stop=self.stopping.is_set,
                                       observe=self._observe, batch=ingest_batch)
            self.metrics.polled()
            if drained.processed:
                arenas.trim()  # the mailbox is empty: hand freed pages back (maild/arenas.py)
            if self._imap_failures:
                log.info("mailbox back after %d failure(s)", self._imap_failures,
                         extra={"event": "reconnected", "edge": "imap"})
                self._imap_failures = 0
            if self.stopping.is_set():
                return
            if box.news:  # mail came in while we drained: look again before idling
                continue
            if cfg.idle and box.can_idle:
                await self._idle(box, cfg.idle_seconds)
            else:
                await self._sleep(cfg.poll_seconds)
                if not self.stopping.is_set():
                    await box.noop()  # keep-alive; a dead connection fails here

    async def _idle(self, box: imap.Mailbox, seconds: float) -> None:
        """IDLE until new mail, ``seconds`` (then DONE and a fresh IDLE), or a stop request."""
        idle = asyncio.create_task(box.wait_for_mail(seconds))
        stop = asyncio.create_task(self.stopping.wait())
        try:
            await asyncio.wait({idle, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not idle.done():
                idle.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await idle
        if not idle.cancelled():
            idle.result()  # re-raise a lost connection: the loop reconnects

    async def _outbox_loop(self) -> None:
        """Send what is due; woken early after each ingested message; backs off when SMTP
        is down (wake-ups are then ignored until the delay has passed)."""
        failures = 0
        while not self.stopping.is_set():
            # cleared before the flush, not after it: a message ingested while the flush
            # runs (after its last look for due mail) wakes the next round at once
            # instead of waiting out the 30 s interval
            self.outbox_wakeup.clear()
            try:
                stats = await smtp.flush(self.rt, self.clock, stop=self.stopping.is_set,
                                        after=tell_operators)
                failures = failures + 1 if stats.smtp_down else 0
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox loop error")
                failures += 1
            if failures:
                self.metrics.reconnect("smtp")
                base = min(SMTP_BACKOFF[0], self.rt.settings.smtp.retry_base_seconds)
                await self._sleep(backoff.delay(failures, base, SMTP_BACKOFF[1], self.rng))
            else:
                await self._sleep(min(OUTBOX_INTERVAL, smtp.idle_seconds(self.rt.settings.smtp)),
                                  self.outbox_wakeup)
