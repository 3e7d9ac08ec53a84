"""``#visit`` times: every form the reference lists, in the helpdesk's time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from maild.core.visits import FORMS, parse

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 1, 10, 15, tzinfo=SH)  # a Tuesday morning in Shanghai


def at(day: int, hour: int, minute: int = 0, month: int = 12, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


@pytest.mark.parametrize(("text", "start", "end", "note"), [
    ("14:00-15:00", at(1, 14), at(1, 15), ""),
    ("14:00", at(1, 14), at(1, 15), ""),  # a start alone: one hour
    ("9:30~11", at(1, 9, 30), at(1, 11), ""),
    ("14:00 – 16:30 bring the spare fuser", at(1, 14), at(1, 16, 30), "bring the spare fuser"),
    ("14：00", at(1, 14), at(1, 15), ""),  # a full-width colon
    ("3pm", at(1, 15), at(1, 16), ""),
    ("2:30pm to 4pm", at(1, 14, 30), at(1, 16), ""),
    ("2-4pm", at(1, 14), at(1, 16), ""),
    ("12am", at(1, 0), at(1, 1), ""),
    ("tomorrow 9:30", at(2, 9, 30), at(2, 10, 30), ""),
    ("Tomorrow 9:30-10:00 call first", at(2, 9, 30), at(2, 10), "call first"),
    ("day after tomorrow 8:00", at(3, 8), at(3, 9), ""),
    ("today 17:00", at(1, 17), at(1, 18), ""),
    ("明天 9:30", at(2, 9, 30), at(2, 10, 30), ""),
    ("明天9点半", at(2, 9, 30), at(2, 10, 30), ""),
    ("后天 14:00-16:00 带硒鼓", at(3, 14), at(3, 16), "带硒鼓"),
    ("今天 下午3点", at(1, 15), at(1, 16), ""),
    ("下午3点到5点", at(1, 15), at(1, 17), ""),
    ("下午3点-4点半", at(1, 15), at(1, 16, 30), ""),
    ("上午10点20分", at(1, 10, 20), at(1, 11, 20), ""),
    ("中午1点", at(1, 13), at(1, 14), ""),
    ("晚上8点，顺便看看打印机", at(1, 20), at(1, 21), "顺便看看打印机"),
    ("14点30分", at(1, 14, 30), at(1, 15, 30), ""),
    ("2026-12-02 14:00", at(2, 14), at(2, 15), ""),
    ("2026-12-02 14:00-16:00", at(2, 14), at(2, 16), ""),
    ("2026/12/02 14:00", at(2, 14), at(2, 15), ""),
    ("12-03 9:00", at(3, 9), at(3, 10), ""),
    ("01-05 9:00", at(5, 9, month=1, year=2027), at(5, 10, month=1, year=2027), ""),
    ("12月2日 下午2点", at(2, 14), at(2, 15), ""),
    ("2027年1月4日 9:00", at(4, 9, month=1, year=2027), at(4, 10, month=1, year=2027), ""),
    ("14:00\nthe second floor, room 204", at(1, 14), at(1, 15), "the second floor, room 204"),
])
def test_forms(text: str, start: datetime, end: datetime, note: str) -> None:
    window = parse(text, NOW)
    assert window is not None, text
    assert (window.start, window.end, window.note) == (start, end, note)


@pytest.mark.parametrize("text", [
    "", "soon", "after lunch", "明天", "tomorrow", "25:00", "14:75", "15:00-14:00",
    "2026-13-01 9:00", "2026-02-30 9:00", "12月32日 9点", "room 204", "#2 at 14:00",
    "14:00abc",
])
def test_not_a_time(text: str) -> None:
    assert parse(text, NOW) is None


@pytest.mark.parametrize("form", FORMS)
def test_every_form_the_refusal_lists_is_read(form: str) -> None:
    assert parse(form, NOW) is not None


def test_the_time_zone_is_the_one_given() -> None:
    utc = datetime(2026, 12, 1, 2, 15, tzinfo=ZoneInfo("UTC"))
    window = parse("14:00", utc.astimezone(SH))
    assert window is not None and window.start.utcoffset() is not None
    assert window.start.astimezone(ZoneInfo("UTC")).hour == 6
