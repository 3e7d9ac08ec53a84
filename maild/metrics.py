"""Prometheus metrics and a health check, served by a tiny HTTP server on the asyncio loop.

Why our own server: ``prometheus_client.start_http_server`` runs in a
thread and knows only ``/metrics``; ``/healthz`` needs the daemon's state,
and 60 lines of ``asyncio.start_server`` keep both on the event loop with
no thread and no web framework. The outbox and SLA figures are read from
the database at scrape time (in a worker thread), so they are true for every
replica and survive restarts; the rest are counted by this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import sqlalchemy as sa
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from maild.config import Settings
from maild.db.models import OutboxMail, SlaEvent

log = logging.getLogger("maild.metrics")

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


def max_poll_age(settings: Settings) -> float:
    """``[metrics] max_poll_age_seconds``, or by default the longest quiet spell a healthy
    mailbox loop has (an IDLE cycle, or three polls) plus a minute."""
    if settings.metrics.max_poll_age_seconds:
        return float(settings.metrics.max_poll_age_seconds)
    imap = settings.imap
    return float(max(imap.idle_seconds if imap.idle else 0, 3 * imap.poll_seconds) + 60)


class _DatabaseFigures(Collector):
    """Outbox depth and age and the SLA breach count, queried when scraped."""

    def __init__(self, engine: Callable[[], Engine], clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        try:
            with Session(self.engine()) as s:
                pending = col(OutboxMail.status) == "pending"
                depth = s.exec(select(func.count()).select_from(OutboxMail).where(pending)).one()
                oldest = s.exec(select(func.min(OutboxMail.created_at)).where(pending)).one()
                breaches = s.exec(select(func.count()).select_from(SlaEvent)
                                  .where(col(SlaEvent.kind) == "breach")).one()
        except sa.exc.SQLAlchemyError as exc:
            log.warning("metrics: database unavailable: %s", exc)
            return
        age = 0.0
        if oldest is not None:
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
            age = max((self.clock() - oldest).total_seconds(), 0.0)
        yield GaugeMetricFamily("maild_outbox_depth", "Notifications waiting to be sent.",
                                value=depth)
        yield GaugeMetricFamily("maild_outbox_oldest_age_seconds",
                                "Age of the oldest unsent notification (0 when none).", value=age)
        yield CounterMetricFamily("maild_sla_breaches", "SLA breaches announced (all time).",
                                  value=breaches)


class Metrics:
    """The daemon's counters; one registry per Daemon, so tests can run several."""

    def __init__(self, engine: Callable[[], Engine], clock: Callable[[], datetime],
                 max_age: float) -> None:
        self.registry = CollectorRegistry()
        self.max_age = max_age
        self.started = time.time()
        self.last_poll_at: float | None = None
        self.messages = Counter("maild_messages", "Inbound messages by disposition.",
                                ["disposition"], registry=self.registry)
        self.processing = Histogram("maild_message_processing_seconds",
                                    "Time to give one inbound message its disposition.",
                                    buckets=_BUCKETS, registry=self.registry)
        self.last_poll = Gauge("maild_last_poll_timestamp_seconds",
                               "Unix time of the last successful mailbox poll.",
                               registry=self.registry)
        self.reconnects = Counter("maild_reconnects", "Reconnects after an IMAP or SMTP error.",
                                  ["edge"], registry=self.registry)
        for edge in ("imap", "smtp"):
            self.reconnects.labels(edge)
        self.registry.register(_DatabaseFigures(engine, clock))

    def message(self, disposition: str, seconds: float) -> None:
        self.messages.labels(disposition).inc()
        self.processing.observe(seconds)

    def polled(self) -> None:
        self.last_poll_at = time.time()
        self.last_poll.set(self.last_poll_at)

    def reconnect(self, edge: str) -> None:
        self.reconnects.labels(edge).inc()

    def health(self) -> tuple[bool, str]:
        """(healthy, reason): the last successful poll (or the start) is recent enough."""
        last = self.last_poll_at or self.started
        age = time.time() - last
        if age <= self.max_age:
            return True, f"ok: last successful poll {age:.0f} s ago\n"
        return False, (f"unhealthy: last successful poll {age:.0f} s ago "
                       f"(limit {self.max_age:.0f} s)\n")

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


async def serve(metrics: Metrics, host: str, port: int) -> asyncio.Server:
    """Listen for ``GET /metrics`` and ``GET /healthz``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            path = request.split(b" ", 2)[1].split(b"?")[0] if b" " in request else b""
            status, ctype, body = await _answer(metrics, path)
            writer.write(b"HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                         b"Connection: close\r\n\r\n" % (status, ctype.encode(), len(body)))
            writer.write(body)
            await writer.drain()
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    server = await asyncio.start_server(handle, host, port)
    log.info("metrics on http://%s:%d/metrics, health on /healthz", host, port)
    return server


async def _answer(metrics: Metrics, path: bytes) -> tuple[bytes, str, bytes]:
    if path == b"/metrics":
        body = await asyncio.to_thread(metrics.exposition)
        return b"200 OK", CONTENT_TYPE_LATEST, body
    if path == b"/healthz":
        ok, reason = metrics.health()
        return (b"200 OK" if ok else b"503 Service Unavailable"), "text/plain", reason.encode()
    return b"404 Not Found", "text/plain", b"not found: try /metrics or /healthz\n"
