"""Times for people carry their UTC offset, in one format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from maild.core.when import age, human


def test_offset_is_written_out() -> None:
    at = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    assert human(at, ZoneInfo("Asia/Shanghai")) == "2026-11-22 16:00 +08:00"
    assert human(at) == "2026-11-22 08:00 +00:00"
    assert human(at, timezone(timedelta(hours=-3, minutes=-30))) == "2026-11-22 04:30 -03:30"


def test_a_naive_time_has_no_offset_to_show() -> None:
    assert human(datetime(2026, 11, 22, 8, 0)) == "2026-11-22 08:00"


@pytest.mark.parametrize(("seconds", "shown"), [
    (0, "0m"), (59, "0m"), (60, "1m"), (45 * 60, "45m"), (3600, "1h 0m"),
    (2 * 3600 + 5 * 60, "2h 5m"), (86400, "1d 0h"), (3 * 86400 + 4 * 3600 + 59 * 60, "3d 4h"),
    (-30, "0m"),
])
def test_age(seconds: float, shown: str) -> None:
    assert age(seconds) == shown
