"""A queue of independent items goes on past an item that raises, and logs why."""

from __future__ import annotations

import pytest

from maild.service.isolated import each


def test_one_bad_item_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[int] = []

    def work(n: int) -> int:
        seen.append(n)
        return 10 // n

    assert each([1, 0, 2, 5], work, "item") == 10 + 5 + 2
    assert seen == [1, 0, 2, 5]
    assert "item 0 failed: ZeroDivisionError" in caplog.text
