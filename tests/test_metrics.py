"""Prometheus metrics and /healthz from a running Daemon, scraped over real HTTP."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from maildenv import Maild, new_mail
from prometheus_client.parser import text_string_to_metric_families
from servers import Dovecot, SmtpSink, free_port
from sqlmodel import Session

from maild.config import read_config
from maild.daemon import Daemon
from maild.db.models import SlaEvent, utcnow
from maild.runtime import Runtime

CUSTOMER = "wang.fang@sh.corp.example"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


async def scrape(port: int) -> Samples:
    """Every sample as (name, labels) → value."""
    status, text = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def health(port: int) -> tuple[int, str]:
    return await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/healthz")


async def test_metrics_and_health(maild: Maild, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    """Counts by disposition, timings, outbox depth and age, SLA breaches, reconnects per edge,
    the last poll advancing with each IDLE cycle; /healthz 200, then 503 once IMAP is gone,
    and 200 again once the reconnect loop is back in."""
    port = free_port()
    text = maild.config.read_text().replace("poll_seconds = 1",
                                            "poll_seconds = 1\nidle_seconds = 1")
    maild.config.write_text(text + f'[metrics]\nlisten = "127.0.0.1:{port}"\n'
                                   "max_poll_age_seconds = 2\n")
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    daemon = Daemon(Runtime.load(read_config(maild.config), maild.rt.engine))
    started = time.time()
    task = asyncio.create_task(daemon.run())
    try:
        for subject in ("WiFi", "Mouse"):
            await asyncio.to_thread(dovecot.deliver, new_mail(CUSTOMER, subject, "Broken."),
                                    mail_from=CUSTOMER)
        await smtp_sink.wait_for_async(4, timeout=20)
        # the sink has the mail a moment before the sender marks it sent: wait for that
        for _ in range(100):
            m = await scrape(port)
            if m["maild_outbox_depth", ()] == 0:
                break
            await asyncio.sleep(0.1)
        assert m["maild_messages_total", (("disposition", "new_case"),)] == 2
        assert m["maild_message_processing_seconds_count", ()] == 2
        assert m["maild_message_processing_seconds_sum", ()] > 0
        assert m["maild_outbox_depth", ()] == 0 and m["maild_outbox_oldest_age_seconds", ()] == 0
        assert m["maild_reconnects_total", (("edge", "imap"),)] == 0
        assert m["maild_sla_breaches_total", ()] == 0
        first_poll = m["maild_last_poll_timestamp_seconds", ()]
        assert first_poll >= started
        assert (await health(port))[0] == 200

        await asyncio.sleep(1.5)  # no mail: IDLE ends after idle_seconds and the box is polled
        m = await scrape(port)
        assert m["maild_last_poll_timestamp_seconds", ()] > first_poll

        with Session(maild.rt.engine) as s:
            s.add(SlaEvent(case_id=1, target="response", kind="breach", at=utcnow()))
            s.commit()
        smtp_sink.stop()
        await asyncio.to_thread(dovecot.deliver, new_mail(CUSTOMER, "Screen", "Dark."),
                                mail_from=CUSTOMER)
        m = await _until(port, lambda m: m["maild_reconnects_total", (("edge", "smtp"),)] >= 1)
        assert m["maild_messages_total", (("disposition", "new_case"),)] == 3
        assert m["maild_outbox_depth", ()] == 2
        assert m["maild_outbox_oldest_age_seconds", ()] >= 0
        assert m["maild_sla_breaches_total", ()] == 1

        await asyncio.to_thread(dovecot.stop)
        deadline = time.monotonic() + 15
        while (status := await health(port))[0] == 200 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert status[0] == 503
        assert "last successful poll" in status[1] and "limit 2 s" in status[1]
        m = await scrape(port)
        assert m["maild_reconnects_total", (("edge", "imap"),)] >= 1
        assert (await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/other"))[0] == 404

        await asyncio.to_thread(dovecot.start)  # same port: the back-off loop gets back in
        deadline = time.monotonic() + 20
        while (status := await health(port))[0] != 200 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert status[0] == 200, status[1]
    finally:
        daemon.stopping.set()
        await asyncio.wait_for(task, 40)


async def _until(port: int, ok: Callable[[Samples], bool], timeout: float = 15) -> Samples:
    """Scrape until ``ok`` holds (the outbox loop reports after its flush), or time is up."""
    deadline = time.monotonic() + timeout
    while True:
        m = await scrape(port)
        if ok(m) or time.monotonic() > deadline:
            return m
        await asyncio.sleep(0.2)
