"""After the answer: thanks that do not reopen, and mail on a long-closed case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from maild.core.followup import starts_new_case, thanks_only


@pytest.mark.parametrize("text", ["thanks!", "Thank you", "Thanks a lot :)", "OK, thanks",
                                  "ok", "谢谢", "谢谢！", "多谢", "好的，谢谢您", "收到，谢谢",
                                  "Thank you so much!! 👍", "thx"])
def test_thanks_only(text: str) -> None:
    assert thanks_only(text)


@pytest.mark.parametrize("text", ["", "thanks, but the printer still jams",
                                  "谢谢，但是还是打不开", "it is broken again", "reopen",
                                  "Thanks. " * 12, "你了", "5"])
def test_not_thanks_only(text: str) -> None:
    assert not thanks_only(text)


NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def test_reopen_days() -> None:
    assert starts_new_case("closed", NOW - timedelta(days=8), NOW, 7)
    assert not starts_new_case("closed", NOW - timedelta(days=6), NOW, 7)
    assert not starts_new_case("resolved", NOW - timedelta(days=30), NOW, 7)
    assert not starts_new_case("closed", None, NOW, 7)
    assert starts_new_case("closed", NOW - timedelta(minutes=1), NOW, 0)
