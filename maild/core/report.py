"""The numbers of the managers' daily and monthly reports, from plain case facts.

Pure and synchronous: the database adapter (``maild.service.reports``) builds
``CaseFacts`` and this module counts; no database, no I/O, no clock.

Periods are half-open ``[start, end)`` between local midnights of the
helpdesk zone, kept as UTC moments, so a case resolved at 23:59 local counts
on that day and one at 00:00 on the next, and a DST day is 23 or 25 hours
long. Every timestamp is compared and subtracted as UTC (a naive one is taken
as UTC, as the database stores it): Python subtracts two datetimes of the
same zone by the wall clock, which would get a DST night wrong by an hour.

Handling time runs from dispatch (or opening, if never dispatched) to
resolution and is reported twice, as wall-clock and as business time
(``core.sla.business_seconds``), each labelled so.

Besides the per-engineer table a report carries one ``DayStat`` per local
day of its period (the monthly mail's two charts) and ``compare`` sets its
headline numbers beside those of the period before (``previous_period``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from maild.core.ruleset import KINDS
from maild.core.sla import Calendar, as_utc, business_seconds
from maild.core.values import FINISHED_STATUSES

AGE_BUCKETS = ("<1d", "1-3d", "3-7d", ">7d")
OTHER = "other"  # the type of a case without one
TOP_TYPES = 5
_DAY_S = 86400.0


@dataclass(frozen=True)
class CaseFacts:
    """What a report needs to know about one case (built by the database adapter)."""

    id: int
    engineer: str | None
    type: str | None
    status: str  # new | dispatched | in_progress | resolved | closed | invalid
    created_at: datetime
    dispatched_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    rating: int | None
    reopened: int  # times reopened
    escalated: bool
    response_breached: bool  # the SLA outcome, as the adapter judged it
    resolution_breached: bool
    kind: str = "incident"  # incident | request
    line: int = 1  # the support line it is with now
    path: tuple[int, ...] = (1,)  # every line it has been with, in order (line_moves)


@dataclass(frozen=True)
class Period:
    """One report's span, half-open ``[start, end)``; both ends are UTC moments."""

    kind: str  # daily | monthly
    start: datetime
    end: datetime
    label: str  # 2026-11-22 | 2026-11

    def contains(self, moment: datetime | None) -> bool:
        return moment is not None and self.start <= as_utc(moment) < self.end


def _midnight(d: date, tz: ZoneInfo) -> datetime:
    """The first moment of local day ``d``, as UTC.

    Where DST skips midnight (America/Havana, Santiago) fold=0 reads 00:00
    with the old offset, which is exactly the moment the day begins.
    """
    return datetime.combine(d, time(), tz).astimezone(UTC)


def day_period(d: date, tz: ZoneInfo) -> Period:
    """Local day ``d``: 24 hours, or 23/25 on a DST change."""
    return Period("daily", _midnight(d, tz), _midnight(d + timedelta(days=1), tz),
                  d.isoformat())


def month_period(year: int, month: int, tz: ZoneInfo) -> Period:
    """Local calendar month; ValueError for a month outside 1..12."""
    first = date(year, month, 1)
    nxt = date(year + month // 12, month % 12 + 1, 1)
    return Period("monthly", _midnight(first, tz), _midnight(nxt, tz),
                  f"{year:04d}-{month:02d}")


def previous_day(now: datetime, tz: ZoneInfo) -> Period:
    """The local day before the one ``now`` falls on (the daily report's period)."""
    return day_period(as_utc(now).astimezone(tz).date() - timedelta(days=1), tz)


def previous_month(now: datetime, tz: ZoneInfo) -> Period:
    """The local month before the one ``now`` falls on (the monthly report's period)."""
    last = as_utc(now).astimezone(tz).date().replace(day=1) - timedelta(days=1)
    return month_period(last.year, last.month, tz)


def previous_period(period: Period, tz: ZoneInfo) -> Period:
    """The period of the same kind just before ``period``: what its headline is compared with."""
    return (previous_day(period.start, tz) if period.kind == "daily"
            else previous_month(period.start, tz))


def local_days(period: Period, tz: ZoneInfo) -> list[date]:
    """The local dates of ``period``, first to last (one for a daily period)."""
    first = as_utc(period.start).astimezone(tz).date()
    last = (as_utc(period.end) - timedelta(microseconds=1)).astimezone(tz).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


@dataclass(frozen=True)
class Durations:
    count: int
    total_s: float
    mean_s: float | None  # None when count is 0
    median_s: float | None
    p90_s: float | None  # nearest rank: the smallest value >= 90 % of them


def durations(seconds: Sequence[float]) -> Durations:
    """Count, total, mean, median and 90th percentile (nearest rank) of some durations."""
    if not seconds:
        return Durations(0, 0.0, None, None, None)
    xs = sorted(float(s) for s in seconds)
    n = len(xs)
    mid = n // 2
    median = xs[mid] if n % 2 else (xs[mid - 1] + xs[mid]) / 2
    p90 = xs[-(-9 * n // 10) - 1]  # rank ceil(0.9 n), in integers: no float rounding
    total = sum(xs)
    return Durations(n, total, total / n, median, p90)


@dataclass(frozen=True)
class EngineerRow:
    engineer: str
    dispatched: int  # dispatched to them in the period
    resolved: int  # resolved by them in the period
    open_at_end: int  # theirs and open when the period ended
    by_type: Mapping[str, int]  # resolved in the period by type, most first
    wall: Durations  # handling time of the cases resolved in the period, wall clock
    business: Durations  # the same in business time
    sla_met: int  # resolved in the period within the resolution target
    sla_breached: int  # resolved in the period after it
    mean_rating: float | None  # over the cases resolved in the period with a rating
    rank_resolved: int  # 1 = most resolved; ties share a rank (1, 1, 3)
    rank_speed: int | None  # 1 = fastest mean business handling time; None: resolved none


@dataclass(frozen=True)
class KindRow:
    """Incidents or requests: opened and resolved in the period, and the resolution target
    met or missed by those resolved."""

    kind: str
    opened: int
    resolved: int
    sla_met: int
    sla_breached: int


@dataclass(frozen=True)
class LineRow:
    """One support line, over the cases opened, dispatched or resolved in the period: how
    many it had, how many it passed up, how many it resolved (in the period)."""

    line: int
    handled: int
    escalated: int
    resolved: int


@dataclass(frozen=True)
class DayStat:
    """One local day of a period: the volume chart's bars and the handling-time chart's line."""

    day: date
    opened: int  # created that day
    resolved: int  # resolved that day, assigned or not
    business: Durations  # handling time of the cases resolved that day, business time


@dataclass(frozen=True)
class ProblemLink:
    """One case linked to a problem (built by the database adapter)."""

    problem_id: int
    title: str
    status: str  # open | known_error | resolved
    case_created_at: datetime


@dataclass(frozen=True)
class ProblemRow:
    """A problem in the report: its cases opened in the period, and all its cases."""

    id: int
    title: str
    status: str
    in_period: int
    total: int


TOP_PROBLEMS = 5


def top_problems(period: Period, links: Iterable[ProblemLink],
                 limit: int = TOP_PROBLEMS) -> tuple[ProblemRow, ...]:
    """The problems with the most linked cases opened in the period (then the most cases in
    all, then the lowest number); a problem with none opened in the period is left out."""
    rows: dict[int, ProblemRow] = {}
    for link in links:
        row = rows.get(link.problem_id) or ProblemRow(link.problem_id, link.title, link.status,
                                                      0, 0)
        rows[link.problem_id] = replace(row, total=row.total + 1, in_period=row.in_period
                                        + int(period.contains(link.case_created_at)))
    ranked = sorted((r for r in rows.values() if r.in_period),
                    key=lambda r: (-r.in_period, -r.total, r.id))
    return tuple(ranked[:limit])


@dataclass(frozen=True)
class Report:
    period: Period
    engineers: tuple[EngineerRow, ...]  # by rank_resolved, then address
    by_speed: tuple[EngineerRow, ...]  # engineers who resolved something, fastest first
    total_opened: int  # created in the period
    total_resolved: int  # resolved in the period, assigned or not
    open_at_end: int
    escalated: int  # escalated cases among those opened or resolved in the period
    reopened: int  # cases resolved in the period that had been reopened before
    backlog_by_age: Mapping[str, int]  # open at end, by wall-clock age then: AGE_BUCKETS
    top_types: tuple[tuple[str, int], ...]  # opened in the period, most first, at most 5
    team_wall: Durations  # handling time of every case resolved in the period
    team_business: Durations
    mean_rating: float | None
    days: tuple[DayStat, ...] = ()  # one per local day of the period, in order
    by_kind: tuple[KindRow, ...] = ()  # incident, then request
    by_line: tuple[LineRow, ...] = ()  # line 1, 2, 3: each line any case was with
    top_problems: tuple[ProblemRow, ...] = ()  # by cases opened in the period (top_problems)
    # engineer → visits whose window ended in the period and that were late (``#visit``
    # passed without ``#arrived``, or the arrival after the window); only those with some
    late_visits: Mapping[str, int] = field(default_factory=dict)


def open_at(c: CaseFacts, moment: datetime) -> bool:
    """Was the case open at ``moment``: opened before it, and not finished before it?

    Finished means resolved, closed or invalid with a resolution or closing
    moment before ``moment``; a finished case without either moment (an
    invalid one closed without a stamp) is not open. A case that is not
    finished now but carries an old stamp is open.
    """
    if as_utc(c.created_at) >= moment:
        return False
    if c.status not in FINISHED_STATUSES:
        return True
    stamps = [as_utc(t) for t in (c.resolved_at, c.closed_at) if t is not None]
    return bool(stamps) and min(stamps) >= moment


def age_bucket(age: timedelta) -> str:
    """The backlog bucket of a case this old: <1d, 1-3d, 3-7d or >7d."""
    days = age.total_seconds() / _DAY_S
    return "<1d" if days < 1 else "1-3d" if days < 3 else "3-7d" if days < 7 else ">7d"


BUCKET_DAYS = (("<1d", 1), ("1-3d", 3), ("3-7d", 7))  # upper bounds; older is ">7d"


@dataclass(frozen=True)
class BacklogCount:
    """How many cases one engineer (None: nobody) held open at a moment, in one age bucket.

    The report needs only these counts of the open backlog, not the cases
    themselves, so the database adapter can count them in SQL (a helpdesk's
    backlog can be a hundred thousand cases) while the tests count them here.
    """

    engineer: str | None
    bucket: str  # one of AGE_BUCKETS
    count: int


def backlog_counts(cases: Iterable[CaseFacts], moment: datetime) -> list[BacklogCount]:
    """The open backlog at ``moment`` by engineer and age bucket (``open_at``, ``age_bucket``)."""
    moment = as_utc(moment)
    counts: Counter[tuple[str | None, str]] = Counter(
        (c.engineer, age_bucket(moment - as_utc(c.created_at)))
        for c in cases if open_at(c, moment))
    return [BacklogCount(who, bucket, n) for (who, bucket), n in counts.items()]


def _ranks(values: Sequence[tuple[str, float]], descending: bool) -> dict[str, int]:
    """Competition ranking (1, 1, 3); ties ordered by address for a stable table."""
    ordered = sorted(values, key=lambda kv: (-kv[1] if descending else kv[1], kv[0]))
    ranks: dict[str, int] = {}
    for i, (who, value) in enumerate(ordered):
        same = i > 0 and ordered[i - 1][1] == value
        ranks[who] = ranks[ordered[i - 1][0]] if same else i + 1
    return ranks


def _mean(values: Sequence[int]) -> float | None:
    return sum(values) / len(values) if values else None


def _most_first(counts: Counter[str], limit: int | None = None) -> list[tuple[str, int]]:
    """Counts by size, ties by name: the same input always gives the same table."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


@dataclass
class _Tally:
    """One engineer's counts while the cases are walked once."""

    dispatched: int = 0
    open_at_end: int = 0
    # (case, wall-clock s, business s) of each case they resolved in the period
    resolved: list[tuple[CaseFacts, float, float]] = field(default_factory=list)


def _row(who: str, t: _Tally) -> EngineerRow:
    done = t.resolved
    return EngineerRow(
        engineer=who, dispatched=t.dispatched, resolved=len(done), open_at_end=t.open_at_end,
        by_type=dict(_most_first(Counter(c.type or OTHER for c, _, _ in done))),
        wall=durations([w for _, w, _ in done]),
        business=durations([b for _, _, b in done]),
        sla_met=sum(1 for c, _, _ in done if not c.resolution_breached),
        sla_breached=sum(1 for c, _, _ in done if c.resolution_breached),
        mean_rating=_mean([c.rating for c, _, _ in done if c.rating is not None]),
        rank_resolved=0, rank_speed=None)


def build_report(period: Period, cases: Iterable[CaseFacts], engineers: Sequence[str],
                 cal: Calendar, backlog: Iterable[BacklogCount] | None = None) -> Report:
    """Every number of one report, in one pass over the cases.

    ``engineers`` are listed even when idle; anyone else who was dispatched
    or resolved a case in the period, or holds one open at its end, is
    listed too. Cases without an engineer count only in the team numbers.

    ``backlog`` is the open backlog at the period's end as counted by the
    caller (``backlog_counts`` or the same count in SQL); then ``cases`` need
    only hold the cases opened, dispatched or resolved in the period. Without
    it the backlog is counted from ``cases``, which must then hold every case
    open at the end too.
    """
    start, end = as_utc(period.start), as_utc(period.end)
    period = replace(period, start=start, end=end)
    cases = list(cases)  # walked again for the kind and line tables
    if backlog is None:
        backlog = backlog_counts(cases, end)
    tallies: dict[str, _Tally] = {who: _Tally() for who in engineers}
    opened_types: Counter[str] = Counter()
    ages: Counter[str] = Counter()
    backlog_total = 0
    for b in backlog:
        ages[b.bucket] += b.count
        backlog_total += b.count
        if b.engineer:
            tallies.setdefault(b.engineer, _Tally()).open_at_end += b.count
    team_wall: list[float] = []
    team_business: list[float] = []
    ratings: list[int] = []
    days = local_days(period, cal.tz)
    day_opened: Counter[date] = Counter()
    day_business: dict[date, list[float]] = {d: [] for d in days}
    opened = escalated = reopened = 0
    for c in cases:
        created = as_utc(c.created_at)
        done_at = as_utc(c.resolved_at) if c.resolved_at is not None else None
        is_opened = start <= created < end
        is_resolved = done_at is not None and start <= done_at < end
        is_dispatched = period.contains(c.dispatched_at)
        if is_opened:
            opened += 1
            opened_types[c.type or OTHER] += 1
            day_opened[created.astimezone(cal.tz).date()] += 1
        if c.escalated and (is_opened or is_resolved):
            escalated += 1
        tally = None
        if c.engineer and (is_dispatched or is_resolved):
            tally = tallies.setdefault(c.engineer, _Tally())
            tally.dispatched += int(is_dispatched)
        if done_at is None or not is_resolved:
            continue
        begin = as_utc(c.dispatched_at or c.created_at)
        wall = max(0.0, (done_at - begin).total_seconds())
        business = business_seconds(cal, begin, done_at)
        team_wall.append(wall)
        team_business.append(business)
        day_business[done_at.astimezone(cal.tz).date()].append(business)
        reopened += int(c.reopened > 0)
        if c.rating is not None:
            ratings.append(c.rating)
        if tally is not None:
            tally.resolved.append((c, wall, business))
    rows = [_row(who, t) for who, t in tallies.items()]
    by_resolved = _ranks([(r.engineer, float(r.resolved)) for r in rows], descending=True)
    by_speed = _ranks([(r.engineer, r.business.mean_s) for r in rows
                       if r.business.mean_s is not None], descending=False)
    table = sorted((replace(r, rank_resolved=by_resolved[r.engineer],
                            rank_speed=by_speed.get(r.engineer)) for r in rows),
                   key=lambda r: (r.rank_resolved, r.engineer))
    fastest = sorted((r for r in table if r.rank_speed is not None),
                     key=lambda r: (r.rank_speed or 0, r.engineer))
    return Report(
        period=period, engineers=tuple(table), by_speed=tuple(fastest),
        total_opened=opened, total_resolved=len(team_wall), open_at_end=backlog_total,
        escalated=escalated, reopened=reopened,
        backlog_by_age={b: ages[b] for b in AGE_BUCKETS},
        top_types=tuple(_most_first(opened_types, TOP_TYPES)),
        team_wall=durations(team_wall), team_business=durations(team_business),
        mean_rating=_mean(ratings),
        days=tuple(DayStat(d, day_opened[d], len(day_business[d]), durations(day_business[d]))
                   for d in days),
        by_kind=kind_rows(cases, period), by_line=line_rows(cases, period))


def kind_rows(cases: Iterable[CaseFacts], period: Period) -> tuple[KindRow, ...]:
    """The report split by kind (both kinds always listed)."""
    opened: Counter[str] = Counter()
    resolved: Counter[str] = Counter()
    breached: Counter[str] = Counter()
    for c in cases:
        opened[c.kind] += int(period.contains(c.created_at))
        if period.contains(c.resolved_at):
            resolved[c.kind] += 1
            breached[c.kind] += int(c.resolution_breached)
    kinds = list(KINDS) + sorted(set(opened) - set(KINDS))
    return tuple(KindRow(k, opened[k], resolved[k], resolved[k] - breached[k], breached[k])
                 for k in kinds)


def line_rows(cases: Iterable[CaseFacts], period: Period) -> tuple[LineRow, ...]:
    """Per support line: cases it had, passed up, and resolved in the period."""
    handled: Counter[int] = Counter()
    escalated: Counter[int] = Counter()
    resolved: Counter[int] = Counter()
    for c in cases:
        if not (period.contains(c.created_at) or period.contains(c.dispatched_at)
                or period.contains(c.resolved_at)):
            continue  # a case of the open backlog only
        path = c.path if c.line in c.path else (*c.path, c.line)
        for level in set(path):
            handled[level] += 1
            escalated[level] += int(any(x > level for x in path[path.index(level) + 1:]))
        resolved[c.line] += int(period.contains(c.resolved_at))
    levels = sorted(set(handled) | {1})
    return tuple(LineRow(n, handled[n], escalated[n], resolved[n]) for n in levels)


@dataclass(frozen=True)
class Change:
    """One headline number of a report beside the same number for the period before."""

    key: str  # opened | resolved | open_at_end | handling_bh | sla_met_pct | rating | escalated
    value: float | None  # None: nothing to measure (no case resolved, none rated)
    previous: float | None
    higher_is_better: bool | None  # None: neither (more cases opened is not good or bad)

    @property
    def delta(self) -> float | None:
        """The change, in the number's own unit; None when either side is missing."""
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    @property
    def verdict(self) -> str:
        """better | worse | same | none: how the template colours the change."""
        d = self.delta
        if d is None or self.higher_is_better is None:
            return "none"
        if abs(d) < 1e-9:
            return "same"
        return "better" if (d > 0) == self.higher_is_better else "worse"


def sla_met_pct(r: Report) -> float | None:
    """Share of the engineers' cases resolved in the period that met the resolution target."""
    met = sum(x.sla_met for x in r.engineers)
    total = met + sum(x.sla_breached for x in r.engineers)
    return 100.0 * met / total if total else None


def compare(current: Report, previous: Report) -> tuple[Change, ...]:
    """The headline numbers of ``current`` with ``previous``'s beside them, in display order."""

    def hours(r: Report) -> float | None:
        s = r.team_business.mean_s
        return s / 3600 if s is not None else None

    pairs: tuple[tuple[str, float | None, float | None, bool | None], ...] = (
        ("opened", current.total_opened, previous.total_opened, None),
        ("resolved", current.total_resolved, previous.total_resolved, True),
        ("open_at_end", current.open_at_end, previous.open_at_end, False),
        ("handling_bh", hours(current), hours(previous), False),
        ("sla_met_pct", sla_met_pct(current), sla_met_pct(previous), True),
        ("rating", current.mean_rating, previous.mean_rating, True),
        ("escalated", current.escalated, previous.escalated, False),
    )
    return tuple(Change(k, v, p, good) for k, v, p, good in pairs)
