"""Report maths on hand-built cases with known answers (core.report)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from maild.core import report
from maild.core.report import CaseFacts
from maild.core.sla import Calendar

SH = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
CAL = Calendar(SH)
LI, HAN, JOHN = "li@corp.example", "han@corp.example", "john@corp.example"


def sh(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


def case(n: int, engineer: str | None, created: datetime, resolved: datetime | None = None,
         *, type: str | None = "printer", status: str | None = None,
         dispatched: datetime | None = None, rating: int | None = None,
         breached: bool = False, reopened: int = 0, escalated: bool = False) -> CaseFacts:
    return CaseFacts(
        id=n, engineer=engineer, type=type,
        status=status or ("resolved" if resolved else "in_progress"),
        created_at=created, dispatched_at=dispatched or (created if engineer else None),
        resolved_at=resolved, closed_at=None, rating=rating, reopened=reopened,
        escalated=escalated, response_breached=False, resolution_breached=breached)


def test_durations_known_values() -> None:
    d = report.durations([60, 120, 180, 240, 300, 360, 420, 480, 540, 600])
    assert (d.count, d.total_s, d.mean_s, d.median_s, d.p90_s) == (10, 3300, 330, 330, 540)
    assert report.durations([5]).p90_s == 5
    assert report.durations([]) == report.Durations(0, 0.0, None, None, None)


def test_periods() -> None:
    day = report.day_period(date(2026, 11, 22), SH)
    assert day.label == "2026-11-22" and day.end - day.start == timedelta(days=1)
    dst = report.day_period(date(2026, 3, 29), BERLIN)
    assert (dst.end - dst.start).total_seconds() == 23 * 3600  # clocks go forward
    march = report.month_period(2026, 3, BERLIN)
    assert (march.end - march.start).total_seconds() == (31 * 24 - 1) * 3600
    assert report.month_period(2026, 12, SH).end == datetime(2027, 1, 1, tzinfo=SH)
    assert report.previous_day(sh(11, 23, 0, 30), SH).label == "2026-11-22"
    assert report.previous_month(sh(12, 1, 8), SH).label == "2026-11"
    assert report.previous_month(datetime(2027, 1, 1, 8, tzinfo=SH), SH).label == "2026-12"


def test_resolved_at_2359_counts_that_day_and_midnight_the_next() -> None:
    day = report.day_period(date(2026, 11, 22), SH)
    facts = [case(1, LI, sh(11, 22, 9), sh(11, 22, 23, 59)),
             case(2, LI, sh(11, 21, 22), sh(11, 23, 0, 0))]  # spans two midnights
    r = report.build_report(day, facts, [LI], CAL)
    assert r.total_resolved == 1 and r.engineers[0].resolved == 1
    assert r.open_at_end == 1  # case 2 was still open at midnight
    assert r.total_opened == 1


def test_business_and_wall_handling_time() -> None:
    month = report.month_period(2026, 11, SH)
    fri = sh(11, 20, 17)  # Friday 17:00 → Monday 10:00: 1 h + 1 h business, 65 h wall
    r = report.build_report(month, [case(1, LI, fri, sh(11, 23, 10))], [LI], CAL)
    row = r.engineers[0]
    assert row.business.total_s == 2 * 3600 and row.wall.total_s == 65 * 3600
    assert r.team_business.mean_s == 2 * 3600


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
    ranks = {row.engineer: (row.rank_resolved, row.rank_speed) for row in r.engineers}
    assert ranks == {HAN: (1, 1), LI: (1, 2), JOHN: (3, None), "x@corp.example": (3, None)}
    assert [row.engineer for row in r.engineers][:2] == [HAN, LI]  # ties by address
    assert [row.engineer for row in r.by_speed] == [HAN, LI]
    li = next(row for row in r.engineers if row.engineer == LI)
    assert li.by_type == {"printer": 1, "network": 1} and li.mean_rating == 4
    han = next(row for row in r.engineers if row.engineer == HAN)
    assert (han.sla_met, han.sla_breached) == (1, 1)
    assert r.top_types[0] == ("printer", 4)


def test_backlog_by_age_and_counts() -> None:
    day = report.day_period(date(2026, 11, 22), SH)
    end = day.end
    facts = [case(1, LI, end - timedelta(hours=5)), case(2, LI, end - timedelta(days=2)),
             case(3, None, end - timedelta(days=5), status="new"),
             case(4, LI, end - timedelta(days=30), reopened=1, escalated=True),
             case(5, LI, end - timedelta(days=3), end - timedelta(hours=1), reopened=2,
                  escalated=True)]
    r = report.build_report(day, facts, [LI], CAL)
    assert r.backlog_by_age == {"<1d": 1, "1-3d": 1, "3-7d": 1, ">7d": 1}
    assert r.open_at_end == 4 and r.reopened == 1 and r.escalated == 1


def test_empty_period() -> None:
    r = report.build_report(report.day_period(date(2026, 11, 22), SH), [], [LI], CAL)
    assert r.total_opened == r.total_resolved == r.open_at_end == 0
    assert r.engineers[0].resolved == 0 and r.engineers[0].rank_speed is None
    assert r.mean_rating is None and r.top_types == () and r.by_speed == ()


@pytest.mark.parametrize("tz", [SH, BERLIN])
def test_month_end_boundary(tz: ZoneInfo) -> None:
    oct_ = report.month_period(2026, 10, tz)
    late = datetime(2026, 10, 31, 23, 59, tzinfo=tz)
    r = report.build_report(oct_, [case(1, LI, late - timedelta(hours=1), late),
                                   case(2, LI, late, late + timedelta(minutes=2))],
                            [LI], Calendar(tz))
    assert r.total_resolved == 1 and r.total_opened == 2 and r.open_at_end == 1
