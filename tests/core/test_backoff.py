"""Reconnect delays: exponential, jittered between base and the cap, never zero."""

from __future__ import annotations

import pytest

from maild.core.backoff import ceiling, delay


@pytest.mark.parametrize(("failures", "rng", "expected"), [
    (0, 0.5, 0.0),      # no failure: no wait
    (1, 0.0, 1.0),      # the floor is base
    (1, 0.99, 1.0),     # first failure: base exactly (ceiling == base)
    (2, 0.0, 1.0),
    (2, 0.5, 1.5),      # between base (1) and 2
    (3, 1.0, 4.0),      # top of the range is 2**(n-1) * base
    (4, 0.5, 4.5),      # 1 + 0.5 * (8 - 1)
    (10, 1.0, 300.0),   # capped
    (10, 0.0, 1.0),     # full jitter reaches down to base even when capped
    (10_000, 0.5, 150.5),  # huge counts do not overflow
])
def test_delay_table(failures: int, rng: float, expected: float) -> None:
    assert delay(failures, 1.0, 300.0, lambda: rng) == pytest.approx(expected)


@pytest.mark.parametrize(("failures", "expected"), [
    (1, 30), (2, 60), (3, 120), (4, 240), (7, 1920), (8, 3600), (50, 3600)])
def test_ceiling_doubles_to_the_cap(failures: int, expected: float) -> None:
    assert ceiling(failures, 30, 3600) == expected


def test_cap_below_base_never_exceeds_cap() -> None:
    """A misconfigured cap smaller than base still bounds the wait."""
    assert delay(3, 10.0, 5.0, lambda: 0.9) == 5.0
