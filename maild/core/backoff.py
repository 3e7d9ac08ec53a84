"""Reconnect delays: exponential growth with jitter, so many daemons do not retry in step.

Pure: the random source is an argument, so the table of delays is testable.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta


def ceiling(failures: int, base: float, cap: float) -> float:
    """The un-jittered delay after ``failures`` consecutive failures: base, 2·base, … cap."""
    if failures <= 0:
        return 0.0
    return float(min(cap, base * 2 ** min(failures - 1, 62)))


def delay(failures: int, base: float, cap: float, rng: Callable[[], float]) -> float:
    """Seconds to wait before the next attempt ("full jitter" above a floor of ``base``).

    Drawn uniformly between ``base`` and ``ceiling(failures)``: never a busy
    loop (at least ``base``), never more than ``cap``, and spread out so that
    replicas or restarts do not hammer a recovering server together.
    ``rng`` returns a float in [0, 1), e.g. ``random.random``.
    """
    if failures <= 0:
        return 0.0
    top = ceiling(failures, base, cap)
    low = min(base, top)
    return low + rng() * (top - low)


def retry_at(attempts: int, created_at: datetime, now: datetime, retry_hours: int,
             base_seconds: int) -> datetime | None:
    """The outbox's one retry rule: when to try a mail again, or None to give up.

    ``base_seconds`` after the first attempt, doubling, capped at one hour (no
    jitter: a mail waits in a table, no one hammers a server by it), until
    ``retry_hours`` have passed since the mail was queued."""
    if now - created_at > timedelta(hours=retry_hours):
        return None
    return now + timedelta(seconds=ceiling(max(attempts, 1), base_seconds, 3600))
