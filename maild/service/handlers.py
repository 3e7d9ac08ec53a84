"""What each kind of inbound message does to the database and the outbox.

``handle`` walks the decision order of SPEC §3 (duplicate, ignored, thread,
then who is writing) and calls one small handler. Each handler writes into
the caller's session and returns a ``Handled``; the caller commits once.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlmodel import Session

from maild.core import cases, notify, threads
from maild.core.html_quote import reply_text
from maild.core.mime import LOOP_HEADER
from maild.core.parse import parse
from maild.core.screening import screen
from maild.core.tags import customer_intent, parse_tags
from maild.core.tokens import HOLD
from maild.core.values import STAFF_ROLES, CaseRef, Command, Disposition, Inbound, Role
from maild.db import queries, search
from maild.db.attachments import Kept
from maild.db.models import Case, Customer, InboundMessage
from maild.runtime import Runtime
from maild.service.notices import audiences, base_context, case_context, enqueue, staff_recipient
from maild.service.opening import (
    Handled,
    Opening,
    keep_attachments,
    language_of,
    notify_events,
    open_case,
    write_log,
)
from maild.service.operators import on_staff_mail
from maild.service.sla import set_deadlines

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def handle(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage) -> Handled:
    """Decide what ``msg`` is and act on it, inside the caller's transaction."""
    h = rt.settings.helpdesk
    if not _author(msg):
        return Handled(Disposition.FAILED, None, "no From or Sender address: nobody to answer")
    earlier = queries.seen_before(s, msg.dedup_key)
    if earlier is not None:
        return Handled(Disposition.DUPLICATE, earlier.case_id,
                       f"same message as #{earlier.id} ({msg.dedup_key[:80]})")
    reason = screen(msg, frozenset({h.address.lower()}), LOOP_HEADER)
    if reason:
        return Handled(Disposition.IGNORED, None, reason)
    ref = find_case(s, rt, msg)
    if ref is not None:
        case = queries.get_case(s, ref.case_id)
        assert case is not None
        role = rt.rules.role_of(msg.from_addr)
        if role in STAFF_ROLES and ref.token_owner == msg.from_addr:
            return on_command(s, rt, msg, case, row, role)
        return on_reply(s, rt, msg, case, row)
    held_id = threads.hold_token_id(msg, h.address, h.secrets)
    if held_id is not None:
        return release_held(s, rt, msg, held_id, row)
    return on_new(s, rt, msg, row)


def _author(msg: Inbound) -> bool:
    """A From (or Sender) header with an address: Return-Path alone names no author."""
    return bool(msg.from_addr) and any(
        "@" in msg.headers.get(name, "") for name in ("from", "sender"))


def mail_opening(msg: Inbound) -> Opening:
    """A case from a mail: its subject, and its new text as the description."""
    text = new_text(msg).strip() or msg.text.strip()
    return Opening(subject=msg.subject, description=text, source=msg, reporter=msg.from_addr)


def new_text(msg: Inbound) -> str:
    """The author's new words: quoted history and signature cut away."""
    return reply_text(msg)


def find_case(s: Session, rt: Runtime, msg: Inbound) -> CaseRef | None:
    """Token, then [Case #N] in the subject, then In-Reply-To/References (SPEC §3.3)."""
    h = rt.settings.helpdesk
    ref = threads.token_ref(msg, h.address, h.secrets)
    if ref and queries.get_case(s, ref.case_id):
        return ref
    number = threads.subject_case_id(msg.subject, h.subject_tag)
    if number is not None and queries.get_case(s, number):
        return CaseRef(number, "subject")
    found = queries.case_by_references(s, threads.reference_ids(msg))
    return CaseRef(found, "references") if found else None


def on_new(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage) -> Handled:
    """A message about no case: a mailbox command, a new case, or a stranger held or rejected."""
    person = rt.rules.person(msg.from_addr)
    first = next(iter(parse_tags(new_text(msg))), None)
    if first is not None and first.tag == "help":
        return answer_help(s, rt, msg, row)
    if first is not None and first.tag == "search" and person is not None:
        return answer_search(s, rt, msg, row, first.arg)
    if person is not None and (staff := on_staff_mail(s, rt, msg, row, person)) is not None:
        return staff
    customer = queries.customer_by_email(s, msg.from_addr)
    if customer is None and (person is not None or rt.settings.helpdesk.unknown_senders == "open"):
        customer = Customer(email=msg.from_addr, name=(person.name if person else
                            msg.from_name or msg.from_addr), auto_created=True,
                            created_at=row.received_at)
        s.add(customer)
        s.flush()
    if customer is not None:
        return open_case(s, rt, mail_opening(msg), customer, row)
    policy = rt.settings.helpdesk.unknown_senders
    if policy == "hold":
        return hold(s, rt, msg, row)
    notice = notify.Notice("rejected_sender", notify.Recipient(
        msg.from_addr, msg.from_name or msg.from_addr, language_of(rt, msg.subject + msg.text)))
    enqueue(s, rt, notice, base_context(rt, None), row.received_at, in_reply_to=msg.message_id)
    return Handled(Disposition.REJECTED, None, "unknown sender (unknown_senders = reject)")


def _asker(rt: Runtime, msg: Inbound) -> notify.Recipient:
    """Whoever sent a mailbox command, in their language."""
    person = rt.rules.person(msg.from_addr)
    if person is not None:
        return staff_recipient(rt, msg.from_addr)
    return notify.Recipient(msg.from_addr, msg.from_name or msg.from_addr,
                            language_of(rt, msg.subject + msg.text))


def answer_help(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage) -> Handled:
    """``#help`` to the helpdesk address: the tag table, to anyone (SPEC §4)."""
    enqueue(s, rt, notify.Notice("help", _asker(rt, msg)), base_context(rt, None),
            row.received_at, in_reply_to=msg.message_id)
    return Handled(Disposition.COMMAND, None, "#help answered")


def answer_search(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage,
                  words: str) -> Handled:
    """``#search <words>`` from staff: the best 10 resolved cases, knowledge base first."""
    terms = words.split()[:8]
    found = search.search_resolved(s, terms)
    tz = rt.settings.helpdesk.tz
    ctx = base_context(rt, None)
    ctx["query"] = " ".join(terms)
    ctx["results"] = [
        {"id": c.id, "subject": c.subject, "resolution": c.resolution, "kb": c.kb,
         "resolved_at": c.resolved_at.astimezone(tz) if c.resolved_at else None,
         "engineer_name": (staff_recipient(rt, c.engineer_email).name
                           if c.engineer_email else None)}
        for c in found]
    enqueue(s, rt, notify.Notice("search_results", _asker(rt, msg)), ctx, row.received_at,
            in_reply_to=msg.message_id)
    return Handled(Disposition.COMMAND, None, f"#search {' '.join(terms)}: {len(found)} found")


def on_command(s: Session, rt: Runtime, msg: Inbound, case: Case, row: InboundMessage,
               role: Role | None) -> Handled:
    """Staff reply through their own token: apply the tags, all or nothing (SPEC §4)."""
    assert case.id is not None and role is not None
    now = row.received_at
    new_text = reply_text(msg).strip()
    commands = parse_tags(new_text)
    if not commands:
        if not new_text:
            return Handled(Disposition.COMMAND, case.id, "no new text; nothing to do")
        commands = [Command("log", new_text, 1)]
    engineers = {p.email: p.name for p in rt.rules.with_role(Role.ENGINEER)}
    actor = cases.Actor(msg.from_addr, role, engineers)
    result = cases.apply(queries.view_of(case), commands, actor, now)
    if isinstance(result, cases.Refusal):
        return _refuse(s, rt, msg, case, result, new_text, now)
    old_priority = case.priority
    queries.store_view(case, result.case, now)
    if case.priority != old_priority:
        set_deadlines(rt, case)  # the targets of the new priority, from the case's opening
    write_log(s, case.id, now, msg.from_addr, result.log)
    keep_attachments(s, rt, msg, case, row)
    queries.remember_ref(s, msg.message_id, case.id)
    name = staff_recipient(rt, msg.from_addr).name
    notify_events(s, rt, case, result.events, name, msg.from_addr, msg.message_id)
    return Handled(Disposition.COMMAND, case.id,
                   "applied: " + ", ".join(f"#{c.tag}" for c in commands))


def _refuse(s: Session, rt: Runtime, msg: Inbound, case: Case, refusal: cases.Refusal,
            new_text: str, now: datetime) -> Handled:
    """Nothing changes; the sender learns which line failed, why, and what they may use."""
    lines = new_text.splitlines()
    text = lines[refusal.line - 1] if refusal.line and refusal.line <= len(lines) else None
    ctx = base_context(rt, case_context(s, rt, case))
    ctx["error"] = {"line": refusal.line, "text": text, "reason": refusal.reason}
    notice = notify.Notice("command_error", staff_recipient(rt, msg.from_addr))
    enqueue(s, rt, notice, ctx, now, case=case, in_reply_to=msg.message_id)
    return Handled(Disposition.REJECTED, case.id, refusal.reason)


def on_reply(s: Session, rt: Runtime, msg: Inbound, case: Case, row: InboundMessage) -> Handled:
    """A customer (or anyone without a staff token) wrote on a case (SPEC §5)."""
    assert case.id is not None
    now = row.received_at
    new_text = reply_text(msg).strip()
    view = queries.view_of(case)
    intent = customer_intent(new_text)
    outcome = cases.customer_action(view, intent.action, intent.rating, now) if intent else None
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
    event = cases.Event("customer_reply", new_text or None)
    _notify_reply(s, rt, case, event, msg, kept)
    return Handled(Disposition.REPLY, case.id, "logged and forwarded")


def _notify_reply(s: Session, rt: Runtime, case: Case, event: cases.Event, msg: Inbound,
                  kept: Kept) -> None:
    """Forward a customer's words to the engineer, or to the operators when there is none."""
    who = audiences(s, rt, case)
    if notify.ENGINEER not in who:
        who[notify.ENGINEER] = who.get(notify.OPERATORS, [])
    ctx = base_context(rt, case_context(s, rt, case))
    for notice in notify.plan((event,), who, msg.from_name or msg.from_addr, msg.from_addr):
        enqueue(s, rt, notice, ctx, case.updated_at, case=case, in_reply_to=msg.message_id,
                attachments=kept.forwardable(rt.settings.limits.forward_attachments_bytes))


def hold(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage) -> Handled:
    """Unknown sender under ``hold``: keep the message, ask them to confirm by replying."""
    assert row.id is not None
    ctx = base_context(rt, None)
    ctx["held"] = {"subject": msg.subject, "expires_hours": rt.settings.helpdesk.hold_hours}
    to = notify.Recipient(msg.from_addr, msg.from_name or msg.from_addr,
                          language_of(rt, msg.subject + msg.text))
    enqueue(s, rt, notify.Notice("hold", to), ctx, row.received_at, in_reply_to=msg.message_id,
            token=(HOLD, row.id))
    return Handled(Disposition.HELD, None, "unknown sender; asked to confirm by replying")


def release_held(s: Session, rt: Runtime, msg: Inbound, held_id: int,
                 row: InboundMessage) -> Handled:
    """A stranger confirmed: the held message becomes a new case (once, within the window)."""
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
