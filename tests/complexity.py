"""A check that a function grows linearly with its input, without wall-clock limits.

Tests must not assert on speed (a busy machine makes any limit flaky, and speed
targets live in benchmarks/). What a test can assert is the *shape*: a linear
algorithm takes about 4x as long on 4x the input, a quadratic one 16x. Both
sizes run in the same moment, best of five, in CPU time (time spent waiting for
a busy CPU does not count).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

QUADRATIC_FROM = 10.0  # 4x the input: linear ~4x, n log n ~4.5x, quadratic ~16x


def _best(fn: Callable[[T], object], arg: T, runs: int = 5) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.process_time()
        fn(arg)
        best = min(best, time.process_time() - started)
    return best


def growth(fn: Callable[[T], object], make: Callable[[int], T], n: int) -> float:
    """How many times longer ``fn`` takes on ``make(4 * n)`` than on ``make(n)``."""
    small, large = make(n), make(4 * n)
    return _best(fn, large) / max(_best(fn, small), 1e-6)


def assert_linear(fn: Callable[[T], object], make: Callable[[int], T], n: int) -> None:
    """Fail when 4x the input costs QUADRATIC_FROM times as long or more."""
    ratio = growth(fn, make, n)
    assert ratio < QUADRATIC_FROM, f"4x the input took {ratio:.1f}x as long: not linear"
