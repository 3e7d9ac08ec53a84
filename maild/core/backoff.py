"""Reconnect delays: exponential growth with jitter, so many daemons do not retry in step.

Pure: the random source is an argument, so the table of delays is testable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Outcome:
    """What one send attempt writes to its outbox row (``after_attempt``)."""

    status: str  # "sent" | "failed" | "pending"
    attempts: int
    error: str | None
    next_attempt_at: datetime | None  # None: left as it is (a sent row keeps its lease)
    sent_at: datetime | None = None


def after_attempt(verdict: str, error: str | None, attempts: int, created_at: datetime,
                  now: datetime, retry_hours: int, base_seconds: int,
                  count_attempt: bool = True) -> Outcome:
    """The row's new state after an attempt whose verdict is "sent", "failed" or "retry".

    ``attempts`` is the count before this attempt; ``count_attempt`` false is for
    mail that was never tried (the relay was down): it waits without counting.
    A failed row's ``next_attempt_at`` records when it failed."""
    tried = attempts + (1 if count_attempt else 0)
    if verdict == "sent":
        return Outcome("sent", tried, None, None, sent_at=now)
    if verdict == "failed":
        return Outcome("failed", tried, error, now)
    when = retry_at(tried, created_at, now, retry_hours, base_seconds)
    if when is None:
        return Outcome("failed", tried, f"gave up after {tried} attempts: {error}", now)
    return Outcome("pending", tried, error, when)
