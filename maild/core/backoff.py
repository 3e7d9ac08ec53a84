"""Reconnect delays: exponential growth with jitter, so many daemons do not retry in step.

Pure: the random source is an argument, so the table of delays is testable.
"""

from __future__ import annotations

from collections.abc import Callable


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
