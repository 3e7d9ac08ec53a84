"""Manager reports: cases from the database → ``core.report`` numbers → mail, exactly once.

The numbers are computed by the pure ``core.report.build_report``; this module
only loads the cases a period needs, renders the mail (HTML with CSS bars, a
plain-text part and a CSV attachment) and sends it once per kind and period:
a ``report_runs`` row is inserted in the same transaction that queues the
mail, so a second scheduler, a replica or a restart loses on the unique key,
and a crash before the commit leaves nothing behind to block a retry.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
from sqlmodel import Session, col, or_

from maild.core import notify
from maild.core.report import (
    AGE_BUCKETS,
    BUCKET_DAYS,
    BacklogCount,
    CaseFacts,
    Period,
    Report,
    build_report,
    previous_day,
    previous_month,
)
from maild.core.values import FINISHED_STATUSES, OPEN_STATUSES, Role, Status
from maild.db.models import Case, LogEntry, ReportRun, SlaEvent
from maild.db.session import transaction
from maild.runtime import Runtime
from maild.service.notices import base_context, enqueue

log = logging.getLogger("maild.reports")


_FACT_COLUMNS: tuple[Any, ...] = (
    Case.id, Case.engineer_email, Case.type, Case.status, Case.created_at, Case.dispatched_at,
    Case.resolved_at, Case.closed_at, Case.rating, Case.rejections)
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
    start, end = period.start, period.end
    ids = sa.union(*(sa.select(col(Case.id)).where(column >= start, column < end)
                     for column in (col(Case.created_at), col(Case.dispatched_at),
                                    col(Case.resolved_at)))).subquery()

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
    return [CaseFacts(
        id=case_id, engineer=engineer, type=ctype, status=status, created_at=created,
        dispatched_at=dispatched, resolved_at=resolved, closed_at=closed, rating=rating,
        reopened=reopens, escalated=bool(escalated) or rejections >= 2,
        response_breached=bool(response_late), resolution_breached=bool(resolution_late))
        for (case_id, engineer, ctype, status, created, dispatched, resolved, closed, rating,
             rejections, reopens, escalated, response_late, resolution_late)
        in _period_rows(s, period)]


def make_report(rt: Runtime, period: Period) -> Report:
    engineers = [p.email for p in rt.rules.with_role(Role.ENGINEER)]
    with Session(rt.engine) as s:
        facts = load_facts(s, period)
        backlog = load_backlog(s, period.end)
    return build_report(period, facts, engineers, rt.rules.calendar, backlog)


def names(rt: Runtime) -> dict[str, str]:
    return {p.email: p.name for p in rt.rules.people.values()}


def to_csv(report: Report, rt: Runtime) -> bytes:
    """One row per engineer (UTF-8 with BOM, so that Excel opens Chinese names right)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["period", "engineer", "name", "dispatched", "resolved", "open_at_end",
                "rank_resolved", "rank_speed", "mean_hours_business", "median_hours_business",
                "p90_hours_business", "mean_hours_wall", "sla_met", "sla_breached",
                "mean_rating", "by_type"])
    who = names(rt)

    def hours(v: float | None) -> str:
        return f"{v / 3600:.2f}" if v is not None else ""

    for r in report.engineers:
        w.writerow([report.period.label, r.engineer, who.get(r.engineer, r.engineer),
                    r.dispatched, r.resolved, r.open_at_end, r.rank_resolved,
                    r.rank_speed or "", hours(r.business.mean_s), hours(r.business.median_s),
                    hours(r.business.p90_s), hours(r.wall.mean_s), r.sla_met, r.sla_breached,
                    f"{r.mean_rating:.2f}" if r.mean_rating is not None else "",
                    ";".join(f"{k}={v}" for k, v in sorted(r.by_type.items()))])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def report_context(rt: Runtime, report: Report) -> dict[str, Any]:
    ctx = base_context(rt, None)
    ctx["report"] = report
    ctx["names"] = names(rt)
    top = max((r.resolved for r in report.engineers), default=0)
    ctx["bar_max"] = top or 1
    return ctx


def send(rt: Runtime, period: Period, now: datetime, recipients: Sequence[str] | None = None,
         force: bool = False) -> bool:
    """Queue the report for ``period`` once; False when it was already sent (or nobody gets it).

    ``force`` (the CLI's ``--send``) mails it again without claiming the period."""
    to = list(recipients if recipients is not None else rt.settings.reports.recipients)
    if not to:
        log.warning("no [reports] recipients: %s report %s not sent", period.kind, period.label)
        return False
    report = make_report(rt, period)
    ctx = report_context(rt, report)
    attachment = (f"maild-{period.kind}-{period.label}.csv", "text/csv", to_csv(report, rt))
    try:
        with transaction(rt.engine) as s:
            if not force:
                s.add(ReportRun(kind=period.kind, period=period.label, at=now))
                s.flush()  # the claim: a second sender fails here, before any mail
            for address in to:
                person = rt.rules.person(address)
                recipient = notify.Recipient(
                    address, person.name if person else address,
                    (person.language if person and person.language else
                     rt.settings.helpdesk.language))
                enqueue(s, rt, notify.Notice("report", recipient), ctx, now,
                        attachments=(attachment,))
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
    return sum(1 for period in due_periods(rt, now) if send(rt, period, now))
