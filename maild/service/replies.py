"""A customer (or anyone without a staff token) wrote on a case: a state change or words."""

from __future__ import annotations

from sqlmodel import Session

from maild.core import cases, notify
from maild.core.tags import customer_intent
from maild.core.values import Disposition, Inbound
from maild.db import queries
from maild.db.attachments import Kept
from maild.db.models import Case, InboundMessage
from maild.runtime import Runtime
from maild.service.notices import audiences, base_context, case_context, enqueue
from maild.service.opening import Handled, keep_attachments, notify_events, write_log
from maild.service.reading import Reading


def on_reply(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage,
             seen: Reading) -> Handled:
    """Confirm, reopen or rate a resolved case; anything else is logged and forwarded."""
    case = seen.case
    assert case is not None and case.id is not None
    now = row.received_at
    new_text = seen.new_text
    intent = customer_intent(new_text)
    outcome = cases.customer_action(queries.view_of(case), intent.action, intent.rating,
                                    now) if intent else None
    kept = keep_attachments(s, rt, msg, case, row)
    queries.remember_ref(s, msg.message_id, case.id)
    if outcome is not None:
        queries.store_view(case, outcome.case, now)
        write_log(s, case.id, now, msg.from_addr, outcome.log)
        notify_events(s, rt, case, outcome.events, msg.from_name or msg.from_addr, None,
                      msg.message_id)
        return Handled(Disposition.REPLY, case.id, f"customer {intent.action if intent else ''}")
    queries.add_log(s, case.id, now, msg.from_addr, "customer", new_text or "(no new text)")
    case.updated_at = now
    _forward(s, rt, case, cases.Event("customer_reply", new_text or None), msg, kept)
    return Handled(Disposition.REPLY, case.id, "logged and forwarded")


def _forward(s: Session, rt: Runtime, case: Case, event: cases.Event, msg: Inbound,
             kept: Kept) -> None:
    """Forward a customer's words to the engineer, or to the operators when there is none."""
    who = audiences(s, rt, case)
    if notify.ENGINEER not in who:
        who[notify.ENGINEER] = who.get(notify.OPERATORS, [])
    ctx = base_context(rt, case_context(s, rt, case))
    for notice in notify.plan((event,), who, msg.from_name or msg.from_addr, msg.from_addr):
        enqueue(s, rt, notice, ctx, case.updated_at, case=case, in_reply_to=msg.message_id,
                attachments=kept.forwardable(rt.settings.limits.forward_attachments_bytes))
