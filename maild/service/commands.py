"""Staff commands: tags on a case (all or nothing), and the mailbox commands #help, #search."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from maild.core import cases, notify
from maild.core.tags import parse_tags
from maild.core.values import Command, Disposition, Inbound, Role
from maild.db import queries, search
from maild.db.models import Case, InboundMessage
from maild.runtime import Runtime
from maild.service.notices import base_context, case_context, enqueue, staff_recipient
from maild.service.opening import Handled, keep_attachments, language_of, notify_events, write_log
from maild.service.reading import Reading
from maild.service.sla import set_deadlines


def on_command(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage,
               seen: Reading) -> Handled:
    """Staff reply through their own token: apply the tags, all or nothing."""
    case, role = seen.case, seen.facts.role
    assert case is not None and case.id is not None and role is not None
    now = row.received_at
    commands = parse_tags(seen.new_text)
    if not commands:
        if not seen.new_text:
            return Handled(Disposition.COMMAND, case.id, "no new text; nothing to do")
        commands = [Command("log", seen.new_text, 1)]
    engineers = {p.email: p.name for p in rt.rules.with_role(Role.ENGINEER)}
    actor = cases.Actor(msg.from_addr, role, engineers)
    result = cases.apply(queries.view_of(case), commands, actor, now)
    if isinstance(result, cases.Refusal):
        return _refuse(s, rt, msg, case, result, seen.new_text, now)
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


def _asker(rt: Runtime, msg: Inbound) -> notify.Recipient:
    """Whoever sent a mailbox command, in their language."""
    if rt.rules.person(msg.from_addr) is not None:
        return staff_recipient(rt, msg.from_addr)
    return notify.Recipient(msg.from_addr, msg.from_name or msg.from_addr,
                            language_of(rt, msg.subject + msg.text))


def answer_help(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage,
                seen: Reading) -> Handled:
    """``#help`` to the helpdesk address: the tag table, to anyone."""
    enqueue(s, rt, notify.Notice("help", _asker(rt, msg)), base_context(rt, None),
            row.received_at, in_reply_to=msg.message_id)
    return Handled(Disposition.COMMAND, None, "#help answered")


def answer_search(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage,
                  seen: Reading) -> Handled:
    """``#search <words>`` from staff: the best 10 resolved cases, knowledge base first."""
    assert seen.first is not None
    terms = seen.first.arg.split()[:8]
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
