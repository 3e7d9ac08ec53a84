"""Reconnect delays: exponential, jittered between base and the cap, never zero."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from maild.core import backoff
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


def test_after_attempt_writes_the_one_retry_rule() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    sent = backoff.after_attempt("sent", None, 2, t0, t0, 48, 30)
    assert (sent.status, sent.attempts, sent.sent_at, sent.next_attempt_at) == ("sent", 3, t0, None)
    failed = backoff.after_attempt("failed", "550 no", 0, t0, t0, 48, 30)
    assert (failed.status, failed.attempts, failed.error, failed.next_attempt_at) == \
        ("failed", 1, "550 no", t0)
    retry = backoff.after_attempt("retry", "421 busy", 1, t0, t0, 48, 30)
    assert (retry.status, retry.attempts) == ("pending", 2)
    assert retry.next_attempt_at == backoff.retry_at(2, t0, t0, 48, 30)
    assert retry.next_attempt_at == t0 + timedelta(seconds=60)
    waited = backoff.after_attempt("retry", "connect: refused", 1, t0, t0, 48, 30,
                                   count_attempt=False)
    assert (waited.attempts, waited.next_attempt_at) == (1, t0 + timedelta(seconds=30))
    late = t0 + timedelta(hours=49)
    gave_up = backoff.after_attempt("retry", "421 busy", 4, t0, late, 48, 30)
    assert (gave_up.status, gave_up.next_attempt_at) == ("failed", late)
    assert gave_up.error == "gave up after 5 attempts: 421 busy"
