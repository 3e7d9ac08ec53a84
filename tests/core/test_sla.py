"""SLA arithmetic with hand-computed answers (core.sla)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maild.core import sla

SH = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
NATIONAL_DAY = frozenset(date(2026, 10, d) for d in range(1, 8))
CAL = sla.Calendar(SH, holidays=NATIONAL_DAY, extra_workdays=frozenset({date(2026, 10, 11)}))


def sh(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


@pytest.mark.parametrize(("start", "minutes", "due"), [
    (sh(11, 20, 17, 30), 60, sh(11, 23, 9, 30)),  # Friday evening → Monday morning
    (sh(11, 21, 12), 60, sh(11, 23, 10)),  # Saturday: the clock starts Monday 09:00
    (sh(11, 23, 7), 30, sh(11, 23, 9, 30)),  # before opening
    (sh(11, 23, 10), 120, sh(11, 23, 12)),
    (sh(11, 23, 10), 1440, sh(11, 25, 16)),  # 24 business hours = 8 + 9 + 7
    (sh(11, 23, 17), 60, sh(11, 23, 18)),  # ends exactly at closing
    (sh(9, 30, 17), 120, sh(10, 8, 10)),  # National Day skipped (Oct 8 is Thursday)
    (sh(10, 10, 12), 60, sh(10, 11, 10)),  # a make-up Sunday is worked
])
def test_add_business_minutes(start: datetime, minutes: int, due: datetime) -> None:
    assert sla.add_business_minutes(CAL, start, minutes) == due.astimezone(UTC)


def test_always_is_wall_clock() -> None:
    cal = sla.Calendar(SH, always=True)
    start = sh(11, 21, 23)
    assert sla.add_business_minutes(cal, start, 15) == start + timedelta(minutes=15)
    assert sla.business_seconds(cal, start, start + timedelta(hours=2)) == 7200


def test_dst_day_still_has_nine_business_hours() -> None:
    cal = sla.Calendar(BERLIN)
    friday = datetime(2026, 3, 27, 9, 0, tzinfo=BERLIN)  # clocks go forward on Sunday 29
    monday = datetime(2026, 3, 30, 9, 0, tzinfo=BERLIN)
    assert sla.business_seconds(cal, friday, monday + timedelta(hours=9)) == 18 * 3600
    assert sla.add_business_minutes(cal, friday, 9 * 60 + 30) == (
        monday + timedelta(minutes=30)).astimezone(UTC)


def test_business_seconds_across_weekend_and_holiday() -> None:
    assert sla.business_seconds(CAL, sh(11, 20, 17), sh(11, 23, 10)) == 2 * 3600
    assert sla.business_seconds(CAL, sh(9, 30, 9), sh(10, 9, 9)) == 18 * 3600  # 9/30 + 10/8
    assert sla.business_seconds(CAL, sh(11, 23, 10), sh(11, 23, 9)) == 0


def test_no_business_day_is_an_error_not_a_hang() -> None:
    with pytest.raises(ValueError, match="no business hours"):
        sla.add_business_minutes(sla.Calendar(SH, workdays=frozenset()), sh(11, 23, 9), 1)


@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)),
       st.integers(min_value=0, max_value=20000))
def test_business_seconds_inverts_add(start: datetime, minutes: int) -> None:
    begin = start.replace(tzinfo=SH)
    due = sla.add_business_minutes(CAL, begin, minutes)
    opened = sla.add_business_minutes(CAL, begin, 0)  # the clock starts at the next opening
    assert sla.business_seconds(CAL, opened, due) == minutes * 60


def test_breached() -> None:
    dl = sla.Deadlines(sh(11, 23, 12), sh(11, 25, 16))
    now = sh(11, 24, 9)
    assert sla.breached(now, dl, None, None) == (True, False)  # unmet and past due
    assert sla.breached(now, dl, sh(11, 23, 11), None) == (False, False)  # met in time
    assert sla.breached(sh(11, 23, 10), dl, sh(11, 23, 12, 5), None) == (True, False)  # late
    assert sla.breached(sh(11, 26, 9), dl, sh(11, 23, 11), sh(11, 25, 15)) == (False, False)


def test_due_alerts() -> None:
    created = sh(11, 23, 10)
    dl = sla.deadlines(created, 100, 1440, CAL)
    assert sla.due_alerts(sh(11, 23, 11, 19), created, dl, None, None, CAL) == []  # 79 %
    warn = sla.due_alerts(sh(11, 23, 11, 20), created, dl, None, None, CAL)
    assert [(a.target, a.kind) for a in warn] == [("response", "warn")]
    late = sla.due_alerts(sh(11, 23, 11, 40), created, dl, None, None, CAL)
    assert [(a.target, a.kind) for a in late] == [("response", "warn"), ("response", "breach")]
    assert sla.due_alerts(sh(11, 23, 11, 40), created, dl, sh(11, 23, 11), None, CAL) == []
    # the resolution warning counts business time: 80 % of 24 h is Wednesday 11:12
    assert sla.due_alerts(sh(11, 25, 11, 11), created, dl, created, None, CAL) == []
    assert [a.kind for a in sla.due_alerts(sh(11, 25, 11, 12), created, dl, created, None,
                                           CAL)] == ["warn"]


@pytest.mark.parametrize(("urgency", "impact", "priority"), [
    ("high", "high", "P1"), ("High", "low", "P3"), ("高", "中", "P2"), ("紧急", "高", "P1"),
    ("low", "low", "P5"), ("一般", "普通", "P3"), ("urgent", "whatever", None),
])
def test_matrix(urgency: str, impact: str, priority: str | None) -> None:
    assert sla.matrix_priority(urgency, impact, sla.DEFAULT_MATRIX) == priority


def test_calendar_from_toml() -> None:
    cal = sla.calendar_from_toml({"start": "08:30", "end": "17:30", "workdays": ["Mon", "sat"],
                                  "holidays": ["2026-10-01", date(2026, 10, 2)],
                                  "extra_workdays": ["2026-10-11"]}, SH, "sla.toml")
    assert (cal.start, cal.end) == (time(8, 30), time(17, 30))
    assert cal.workdays == frozenset({0, 5}) and date(2026, 10, 2) in cal.holidays
    assert sla.calendar_from_toml({}, SH, "x").workdays == frozenset(range(5))


@pytest.mark.parametrize(("table", "says"), [
    ({"start": "9am"}, "start must be HH:MM"),
    ({"start": "18:00", "end": "09:00"}, "end must be later than start"),
    ({"workdays": ["moonday"]}, "unknown day 'moonday'"),
    ({"holidays": ["2026-13-01"]}, "holidays: '2026-13-01' is not a date"),
    ({"holiday": []}, "unknown key(s): holiday"),
])
def test_calendar_errors_name_the_key(table: dict[str, object], says: str) -> None:
    with pytest.raises(sla.SlaConfigError) as err:
        sla.calendar_from_toml(table, SH, "rules/sla.toml")
    assert "rules/sla.toml: [business_hours]" in str(err.value) and says in str(err.value)


def test_matrix_from_toml() -> None:
    m = sla.matrix_from_toml({"high": {"low": "P2"}}, "sla.toml")
    assert m[("high", "low")] == "P2" and m[("low", "low")] == "P5"
    for bad, says in (({"huge": {}}, "'huge' is not one of"),
                      ({"high": {"low": "P9"}}, "high.low must be P1..P5"),
                      ({"high": {"vast": "P1"}}, "impact must be")):
        with pytest.raises(sla.SlaConfigError, match=says):
            sla.matrix_from_toml(bad, "sla.toml")
