"""Rows → the JSON shapes of docs/REFERENCE §8 (the scripting contract), and nothing else."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from maild.core import sla
from maild.core.ruleset import RuleSet
from maild.db import problems, queries
from maild.db.models import (
    AttachmentFile,
    Case,
    Complaint,
    Customer,
    InboundMessage,
    OutboxMail,
    Problem,
    Survey,
    utcnow,
)
from maild.service.visits import visits_json


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def sla_json(case: Case, now: datetime) -> dict[str, Any] | None:
    """The ``"sla"`` object of case JSON: deadlines and whether each is breached (now)."""
    if case.response_due is None or case.resolution_due is None:
        return None
    dl = sla.Deadlines(case.response_due, case.resolution_due)
    response, resolution = sla.breached(now, dl, case.first_response_at, case.resolved_at)
    return {"response_due": iso(case.response_due), "resolution_due": iso(case.resolution_due),
            "response_breached": response, "resolution_breached": resolution}


def case_json(s: Session, rules: RuleSet, case: Case, with_log: bool = True) -> dict[str, Any]:
    """One case exactly as docs/REFERENCE §8 shows it."""
    assert case.id is not None
    customer = s.get(Customer, case.customer_id) if case.customer_id else None
    person = rules.person(case.engineer_email) if case.engineer_email else None
    vendor = rules.vendor(case.engineer_email) if person is None else None
    out: dict[str, Any] = {
        "id": case.id, "subject": case.subject, "status": case.status,
        "priority": case.priority, "type": case.type, "kind": case.kind, "line": case.line,
        "channel": case.channel,
        "customer": {
            "email": customer.email if customer else None,
            "name": customer.name if customer else None,
            "employee_id": customer.employee_id if customer else None,
            "company": customer.company if customer else None,
        },
        "engineer": ({"email": case.engineer_email,
                      "name": person.name if person else vendor.name if vendor
                      else case.engineer_email}
                     if case.engineer_email else None),
        "description": case.description, "resolution": case.resolution, "rating": case.rating,
        "created_at": iso(case.created_at), "dispatched_at": iso(case.dispatched_at),
        "first_response_at": iso(case.first_response_at), "resolved_at": iso(case.resolved_at),
        "closed_at": iso(case.closed_at), "handling_seconds": case.handling_seconds,
        "sla": sla_json(case, utcnow()),
        "follows": case.follows_id,
        "problem": case.problem_id,
        "visits": visits_json(s, case.id),
    }
    if with_log:
        out["log"] = [{"at": iso(e.at), "author": e.author, "kind": e.kind, "text": e.text}
                      for e in queries.case_log(s, case.id)]
    atts = s.exec(select(AttachmentFile).where(AttachmentFile.case_id == case.id)
                  .order_by(col(AttachmentFile.id)))
    out["attachments"] = [{"filename": a.filename, "size": a.size, "sha256": a.sha256}
                          for a in atts]
    out["complaints"] = [complaint_json(c) for c in s.exec(
        select(Complaint).where(Complaint.case_id == case.id).order_by(col(Complaint.id)))]
    survey = s.exec(select(Survey).where(Survey.case_id == case.id)).first()
    out["survey"] = survey_json(survey) if survey else None
    return out


def problem_json(s: Session, problem: Problem) -> dict[str, Any]:
    """One problem as docs/REFERENCE §8 shows it: ``cases`` are the linked case numbers."""
    assert problem.id is not None
    return {"id": problem.id, "title": problem.title, "status": problem.status,
            "cases": problems.linked_ids(s, [problem.id])[problem.id],
            "workaround": problem.workaround, "root_cause": problem.root_cause,
            "created_at": iso(problem.created_at), "resolved_at": iso(problem.resolved_at)}


def complaint_json(c: Complaint) -> dict[str, Any]:
    """One complaint (``complaints list --json``, and ``complaints`` in case JSON)."""
    return {"id": c.id, "case_id": c.case_id, "engineer": c.engineer, "category": c.category,
            "text": c.text, "status": c.status, "outcome": c.outcome,
            "created_at": iso(c.created_at), "closed_at": iso(c.closed_at)}


def survey_json(v: Survey) -> dict[str, Any]:
    """A case's follow-up survey: when it was sent, and the answer if one came."""
    return {"sent_at": iso(v.sent_at), "score": v.score, "comment": v.comment,
            "answered_at": iso(v.answered_at)}


def message_json(m: InboundMessage) -> dict[str, Any]:
    return {"id": m.id, "message_id": m.message_id, "from": m.from_addr, "subject": m.subject,
            "disposition": m.disposition, "case_id": m.case_id, "reason": m.reason,
            "received_at": iso(m.received_at)}


def outbox_json(o: OutboxMail) -> dict[str, Any]:
    return {"id": o.id, "to": list(o.recipients), "subject": o.subject, "template": o.template,
            "case_id": o.case_id, "status": o.status, "attempts": o.attempts}
