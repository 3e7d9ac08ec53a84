"""Scheduled work: the table of jobs, and the time-driven case change (auto-close).

``jobs(rt)`` is the one list of what runs on the clock; the scheduler edge
(``maild.edges.scheduler``) calls each in a worker thread in the replica that
leads. Add a job here: a function ``(rt, now) -> count`` and a row.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import col, select

from maild.core import cases
from maild.core.values import Job
from maild.db import queries
from maild.db.models import Case
from maild.db.session import transaction
from maild.runtime import Runtime
from maild.service import summary, surveys
from maild.service.isolated import each
from maild.service.lines import escalate_due
from maild.service.opening import notify_events
from maild.service.reports import send_due
from maild.service.sla import sweep
from maild.service.visits import late
from maild.service.workload import send_digests


def auto_close(rt: Runtime, now: datetime) -> int:
    """Close resolved cases older than ``auto_close_days``; each in its own transaction."""
    cutoff = now - timedelta(days=rt.settings.helpdesk.auto_close_days)
    with transaction(rt.engine) as s:
        ids = list(s.exec(select(Case.id).where(Case.status == "resolved")
                          .where(col(Case.resolved_at) <= cutoff)))
    return each(ids, lambda case_id: _close(rt, case_id or 0, now), "auto-close of case")


def _close(rt: Runtime, case_id: int, now: datetime) -> bool:
    """Close one case, if it is still resolved; True when it was closed."""
    with transaction(rt.engine) as s:
        case = queries.get_case(s, case_id)  # locked: a reply may be changing it
        if case is None or case.status != "resolved":
            return False
        view = queries.view_of(case)
        outcome = cases.customer_action(view, "confirm", None, now)
        assert outcome is not None
        queries.store_view(case, outcome.case, now)
        queries.add_log(s, case_id, now, "maild", "close",
                        f"closed automatically after {rt.settings.helpdesk.auto_close_days}"
                        " days without a reply")
        notify_events(s, rt, case, outcome.events, rt.settings.helpdesk.name, None, None)
    return True


def jobs(rt: Runtime) -> tuple[Job, ...]:
    """Auto-close hourly; every minute the SLA sweep, late visits and the automatic moves
    up a support line ([sla] auto_escalate); the reports and the supervisors' complaint
    summary at ``daily_at`` and the engineers' morning lists at ``[digest] engineers_at``
    (each with a catch-up at start and every 15 minutes for a run missed while maild was
    down); the follow-up surveys every 15 minutes."""
    return (
        Job("auto_close", auto_close, minutes=60, done="auto-closed %d case(s)"),
        Job("sla", sweep, minutes=1, done="sent %d SLA alert(s)"),
        Job("late_visits", late, minutes=1, done="told of %d late visit(s)"),
        Job("lines", escalate_due, minutes=1, done="moved %d case(s) up a support line"),
        Job("reports", send_due, minutes=15, done="sent %d report(s)",
            daily_at=rt.settings.reports.daily_at),
        Job("digest", send_digests, minutes=15, done="sent %d morning list(s)",
            daily_at=rt.settings.digest.engineers_at or None),
        Job("surveys", surveys.send_due, minutes=15, done="sent %d follow-up survey(s)"),
        Job("complaint_summary", summary.send_due, minutes=15,
            done="sent %d complaint summary(ies)", daily_at=rt.settings.reports.daily_at),
    )
