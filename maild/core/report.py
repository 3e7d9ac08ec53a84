"""The numbers of the managers' daily and monthly reports, from plain case facts.

Pure functions: the database adapter (``maild.reporting``) builds ``CaseFacts``
and this module counts. Periods are half-open ``[start, end)`` in the
helpdesk zone, so a case resolved at 23:59 local counts on that day and one
at 00:00 on the next; a DST day is 23 or 25 hours long. Handling time runs
from dispatch (or opening) to resolution, reported both in wall-clock and in
business time (``core.sla.business_seconds``), and labelled so.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from maild.core.sla import Calendar, business_seconds

DONE = ("resolved", "closed", "invalid")
AGE_BUCKETS = ("<1d", "1-3d", "3-7d", ">7d")


@dataclass(frozen=True)
class CaseFacts:
    id: int
    engineer: str | None
    type: str | None
    status: str
    created_at: datetime
    dispatched_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    rating: int | None
    reopened: int
    escalated: bool
    response_breached: bool
    resolution_breached: bool
    response_due: datetime | None = None
    resolution_due: datetime | None = None


@dataclass(frozen=True)
class Period:
    kind: str  # daily | monthly
    start: datetime
    end: datetime
    label: str

    def contains(self, moment: datetime | None) -> bool:
        return moment is not None and self.start <= moment < self.end


def _midnight(d: date, tz: ZoneInfo) -> datetime:
    """Local midnight as a UTC moment (Python subtracts same-zone datetimes by the wall
    clock, which would make a DST day 24 hours long)."""
    return datetime.combine(d, time(), tz).astimezone(UTC)


def day_period(d: date, tz: ZoneInfo) -> Period:
    return Period("daily", _midnight(d, tz), _midnight(d + timedelta(days=1), tz), d.isoformat())


def month_period(year: int, month: int, tz: ZoneInfo) -> Period:
    nxt = date(year + month // 12, month % 12 + 1, 1)
    return Period("monthly", _midnight(date(year, month, 1), tz), _midnight(nxt, tz),
                  f"{year:04d}-{month:02d}")


def previous_day(now: datetime, tz: ZoneInfo) -> Period:
    return day_period(now.astimezone(tz).date() - timedelta(days=1), tz)


def previous_month(now: datetime, tz: ZoneInfo) -> Period:
    first = now.astimezone(tz).date().replace(day=1) - timedelta(days=1)
    return month_period(first.year, first.month, tz)


@dataclass(frozen=True)
class Durations:
    count: int
    total_s: float
    mean_s: float | None
    median_s: float | None
    p90_s: float | None


def durations(seconds: Sequence[float]) -> Durations:
    """Count, total, mean, median and 90th percentile (nearest rank) of some durations."""
    if not seconds:
        return Durations(0, 0.0, None, None, None)
    xs = sorted(seconds)
    n = len(xs)
    mid = n // 2
    median = xs[mid] if n % 2 else (xs[mid - 1] + xs[mid]) / 2
    p90 = xs[max(math.ceil(0.9 * n), 1) - 1]
    total = float(sum(xs))
    return Durations(n, total, total / n, float(median), float(p90))


@dataclass(frozen=True)
class EngineerRow:
    engineer: str
    dispatched: int
    resolved: int
    open_at_end: int
    by_type: Mapping[str, int]
    wall: Durations
    business: Durations
    sla_met: int
    sla_breached: int
    mean_rating: float | None
    rank_resolved: int
    rank_speed: int | None


@dataclass(frozen=True)
class Report:
    period: Period
    engineers: tuple[EngineerRow, ...]  # by rank_resolved
    by_speed: tuple[EngineerRow, ...]  # engineers who resolved something, fastest first
    total_opened: int
    total_resolved: int
    open_at_end: int
    escalated: int
    reopened: int
    backlog_by_age: Mapping[str, int]
    top_types: tuple[tuple[str, int], ...]
    team_wall: Durations
    team_business: Durations
    mean_rating: float | None


def open_at(c: CaseFacts, moment: datetime) -> bool:
    """Was the case open at ``moment``: opened before, and not yet resolved or closed?"""
    if c.created_at >= moment:
        return False
    finished = [t for t in (c.resolved_at, c.closed_at) if t is not None]
    if finished:
        return min(finished) >= moment or (c.status not in DONE and max(finished) < moment)
    return c.status not in DONE


def _age_bucket(age: timedelta) -> str:
    days = age.total_seconds() / 86400
    return "<1d" if days < 1 else "1-3d" if days < 3 else "3-7d" if days < 7 else ">7d"


def _ranks(values: Sequence[tuple[str, float]], descending: bool) -> dict[str, int]:
    """Competition ranking (1, 1, 3); ties ordered by address for a stable table."""
    ordered = sorted(values, key=lambda kv: (-kv[1] if descending else kv[1], kv[0]))
    ranks: dict[str, int] = {}
    for i, (who, value) in enumerate(ordered):
        prev = ordered[i - 1] if i else None
        ranks[who] = ranks[prev[0]] if prev is not None and prev[1] == value else i + 1
    return ranks


def _mean(values: Sequence[int]) -> float | None:
    return sum(values) / len(values) if values else None


def build_report(period: Period, cases: Iterable[CaseFacts], engineers: Sequence[str],
                 cal: Calendar) -> Report:
    """Every number of one report."""
    facts = list(cases)
    resolved = [c for c in facts if period.contains(c.resolved_at)]
    people = list(dict.fromkeys([*engineers, *(c.engineer for c in facts if c.engineer and (
        period.contains(c.dispatched_at) or period.contains(c.resolved_at)
        or open_at(c, period.end)))]))

    def handling(c: CaseFacts) -> tuple[float, float]:
        assert c.resolved_at is not None
        begin = c.dispatched_at or c.created_at
        return ((c.resolved_at - begin).total_seconds(),
                business_seconds(cal, begin, c.resolved_at))

    mine_resolved: dict[str, list[CaseFacts]] = defaultdict(list)
    dispatched: Counter[str] = Counter()
    open_end: Counter[str] = Counter()
    for c in facts:  # one pass, grouped by engineer
        if c.engineer is None:
            continue
        if period.contains(c.resolved_at):
            mine_resolved[c.engineer].append(c)
        if period.contains(c.dispatched_at):
            dispatched[c.engineer] += 1
        if open_at(c, period.end):
            open_end[c.engineer] += 1
    times = {c.id: handling(c) for c in resolved}
    rows: list[EngineerRow] = []
    for who in people:
        mine = mine_resolved.get(who, [])
        spans = [times[c.id] for c in mine]
        rows.append(EngineerRow(
            engineer=who, dispatched=dispatched[who], resolved=len(mine),
            open_at_end=open_end[who],
            by_type=dict(Counter(c.type or "other" for c in mine)),
            wall=durations([t[0] for t in spans]),
            business=durations([t[1] for t in spans]),
            sla_met=sum(1 for c in mine if not c.resolution_breached),
            sla_breached=sum(1 for c in mine if c.resolution_breached),
            mean_rating=_mean([c.rating for c in mine if c.rating is not None]),
            rank_resolved=0, rank_speed=None,
        ))
    by_resolved = _ranks([(r.engineer, float(r.resolved)) for r in rows], descending=True)
    by_speed = _ranks([(r.engineer, r.business.mean_s) for r in rows
                       if r.business.mean_s is not None], descending=False)
    table = sorted((replace(r, rank_resolved=by_resolved[r.engineer],
                            rank_speed=by_speed.get(r.engineer)) for r in rows),
                   key=lambda r: (r.rank_resolved, r.engineer))
    fastest = sorted((r for r in table if r.rank_speed is not None),
                     key=lambda r: (r.rank_speed or 0, r.engineer))
    backlog = [c for c in facts if open_at(c, period.end)]
    ages = Counter(_age_bucket(period.end - c.created_at) for c in backlog)
    opened = [c for c in facts if period.contains(c.created_at)]
    all_times = list(times.values())
    return Report(
        period=period, engineers=tuple(table), by_speed=tuple(fastest),
        total_opened=len(opened), total_resolved=len(resolved), open_at_end=len(backlog),
        escalated=sum(1 for c in facts if c.escalated and (
            period.contains(c.created_at) or period.contains(c.resolved_at))),
        reopened=sum(1 for c in resolved if c.reopened),
        backlog_by_age={b: ages.get(b, 0) for b in AGE_BUCKETS},
        top_types=tuple(Counter(c.type or "other" for c in opened).most_common(5)),
        team_wall=durations([t[0] for t in all_times]),
        team_business=durations([t[1] for t in all_times]),
        mean_rating=_mean([c.rating for c in resolved if c.rating is not None]),
    )
