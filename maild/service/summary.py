"""The supervisors' monthly complaint summary, from the complaints and surveys tables.

The summary goes out with the monthly report (``[reports] monthly_day`` at
``daily_at``), once per month: a ``report_runs`` row of kind ``summary`` is
claimed in the transaction that queues the mail, as the reports do.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime
from typing import Any

import sqlalchemy.exc as sa_exc
from sqlmodel import Session, col, select

from maild.core import notify
from maild.core.quality import per_engineer
from maild.core.report import Period, month_period
from maild.db.models import Case, Complaint, ReportRun, Survey
from maild.db.session import transaction
from maild.runtime import Runtime
from maild.service.isolated import each
from maild.service.notices import base_context, enqueue, staff_recipient
from maild.service.reports import due_periods, load_quality, stamp

log = logging.getLogger("maild.reports")

KIND = "summary"


def summary_context(rt: Runtime, period: Period) -> dict[str, Any]:
    """What the ``complaint_summary`` templates read."""
    tz = rt.settings.helpdesk.tz
    people = rt.rules
    with Session(rt.engine) as s:
        made, sent = load_quality(s, period)
        closed = len(list(s.exec(select(Complaint.id)
                                 .where(col(Complaint.closed_at) >= period.start)
                                 .where(col(Complaint.closed_at) < period.end))))
        still_open = list(s.exec(select(Complaint).where(Complaint.status == "open")
                                 .order_by(col(Complaint.created_at))))
        low = list(s.exec(select(Survey).where(col(Survey.answered_at) >= period.start)
                          .where(col(Survey.answered_at) < period.end)
                          .where(col(Survey.score) <= 2).order_by(col(Survey.case_id))))
        subjects = {c.id: c.subject for c in s.exec(select(Case).where(col(Case.id).in_(
            [x.case_id for x in still_open] + [v.case_id for v in low])))}

    def name(email: str | None) -> str | None:
        person = people.person(email) if email else None
        return person.name if person else email

    table = per_engineer(made, sent)
    scores = [v.score for v in sent if v.score is not None]
    return {
        "label": period.label, "span": (stamp(period.start, tz), stamp(period.end, tz)),
        "opened": len(made), "closed": closed, "open_now": len(still_open),
        "surveys": len(sent), "answered": len(scores),
        "mean": sum(scores) / len(scores) if scores else None,
        "by_category": sorted(Counter(c.category for c in made).items(),
                              key=lambda kv: (-kv[1], kv[0])),
        "engineers": [{"name": name(who) or who, "complaints": q.complaints,
                       "surveys": q.surveys, "answered": q.answered, "mean": q.mean_score}
                      for who, q in sorted(table.items(),
                                           key=lambda kv: (-kv[1].complaints, kv[0]))],
        "open": [{"case_id": c.case_id, "subject": subjects.get(c.case_id, ""),
                  "category": c.category, "engineer": name(c.engineer),
                  "created_at": c.created_at.astimezone(tz), "text": c.text}
                 for c in still_open],
        "low": [{"case_id": v.case_id, "score": v.score, "engineer": name(v.engineer),
                 "comment": v.comment} for v in low],
    }


def month_of(moment: datetime, tz: Any) -> Period:
    """The local month ``moment`` falls in."""
    local = moment.astimezone(tz)
    return month_period(local.year, local.month, tz)


def send(rt: Runtime, period: Period, now: datetime, force: bool = False) -> bool:
    """Queue the summary of ``period`` to the supervisors once; False if already sent, or
    if the month had no complaint and no survey and none is open (a mail saying "nothing"
    every month teaches people to skip it)."""
    to = rt.rules.supervisors()
    if not to:
        return False
    ctx = base_context(rt, None)
    ctx["summary"] = found = summary_context(rt, period)
    if not (found["opened"] or found["closed"] or found["open_now"] or found["surveys"]):
        return False  # nothing to tell: no mail (and no claim, should something come late)
    try:
        with transaction(rt.engine) as s:
            if not force:
                s.add(ReportRun(kind=KIND, period=period.label, at=now))
                s.flush()  # the claim: a second sender fails here, before any mail
            for person in to:
                enqueue(s, rt, notify.Notice("complaint_summary",
                                             staff_recipient(rt, person.email)), ctx, now)
    except sa_exc.IntegrityError:
        return False
    log.info("complaint summary %s queued for %d supervisor(s)", period.label, len(to))
    return True


def due(rt: Runtime, now: datetime) -> list[Period]:
    """The month whose summary is due at ``now``: the monthly report's (``reports.due_periods``)."""
    return [p for p in due_periods(rt, now) if p.kind == "monthly"]


def send_due(rt: Runtime, now: datetime) -> int:
    """The scheduler's job: the summary of last month, once, when it is due."""
    return each(due(rt, now), lambda period: send(rt, period, now), "complaint summary")
