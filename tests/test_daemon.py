"""The long-running daemon: IDLE wakes it, the outbox retries, SIGTERM stops it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from maildenv import Maild, new_mail, write_config
from servers import Dovecot, SmtpSink
from sqlmodel import Session, select

from maild.core import backoff
from maild.daemon import Daemon
from maild.db.models import OutboxMail
from maild.edges import smtp

CUSTOMER = "wang.fang@sh.corp.example"


async def test_idle_picks_up_new_mail(maild: Maild, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    """With the daemon idling, a delivered mail is acknowledged without any polling delay."""
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    daemon = Daemon(maild.rt)
    task = asyncio.create_task(daemon.run())
    try:
        await asyncio.sleep(0.5)  # connected and idling
        await asyncio.to_thread(dovecot.deliver, new_mail(CUSTOMER, "WiFi down", "No WiFi."),
                                mail_from=CUSTOMER)
        await smtp_sink.wait_for_async(2, timeout=60)  # liveness; latency: benchmarks/latency.py
        await asyncio.to_thread(dovecot.deliver, new_mail(CUSTOMER, "Mouse", "Broken."),
                                mail_from=CUSTOMER)
        await smtp_sink.wait_for_async(4, timeout=60)
    finally:
        daemon.stopping.set()
        await asyncio.wait_for(task, 10)
    assert await asyncio.to_thread(dovecot.count, "Processed") == 2


async def test_temporary_smtp_failure_is_retried(maild: Maild, dovecot: Dovecot,
                                                 smtp_sink: SmtpSink) -> None:
    """A 451 defers the mail with back-off; the next attempt delivers it once."""
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    smtp_sink.fail_next(1)
    await asyncio.to_thread(dovecot.deliver, new_mail(CUSTOMER, "Screen", "Flickers."),
                            mail_from=CUSTOMER)
    stats = await Daemon(maild.rt).run_once()
    assert stats.outbox.sent == 1 and stats.outbox.deferred == 1
    with Session(maild.rt.engine) as s:
        pending = s.exec(select(OutboxMail).where(OutboxMail.status == "pending")).one()
        assert pending.attempts == 1 and pending.last_error and "451" in pending.last_error
    again = await smtp.flush(maild.rt, lambda: pending.next_attempt_at)
    assert again.sent == 1
    assert len(smtp_sink.messages) == 2


async def test_a_message_ingested_during_a_flush_wakes_the_next_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A wake-up that comes while the outbox is being flushed is kept: the loop flushes
    again at once instead of sleeping the 30 s interval (it was cleared after the flush,
    and a notification then waited up to 30 s)."""
    daemon = Daemon(Maild(write_config(tmp_path, 1, 1)).rt)
    flushes: list[int] = []
    awake_at_sleep: list[bool] = []

    async def flush(*args: object, **kwargs: object) -> smtp.FlushStats:
        flushes.append(len(flushes))
        if len(flushes) == 1:
            daemon.outbox_wakeup.set()  # what an ingest does, here after the last claim
        else:
            daemon.stopping.set()
        return smtp.FlushStats()

    async def sleep(seconds: float, wakeup: asyncio.Event | None = None) -> None:
        awake_at_sleep.append(wakeup is not None and wakeup.is_set())

    monkeypatch.setattr(smtp, "flush", flush)
    monkeypatch.setattr(daemon, "_sleep", sleep)
    await daemon._outbox_loop()
    assert flushes == [0, 1] and awake_at_sleep == [True, False]


def test_backoff_grows_and_is_capped() -> None:
    t0 = datetime(2026, 12, 1, tzinfo=UTC)

    def delays(base: int, n: int) -> list[float]:
        return [((backoff.retry_at(a, t0, t0, 48, base) or t0) - t0).total_seconds()
                for a in range(1, n)]

    assert delays(30, 10)[:4] == [30, 60, 120, 240] and max(delays(30, 10)) == 3600
    fast = delays(2, 13)
    assert fast[:3] == [2, 4, 8] and max(fast) == 3600


def test_sigterm_stops_the_daemon(maild: Maild, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    """`maild run` exits 0 soon after SIGTERM."""
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    dovecot.deliver(new_mail(CUSTOMER, "Mouse", "Broken."), mail_from=CUSTOMER)
    proc = subprocess.Popen([sys.executable, "-m", "maild", "run", "--config", str(maild.config)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # running for sure (signal handlers installed) once it has handled a message:
        # a fixed sleep raced a slow start on a busy machine and killed it by default
        dovecot.wait_for_count("Processed", 1, timeout=60)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()
