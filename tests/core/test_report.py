"""Report maths on hand-built cases with known answers (core.report).

Shanghai has no DST; Berlin springs forward on 2026-03-29 (a 23-hour day) and
falls back on 2026-10-25 (25 hours). The default calendar is Mon-Fri 09-18.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from maild.core import report
from maild.core.report import CaseFacts, Durations
from maild.core.sla import Calendar

SH = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
CAL = Calendar(SH)
BERLIN_CAL = Calendar(BERLIN)
LI, HAN, JOHN = "li@corp.example", "han@corp.example", "john@corp.example"
A, B, C, D = "a@corp.example", "b@corp.example", "c@corp.example", "d@corp.example"
HOUR = 3600.0
EMPTY = Durations(0, 0.0, None, None, None)


def sh(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


def be(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN)


def case(n: int, engineer: str | None, created: datetime, resolved: datetime | None = None,
         *, type: str | None = "printer", status: str | None = None,
         dispatched: datetime | None = None, closed: datetime | None = None,
         rating: int | None = None, breached: bool = False, reopened: int = 0,
         escalated: bool = False) -> CaseFacts:
    """A case dispatched when opened (if it has an engineer), resolved if ``resolved``."""
    return CaseFacts(
        id=n, engineer=engineer, type=type,
        status=status or ("resolved" if resolved else "in_progress"),
        created_at=created, dispatched_at=dispatched or (created if engineer else None),
        resolved_at=resolved, closed_at=closed, rating=rating, reopened=reopened,
        escalated=escalated, response_breached=False, resolution_breached=breached)


def row(r: report.Report, who: str) -> report.EngineerRow:
    return next(x for x in r.engineers if x.engineer == who)


# --- durations ------------------------------------------------------------------------

def test_durations_known_values() -> None:
    d = report.durations([60, 120, 180, 240, 300, 360, 420, 480, 540, 600])
    assert d == Durations(10, 3300.0, 330.0, 330.0, 540.0)


@pytest.mark.parametrize(("values", "median", "p90"), [
    ([5], 5, 5),
    ([3, 1, 2], 2, 3),  # unsorted input; rank ceil(2.7) = 3
    ([10, 20], 15, 20),
    (list(range(1, 21)), 10.5, 18),  # rank 18 of 20
    (list(range(1, 101)), 50.5, 90),
    (list(range(1, 71)), 35.5, 63),  # 0.9 * 70 must not round up to rank 64
])
def test_durations_median_and_nearest_rank_p90(values: list[int], median: float,
                                               p90: float) -> None:
    d = report.durations(values)
    assert (d.count, d.median_s, d.p90_s) == (len(values), median, p90)
    assert d.total_s == sum(values) and d.mean_s == sum(values) / len(values)


def test_durations_empty() -> None:
    assert report.durations([]) == EMPTY


# --- periods --------------------------------------------------------------------------

def test_day_and_month_periods_shanghai() -> None:
    day = report.day_period(date(2026, 11, 22), SH)
    assert (day.kind, day.label) == ("daily", "2026-11-22")
    assert day.start == datetime(2026, 11, 21, 16, tzinfo=UTC)
    assert day.end - day.start == timedelta(days=1)
    nov = report.month_period(2026, 11, SH)
    assert (nov.kind, nov.label) == ("monthly", "2026-11")
    assert nov.end - nov.start == timedelta(days=30)
    assert report.month_period(2026, 12, SH).end == datetime(2027, 1, 1, tzinfo=SH)
    assert report.month_period(2026, 2, SH).end - report.month_period(2026, 2, SH).start \
        == timedelta(days=28)


def test_periods_are_utc_moments() -> None:
    p = report.day_period(date(2026, 11, 22), SH)
    assert p.start.tzinfo is UTC and p.end.tzinfo is UTC


def test_berlin_dst_days_and_month() -> None:
    spring = report.day_period(date(2026, 3, 29), BERLIN)
    assert (spring.end - spring.start).total_seconds() == 23 * HOUR
    assert spring.start == datetime(2026, 3, 28, 23, tzinfo=UTC)
    assert spring.end == datetime(2026, 3, 29, 22, tzinfo=UTC)
    autumn = report.day_period(date(2026, 10, 25), BERLIN)
    assert (autumn.end - autumn.start).total_seconds() == 25 * HOUR
    march = report.month_period(2026, 3, BERLIN)
    assert (march.end - march.start).total_seconds() == (31 * 24 - 1) * HOUR
    assert march.label == "2026-03"


def test_dst_gap_at_midnight_starts_the_day_at_the_jump() -> None:
    havana = ZoneInfo("America/Havana")  # 2026-03-08 00:00 → 01:00
    p = report.day_period(date(2026, 3, 8), havana)
    assert p.start == datetime(2026, 3, 8, 5, tzinfo=UTC)  # 00:00 EST, which is 01:00 CDT
    assert (p.end - p.start).total_seconds() == 23 * HOUR


def test_previous_day_and_month() -> None:
    assert report.previous_day(sh(11, 23, 0, 30), SH).label == "2026-11-22"
    # 16:30 UTC on the 22nd is 00:30 on the 23rd in Shanghai
    assert report.previous_day(datetime(2026, 11, 22, 16, 30, tzinfo=UTC), SH).label \
        == "2026-11-22"
    assert report.previous_day(datetime(2026, 11, 22, 16, 30), SH).label == "2026-11-22"
    assert report.previous_day(sh(3, 1, 8), SH).label == "2026-02-28"
    assert report.previous_month(sh(12, 1, 8), SH).label == "2026-11"
    assert report.previous_month(datetime(2027, 1, 1, 8, tzinfo=SH), SH).label == "2026-12"
    assert report.previous_month(be(4, 1, 0, 5), BERLIN) == report.month_period(2026, 3,
                                                                                 BERLIN)


def test_month_out_of_range() -> None:
    with pytest.raises(ValueError):
        report.month_period(2026, 13, SH)


# --- boundaries -----------------------------------------------------------------------

def test_resolved_at_2359_counts_that_day_and_midnight_the_next() -> None:
    day = report.day_period(date(2026, 11, 22), SH)
    facts = [case(1, LI, sh(11, 22, 9), sh(11, 22, 23, 59)),
             case(2, LI, sh(11, 21, 22), sh(11, 23, 0, 0))]  # spans two midnights
    r = report.build_report(day, facts, [LI], CAL)
    assert r.total_resolved == 1 and row(r, LI).resolved == 1
    assert r.open_at_end == 1 and row(r, LI).open_at_end == 1  # case 2 open at midnight
    assert r.total_opened == 1
    nxt = report.build_report(report.day_period(date(2026, 11, 23), SH), facts, [LI], CAL)
    assert nxt.total_resolved == 1 and nxt.open_at_end == 0 and nxt.total_opened == 0


def test_berlin_dst_day_boundaries_and_wall_time_across_the_jump() -> None:
    day = report.day_period(date(2026, 3, 29), BERLIN)
    facts = [
        case(1, LI, be(3, 29, 1, 30), be(3, 29, 3, 30)),  # 01:30 CET → 03:30 CEST: 1 h
        case(2, LI, be(3, 29, 9), be(3, 29, 23, 59)),
        case(3, LI, be(3, 29, 9), be(3, 30, 0, 0)),  # the next day
        case(4, LI, be(3, 28, 23, 59), be(3, 29, 0, 0)),  # opened the day before
    ]
    r = report.build_report(day, facts, [LI], BERLIN_CAL)
    assert (r.total_opened, r.total_resolved, r.open_at_end) == (3, 3, 1)
    li = row(r, LI)
    # 1 min, 1 h (not the 2 h the wall clock shows), 14 h 59 min
    assert li.wall == Durations(3, 57600.0, 19200.0, HOUR, 53940.0)
    assert li.business.total_s == 0  # Sunday


@pytest.mark.parametrize("tz", [SH, BERLIN])
def test_month_end_boundary(tz: ZoneInfo) -> None:
    oct_ = report.month_period(2026, 10, tz)
    late = datetime(2026, 10, 31, 23, 59, tzinfo=tz)
    r = report.build_report(oct_, [case(1, LI, late - timedelta(hours=1), late),
                                   case(2, LI, late, late + timedelta(minutes=2))],
                            [LI], Calendar(tz))
    assert r.total_resolved == 1 and r.total_opened == 2 and r.open_at_end == 1


def test_berlin_march_month_edges() -> None:
    march = report.month_period(2026, 3, BERLIN)
    facts = [case(1, LI, be(2, 27, 9), be(2, 28, 23, 59)),  # February
             case(2, LI, be(2, 27, 9), be(3, 1, 0, 0)),  # first moment of March
             case(3, LI, be(3, 30, 9), be(3, 31, 23, 59)),  # last minute of March
             case(4, LI, be(3, 30, 9), be(4, 1, 0, 0))]  # April
    r = report.build_report(march, facts, [LI], BERLIN_CAL)
    assert (r.total_opened, r.total_resolved, r.open_at_end) == (2, 2, 1)
    assert row(r, LI).dispatched == 2


def test_case_spanning_month_end_shanghai() -> None:
    # Saturday 31 Oct 22:00 → Sunday 1 Nov 02:00: 4 h wall, no business time
    facts = [case(1, LI, sh(10, 31, 22), sh(11, 1, 2))]
    oct_ = report.build_report(report.month_period(2026, 10, SH), facts, [LI], CAL)
    assert (oct_.total_opened, oct_.total_resolved, oct_.open_at_end) == (1, 0, 1)
    assert oct_.backlog_by_age["<1d"] == 1 and row(oct_, LI).dispatched == 1
    nov = report.build_report(report.month_period(2026, 11, SH), facts, [LI], CAL)
    assert (nov.total_opened, nov.total_resolved, nov.open_at_end) == (0, 1, 0)
    assert row(nov, LI).dispatched == 0 and row(nov, LI).resolved == 1
    assert nov.team_wall.total_s == 4 * HOUR and nov.team_business.total_s == 0


# --- handling time --------------------------------------------------------------------

def test_business_and_wall_handling_time_shanghai() -> None:
    month = report.month_period(2026, 11, SH)
    fri = sh(11, 20, 17)  # Friday 17:00 → Monday 10:00: 1 h + 1 h business, 65 h wall
    r = report.build_report(month, [case(1, LI, fri, sh(11, 23, 10))], [LI], CAL)
    li = row(r, LI)
    assert li.business == Durations(1, 2 * HOUR, 2 * HOUR, 2 * HOUR, 2 * HOUR)
    assert li.wall == Durations(1, 65 * HOUR, 65 * HOUR, 65 * HOUR, 65 * HOUR)
    assert r.team_business.mean_s == 2 * HOUR and r.team_wall.mean_s == 65 * HOUR


def test_business_and_wall_handling_time_over_berlin_dst_weekend() -> None:
    # Friday 27 Mar 17:00 CET → Monday 30 Mar 10:00 CEST: the night lost an hour
    r = report.build_report(report.month_period(2026, 3, BERLIN),
                            [case(1, LI, be(3, 27, 17), be(3, 30, 10))], [LI], BERLIN_CAL)
    assert row(r, LI).wall.total_s == 64 * HOUR and row(r, LI).business.total_s == 2 * HOUR


def test_handling_runs_from_dispatch_or_else_from_opening() -> None:
    month = report.month_period(2026, 11, SH)
    facts = [case(1, LI, sh(11, 2, 9), sh(11, 2, 12), dispatched=sh(11, 2, 11)),  # 1 h
             case(2, None, sh(11, 3, 9), sh(11, 3, 11))]  # never dispatched: 2 h
    r = report.build_report(month, facts, [LI], CAL)
    assert row(r, LI).business.total_s == 1 * HOUR
    assert r.team_business.total_s == 3 * HOUR and r.total_resolved == 2
    assert [x.engineer for x in r.engineers] == [LI]  # unassigned: team numbers only


def test_naive_and_foreign_zone_timestamps_are_utc() -> None:
    month = report.month_period(2026, 11, SH)
    # naive = UTC: 01:00-03:00 UTC is 09:00-11:00 in Shanghai on Monday 2 Nov
    facts = [case(1, LI, datetime(2026, 11, 2, 1), datetime(2026, 11, 2, 3)),
             case(2, LI, be(11, 3, 2), be(11, 3, 3))]  # 09:00-10:00 Shanghai
    r = report.build_report(month, facts, [LI], CAL)
    assert row(r, LI).business.total_s == 3 * HOUR and r.team_wall.total_s == 3 * HOUR


# --- engineers, ranks, ratings --------------------------------------------------------

def test_rankings_with_ties_and_idle_engineers() -> None:
    month = report.month_period(2026, 11, SH)
    facts = [
        case(1, LI, sh(11, 2, 9), sh(11, 2, 10), rating=5),  # 1 h
        case(2, LI, sh(11, 3, 9), sh(11, 3, 12), type="network", rating=3),  # 3 h
        case(3, HAN, sh(11, 4, 9), sh(11, 4, 10)),  # 1 h
        case(4, HAN, sh(11, 5, 9), sh(11, 5, 10), breached=True),  # 1 h
        case(5, "x@corp.example", sh(11, 6, 9)),  # not in the list, still open
    ]
    r = report.build_report(month, facts, [LI, HAN, JOHN], CAL)
    ranks = {x.engineer: (x.rank_resolved, x.rank_speed) for x in r.engineers}
    assert ranks == {HAN: (1, 1), LI: (1, 2), JOHN: (3, None), "x@corp.example": (3, None)}
    assert [x.engineer for x in r.engineers] == [HAN, LI, JOHN, "x@corp.example"]
    assert [x.engineer for x in r.by_speed] == [HAN, LI]
    li = row(r, LI)
    assert li.by_type == {"network": 1, "printer": 1} and li.mean_rating == 4
    han = row(r, HAN)
    assert (han.sla_met, han.sla_breached) == (1, 1) and han.mean_rating is None
    assert row(r, "x@corp.example").open_at_end == 1
    assert r.top_types[0] == ("printer", 4)


def test_competition_ranking_one_one_three() -> None:
    month = report.month_period(2026, 11, SH)
    facts = [case(1, B, sh(11, 2, 9), sh(11, 2, 10)),  # B: 1 h, 1 h → mean 1 h
             case(2, B, sh(11, 2, 11), sh(11, 2, 12)),
             case(3, A, sh(11, 3, 9), sh(11, 3, 9, 30)),  # A: 30 min, 30 min, 2 h → 1 h
             case(4, A, sh(11, 3, 10), sh(11, 3, 10, 30)),
             case(5, A, sh(11, 3, 11), sh(11, 3, 13)),
             case(6, C, sh(11, 4, 9), sh(11, 4, 9, 30))]  # C: 30 min
    r = report.build_report(month, facts, [D, C, B, A], CAL)
    assert [(x.engineer, x.resolved, x.rank_resolved) for x in r.engineers] == [
        (A, 3, 1), (B, 2, 2), (C, 1, 3), (D, 0, 4)]
    # a tie on resolved counts: give B a third case
    tied = [*facts, case(7, B, sh(11, 5, 9), sh(11, 5, 10))]
    r = report.build_report(month, tied, [D, C, B, A], CAL)
    assert [(x.engineer, x.rank_resolved) for x in r.engineers] == [
        (A, 1), (B, 1), (C, 3), (D, 4)]
    assert [(x.engineer, x.rank_speed) for x in r.by_speed] == [(C, 1), (A, 2), (B, 2)]
    assert row(r, D).rank_speed is None and row(r, D).wall == EMPTY


def test_who_is_listed() -> None:
    month = report.month_period(2026, 11, SH)
    facts = [case(1, "old@corp.example", sh(10, 2, 9), sh(10, 2, 10)),  # October only
             case(2, "new@corp.example", sh(11, 2, 9)),  # dispatched in November
             case(3, "", sh(11, 2, 9), sh(11, 2, 10))]  # blank engineer: team only
    r = report.build_report(month, facts, [LI, LI], CAL)
    assert [x.engineer for x in r.engineers] == [LI, "new@corp.example"]
    assert r.total_resolved == 1


def test_mean_rating_over_cases_resolved_in_the_period() -> None:
    month = report.month_period(2026, 11, SH)
    facts = [case(1, LI, sh(11, 2, 9), sh(11, 2, 10), rating=5),
             case(2, LI, sh(11, 2, 9), sh(11, 2, 10), rating=2),
             case(3, LI, sh(11, 2, 9), sh(11, 2, 10)),  # unrated
             case(4, LI, sh(10, 2, 9), sh(10, 2, 10), rating=1),  # October
             case(5, HAN, sh(11, 2, 9), sh(11, 2, 10), rating=4)]
    r = report.build_report(month, facts, [LI, HAN], CAL)
    assert row(r, LI).mean_rating == 3.5 and row(r, HAN).mean_rating == 4
    assert r.mean_rating == pytest.approx(11 / 3)


def test_top_types_at_most_five_ties_by_name() -> None:
    day = report.day_period(date(2026, 11, 23), SH)
    kinds = ["vpn", "vpn", "vpn", "mail", "mail", None, None, "zoom", "adobe", "wifi",
             "printer"]
    facts = [case(i, None, sh(11, 23, 9), type=t) for i, t in enumerate(kinds)]
    facts.append(case(99, None, sh(11, 22, 9), type="vpn"))  # opened the day before
    r = report.build_report(day, facts, [], CAL)
    assert r.top_types == (("vpn", 3), ("mail", 2), ("other", 2), ("adobe", 1),
                           ("printer", 1))
    assert r.engineers == () and r.total_opened == 11


# --- open at end, backlog -------------------------------------------------------------

END = report.day_period(date(2026, 11, 22), SH).end


@pytest.mark.parametrize(("status", "created", "resolved", "closed", "is_open"), [
    ("new", END - timedelta(seconds=1), None, None, True),
    ("in_progress", END, None, None, False),  # created at the end: not yet
    ("resolved", END - timedelta(hours=2), END - timedelta(seconds=1), None, False),
    ("resolved", END - timedelta(hours=2), END, None, True),  # resolved at the end
    ("closed", END - timedelta(hours=2), None, END - timedelta(hours=1), False),
    ("closed", END - timedelta(hours=2), END - timedelta(hours=1), END, False),
    ("closed", END - timedelta(hours=2), END, END + timedelta(hours=1), True),
    ("invalid", END - timedelta(hours=2), None, None, False),  # no stamps: not open
    ("invalid", END - timedelta(hours=2), None, END + timedelta(hours=1), True),
    ("in_progress", END - timedelta(days=2), END - timedelta(days=1), None, True),
])
def test_open_at(status: str, created: datetime, resolved: datetime | None,
                 closed: datetime | None, is_open: bool) -> None:
    c = case(1, LI, created, resolved, status=status, closed=closed)
    assert report.open_at(c, END) is is_open


@pytest.mark.parametrize(("age", "bucket"), [
    (timedelta(0), "<1d"), (timedelta(hours=23, minutes=59), "<1d"),
    (timedelta(days=1), "1-3d"), (timedelta(days=3) - timedelta(seconds=1), "1-3d"),
    (timedelta(days=3), "3-7d"), (timedelta(days=7), ">7d"), (timedelta(days=400), ">7d"),
])
def test_age_bucket_edges(age: timedelta, bucket: str) -> None:
    assert report.age_bucket(age) == bucket


def test_backlog_by_age_and_counts() -> None:
    day = report.day_period(date(2026, 11, 22), SH)
    end = day.end
    facts = [case(1, LI, end - timedelta(hours=5)), case(2, LI, end - timedelta(days=2)),
             case(3, None, end - timedelta(days=5), status="new"),
             case(4, LI, end - timedelta(days=30), reopened=1, escalated=True),
             case(5, LI, end - timedelta(days=3), end - timedelta(hours=1), reopened=2,
                  escalated=True),
             case(6, LI, end - timedelta(days=1), end - timedelta(hours=2)),
             case(7, None, end - timedelta(days=9), status="invalid")]
    r = report.build_report(day, facts, [LI], CAL)
    assert r.backlog_by_age == {"<1d": 1, "1-3d": 1, "3-7d": 1, ">7d": 1}
    assert list(r.backlog_by_age) == ["<1d", "1-3d", "3-7d", ">7d"]
    assert r.open_at_end == 4 and row(r, LI).open_at_end == 3
    assert r.reopened == 1 and r.escalated == 1  # only case 5 was resolved in the day
    assert r.total_resolved == 2 and r.total_opened == 2  # case 6 opened at the start


def test_escalated_counts_cases_opened_or_resolved_in_the_period() -> None:
    day = report.day_period(date(2026, 11, 23), SH)
    facts = [case(1, LI, sh(11, 23, 9), escalated=True),  # opened today
             case(2, LI, sh(11, 20, 9), sh(11, 23, 10), escalated=True),  # resolved today
             case(3, LI, sh(11, 20, 9), escalated=True),  # neither
             case(4, LI, sh(11, 23, 9))]
    assert report.build_report(day, facts, [LI], CAL).escalated == 2


# --- empty ----------------------------------------------------------------------------

def test_empty_period() -> None:
    r = report.build_report(report.day_period(date(2026, 11, 22), SH), [], [LI, HAN], CAL)
    assert (r.total_opened, r.total_resolved, r.open_at_end, r.escalated, r.reopened) \
        == (0, 0, 0, 0, 0)
    assert r.backlog_by_age == {"<1d": 0, "1-3d": 0, "3-7d": 0, ">7d": 0}
    assert r.team_wall == EMPTY and r.team_business == EMPTY and r.mean_rating is None
    assert r.top_types == () and r.by_speed == ()
    assert [(x.engineer, x.rank_resolved, x.rank_speed) for x in r.engineers] == [
        (HAN, 1, None), (LI, 1, None)]
    han = row(r, HAN)
    assert (han.dispatched, han.resolved, han.open_at_end, han.sla_met, han.sla_breached) \
        == (0, 0, 0, 0, 0)
    assert han.by_type == {} and han.wall == EMPTY and han.mean_rating is None
    none = report.build_report(report.month_period(2026, 2, BERLIN), iter(()), [], BERLIN_CAL)
    assert none.engineers == () and none.team_business == EMPTY


# --- days, the period before, headline changes ----------------------------------------

def test_days_of_a_month_and_of_a_day() -> None:
    nov = report.month_period(2026, 11, SH)
    assert report.local_days(nov, SH) == [date(2026, 11, d) for d in range(1, 31)]
    assert report.local_days(report.day_period(date(2026, 11, 22), SH), SH) == [
        date(2026, 11, 22)]
    october = report.month_period(2026, 10, BERLIN)  # 31 days, one of them 25 hours
    assert len(report.local_days(october, BERLIN)) == 31


def test_day_stats_count_by_local_day_and_hold_that_days_handling_time() -> None:
    facts = [
        case(1, LI, sh(11, 2, 9), sh(11, 2, 11)),  # 2 business hours, resolved on the 2nd
        case(2, LI, sh(11, 2, 10), sh(11, 3, 10)),  # 9 business hours, resolved on the 3rd
        case(3, HAN, sh(11, 2, 23, 59), sh(11, 3, 14)),  # opened 23:59 local: the 2nd
        case(4, HAN, sh(10, 31, 10), sh(11, 2, 10)),  # opened on a Saturday in October: 1 h
        case(5, None, sh(11, 3, 0, 0)),  # opened at local midnight: the 3rd
    ]
    r = report.build_report(report.month_period(2026, 11, SH), facts, [LI, HAN], CAL)
    assert len(r.days) == 30 and r.days[0].day == date(2026, 11, 1)
    nov2, nov3 = r.days[1], r.days[2]
    assert (nov2.opened, nov2.resolved) == (3, 2)
    assert (nov3.opened, nov3.resolved) == (1, 2)
    assert nov2.business.median_s == pytest.approx(1.5 * HOUR)  # 2 h and 1 h (Mon 09-10)
    assert nov3.business.median_s == pytest.approx(7 * HOUR)  # 9 h and 5 h
    assert sum(d.opened for d in r.days) == r.total_opened == 4
    assert sum(d.resolved for d in r.days) == r.total_resolved == 4
    assert all(d.business.count == 0 for d in r.days[3:])


def test_day_stats_on_a_berlin_25_hour_day() -> None:
    day = report.day_period(date(2026, 10, 25), BERLIN)
    facts = [case(1, LI, be(10, 25, 0, 30), be(10, 25, 23, 30))]
    r = report.build_report(day, facts, [LI], BERLIN_CAL)
    assert [(d.day, d.opened, d.resolved) for d in r.days] == [(date(2026, 10, 25), 1, 1)]


def test_previous_period_of_a_day_and_of_a_month() -> None:
    assert report.previous_period(report.day_period(date(2026, 3, 1), SH), SH).label == \
        "2026-02-28"
    assert report.previous_period(report.month_period(2026, 1, SH), SH).label == "2025-12"
    assert report.previous_period(report.month_period(2026, 3, BERLIN), BERLIN) == \
        report.month_period(2026, 2, BERLIN)


def test_compare_gives_each_headline_with_its_previous_value_and_verdict() -> None:
    oct_ = report.month_period(2026, 10, SH)
    nov = report.month_period(2026, 11, SH)
    before = report.build_report(oct_, [
        case(1, LI, sh(10, 5, 9), sh(10, 5, 13), rating=3),
        case(2, LI, sh(10, 6, 9), sh(10, 6, 11), rating=5, breached=True)], [LI], CAL)
    now = report.build_report(nov, [
        case(3, LI, sh(11, 5, 9), sh(11, 5, 10), rating=5),
        case(4, LI, sh(11, 6, 9), sh(11, 6, 10), rating=5),
        case(5, LI, sh(11, 9, 9), sh(11, 9, 10), escalated=True),
        case(6, LI, sh(11, 8, 9))], [LI], CAL)
    changes = {c.key: c for c in report.compare(now, before)}
    assert list(changes) == ["opened", "resolved", "open_at_end", "handling_bh",
                             "sla_met_pct", "rating", "escalated"]
    assert (changes["opened"].value, changes["opened"].previous) == (4, 2)
    assert changes["opened"].verdict == "none"  # more cases coming in is neither
    assert changes["resolved"].delta == 1 and changes["resolved"].verdict == "better"
    assert changes["open_at_end"].delta == 1 and changes["open_at_end"].verdict == "worse"
    assert changes["handling_bh"].value == pytest.approx(1.0)
    assert changes["handling_bh"].previous == pytest.approx(3.0)
    assert changes["handling_bh"].verdict == "better"  # faster
    assert (changes["sla_met_pct"].value, changes["sla_met_pct"].previous) == (100.0, 50.0)
    assert changes["rating"].delta == pytest.approx(1.0)
    assert changes["escalated"].verdict == "worse"


def test_compare_with_an_empty_period_before() -> None:
    nov = report.month_period(2026, 11, SH)
    empty = report.build_report(report.month_period(2026, 10, SH), [], [LI], CAL)
    now = report.build_report(nov, [case(1, LI, sh(11, 5, 9), sh(11, 5, 10))], [LI], CAL)
    changes = {c.key: c for c in report.compare(now, empty)}
    assert changes["handling_bh"].previous is None and changes["handling_bh"].delta is None
    assert changes["handling_bh"].verdict == "none"
    assert changes["rating"].value is None and changes["rating"].verdict == "none"
    assert changes["escalated"].verdict == "same"


def test_top_problems_rank_by_cases_opened_in_the_period() -> None:
    """Most linked cases opened in the month first, then most cases in all, then the lowest
    number; problems with none opened in the month are left out."""
    from maild.core.report import ProblemLink, month_period, top_problems

    tz = ZoneInfo("Asia/Shanghai")
    period = month_period(2026, 11, tz)
    inside, before = datetime(2026, 11, 10, tzinfo=UTC), datetime(2026, 10, 10, tzinfo=UTC)

    def links(pid: int, n_in: int, n_before: int) -> list[ProblemLink]:
        return ([ProblemLink(pid, f"P{pid}", "open", inside)] * n_in
                + [ProblemLink(pid, f"P{pid}", "open", before)] * n_before)

    rows = top_problems(period, links(1, 1, 5) + links(2, 3, 0) + links(3, 1, 6)
                        + links(4, 0, 9) + links(5, 3, 1), limit=3)
    assert [(r.id, r.in_period, r.total) for r in rows] == [(5, 3, 4), (2, 3, 3), (3, 1, 7)]
    assert top_problems(period, []) == ()
