"""Visits: the ``#visit`` window kept with its invitation, ``#arrived``, and lateness.

``record`` runs in the command's transaction after the case change: a ``visit``
event becomes a ``visits`` row and the customer's mail gets the ``.ics``
invitation (``core.ics``; its UID is the row's, so it is stable per visit); an
``arrived`` event marks the visit it belongs to — the one not yet arrived at
whose window is nearest the arrival. ``late`` is the scheduled job: a visit of
an open case whose window has ended without ``#arrived`` tells the engineer and
the operators once (the row's ``late_at`` is set by a conditional update in the
transaction that queues the mail, so a second replica, or a second run, finds it
set). Reports count a visit as late when it was announced so, or when the
arrival came after the window.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from maild.core import cases, ics, notify
from maild.core.values import OPEN_STATUSES
from maild.db import queries
from maild.db.models import Case, Customer, Visit
from maild.db.session import transaction
from maild.runtime import Runtime
from maild.service.isolated import each
from maild.service.notices import audiences, base_context, case_context, enqueue, staff_recipient
from maild.service.opening import Extras

log = logging.getLogger("maild.visits")

ICS_TYPE = "text/calendar; method=REQUEST; charset=utf-8"
_OPEN = tuple(str(x) for x in sorted(OPEN_STATUSES))


def record(s: Session, rt: Runtime, case: Case, events: Sequence[cases.Event],
           now: datetime) -> Extras:
    """Keep the visits and arrivals of a command mail; the customer's invitation."""
    extras = Extras()
    for event in events:
        if event.kind == "visit" and event.visit is not None:
            extras = _planned(s, rt, case, event.visit, now)
        elif event.kind == "arrived":
            _arrived(s, case, now)
    return extras


def _planned(s: Session, rt: Runtime, case: Case, window: Any, now: datetime) -> Extras:
    assert case.id is not None and case.engineer_email is not None
    row = Visit(case_id=case.id, engineer_email=case.engineer_email, starts_at=window.start,
                ends_at=window.end, note=window.note or None, created_at=now)
    s.add(row)
    s.flush()
    tz = rt.settings.helpdesk.tz
    ctx = {"start": window.start.astimezone(tz), "end": window.end.astimezone(tz),
           "note": window.note or None}
    files = [(f"visit-{case.id}-{row.id}.ics", ICS_TYPE, invitation(s, rt, case, row, now))]
    return Extras(files={"visit": files}, context={"visit": ctx})


def invitation(s: Session, rt: Runtime, case: Case, row: Visit, now: datetime) -> bytes:
    """The ``.ics`` for one visit, in the case's language."""
    h = rt.settings.helpdesk
    customer = s.get(Customer, case.customer_id) if case.customer_id else None
    engineer = staff_recipient(rt, row.engineer_email).name
    site = next((x.name for x in rt.rules.sites if x.code == case.site_code), "")
    tag = f"[{h.subject_tag} #{case.id}]"
    if case.language == "zh":
        summary = f"{tag} 工程师 {engineer} 上门：{case.subject}"
        description = f"工程师 {engineer} 将上门处理工单 #{case.id}：{case.subject}"
    else:
        summary = f"{tag} Visit by {engineer}: {case.subject}"
        description = f"{engineer} will come for case #{case.id}: {case.subject}"
    if row.note:
        description += "\n\n" + row.note
    return ics.build(ics.Invitation(
        uid=f"maild-visit-{row.id}@{h.domain}", start=row.starts_at, end=row.ends_at,
        stamp=now, summary=summary, description=description, organizer=h.address,
        organizer_name=h.name, attendee=customer.email if customer else None,
        attendee_name=customer.name if customer else "", location=site))


def _arrived(s: Session, case: Case, now: datetime) -> None:
    """Mark the visit the engineer arrived for: not yet arrived at, window nearest now."""
    waiting = list(s.exec(select(Visit).where(Visit.case_id == case.id)
                          .where(col(Visit.arrived_at).is_(None))))

    def distance(v: Visit) -> timedelta:
        if v.starts_at <= now <= v.ends_at:
            return timedelta(0)
        return min(abs(v.starts_at - now), abs(now - v.ends_at))

    if waiting:
        min(waiting, key=distance).arrived_at = now


def take_back(s: Session, case_id: int, at: datetime) -> None:
    """``#undo`` of the command mail of ``at``: the visits it announced are gone (their
    customer gets the "please disregard" with everyone else) and an arrival it logged is
    no longer one."""
    for row in s.exec(select(Visit).where(Visit.case_id == case_id)):
        if row.created_at == at and row.arrived_at is None and row.late_at is None:
            s.delete(row)
        elif row.arrived_at == at:
            row.arrived_at = None


def late(rt: Runtime, now: datetime) -> int:
    """The scheduled job: each visit of an open case past its window without an arrival
    tells the engineer and the operators, once."""
    with transaction(rt.engine) as s:
        ids = list(s.exec(select(Visit.id).join(Case, col(Case.id) == col(Visit.case_id))
                          .where(col(Visit.ends_at) <= now)
                          .where(col(Visit.arrived_at).is_(None))
                          .where(col(Visit.late_at).is_(None))
                          .where(col(Case.status).in_(_OPEN))))
    return each(ids, lambda visit_id: _late_one(rt, visit_id or 0, now), "lateness of visit")


def _late_one(rt: Runtime, visit_id: int, now: datetime) -> bool:
    with transaction(rt.engine) as s:
        claimed = s.connection().execute(
            sa.update(Visit).where(col(Visit.id) == visit_id)
            .where(col(Visit.late_at).is_(None)).where(col(Visit.arrived_at).is_(None))
            .values(late_at=now)).rowcount
        if claimed != 1:
            return False  # another replica (or run) told them, or the engineer arrived
        row = s.get(Visit, visit_id)
        assert row is not None
        case = queries.get_case(s, row.case_id)
        assert case is not None and case.id is not None
        tz = rt.settings.helpdesk.tz
        queries.add_log(s, case.id, now, "maild", "late",
                        f"no arrival logged by the end of the visit window "
                        f"{row.ends_at.astimezone(tz):%Y-%m-%d %H:%M} ({row.engineer_email})")
        ctx = base_context(rt, case_context(s, rt, case))
        ctx["visit"] = {"start": row.starts_at.astimezone(tz),
                        "end": row.ends_at.astimezone(tz), "note": row.note}
        people = [staff_recipient(rt, row.engineer_email)]
        people += [p for p in audiences(s, rt, case)[notify.OPERATORS]
                   if p.email != row.engineer_email]
        for person in people:
            enqueue(s, rt, notify.Notice("visit_late", person), ctx, now, case=case)
    log.info("visit %s of case %s: late, engineer and operators told", visit_id, row.case_id)
    return True


def visits_json(s: Session, case_id: int) -> list[dict[str, Any]]:
    """The ``"visits"`` of case JSON, in the order they were announced."""
    rows = s.exec(select(Visit).where(Visit.case_id == case_id).order_by(col(Visit.id)))
    return [{"start": v.starts_at.isoformat(), "end": v.ends_at.isoformat(),
             "arrived_at": v.arrived_at.isoformat() if v.arrived_at else None} for v in rows]


def late_counts(s: Session, start: datetime, end: datetime) -> dict[str, int]:
    """Late visits per engineer among those whose window ended in [start, end)."""
    late_visit = sa.or_(col(Visit.late_at).is_not(None),
                        col(Visit.arrived_at) > col(Visit.ends_at))
    q = (sa.select(col(Visit.engineer_email), sa.func.count())
         .where(col(Visit.ends_at) >= start, col(Visit.ends_at) < end, late_visit)
         .group_by(col(Visit.engineer_email)))
    return {email: int(n) for email, n in s.connection().execute(q).all()}


