"""The linear-growth check used by the hostile-input tests tells linear from quadratic."""

from __future__ import annotations

from complexity import QUADRATIC_FROM, growth


def _quadratic(n: int) -> int:
    steps = 0
    for i in range(n):
        for _ in range(i):
            steps += 1
    return steps


def test_quadratic_is_caught_and_linear_passes() -> None:
    assert growth(_quadratic, lambda n: n, 600) >= QUADRATIC_FROM
    assert growth(sum, lambda n: list(range(n)), 500_000) < QUADRATIC_FROM
