"""Manager reports: cases from the database → ``core.report`` numbers → mail, exactly once.

The numbers are computed by the pure ``core.report.build_report``; this module
only loads the cases a period needs, renders the mail and sends it once per
kind and period. The mail (docs/REPORTS.md) is an HTML part that stacks on a
phone (headline numbers against the period before, engineers by name, CSS
bars; the monthly one adds two PNG charts from ``maild.service.charts`` as inline
``cid:`` images), a plain-text part, and the full per-engineer table as a CSV
attachment. It is sent once per kind and period:
a ``report_runs`` row is inserted in the same transaction that queues the
mail, so a second scheduler, a replica or a restart loses on the unique key,
and a crash before the commit leaves nothing behind to block a retry.
"""

from __future__ import annotations

import csv
import io
import logging
import subprocess
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
from sqlmodel import Session, col, or_, select

from maild.core import notify
from maild.core.quality import ComplaintFacts, Quality, SurveyFacts, per_engineer
from maild.core.report import (
    AGE_BUCKETS,
    BUCKET_DAYS,
    BacklogCount,
    CaseFacts,
    Change,
    Period,
    Report,
    build_report,
    compare,
    previous_day,
    previous_month,
    previous_period,
    top_problems,
)
from maild.core.sla import as_utc
from maild.core.values import FINISHED_STATUSES, OPEN_STATUSES, Role, Status
from maild.db import problems
from maild.db.models import Case, Complaint, LineMove, LogEntry, ReportRun, SlaEvent, Survey
from maild.db.session import transaction
from maild.runtime import Runtime
from maild.service.isolated import each
from maild.service.notices import base_context, enqueue
from maild.service.visits import late_counts

log = logging.getLogger("maild.reports")


_FACT_COLUMNS: tuple[Any, ...] = (
    Case.id, Case.engineer_email, Case.type, Case.status, Case.created_at, Case.dispatched_at,
    Case.resolved_at, Case.closed_at, Case.rating, Case.rejections, Case.kind, Case.line)
_DONE = tuple(sorted(FINISHED_STATUSES))
_OPEN = tuple(sorted(str(s) for s in OPEN_STATUSES))
assert set(_DONE) | set(_OPEN) == {str(s) for s in Status}, "every status is open or done"


def _late(met: Any, due: Any, end: datetime) -> Any:
    """SQL for ``core.sla.breached`` of one target, judged at the period's end: met after
    its deadline, or unmet with the deadline passed (no deadline: never late)."""
    return sa.case((due.is_(None), False), (met.is_not(None), met > due), else_=due < end)


def _period_rows(s: Session, period: Period) -> list[Any]:
    """Cases opened, dispatched or resolved in the period, as plain column tuples.

    A union of three index range scans (created_at, dispatched_at,
    resolved_at): an ``OR`` of the three makes SQLite scan the whole table.
    Reopens and escalations are counted per case in the same query (an index
    lookup each), not fetched in chunks. The open backlog is counted
    separately (``load_backlog``)."""
    end = period.end
    ids = _period_ids(period)

    def logged(kind: str) -> Any:
        return sa.and_(col(LogEntry.case_id) == col(Case.id), col(LogEntry.kind) == kind)

    reopens = sa.select(sa.func.count()).select_from(LogEntry).where(
        logged("reopen")).scalar_subquery()
    escalated = sa.or_(
        sa.select(col(LogEntry.id)).where(logged("escalate")).exists(),
        sa.select(col(SlaEvent.id)).where(col(SlaEvent.case_id) == col(Case.id),
                                          col(SlaEvent.kind) == "breach").exists())
    q = (sa.select(*_FACT_COLUMNS, reopens, escalated,
                   _late(col(Case.first_response_at), col(Case.response_due), end),
                   _late(col(Case.resolved_at), col(Case.resolution_due), end))
         .where(col(Case.id).in_(sa.select(ids.c.id))))
    return list(s.connection().execute(q).all())


def _period_ids(period: Period) -> Any:
    """The ids of the cases opened, dispatched or resolved in the period (a subquery)."""
    start, end = period.start, period.end
    return sa.union(*(sa.select(col(Case.id)).where(column >= start, column < end)
                      for column in (col(Case.created_at), col(Case.dispatched_at),
                                     col(Case.resolved_at)))).subquery()


def _paths(s: Session, period: Period) -> dict[int, tuple[int, ...]]:
    """The support lines each of the period's cases went through (only cases that moved)."""
    ids = _period_ids(period)
    q = (sa.select(col(LineMove.case_id), col(LineMove.to_line))
         .where(col(LineMove.case_id).in_(sa.select(ids.c.id)))
         .order_by(col(LineMove.case_id), col(LineMove.id)))
    paths: dict[int, tuple[int, ...]] = {}
    for case_id, to_line in s.connection().execute(q):
        paths[case_id] = (*paths.get(case_id, (1,)), to_line)
    return paths


def load_backlog(s: Session, moment: datetime) -> list[BacklogCount]:
    """The cases open at ``moment`` by engineer and age bucket, counted in SQL.

    The same rule as ``core.report.open_at``, as three disjoint parts, each
    driven by an index made for it (migration 0004): still open now
    (status, created_at, engineer); finished, but resolved at or after
    ``moment`` (resolved_at, created_at); finished without a resolution, but
    closed at or after it (closed_at, created_at). The last two pick their
    few candidates by id in a subquery first: written as one WHERE, SQLite's
    planner walks the status index over every finished case instead (seconds
    rather than a tenth of one over a million cases)."""
    bucket = sa.case(*((col(Case.created_at) > moment - timedelta(days=days), name)
                       for name, days in BUCKET_DAYS), else_=AGE_BUCKETS[-1])
    before = col(Case.created_at) < moment

    def among(stamp: Any) -> Any:
        """Cases created before ``moment`` whose ``stamp`` is at or after it, by id."""
        return col(Case.id).in_(sa.select(col(Case.id)).where(stamp >= moment, before))

    done = col(Case.status).in_(_DONE)
    parts = (
        sa.and_(col(Case.status).in_(_OPEN), before),
        sa.and_(among(col(Case.resolved_at)), done,
                or_(col(Case.closed_at).is_(None), col(Case.closed_at) >= moment)),
        sa.and_(among(col(Case.closed_at)), done, col(Case.resolved_at).is_(None)),
    )
    counts: dict[tuple[str | None, str], int] = defaultdict(int)
    for where in parts:
        q = (sa.select(col(Case.engineer_email), bucket, sa.func.count()).where(where)
             .group_by(col(Case.engineer_email), bucket))
        for engineer, name, n in s.connection().execute(q):
            counts[engineer, name] += n
    return [BacklogCount(who, name, n) for (who, name), n in counts.items()]


def load_facts(s: Session, period: Period) -> list[CaseFacts]:
    """The facts ``build_report`` needs for the cases opened, dispatched or resolved in it."""
    paths = _paths(s, period)
    return [CaseFacts(
        id=case_id, engineer=engineer, type=ctype, status=status, created_at=created,
        dispatched_at=dispatched, resolved_at=resolved, closed_at=closed, rating=rating,
        reopened=reopens, escalated=bool(escalated) or rejections >= 2,
        response_breached=bool(response_late), resolution_breached=bool(resolution_late),
        kind=kind, line=line, path=paths.get(case_id, (1,)))
        for (case_id, engineer, ctype, status, created, dispatched, resolved, closed, rating,
             rejections, kind, line, reopens, escalated, response_late, resolution_late)
        in _period_rows(s, period)]


def make_report(rt: Runtime, period: Period) -> Report:
    engineers = [p.email for p in rt.rules.with_role(Role.ENGINEER)]
    with Session(rt.engine) as s:
        facts = load_facts(s, period)
        backlog = load_backlog(s, period.end)
        links = problems.report_links(s, period.start, period.end)
        late = late_counts(s, period.start, period.end)
    report = build_report(period, facts, engineers, rt.rules.calendar, backlog)
    return replace(report, top_problems=top_problems(period, links),
                   late_visits=dict(sorted(late.items())))


def load_quality(s: Session,
                 period: Period) -> tuple[list[ComplaintFacts], list[SurveyFacts]]:
    """The complaints made and the surveys sent in the period."""
    made = s.exec(select(Complaint).where(col(Complaint.created_at) >= period.start)
                  .where(col(Complaint.created_at) < period.end))
    sent = s.exec(select(Survey).where(col(Survey.sent_at) >= period.start)
                  .where(col(Survey.sent_at) < period.end))
    return ([ComplaintFacts(c.engineer, c.category, c.created_at) for c in made],
            [SurveyFacts(v.engineer, v.sent_at, v.score) for v in sent])


def quality(rt: Runtime, period: Period) -> dict[str, Quality]:
    """Complaints, surveys, answers and mean score per engineer in the period."""
    with Session(rt.engine) as s:
        made, sent = load_quality(s, period)
    return per_engineer(made, sent)


def names(rt: Runtime) -> dict[str, str]:
    return {p.email: p.name for p in rt.rules.people.values()}


def to_csv(report: Report, rt: Runtime, figures: dict[str, Quality] | None = None) -> bytes:
    """One row per engineer (UTF-8 with BOM, so that Excel opens Chinese names right)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["period", "engineer", "name", "dispatched", "resolved", "open_at_end",
                "rank_resolved", "rank_speed", "mean_hours_business", "median_hours_business",
                "p90_hours_business", "mean_hours_wall", "sla_met", "sla_breached",
                "mean_rating", "by_type", "complaints", "surveys_sent", "surveys_answered",
                "mean_survey_score", "late_visits"])
    who = names(rt)
    figures = figures or {}

    def hours(v: float | None) -> str:
        return f"{v / 3600:.2f}" if v is not None else ""

    for r in report.engineers:
        w.writerow([report.period.label, r.engineer, who.get(r.engineer, r.engineer),
                    r.dispatched, r.resolved, r.open_at_end, r.rank_resolved,
                    r.rank_speed or "", hours(r.business.mean_s), hours(r.business.median_s),
                    hours(r.business.p90_s), hours(r.wall.mean_s), r.sla_met, r.sla_breached,
                    f"{r.mean_rating:.2f}" if r.mean_rating is not None else "",
                    ";".join(f"{k}={v}" for k, v in sorted(r.by_type.items())),
                    *_quality_cells(figures.get(r.engineer)),
                    report.late_visits.get(r.engineer, 0)])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _quality_cells(q: Quality | None) -> list[Any]:
    if q is None:
        return [0, 0, 0, ""]
    mean = q.mean_score
    return [q.complaints, q.surveys, q.answered, f"{mean:.2f}" if mean is not None else ""]


def stamp(moment: datetime, tz: ZoneInfo) -> str:
    """A moment as people read it in reports: local time with its UTC offset, always.

    ``2026-11-01 00:00 UTC+08:00``: the offset rather than an abbreviation
    (CST is China, Cuba and the US Midwest), and the same shape in English
    and Chinese, in the mail, its text part and the CLI."""
    local = as_utc(moment).astimezone(tz)
    offset = local.strftime("%z") or "+0000"
    return f"{local:%Y-%m-%d %H:%M} UTC{offset[:3]}:{offset[3:5]}"


_DECIMALS = {"handling_bh": 1, "rating": 1}  # the rest are whole numbers (sla_met_pct in %)


def _number(key: str, v: float) -> str:
    """A headline number in its unit: hours with one decimal, a share in %, else as is."""
    text = f"{v:.{_DECIMALS.get(key, 0)}f}"
    return text + " h" if key == "handling_bh" else text + "%" if key == "sla_met_pct" else text


def _delta(key: str, d: float) -> str:
    """The change with its sign (a real minus sign); a share changes in points, not %."""
    sign = "+" if d > 0 else "\u2212" if d < 0 else "\u00b1"
    if key == "sla_met_pct":
        return f"{sign}{abs(d):.0f} pt"
    return sign + _number(key, abs(d))


@dataclass(frozen=True)
class Headline:
    """One headline number as the templates show it: formatted, with its change."""

    key: str
    value: str  # "-" when there is nothing to measure
    previous: str
    delta: str  # "" when either side is missing
    verdict: str  # better | worse | same | none (colours the change)


def headline(c: Change) -> Headline:
    """``c`` as shown: the change is that of the two numbers as rounded for display, so
    that "80% vs 79%" reads +1 pt, and a change shown as ±0 is not coloured either."""
    value = _number(c.key, c.value) if c.value is not None else "-"
    previous = _number(c.key, c.previous) if c.previous is not None else "-"
    if c.value is None or c.previous is None:
        return Headline(c.key, value, previous, "", c.verdict)
    places = _DECIMALS.get(c.key, 0)
    d = round(round(c.value, places) - round(c.previous, places), places)
    verdict = "same" if d == 0 and c.verdict != "none" else c.verdict
    return Headline(c.key, value, previous, _delta(c.key, d), verdict)


def headlines(changes: Sequence[Change]) -> list[Headline]:
    return [headline(c) for c in changes]


CHARTS = ("volume", "handling")


def chart_images(rt: Runtime, report: Report) -> dict[str, tuple[str, bytes]]:
    """The monthly report's charts: name → (Content-ID, PNG). The daily report has none
    (a chart of one day says nothing its headline does not).

    Drawn in a child process (``charts.draw``). If that fails (matplotlib
    missing or broken) the report goes out without its charts, logged: the
    numbers matter more than the pictures."""
    if report.period.kind != "monthly" or not report.days:
        return {}
    from maild.service import charts

    try:
        pngs = charts.draw(report.days)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        log.error("%s report %s goes without charts: %s %s", report.period.kind,
                  report.period.label, exc, detail.strip()[-500:])
        return {}
    domain = rt.settings.helpdesk.domain
    return {name: (f"{name}-{report.period.label}@{domain}", png) for name, png in pngs.items()}


def report_context(rt: Runtime, report: Report, previous: Report | None = None,
                   charts: dict[str, str] | None = None) -> dict[str, Any]:
    """What the report templates read; ``charts`` maps a chart's name to its ``src``."""
    tz = rt.settings.helpdesk.tz
    ctx = base_context(rt, None)
    ctx["report"] = report
    ctx["names"] = names(rt)
    top = max((r.resolved for r in report.engineers), default=0)
    ctx["bar_max"] = top or 1
    ctx["span"] = (stamp(report.period.start, tz), stamp(report.period.end, tz))
    ctx["previous_label"] = previous.period.label if previous else None
    ctx["headlines"] = headlines(compare(report, previous)) if previous else []
    ctx["charts"] = charts or {}
    ctx["quality"] = quality_rows(rt, report)
    return ctx


def quality_rows(rt: Runtime, report: Report) -> list[dict[str, Any]]:
    """Complaints, survey response rate and mean score per engineer, for the templates:
    the report's engineers in its order, then anyone else with a complaint or survey."""
    figures = quality(rt, report.period)
    order = [r.engineer for r in report.engineers]
    order += sorted(set(figures) - set(order))
    who = names(rt)
    rows = []
    for email in order:
        q = figures.get(email)
        if q is None:
            continue
        rate = q.response_rate
        rows.append({"engineer": email, "name": who.get(email, email),
                     "complaints": q.complaints, "surveys": q.surveys, "answered": q.answered,
                     "rate": f"{100 * rate:.0f}%" if rate is not None else "-",
                     "mean": f"{q.mean_score:.1f}" if q.mean_score is not None else "-",
                     "mean_score": q.mean_score})
    return rows


def make_reports(rt: Runtime, period: Period) -> tuple[Report, Report]:
    """The report for ``period`` and the one for the period before it (for the changes)."""
    return make_report(rt, period), make_report(rt, previous_period(period,
                                                                    rt.settings.helpdesk.tz))


def send(rt: Runtime, period: Period, now: datetime, recipients: Sequence[str] | None = None,
         force: bool = False) -> bool:
    """Queue the report for ``period`` once; False when it was already sent (or nobody gets it).

    ``force`` (the CLI's ``--send``) mails it again without claiming the period."""
    to = list(recipients if recipients is not None else rt.settings.reports.recipients)
    if not to:
        log.warning("no [reports] recipients: %s report %s not sent", period.kind, period.label)
        return False
    report, previous = make_reports(rt, period)
    images = chart_images(rt, report)
    ctx = report_context(rt, report, previous,
                         {name: f"cid:{cid}" for name, (cid, _) in images.items()})
    inline = tuple((cid, "image/png", png) for cid, png in images.values())
    attachment = (f"maild-{period.kind}-{period.label}.csv", "text/csv; charset=utf-8",
                  to_csv(report, rt, quality(rt, period)))  # the charset: or a client reads
    # Chinese names as ASCII
    try:
        with transaction(rt.engine) as s:
            if not force:
                s.add(ReportRun(kind=period.kind, period=period.label, at=now))
                s.flush()  # the claim: a second sender fails here, before any mail
            for address in to:
                person = rt.rules.person(address)
                recipient = notify.Recipient(  # no name: a neutral greeting, not the address
                    address, person.name if person else "",
                    (person.language if person and person.language else
                     rt.settings.helpdesk.language))
                enqueue(s, rt, notify.Notice("report", recipient), ctx, now,
                        attachments=(attachment,), inline=inline)
    except sa_exc.IntegrityError:
        return False
    log.info("%s report %s queued for %d recipient(s)", period.kind, period.label, len(to))
    return True


def due_periods(rt: Runtime, now: datetime) -> list[Period]:
    """The periods whose report is due at ``now``: after its send time, within the grace."""
    cfg = rt.settings.reports
    tz = rt.settings.helpdesk.tz
    local = now.astimezone(tz)
    hh, mm = cfg.at()
    grace = timedelta(hours=cfg.grace_hours)
    out = []
    daily_due = datetime.combine(local.date(), time(hh, mm), tz)
    if daily_due <= local <= daily_due + grace:
        out.append(previous_day(now, tz))
    monthly_due = datetime.combine(local.date().replace(day=cfg.monthly_day), time(hh, mm), tz)
    if monthly_due <= local <= monthly_due + grace:
        out.append(previous_month(now, tz))
    return out


def send_due(rt: Runtime, now: datetime) -> int:
    """Send every due report not sent yet (the scheduler's job); returns how many were sent."""
    return each(due_periods(rt, now), lambda period: send(rt, period, now), "report")
