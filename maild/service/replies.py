"""The case's customer, or someone else in its thread, wrote on a case.

Confirm, reopen and rate change the case only with a proof (``core.trust``:
the case token, References to our mail, or our Authentication-Results);
without one the words are logged and forwarded and the sender is asked to
answer the case mail. Whatever reaches the engineer shows the real address.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlmodel import Session

from maild.core import cases, complaints, followup, notify
from maild.core.survey import parse_answer
from maild.core.tags import customer_intent, parse_tags
from maild.core.transcript import KNOWN_TAGS
from maild.core.trust import Action, Claim, allowed
from maild.core.values import Disposition, Inbound
from maild.db import queries
from maild.db.attachments import Kept
from maild.db.models import Case, Customer, InboundMessage
from maild.runtime import Runtime
from maild.service import complaints as complaining
from maild.service import surveys
from maild.service.notices import audiences, base_context, case_context, enqueue
from maild.service.opening import (
    Handled,
    keep_attachments,
    language_of,
    mail_opening,
    notify_events,
    open_case,
    write_log,
)
from maild.service.reading import Reading


def on_reply(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage,
             seen: Reading) -> Handled:
    """Confirm, reopen or rate a resolved case; anything else is logged and forwarded."""
    case = seen.case
    assert case is not None and case.id is not None
    now = row.received_at
    new_text = seen.new_text
    if seen.facts.case_customer:
        special = _complaint_or_survey(s, rt, msg, row, seen)
        if special is not None:
            return special
    intent = customer_intent(new_text)
    if seen.facts.case_customer and (intent is None or intent.action == "reopen") and \
            not followup.thanks_only(new_text) and \
            followup.starts_new_case(case.status, case.closed_at, now,
                                     rt.settings.helpdesk.reopen_days):
        return _follow_up(s, rt, msg, row, case)
    outcome = cases.customer_action(queries.view_of(case), intent.action, intent.rating,
                                    now) if intent else None
    kept = keep_attachments(s, rt, msg, case, row)
    queries.remember_ref(s, msg.message_id, case.id)
    claim = Claim.CUSTOMER if seen.facts.case_customer else Claim.STRANGER
    if outcome is not None and not allowed(claim, Action.CUSTOMER_STATE, seen.facts.proofs):
        outcome = None
        _ask_for_case_mail(s, rt, msg, case, now)
    if outcome is not None:
        queries.store_view(case, outcome.case, now)
        write_log(s, case.id, now, msg.from_addr, outcome.log)
        notify_events(s, rt, case, outcome.events, msg.from_name or msg.from_addr, None,
                      msg.message_id)
        return Handled(Disposition.REPLY, case.id, f"customer {intent.action if intent else ''}")
    if intent is None and case.status in ("resolved", "closed") and \
            followup.thanks_only(new_text):
        queries.add_log(s, case.id, now, msg.from_addr, "thanks", new_text)
        return Handled(Disposition.REPLY, case.id, f"thanks on a {case.status} case: logged")
    queries.add_log(s, case.id, now, msg.from_addr, "customer", new_text or "(no new text)")
    case.updated_at = now
    if intent is None and not seen.facts.staff:
        _staff_tags(s, rt, msg, case, new_text, now)
    _forward(s, rt, case, cases.Event("customer_reply", new_text or None), msg, kept)
    return Handled(Disposition.REPLY, case.id, "logged and forwarded")


def _complaint_or_survey(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage,
                         seen: Reading) -> Handled | None:
    """The customer's complaint, or their answer to the case's survey; None: neither.

    Both change the case's record, so both need the customer-state proof; without it
    the words are logged and forwarded like any reply, and the customer is asked to
    answer the case mail."""
    case = seen.case
    assert case is not None and case.id is not None
    now = row.received_at
    text = complaints.complaint_text(seen.new_text)
    survey = surveys.pending(s, case.id) if text is None else None
    given = parse_answer(seen.new_text) if survey is not None else None
    if text is None and given is None:
        return None
    kept = keep_attachments(s, rt, msg, case, row)
    queries.remember_ref(s, msg.message_id, case.id)
    what = "complaint" if text is not None else "survey answer"
    if not allowed(Claim.CUSTOMER, Action.CUSTOMER_STATE, seen.facts.proofs):
        _ask_for_case_mail(s, rt, msg, case, now)
        queries.add_log(s, case.id, now, msg.from_addr, "customer", seen.new_text)
        case.updated_at = now
        _forward(s, rt, case, cases.Event("customer_reply", seen.new_text), msg, kept)
        return Handled(Disposition.REPLY, case.id,
                       f"{what} without proof: logged and forwarded, nothing changed")
    name = msg.from_name or msg.from_addr
    if text is not None:
        complaining.from_customer(s, rt, case, text, msg.from_addr, name, now,
                                  msg.message_id)
        return Handled(Disposition.REPLY, case.id, "customer complaint")
    assert survey is not None and given is not None
    surveys.answer(s, rt, case, survey, given, msg.from_addr, name, now, msg.message_id)
    return Handled(Disposition.REPLY, case.id, f"survey answered: score {given.score}")


def _staff_tags(s: Session, rt: Runtime, msg: Inbound, case: Case, new_text: str,
                now: datetime) -> None:
    """A customer wrote a staff tag: it changes nothing; logged, and they are told why.

    A staff address without its proof is not told here: ``service.unproven`` writes
    to the staff member's registered address instead (docs/TRUST.md)."""
    used = [c.tag for c in parse_tags(new_text) if c.tag in KNOWN_TAGS and c.tag != "help"]
    if not used:
        return
    assert case.id is not None
    tags = ", ".join(f"#{t}" for t in dict.fromkeys(used))
    queries.add_log(s, case.id, now, "maild", "refused",
                    f"{msg.from_addr} used {tags}, a staff tag; nothing changed")
    to = notify.Recipient(msg.from_addr, msg.from_name or msg.from_addr,
                          language_of(rt, msg.subject + msg.text))
    ctx = base_context(rt, case_context(s, rt, case))
    ctx["used_tags"] = tags
    enqueue(s, rt, notify.Notice("customer_tag", to), ctx, now, case=case,
            in_reply_to=msg.message_id)


def _follow_up(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage,
               case: Case) -> Handled:
    """Mail on a case closed longer ago than ``reopen_days``: a new case that follows it."""
    customer = s.get(Customer, case.customer_id) if case.customer_id else None
    assert customer is not None and case.id is not None
    opened = open_case(s, rt, replace(mail_opening(msg), follows=case.id), customer, row)
    return replace(opened, reason=f"case #{case.id} closed over "
                   f"{rt.settings.helpdesk.reopen_days} days ago: {opened.reason}")


def _ask_for_case_mail(s: Session, rt: Runtime, msg: Inbound, case: Case,
                       now: datetime) -> None:
    """A state change without a proof: logged, and the sender asked to answer the case mail."""
    assert case.id is not None
    queries.add_log(s, case.id, now, "maild", "unproven",
                    f"{msg.from_addr} asked to change the case by a mail that does not answer "
                    "a case mail; nothing changed")
    to = notify.Recipient(msg.from_addr, msg.from_name or msg.from_addr,
                          language_of(rt, msg.subject + msg.text))
    enqueue(s, rt, notify.Notice("reply_to_case_mail", to),
            base_context(rt, case_context(s, rt, case)), now, case=case,
            in_reply_to=msg.message_id)


def _forward(s: Session, rt: Runtime, case: Case, event: cases.Event, msg: Inbound,
             kept: Kept) -> None:
    """Forward a customer's words to the engineer, or to the operators when there is none."""
    who = audiences(s, rt, case)
    if notify.ENGINEER not in who and notify.VENDOR not in who:
        who[notify.ENGINEER] = who.get(notify.OPERATORS, [])
    ctx = base_context(rt, case_context(s, rt, case))
    shown = f"{msg.from_name} <{msg.from_addr}>" if msg.from_name else msg.from_addr
    for notice in notify.plan((event,), who, shown, msg.from_addr):
        enqueue(s, rt, notice, ctx, case.updated_at, case=case, in_reply_to=msg.message_id,
                attachments=kept.forwardable(rt.settings.limits.forward_attachments_bytes))
