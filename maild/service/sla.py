"""The SLA sweep: warn at 80 % of a target, escalate at a breach, each exactly once.

``sweep`` looks at open cases, asks ``core.sla.due_alerts`` what is due now,
and for each alert not yet announced inserts an ``SlaEvent`` row (unique per
case, target and kind) in the same transaction as the log line and the
mails. A second scheduler, a restart or a replica racing for the same alert
loses on the unique key and sends nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy.exc as sa_exc
from sqlmodel import Session, col, select

from maild.core import notify, sla, sms
from maild.core.values import OPEN_STATUSES
from maild.db import queries
from maild.db.models import Case, SlaEvent
from maild.db.session import transaction
from maild.runtime import Runtime
from maild.service.isolated import each
from maild.service.notices import audiences, base_context, case_context, enqueue, enqueue_sms

log = logging.getLogger("maild.sla")


def set_deadlines(rt: Runtime, case: Case) -> None:
    """(Re)compute a case's deadlines from its creation time and its current priority, kind
    and type (``RuleSet.clock_for``: the type's own minutes win over the priority's)."""
    target, cal = rt.rules.clock_for(case.priority, case.type, case.kind)
    dl = sla.deadlines(case.created_at, target.response_minutes, target.resolution_minutes,
                       cal)
    case.response_due, case.resolution_due = dl.response_due, dl.resolution_due
    if case.line <= 1:
        case.line_due = case.resolution_due  # line 1's time is the case's own


def sweep(rt: Runtime, now: datetime) -> int:
    """Announce every SLA warning and breach that is due; returns how many were sent."""
    with Session(rt.engine) as s:
        ids = list(s.exec(select(Case.id).where(col(Case.status).in_(
            [st.value for st in OPEN_STATUSES])).where(col(Case.resolution_due).is_not(None))))
    return each((i for i in ids if i is not None), lambda i: _check_case(rt, i, now), "SLA case")


def _check_case(rt: Runtime, case_id: int, now: datetime) -> int:
    with Session(rt.engine) as s:
        case = s.get(Case, case_id)
        if case is None or case.response_due is None or case.resolution_due is None:
            return 0
        dl = sla.Deadlines(case.response_due, case.resolution_due)
        alerts = sla.due_alerts(now, case.created_at, dl, case.first_response_at,
                                case.resolved_at,
                                rt.rules.clock_for(case.priority, case.type, case.kind)[1])
        done = {(e.target, e.kind) for e in s.exec(
            select(SlaEvent).where(SlaEvent.case_id == case_id))}
    sent = 0
    for alert in alerts:
        if (alert.target, alert.kind) not in done and _announce(rt, case_id, alert, now):
            sent += 1
    return sent


def _announce(rt: Runtime, case_id: int, alert: sla.Alert, now: datetime) -> bool:
    """Claim the alert by its unique row, log it and queue the mails, in one transaction."""
    try:
        with transaction(rt.engine) as s:
            s.add(SlaEvent(case_id=case_id, target=alert.target, kind=alert.kind, at=now))
            s.flush()  # the claim: a duplicate fails here, before anything else is written
            case = s.get(Case, case_id)
            assert case is not None
            due = case.response_due if alert.target == "response" else case.resolution_due
            assert due is not None
            verb = "80 % used" if alert.kind == "warn" else "breached"
            queries.add_log(s, case_id, now, "maild", "sla",
                            f"{alert.target} target {verb} (due {due.isoformat()})")
            _mail(s, rt, case, alert, due, now)
    except sa_exc.IntegrityError:
        return False  # another scheduler announced it first
    log.info("case %s: SLA %s %s", case_id, alert.target, alert.kind)
    return True


def _mail(s: Session, rt: Runtime, case: Case, alert: sla.Alert, due: datetime,
          now: datetime) -> None:
    vendor = rt.rules.vendor(case.engineer_email)
    ctx = base_context(rt, case_context(s, rt, case))
    ctx["sla"] = {"target": alert.target, "due": due.astimezone(rt.settings.helpdesk.tz),
                  "kind": alert.kind, "vendor": vendor.name if vendor else None}
    told = notify.sla_notices(alert.kind, audiences(s, rt, case))
    for notice in told:
        enqueue(s, rt, notice, ctx, now, case=case)
    # a breach of a P1/P2 case is an escalation: a text too, for those with an sms address
    for notice, gateway in sms.texts(told, case.priority, rt.rules.sms_addresses()):
        enqueue_sms(s, rt, notice, gateway, ctx, now, case)
