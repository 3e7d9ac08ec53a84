"""Visit invitations: valid iCalendar, read back by the ``icalendar`` library."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import icalendar
import pytest

from maild.core.ics import LINE_OCTETS, Invitation, build, fold

SH = ZoneInfo("Asia/Shanghai")
INV = Invitation(
    uid="maild-visit-7@corp.example", start=datetime(2026, 12, 2, 14, 0, tzinfo=SH),
    end=datetime(2026, 12, 2, 15, 0, tzinfo=SH), stamp=datetime(2026, 12, 1, 2, 0, tzinfo=UTC),
    summary="[Case #7] 工程师上门：打印机卡纸, toner; \\ jam",
    description="Li Lei 将于 14:00 到达。\n带硒鼓, 备用定影器" + "很长的说明" * 30,
    organizer="helpdesk@corp.example", organizer_name='IT "Helpdesk"',
    attendee="wang.fang@sh.corp.example", attendee_name="王芳", location="上海分公司")


def test_reads_back_as_an_invitation() -> None:
    cal = icalendar.Calendar.from_ical(build(INV))
    assert str(cal["METHOD"]) == "REQUEST" and str(cal["VERSION"]) == "2.0"
    [event] = cal.walk("VEVENT")
    assert str(event["UID"]) == INV.uid
    assert event.decoded("DTSTART") == INV.start and event.decoded("DTEND") == INV.end
    assert event.decoded("DTSTART").tzinfo is not None
    assert str(event["SUMMARY"]) == INV.summary  # commas, semicolons, backslashes survive
    assert str(event["DESCRIPTION"]) == INV.description  # and line breaks
    assert str(event["ORGANIZER"]) == "mailto:helpdesk@corp.example"
    assert str(event["ATTENDEE"]) == "mailto:wang.fang@sh.corp.example"
    assert event["ATTENDEE"].params["CN"] == "王芳"
    assert str(event["LOCATION"]) == "上海分公司"


def test_lines_are_crlf_and_folded_at_75_octets() -> None:
    raw = build(INV)
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= LINE_OCTETS for line in raw.split(b"\r\n"))
    assert b"DTSTART:20261202T060000Z" in raw  # UTC


@pytest.mark.parametrize("line", ["x" * 200, "打印机" * 60, "a" + "é" * 100, ""])
def test_fold_never_splits_a_character(line: str) -> None:
    folded = fold(line)
    parts = folded.split("\r\n ")
    assert "".join(parts) == line
    assert all(len(p.encode("utf-8")) <= LINE_OCTETS - (i > 0) for i, p in enumerate(parts))
