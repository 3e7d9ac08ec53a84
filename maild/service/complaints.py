"""Complaints (投诉) on a case: opened, re-categorised and closed, in the caller's transaction.

A complaint opens from the customer's proven mail (``service.replies``) or from
staff on the case (``#complaint``, or an operator's summary with a
``Complaint:`` line: ``service.commands``). The state machine (``core.cases``)
decides and raises events; this module keeps the rows in step with them. The
notices (supervisors and the engineer) are planned from the same events by
``core.notify.PLAN``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from maild.core import cases, complaints, notify
from maild.db import queries
from maild.db.models import Case, Complaint
from maild.runtime import Runtime
from maild.service.notices import base_context, case_context, enqueue
from maild.service.opening import notify_events

STATUSES = ("open", "closed")


def open_one(s: Session, case_id: int) -> Complaint | None:
    """The case's open complaint (the latest, should there be several)."""
    return s.exec(select(Complaint).where(Complaint.case_id == case_id)
                  .where(Complaint.status == "open")
                  .order_by(col(Complaint.id).desc())).first()


def open_category(s: Session, case_id: int) -> str | None:
    """What ``core.cases.CaseView.complaint`` holds: the open complaint's category."""
    found = open_one(s, case_id)
    return found.category if found else None


def fields(row: Complaint) -> dict[str, Any]:
    """What a command mail may change of a complaint, as JSON values: what ``#undo``
    compares and puts back (``core.undo``)."""
    return {"category": row.category, "text": row.text, "status": row.status,
            "outcome": row.outcome,
            "closed_at": row.closed_at.astimezone(UTC).isoformat() if row.closed_at else None}


def rows_of(s: Session, case_id: int) -> dict[int, dict[str, Any]]:
    """The case's complaint rows by id, as ``fields``."""
    return {c.id: fields(c) for c in listed(s, case_id=case_id) if c.id is not None}


def put_back(s: Session, case_id: int, back: Mapping[int, Mapping[str, Any] | None]) -> None:
    """``#undo``: each complaint row gets its fields from before the mail; one the mail
    opened (None) goes."""
    for complaint_id, was in back.items():
        row = s.get(Complaint, complaint_id)
        if row is None or row.case_id != case_id:
            continue
        if was is None:
            s.delete(row)
            continue
        row.category, row.text, row.status = was["category"], was["text"], was["status"]
        row.outcome = was["outcome"]
        row.closed_at = datetime.fromisoformat(was["closed_at"]) if was["closed_at"] else None
    s.flush()


def record(s: Session, case: Case, events: Sequence[cases.Event], author: str,
           now: datetime) -> None:
    """Write what the complaint events of one applied mail say; before its notices are
    rendered, so that they show the complaint as it now stands."""
    assert case.id is not None
    for event in events:
        current = open_one(s, case.id)
        if event.kind == "complaint":
            if current is None:
                s.add(Complaint(case_id=case.id, engineer=case.engineer_email,
                                category=complaints.guess_category(event.note or ""),
                                text=event.note or "", author=author, created_at=now))
            else:  # a second complaint while one is open adds to it
                current.text = f"{current.text}\n\n{event.note or ''}".strip()
        elif event.kind == "complaint_category" and current is not None:
            current.category = event.note or current.category
        elif event.kind == "complaint_closed" and current is not None:
            current.status, current.outcome, current.closed_at = "closed", event.note, now
    s.flush()


def from_customer(s: Session, rt: Runtime, case: Case, text: str, author: str, name: str,
                  now: datetime, in_reply_to: str | None) -> None:
    """The case's customer complained, with a proof: the complaint opens, the supervisors
    and the engineer are told, and the customer hears that it was received."""
    assert case.id is not None
    category = complaints.guess_category(text)
    queries.add_log(s, case.id, now, author, "complaint",
                    f"complaint ({category}): {text or '(no text)'}")
    event = cases.Event("complaint", text or "(no text)")
    record(s, case, (event,), author, now)
    case.updated_at = now
    notify_events(s, rt, case, (event,), name, author, in_reply_to)
    customer = notify.Recipient(author, name, case.language)
    enqueue(s, rt, notify.Notice("complaint_ack", customer),
            base_context(rt, case_context(s, rt, case)), now, case=case,
            in_reply_to=in_reply_to)


def listed(s: Session, status: str | None = None, case_id: int | None = None) -> list[Complaint]:
    """Complaints, oldest first; only those of ``status`` or of one case if given."""
    q = select(Complaint).order_by(col(Complaint.id))
    if status:
        q = q.where(Complaint.status == status)
    if case_id is not None:
        q = q.where(Complaint.case_id == case_id)
    return list(s.exec(q))
