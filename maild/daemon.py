"""The daemon: the mailbox loop, the outbox loop and the scheduler, as asyncio tasks.

``run_once`` is the same work, done once and returned from (``maild run
--once``, the tests, the demo): one code path for tests and production.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from maild import jobs
from maild.db.models import utcnow
from maild.edges import imap, smtp
from maild.runtime import Runtime
from maild.service import TransientError

log = logging.getLogger("maild.daemon")


@dataclass
class RunStats:
    drained: imap.DrainStats = field(default_factory=imap.DrainStats)
    outbox: smtp.FlushStats = field(default_factory=smtp.FlushStats)
    outbox_seconds: float = 0.0


class Daemon:
    def __init__(self, rt: Runtime, clock: Callable[[], datetime] = utcnow) -> None:
        self.rt = rt
        self.clock = clock
        self.stopping = asyncio.Event()
        self.outbox_wakeup = asyncio.Event()

    async def run_once(self) -> RunStats:
        """Drain the mailbox, then the outbox, once."""
        stats = RunStats()
        box = imap.Mailbox(self.rt.settings.imap)
        try:
            await box.connect()
            stats.drained = await imap.drain(self.rt, box, self.clock)
        finally:
            await box.close()
        started = time.perf_counter()
        stats.outbox = await smtp.flush(self.rt, self.clock)
        stats.outbox_seconds = time.perf_counter() - started
        return stats

    async def run(self) -> None:
        """Run until ``stopping`` is set (SIGTERM/SIGINT)."""
        scheduler = AsyncIOScheduler(timezone=self.rt.settings.helpdesk.tz)
        jobs.schedule(scheduler, self.rt, self.clock)
        scheduler.start()
        tasks = [asyncio.create_task(self._mail_loop(), name="mail"),
                 asyncio.create_task(self._outbox_loop(), name="outbox")]
        try:
            await self.stopping.wait()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            scheduler.shutdown(wait=False)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    async def _mail_loop(self) -> None:
        """Connect, drain, then IDLE (or poll); reconnect with back-off after any error."""
        cfg = self.rt.settings.imap
        failures = 0
        while not self.stopping.is_set():
            box = imap.Mailbox(cfg)
            try:
                await box.connect()
                failures = 0
                while not self.stopping.is_set():
                    await imap.drain(self.rt, box, self.clock, self.outbox_wakeup.set)
                    if cfg.idle and box.can_idle:
                        await box.wait_for_mail(min(cfg.poll_seconds * 10, 25 * 60))
                    else:
                        await self._sleep(cfg.poll_seconds)
                        await box.noop()
            except asyncio.CancelledError:
                raise
            except (imap.ImapError, TransientError, OSError, TimeoutError, Exception) as exc:
                failures += 1
                delay = min(2 ** failures, 300) * (0.5 + random.random() / 2)
                log.warning("mailbox loop: %s: %s; retrying in %.0f s",
                            type(exc).__name__, exc, delay)
                await self._sleep(delay)
            finally:
                await box.close()

    async def _outbox_loop(self) -> None:
        """Send what is due; woken early after each ingested message."""
        while not self.stopping.is_set():
            try:
                await smtp.flush(self.rt, self.clock)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox loop error")
            self.outbox_wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.outbox_wakeup.wait(), 30)
