"""SLA arithmetic with hand-computed answers (core.sla)."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maild.core import sla

SH = ZoneInfo("Asia/Shanghai")  # UTC+8, no DST
BERLIN = ZoneInfo("Europe/Berlin")  # CET/CEST: 2026-03-29 and 2026-10-25 switch
NATIONAL_DAY = frozenset(date(2026, 10, d) for d in range(1, 8))  # Thu 1 .. Wed 7
MAKE_UP = frozenset({date(2026, 9, 20), date(2026, 10, 10)})  # a Sunday and a Saturday
CAL = sla.Calendar(SH, holidays=NATIONAL_DAY, extra_workdays=MAKE_UP)
WHERE = "rules/sla.toml"


def sh(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


def berlin(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN)


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


# -- add_business_minutes ---------------------------------------------------------------

@pytest.mark.parametrize(("start", "minutes", "due"), [
    (sh(11, 20, 17, 30), 60, sh(11, 23, 9, 30)),  # Friday 17:30 → Monday 09:30
    (sh(11, 21, 12), 0, sh(11, 23, 9)),  # created Saturday: the clock starts Monday 09:00
    (sh(11, 21, 12), 60, sh(11, 23, 10)),
    (sh(11, 23, 7), 30, sh(11, 23, 9, 30)),  # before opening
    (sh(11, 23, 20), 60, sh(11, 24, 10)),  # after closing
    (sh(11, 23, 10), 120, sh(11, 23, 12)),  # within one day
    (sh(11, 23, 10), 1440, sh(11, 25, 16)),  # 24 business hours = 8 + 9 + 7
    (sh(11, 23, 17), 60, sh(11, 23, 18)),  # uses the day up: due at closing, not next opening
    (sh(11, 23, 18), 0, sh(11, 24, 9)),  # created at closing waits for the next opening
    (sh(11, 23, 18), 1, sh(11, 24, 9, 1)),
    (sh(9, 30, 17), 120, sh(10, 8, 10)),  # National Day skipped: Wed 1 h, then Thu Oct 8
    (sh(10, 1, 10), 0, sh(10, 8, 9)),  # created on a holiday
    (sh(10, 9, 17), 120, sh(10, 10, 10)),  # make-up Saturday Oct 10 is worked
    (sh(9, 19, 12), 60, sh(9, 20, 10)),  # make-up Sunday Sep 20 is worked
    (sh(9, 18, 17), 600, sh(9, 20, 18)),  # Fri 1 h + make-up Sun 9 h: due Sunday 18:00
])
def test_add_business_minutes(start: datetime, minutes: int, due: datetime) -> None:
    got = sla.add_business_minutes(CAL, start, minutes)
    assert got == due and got.tzinfo is UTC


def test_utc_in_utc_out() -> None:
    start = utc(11, 23, 1)  # 09:00 in Shanghai
    assert sla.add_business_minutes(CAL, start, 60) == utc(11, 23, 2)
    assert sla.add_business_minutes(CAL, start.replace(tzinfo=None), 60) == utc(11, 23, 2)


def test_negative_minutes_count_as_zero() -> None:
    assert sla.add_business_minutes(CAL, sh(11, 23, 10), -5) == sh(11, 23, 10)
    assert sla.add_business_minutes(sla.ALWAYS, sh(11, 23, 10), -5) == sh(11, 23, 10)


def test_always_is_wall_clock() -> None:
    saturday_night = sh(11, 21, 23)
    for cal in (sla.ALWAYS, sla.Calendar(SH, always=True)):
        assert sla.add_business_minutes(cal, saturday_night, 15) == utc(11, 21, 15, 15)
        assert sla.business_seconds(cal, saturday_night, sh(11, 23, 1)) == 26 * 3600
        assert cal.is_business_day(date(2026, 11, 21))
    assert sla.ALWAYS.always and sla.ALWAYS.tz == ZoneInfo("UTC")


def test_big_n_is_fast_and_exact() -> None:
    # 2,000,000 min = 3703 days of 540 min + 380 min = 740 weeks + Mon..Wed + Thu 6 h 20:
    # fourteen years, far beyond the idle-day cap, which counts only days without hours.
    start = sh(11, 23, 9)  # a Monday
    due = sla.add_business_minutes(sla.Calendar(SH), start, 2_000_000)
    assert due == datetime.combine(date(2026, 11, 26) + timedelta(weeks=740), time(15, 20), SH)
    assert sla.business_seconds(sla.Calendar(SH), start, due) == 2_000_000 * 60


def test_no_business_day_is_an_error_not_a_hang() -> None:
    never = sla.Calendar(SH, workdays=frozenset())
    with pytest.raises(ValueError, match="no business hours"):
        sla.add_business_minutes(never, sh(11, 23, 9), 1)
    with pytest.raises(ValueError, match="no business hours"):
        sla.deadlines(sh(11, 23, 9), 1, 1, never)


def test_idle_cap_counts_days_in_a_row() -> None:
    start = date(2026, 11, 23)
    near, far = start + timedelta(days=3000), start + timedelta(days=4000)
    rare = sla.Calendar(SH, workdays=frozenset(), extra_workdays=frozenset({near}))
    assert sla.add_business_minutes(rare, sh(11, 23, 9), 1) == datetime.combine(
        near, time(9, 1), SH)
    with pytest.raises(ValueError, match="no business hours"):
        sla.add_business_minutes(sla.Calendar(SH, workdays=frozenset(),
                                              extra_workdays=frozenset({far})),
                                 sh(11, 23, 9), 1)


def test_calendar_refuses_closing_before_opening() -> None:
    with pytest.raises(ValueError, match="must be later"):
        sla.Calendar(SH, start=time(18), end=time(9))
    assert sla.Calendar(SH, start=time(18), end=time(9), always=True).always


def test_is_business_day() -> None:
    assert CAL.is_business_day(date(2026, 9, 30))  # Wednesday
    assert not CAL.is_business_day(date(2026, 10, 1))  # holiday on a Thursday
    assert not CAL.is_business_day(date(2026, 10, 11))  # ordinary Sunday
    assert CAL.is_business_day(date(2026, 10, 10))  # make-up Saturday


# -- business_seconds ----------------------------------------------------------------------

@pytest.mark.parametrize(("start", "end", "hours"), [
    (sh(11, 20, 17), sh(11, 23, 10), 2),  # Friday 1 h + Monday 1 h
    (sh(9, 30, 9), sh(10, 9, 9), 18),  # Sep 30 + Oct 8; National Day is off
    (sh(10, 9, 18), sh(10, 12, 9), 9),  # only the make-up Saturday, not Sunday the 11th
    (sh(11, 23, 19), sh(11, 24, 8), 0),  # one night
    (sh(11, 23, 10), sh(11, 23, 10), 0),  # empty
    (sh(11, 23, 10), sh(11, 23, 9), 0),  # reversed
    (sh(11, 23, 10, 30), sh(11, 23, 11), 0.5),
])
def test_business_seconds(start: datetime, end: datetime, hours: float) -> None:
    assert sla.business_seconds(CAL, start, end) == hours * 3600


# -- DST ----------------------------------------------------------------------------------------

def test_dst_spring_forward_keeps_nine_business_hours() -> None:
    cal = sla.Calendar(BERLIN)
    assert cal.hours(date(2026, 3, 27)) == (utc(3, 27, 8), utc(3, 27, 17))  # CET, UTC+1
    assert cal.hours(date(2026, 3, 30)) == (utc(3, 30, 7), utc(3, 30, 16))  # CEST, UTC+2
    assert sla.business_seconds(cal, berlin(3, 27, 9), berlin(3, 30, 18)) == 18 * 3600
    assert sla.add_business_minutes(cal, berlin(3, 27, 9), 9 * 60 + 30) == utc(3, 30, 7, 30)
    assert sla.add_business_minutes(cal, berlin(3, 27, 17, 30), 60) == utc(3, 30, 7, 30)


def test_dst_fall_back_keeps_nine_business_hours() -> None:
    cal = sla.Calendar(BERLIN)
    assert sla.business_seconds(cal, berlin(10, 23, 9), berlin(10, 26, 18)) == 18 * 3600
    assert sla.add_business_minutes(cal, berlin(10, 23, 17), 120) == utc(10, 26, 9)  # 10:00 CET


def test_dst_jump_inside_hours_counts_real_time() -> None:
    every_day = frozenset(range(7))
    night = sla.Calendar(BERLIN, start=time(1), end=time(4), workdays=every_day)
    # 01:00 CET = 00:00Z, 04:00 CEST = 02:00Z: the skipped hour is not worked
    assert sla.business_seconds(night, berlin(3, 29, 0), berlin(3, 29, 12)) == 2 * 3600
    # 02:30 does not exist that day and is read as CET (01:30Z), after 03:15 CEST (01:15Z):
    # the day gets no hours rather than negative ones
    odd = sla.Calendar(BERLIN, start=time(2, 30), end=time(3, 15), workdays=every_day)
    assert sla.business_seconds(odd, berlin(3, 29, 0), berlin(3, 30, 0)) == 0
    assert sla.add_business_minutes(odd, berlin(3, 29, 0), 10) == utc(3, 30, 0, 40)


# -- the inverse property -----------------------------------------------------------------

STARTS = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31))


@given(STARTS, st.integers(min_value=0, max_value=20_000))
def test_business_seconds_inverts_add(start: datetime, minutes: int) -> None:
    begin = start.replace(tzinfo=SH)
    opened = sla.add_business_minutes(CAL, begin, 0)  # inside hours (or exactly at opening)
    due = sla.add_business_minutes(CAL, opened, minutes)
    assert sla.business_seconds(CAL, opened, due) == minutes * 60
    assert sla.add_business_minutes(CAL, begin, minutes) == due
    assert sla.business_seconds(CAL, begin, due) == minutes * 60  # time before opening is free


@given(STARTS, st.integers(min_value=0, max_value=20_000))
def test_inverse_holds_across_dst(start: datetime, minutes: int) -> None:
    cal = sla.Calendar(BERLIN)
    begin = start.replace(tzinfo=BERLIN)
    due = sla.add_business_minutes(cal, begin, minutes)
    assert sla.business_seconds(cal, begin, due) == minutes * 60


@given(STARTS, STARTS)
def test_business_time_never_exceeds_wall_time(a: datetime, b: datetime) -> None:
    start, end = a.replace(tzinfo=SH), b.replace(tzinfo=SH)
    seconds = sla.business_seconds(CAL, start, end)
    assert 0 <= seconds <= max(0.0, (end - start).total_seconds())


# -- deadlines and breaches -----------------------------------------------------------------

def test_deadlines() -> None:
    dl = sla.deadlines(sh(11, 20, 17, 30), 60, 1440, CAL)  # 24 h = Fri .5 + 9 + 9 + Wed 5.5
    assert dl == sla.Deadlines(sh(11, 23, 9, 30), sh(11, 25, 14, 30))
    assert dl.response_due.tzinfo is UTC


DL = sla.Deadlines(sh(11, 23, 12), sh(11, 25, 16))


@pytest.mark.parametrize(("now", "responded", "resolved", "expected"), [
    (sh(11, 23, 11), None, None, (False, False)),  # unmet, not yet due
    (sh(11, 24, 9), None, None, (True, False)),  # unmet and past due
    (sh(11, 23, 12), None, None, (False, False)),  # exactly at the deadline is not past it
    (sh(11, 24, 9), sh(11, 23, 11), None, (False, False)),  # met on time
    (sh(11, 24, 9), sh(11, 23, 12), None, (False, False)),  # met exactly at the deadline
    (sh(11, 23, 12, 10), sh(11, 23, 12, 5), None, (True, False)),  # met late
    (sh(11, 26, 9), sh(11, 23, 11), sh(11, 25, 15), (False, False)),  # both met in time
    (sh(11, 26, 9), sh(11, 23, 11), sh(11, 25, 16, 1), (False, True)),  # resolved late
    (sh(11, 26, 9), None, None, (True, True)),
])
def test_breached(now: datetime, responded: datetime | None, resolved: datetime | None,
                  expected: tuple[bool, bool]) -> None:
    assert sla.breached(now, DL, responded, resolved) == expected


# -- alerts --------------------------------------------------------------------------------------

CREATED = sh(11, 23, 10)  # Monday
ALERT_DL = sla.deadlines(CREATED, 100, 1440, CAL)  # due Mon 11:40 and Wed 16:00


def kinds(alerts: list[sla.Alert]) -> list[tuple[str, str]]:
    return [(a.target, a.kind) for a in alerts]


def test_due_alerts_response() -> None:
    assert sla.Deadlines(sh(11, 23, 11, 40), sh(11, 25, 16)) == ALERT_DL
    assert sla.due_alerts(sh(11, 23, 11, 19), CREATED, ALERT_DL, None, None, CAL) == []  # 79 %
    warn = sla.due_alerts(sh(11, 23, 11, 20), CREATED, ALERT_DL, None, None, CAL)  # 80 %
    assert warn == [sla.Alert("response", "warn", sh(11, 23, 11, 40))]
    assert kinds(sla.due_alerts(sh(11, 23, 11, 39), CREATED, ALERT_DL, None, None, CAL)) == [
        ("response", "warn")]
    late = sla.due_alerts(sh(11, 23, 11, 40), CREATED, ALERT_DL, None, None, CAL)  # due = now
    assert kinds(late) == [("response", "warn"), ("response", "breach")]


def test_due_alerts_met_targets_give_nothing() -> None:
    now = sh(11, 26, 9)
    assert kinds(sla.due_alerts(now, CREATED, ALERT_DL, None, None, CAL)) == [
        ("response", "warn"), ("response", "breach"),
        ("resolution", "warn"), ("resolution", "breach")]
    assert kinds(sla.due_alerts(now, CREATED, ALERT_DL, sh(11, 23, 11), None, CAL)) == [
        ("resolution", "warn"), ("resolution", "breach")]
    # met late is still met: breached() reports it, but nobody is alerted any more
    assert sla.due_alerts(now, CREATED, ALERT_DL, sh(11, 23, 12), sh(11, 25, 17), CAL) == []


def test_due_alerts_warn_in_business_time() -> None:
    # 80 % of 24 business hours is 19 h 12 min: Mon 8 h + Tue 9 h + Wed 2 h 12 min → 11:12
    responded = sh(11, 23, 10, 30)
    assert sla.due_alerts(sh(11, 25, 11, 11), CREATED, ALERT_DL, responded, None, CAL) == []
    assert sla.due_alerts(sh(11, 25, 11, 12), CREATED, ALERT_DL, responded, None, CAL) == [
        sla.Alert("resolution", "warn", sh(11, 25, 16))]
    # a case opened at Monday 17:00 with 100 minutes: the night does not count
    created = sh(11, 23, 17)
    dl = sla.deadlines(created, 100, 1440, CAL)
    assert dl.response_due == sh(11, 24, 9, 40)
    assert sla.due_alerts(sh(11, 23, 23), created, dl, None, None, CAL) == []  # 60 % only
    assert kinds(sla.due_alerts(sh(11, 24, 9, 20), created, dl, None, None, CAL)) == [
        ("response", "warn")]


# -- priority matrix ---------------------------------------------------------------------------

def test_default_matrix_is_itil() -> None:
    assert dict(sla.DEFAULT_MATRIX) == {
        ("high", "high"): "P1", ("high", "medium"): "P2", ("medium", "high"): "P2",
        ("high", "low"): "P3", ("medium", "medium"): "P3", ("low", "high"): "P3",
        ("medium", "low"): "P4", ("low", "medium"): "P4", ("low", "low"): "P5"}


@pytest.mark.parametrize(("word", "level"), [
    ("high", "high"), ("HIGH", "high"), (" 高 ", "high"), ("urgent", "high"), ("紧急", "high"),
    ("Medium", "medium"), ("中", "medium"), ("normal", "medium"), ("一般", "medium"),
    ("普通", "medium"), ("low", "low"), ("低。", "low"), ("high - whole floor", "high"),
    ("", None), ("banana", None), ("highest", None), ("很高", None),
])
def test_detect_level(word: str, level: str | None) -> None:
    assert sla.detect_level(word) == level
    assert level is None or level in sla.LEVELS


@pytest.mark.parametrize(("urgency", "impact", "priority"), [
    ("high", "high", "P1"), ("High", "LOW", "P3"), ("高", "中", "P2"), ("紧急", "高", "P1"),
    ("urgent", "low", "P3"), ("normal", "一般", "P3"), ("普通", "低", "P4"),
    ("low", "low", "P5"), ("urgent", "whatever", None), ("", "high", None),
])
def test_matrix_priority(urgency: str, impact: str, priority: str | None) -> None:
    assert sla.matrix_priority(urgency, impact, sla.DEFAULT_MATRIX) == priority


def test_matrix_priority_missing_cell() -> None:
    assert sla.matrix_priority("high", "high", {("low", "low"): "P5"}) is None


def test_matrix_from_toml() -> None:
    m = sla.matrix_from_toml({}, WHERE)
    assert m == sla.DEFAULT_MATRIX and m is not sla.DEFAULT_MATRIX
    m[("low", "low")] = "P1"
    assert sla.DEFAULT_MATRIX[("low", "low")] == "P5"  # a copy, not the constant
    partial = sla.matrix_from_toml({"high": {"low": "P2"}, "Low": {"高": "p4"}}, WHERE)
    assert partial[("high", "low")] == "P2" and partial[("low", "high")] == "P4"
    assert partial[("low", "low")] == "P5" and len(partial) == 9


@pytest.mark.parametrize(("table", "says"), [
    ({"huge": {}}, "[matrix] huge: urgency 'huge' is not one of high, medium, low"),
    ({"high": {"vast": "P1"}}, "[matrix] high.vast: impact 'vast' is not one of"),
    ({"high": {"low": "P9"}}, "[matrix] high.low must be P1..P5, got 'P9'"),
    ({"high": {"low": 1}}, "[matrix] high.low must be P1..P5, got 1"),
    ({"high": "P1"}, "[matrix] high must be a table of impacts"),
])
def test_matrix_errors_name_the_key(table: dict[str, Any], says: str) -> None:
    with pytest.raises(sla.SlaConfigError) as err:
        sla.matrix_from_toml(table, WHERE)
    assert str(err.value).startswith(f"{WHERE}: [matrix]") and says in str(err.value)


# -- calendar_from_toml --------------------------------------------------------------------------

def test_calendar_from_toml() -> None:
    data = tomllib.loads("""
        start = 08:30:00                  # a TOML local time works as well as "08:30"
        end = "17:30"
        workdays = ["Mon", "saturday", "周日"]
        holidays = [2026-10-01, "2026-10-02"]
        extra_workdays = ["2026-10-10"]
    """)
    cal = sla.calendar_from_toml(data, SH, WHERE)
    assert cal == sla.Calendar(SH, time(8, 30), time(17, 30), frozenset({0, 5, 6}),
                               frozenset({date(2026, 10, 1), date(2026, 10, 2)}),
                               frozenset({date(2026, 10, 10)}))


def test_calendar_defaults() -> None:
    assert sla.calendar_from_toml({}, SH, WHERE) == sla.Calendar(SH)
    assert sla.calendar_from_toml({}, SH, WHERE).workdays == frozenset(range(5))


def test_shipped_rules_parse() -> None:
    path = Path(__file__).parents[2] / "rules" / "sla.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    cal = sla.calendar_from_toml(data["business_hours"], SH, str(path))
    assert not cal.is_business_day(date(2026, 10, 1)) and cal.is_business_day(date(2026, 10, 10))
    assert sla.matrix_from_toml(data["matrix"], str(path)) == sla.DEFAULT_MATRIX


def test_start_error_message() -> None:
    with pytest.raises(sla.SlaConfigError) as err:
        sla.calendar_from_toml({"start": "9am"}, SH, WHERE)
    assert str(err.value) == "rules/sla.toml: [business_hours] start must be HH:MM, got '9am'"


@pytest.mark.parametrize(("table", "says"), [
    ({"start": "9am"}, "start must be HH:MM"),
    ({"end": "25:00"}, "end must be HH:MM, got '25:00'"),
    ({"end": 18}, "end must be HH:MM, got 18"),
    ({"start": "18:00", "end": "09:00"}, "end must be later than start"),
    ({"start": "09:00", "end": "09:00"}, "end must be later than start"),
    ({"workdays": ["moonday"]}, "workdays: unknown day 'moonday'"),
    ({"workdays": ["monkey"]}, "workdays: unknown day 'monkey'"),
    ({"workdays": []}, "workdays must be a non-empty list"),
    ({"workdays": "mon"}, "workdays must be a non-empty list"),
    ({"holidays": ["2026-13-01"]}, "holidays: '2026-13-01' is not a date"),
    ({"holidays": ["1 Oct"]}, "holidays: '1 Oct' is not a date"),
    ({"holidays": "2026-10-01"}, "holidays must be a list of dates"),
    ({"extra_workdays": ["2026-02-30"]}, "extra_workdays: '2026-02-30' is not a date"),
    ({"holidays": ["2026-10-10"], "extra_workdays": ["2026-10-10"]},
     "2026-10-10 is in both holidays and extra_workdays"),
    ({"holiday": []}, "unknown key(s): holiday"),
])
def test_calendar_errors_name_the_key(table: dict[str, Any], says: str) -> None:
    with pytest.raises(sla.SlaConfigError) as err:
        sla.calendar_from_toml(table, SH, WHERE)
    assert str(err.value).startswith(f"{WHERE}: [business_hours] ") and says in str(err.value)
