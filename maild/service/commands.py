"""Staff commands: tags on a case (all or nothing), and the mailbox commands #help, #search."""

from __future__ import annotations

from dataclasses import replace

from sqlmodel import Session

from maild.core import cases, notify, transcript, undo
from maild.core.phone import parse_summary
from maild.core.tags import parse_tags
from maild.core.values import Command, Disposition, Inbound, Role
from maild.db import problems as stored_problems
from maild.db import queries, search
from maild.db.models import InboundMessage
from maild.runtime import Runtime
from maild.service import complaints, lines, problems, transcripts, undoing, visits
from maild.service.notices import base_context, enqueue, staff_recipient
from maild.service.opening import Handled, keep_attachments, language_of, notify_events, write_log
from maild.service.reading import Reading
from maild.service.sla import set_deadlines


def on_command(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage,
               seen: Reading) -> Handled:
    """Staff reply through their own token: apply the tags, all or nothing; a tagged mail
    gets a transcript back and becomes the step ``#undo`` can take back."""
    case, role = seen.case, seen.facts.role
    assert case is not None and case.id is not None and role is not None
    now = row.received_at
    commands = parse_tags(seen.new_text) or _phone_complaint(seen.new_text)
    tagged = bool(commands)
    if not commands:
        if not seen.new_text:
            return Handled(Disposition.COMMAND, case.id, "no new text; nothing to do")
        commands = [Command("log", seen.new_text, 1)]
    if any(c.tag == transcript.UNDO for c in commands) and role != Role.VENDOR:
        return undoing.take_back(s, rt, msg, case, commands, seen.new_text, now)
    engineers = {p.email: p.name for p in rt.rules.with_role(Role.ENGINEER)}
    actor = cases.Actor(msg.from_addr, role, engineers, lines.desk(s, rt),
                        stored_problems.statuses(s, problems.wanted_problems(commands)),
                        tz=rt.settings.helpdesk.tz)
    before = replace(queries.view_of(case), complaint=complaints.open_category(s, case.id))
    result = cases.apply(before, commands, actor, now)
    reads_rows = tagged and any(c.tag in undo.COMPLAINT_TAGS for c in commands)
    if isinstance(result, cases.Refusal):
        transcripts.send(s, rt, msg, case, transcript.lines(commands, seen.new_text, result),
                         False, [], now)
        return Handled(Disposition.REJECTED, case.id, result.reason)
    start = transcripts.mark(s)
    old_rows = complaints.rows_of(s, case.id) if reads_rows else {}
    old_problem = case.problem_id
    old_clock = (case.priority, case.type, case.kind)
    queries.store_view(case, result.case, now)
    if (case.priority, case.type, case.kind) != old_clock:
        set_deadlines(rt, case)  # the targets of the new priority, kind or type, from opening
    lines.moved(s, rt, case, before, now)
    write_log(s, case.id, now, msg.from_addr, result.log)
    complaints.record(s, case, result.events, msg.from_addr, now)
    keep_attachments(s, rt, msg, case, row)
    queries.remember_ref(s, msg.message_id, case.id)
    name = staff_recipient(rt, msg.from_addr).name
    extras = visits.record(s, rt, case, result.events, now)
    notify_events(s, rt, case, result.events, name, msg.from_addr, msg.message_id, extras)
    opened = problems.on_case_events(s, rt, case, result.events, msg.from_addr, now,
                                     msg.message_id)
    if tagged:
        sent = transcripts.told(transcripts.sent_since(s, start))
        new_rows = complaints.rows_of(s, case.id) if reads_rows else {}
        rows = undo.touched(old_rows, new_rows)
        kept = (undo.records(old_problem, rows[0]),
                undo.records(case.problem_id, rows[1], opened[0] if opened else None,
                             new_rows if reads_rows else None))
        transcripts.record(s, case, msg, before, result.case, sent, now, kept)
        transcripts.send(s, rt, msg, case, transcript.lines(commands, seen.new_text, None),
                         True, sent, now)
    return Handled(Disposition.COMMAND, case.id,
                   "applied: " + ", ".join(f"#{c.tag}" for c in commands))


def _phone_complaint(new_text: str) -> list[Command]:
    """An operator's summary on a case with a ``Complaint:``/``投诉:`` line: ``#complaint``."""
    summary = parse_summary(new_text)
    return [Command("complaint", summary.complaint, 1)] if summary and summary.complaint else []


def _asker(rt: Runtime, msg: Inbound) -> notify.Recipient:
    """Whoever sent a mailbox command, in their language."""
    if rt.rules.person(msg.from_addr) is not None:
        return staff_recipient(rt, msg.from_addr)
    return notify.Recipient(msg.from_addr, msg.from_name or msg.from_addr,
                            language_of(rt, msg.subject + msg.text))


def answer_help(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage,
                seen: Reading) -> Handled:
    """``#help`` to the helpdesk address: the tags the sender's role may use, one example each.

    The role is the From address's claim, unproven: the answer is help text and goes to
    that address, so a forged From learns only what the guides already say."""
    ctx = base_context(rt, None)
    role = seen.facts.role or Role.CUSTOMER
    # a claim: help text only; a vendor's tags are in its case mail, it has no others here
    ctx["role"] = (Role.CUSTOMER if role == Role.VENDOR else role).value
    enqueue(s, rt, notify.Notice("help", _asker(rt, msg)), ctx, row.received_at,
            in_reply_to=msg.message_id)
    return Handled(Disposition.COMMAND, None, "#help answered")


def answer_search(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage,
                  seen: Reading) -> Handled:
    """``#search <words>`` from staff: the best 10 resolved cases, knowledge base first,
    and up to 5 problems (their workaround or root cause is often the answer)."""
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
    ctx["problems"] = [{"id": p.id, "title": p.title, "status": p.status,
                        "workaround": p.workaround, "root_cause": p.root_cause}
                       for p in stored_problems.search_problems(s, terms, limit=5)]
    enqueue(s, rt, notify.Notice("search_results", _asker(rt, msg)), ctx, row.received_at,
            in_reply_to=msg.message_id)
    return Handled(Disposition.COMMAND, None, f"#search {' '.join(terms)}: {len(found)} found"
                   + (f", {len(ctx['problems'])} problems" if ctx["problems"] else ""))
