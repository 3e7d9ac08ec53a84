"""Unknown senders: held until they confirm by reply, released as a case, or rejected."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from maild.core import notify
from maild.core.parse import parse
from maild.core.tokens import HOLD
from maild.core.values import Disposition, Inbound
from maild.db import queries
from maild.db.models import Customer, InboundMessage
from maild.runtime import Runtime
from maild.service.notices import base_context, enqueue
from maild.service.opening import Handled, language_of, mail_opening, open_case
from maild.service.reading import Reading


def _stranger(rt: Runtime, msg: Inbound) -> notify.Recipient:
    return notify.Recipient(msg.from_addr, msg.from_name or msg.from_addr,
                            language_of(rt, msg.subject + msg.text))


def hold(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage, seen: Reading) -> Handled:
    """Unknown sender under ``hold``: keep the message, ask them to confirm by replying."""
    assert row.id is not None
    ctx = base_context(rt, None)
    ctx["held"] = {"subject": msg.subject, "expires_hours": rt.settings.helpdesk.hold_hours}
    enqueue(s, rt, notify.Notice("hold", _stranger(rt, msg)), ctx, row.received_at,
            in_reply_to=msg.message_id, token=(HOLD, row.id))
    return Handled(Disposition.HELD, None, "unknown sender; asked to confirm by replying")


def reject(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage,
           seen: Reading) -> Handled:
    """Unknown sender under ``reject``: told so, nothing opened."""
    enqueue(s, rt, notify.Notice("rejected_sender", _stranger(rt, msg)), base_context(rt, None),
            row.received_at, in_reply_to=msg.message_id)
    return Handled(Disposition.REJECTED, None, "unknown sender (unknown_senders = reject)")


def release(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage,
            seen: Reading) -> Handled:
    """A stranger confirmed: the held message becomes a new case (once, within the window)."""
    held_id = seen.facts.held_id
    assert held_id is not None
    held = s.get(InboundMessage, held_id)
    now = row.received_at
    if held is None or held.disposition != Disposition.HELD.value:
        return Handled(Disposition.IGNORED, None, "confirmation for no held message")
    if held.case_id is not None:
        return Handled(Disposition.DUPLICATE, held.case_id, "held message already released")
    if now - held.received_at > timedelta(hours=rt.settings.helpdesk.hold_hours):
        return Handled(Disposition.REJECTED, None, "confirmation came after the hold expired")
    original = parse(held.raw)
    customer = queries.customer_by_email(s, original.from_addr) or Customer(
        email=original.from_addr, name=original.from_name or original.from_addr,
        auto_created=True, created_at=now)
    s.add(customer)
    s.flush()
    result = open_case(s, rt, mail_opening(original), customer, row)
    held.case_id = result.case_id
    held.reason = f"released as case #{result.case_id} by message #{row.id}"
    return Handled(Disposition.NEW_CASE, result.case_id,
                   f"released held message #{held_id}; {result.reason}")
