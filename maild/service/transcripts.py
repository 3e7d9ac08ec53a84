"""The transcript a tagged staff mail gets back, and the step ``#undo`` can take back.

Both are written in the transaction of the change: the transcript lists the
rows this mail queued (``notices.queued_so_far``), so it says exactly which
mails went out and to whom; the step (``db.models.CommandStep``) keeps the case
before and after and the same list, for ``#undo``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from maild.core import addresses, notify, undo
from maild.core.cases import CaseView
from maild.core.transcript import Line
from maild.core.values import Inbound
from maild.db.models import Case, CommandStep, Customer, OutboxMail
from maild.runtime import Runtime
from maild.service.notices import (
    base_context,
    case_context,
    enqueue,
    queued_so_far,
    staff_recipient,
)
from maild.service.reading import customer_of


def mark(s: Session) -> int:
    """Where this mail's own rows will start in the transaction's queued list."""
    return len(queued_so_far(s))


def sent_since(s: Session, start: int) -> list[OutboxMail]:
    """The pending rows queued since ``mark``: what this mail made maild send."""
    return [r for r in queued_so_far(s)[start:] if r.status == "pending"]


def told(rows: list[OutboxMail]) -> list[dict[str, str]]:
    """Who got which mail, as stored with the step and shown in the transcript."""
    return [{"email": r.to_addr, "subject": r.subject, "template": r.template} for r in rows]


def send(s: Session, rt: Runtime, msg: Inbound, case: Case, lines: tuple[Line, ...],
         applied: bool, sent: list[dict[str, str]], now: datetime) -> None:
    """Queue the transcript to the staff member, threaded to their mail, in their language."""
    customer = customer_of(s, case)
    ctx = base_context(rt, case_context(s, rt, case))
    ctx["transcript"] = {
        "applied": applied,
        "lines": [{"number": x.number, "text": x.text, "verdict": x.verdict,
                   "reason": x.reason, "reason_zh": x.reason_zh,
                    "suggestion": x.suggestion} for x in lines],
        "sent": [{**m, "customer": m["email"] == customer} for m in sent],
        "customer_told": any(m["email"] == customer for m in sent),
        "undo_minutes": rt.settings.helpdesk.undo_minutes,
        "vendor": rt.rules.vendor(msg.from_addr) is not None,  # no #undo, no staff tag table
    }
    notice = notify.Notice("transcript", staff_recipient(rt, msg.from_addr))
    enqueue(s, rt, notice, ctx, now, case=case, in_reply_to=msg.message_id)


def record(s: Session, case: Case, msg: Inbound, before: CaseView, after: CaseView,
           sent: list[dict[str, str]], now: datetime,
           kept: tuple[dict[str, Any], dict[str, Any]] = ({}, {})) -> None:
    """Keep an applied command mail as the case's latest step (what ``#undo`` reverts);
    ``kept``: what else it changed, before and after (``core.undo.records``)."""
    assert case.id is not None
    s.add(CommandStep(case_id=case.id, author=addresses.key(msg.from_addr),
                      message_id=msg.message_id, at=now,
                      before=undo.snapshot(before) | kept[0],
                      after=undo.snapshot(after) | kept[1], told=sent))


def latest(s: Session, case_id: int) -> CommandStep | None:
    """The case's last applied command mail, undone or not."""
    return s.exec(select(CommandStep).where(CommandStep.case_id == case_id)
                  .order_by(col(CommandStep.id).desc()).limit(1)).first()


def as_step(row: CommandStep | None) -> undo.Step | None:
    if row is None:
        return None
    return undo.Step(row.author, row.at, row.before, row.after, row.undone_at is not None)


def recipient(s: Session, rt: Runtime, case: Case, email: str) -> notify.Recipient:
    """Someone told of a step, in the language they were told in."""
    if rt.rules.person(email) is not None:
        return staff_recipient(rt, email)
    customer = s.get(Customer, case.customer_id) if case.customer_id else None
    name = customer.name if customer and customer.email and \
        addresses.key(customer.email) == email else email
    return notify.Recipient(email, name, case.language)


def disregard_context(rt: Runtime, s: Session, case: Case, subject: str) -> dict[str, Any]:
    ctx = base_context(rt, case_context(s, rt, case))
    ctx["disregard"] = subject
    return ctx
