"""Problems: opened and linked from a case, commanded through their own mail.

Who hears of a problem (a decision the reference leaves open, written down in
docs/REFERENCE.md "Problems"): the staff member who opened it and the incident
manager get every change of it; the engineers of its open linked cases get the
workaround, the resolution, and the mail that links their case; nobody is told
of their own act, except the opener of a new problem, whose mail carries the
problem's token they will answer through. Every problem mail goes out with a
problem token (``core.tokens.PROBLEM``) for its recipient, never a case token.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from maild.core import cases, notify, problems
from maild.core.cases import Refusal
from maild.core.tags import parse_tags
from maild.core.tokens import PROBLEM
from maild.core.values import Command, Disposition, Inbound
from maild.db import problems as stored
from maild.db import queries
from maild.db.models import Case, InboundMessage, Problem
from maild.runtime import Runtime
from maild.service.notices import base_context, enqueue, staff_recipient
from maild.service.opening import Handled, notify_events, write_log
from maild.service.reading import Reading


def problem_context(s: Session, rt: Runtime, problem: Problem, event: str,
                    resolved: Sequence[int] = ()) -> dict[str, Any]:
    """The ``problem`` variable of the problem templates."""
    assert problem.id is not None
    tz = rt.settings.helpdesk.tz
    linked = stored.linked_cases(s, problem.id)
    return {
        "id": problem.id, "title": problem.title, "status": problem.status, "event": event,
        "workaround": problem.workaround, "root_cause": problem.root_cause,
        "opened_by": staff_recipient(rt, problem.opened_by).name,
        "created_at": problem.created_at.astimezone(tz),
        "cases": [{"id": c.id, "subject": c.subject, "status": c.status,
                   "engineer_email": c.engineer_email,
                   "engineer_name": (staff_recipient(rt, c.engineer_email).name
                                     if c.engineer_email else None)} for c in linked],
        "resolved": list(resolved),
    }


def tell(s: Session, rt: Runtime, problem: Problem, event: str, who: Iterable[str],
         actor: str, now: datetime, in_reply_to: str | None,
         resolved: Sequence[int] = ()) -> None:
    """One problem mail to each of ``who`` (once each), with their own cases named."""
    assert problem.id is not None
    ctx = base_context(rt, None)
    ctx["problem"] = problem_context(s, rt, problem, event, resolved)
    actor_name = staff_recipient(rt, actor).name
    for email in dict.fromkeys(who):
        mine = [c["id"] for c in ctx["problem"]["cases"] if c["engineer_email"] == email]
        notice = notify.Notice("problem", staff_recipient(rt, email), actor_name,
                               extra={"mine": mine})
        enqueue(s, rt, notice, ctx, now, in_reply_to=in_reply_to, token=(PROBLEM, problem.id))


def owners(rt: Runtime, problem: Problem) -> list[str]:
    """Who hears of every change of a problem: its opener and the incident manager."""
    return [problem.opened_by, rt.rules.incident_manager]


def link(s: Session, problem: Problem, case: Case, actor: str, now: datetime) -> bool:
    """Link ``case`` to ``problem`` (moving it from another); False: it already was."""
    assert problem.id is not None and case.id is not None
    if case.problem_id == problem.id:
        return False
    was = case.problem_id
    case.problem_id = problem.id
    case.updated_at = now
    moved = f" (was P{was})" if was else ""
    queries.add_log(s, case.id, now, actor, "problem",
                    f"linked to problem P{problem.id}{moved}: {problem.title}")
    return True


def on_case_events(s: Session, rt: Runtime, case: Case, events: Sequence[cases.Event],
                   actor: str, now: datetime, in_reply_to: str | None) -> list[int]:
    """``#problem`` in a staff reply on ``case``: open a problem, or link to one; returns
    the problems opened (``#undo`` cannot take those back)."""
    opened: list[int] = []
    for event in events:
        if event.kind != "problem" or not event.note:
            continue
        number = problems.problem_ref(event.note)
        if number is None:
            problem = Problem(title=problems.title_of(event.note), status="open",
                              opened_by=actor, created_at=now, updated_at=now)
            s.add(problem)
            s.flush()
            assert problem.id is not None
            opened.append(problem.id)
            link(s, problem, case, actor, now)
            engineer = [case.engineer_email] if case.engineer_email not in (None, actor) else []
            tell(s, rt, problem, "opened", [*owners(rt, problem), *engineer], actor, now,
                 in_reply_to)
            continue
        found = stored.get_problem(s, number)
        assert found is not None  # core.cases checked it against the stored statuses
        if link(s, found, case, actor, now):
            who = [*owners(rt, found), *([case.engineer_email] if case.engineer_email else [])]
            tell(s, rt, found, "linked", [w for w in who if w != actor], actor, now,
                 in_reply_to)
    return opened


def wanted_problems(commands: Sequence[Command]) -> list[int]:
    """The problem numbers ``#problem P<n>`` names in a case mail (read before applying)."""
    return [n for c in commands if c.tag == "problem"
            if (n := problems.problem_ref(c.arg)) is not None]


def on_problem(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage,
               seen: Reading) -> Handled:
    """Proven staff on a problem: its tags, all or nothing, then who is told (see above)."""
    problem = stored.get_problem(s, seen.facts.problem_id or 0)
    assert problem is not None and problem.id is not None
    now = row.received_at
    commands = parse_tags(seen.new_text)
    if not commands:  # a problem has no log of its own: say which tags it takes
        commands = [Command("", seen.new_text[:200], 1)]
    result = problems.apply(stored.view_of(problem), commands, seen.facts.role, now)
    targets: list[Case] = []
    if not isinstance(result, Refusal):
        result, targets = _link_targets(s, result, commands)
    if isinstance(result, Refusal):
        _result_mail(s, rt, msg, problem, commands, result, now)
        return Handled(Disposition.REJECTED, None, f"problem P{problem.id}: {result.reason}")
    before_open = stored.linked_cases(s, problem.id, open_only=True)
    stored.store_view(problem, result.problem, now)
    for case in targets:
        if link(s, problem, case, msg.from_addr, now) and case.engineer_email:
            tell(s, rt, problem, "linked", [case.engineer_email], msg.from_addr, now,
                 msg.message_id)
    open_now = before_open + [c for c in targets if c not in before_open
                              and c.status in ("new", "dispatched", "in_progress")]
    _log_on_cases(s, problem, open_now, result, msg.from_addr, now)
    resolved = _resolve_cases(s, rt, problem, open_now, msg, now) if result.resolve_linked \
        else []
    for event in result.events:
        engineers = [c.engineer_email for c in open_now if c.engineer_email]
        who = [w for w in (*owners(rt, problem), *engineers) if w != msg.from_addr]
        tell(s, rt, problem, event, who, msg.from_addr, now, msg.message_id, resolved)
    _result_mail(s, rt, msg, problem, commands, None, now)
    return Handled(Disposition.COMMAND, None, f"problem P{problem.id}: applied "
                   + ", ".join(f"#{c.tag}" for c in commands))


def _link_targets(s: Session, result: problems.Outcome,
                  commands: Sequence[Command]) -> tuple[problems.Outcome | Refusal, list[Case]]:
    """The cases ``#link`` names, or a refusal naming the first that does not exist."""
    found: list[Case] = []
    for number in result.link:
        case = queries.get_case(s, number)
        if case is None:
            cmd = next(c for c in commands if c.tag == "link"
                       and problems.case_number(c.arg) == number)
            return Refusal(f"#link: there is no case #{number}", cmd.line, cmd.tag,
                           f"#link：没有工单 #{number}"), []
        found.append(case)
    return result, found


def _log_on_cases(s: Session, problem: Problem, open_cases: Sequence[Case],
                  result: problems.Outcome, actor: str, now: datetime) -> None:
    """The workaround and the root cause, in the log of every open linked case."""
    for case in open_cases:
        assert case.id is not None
        if "workaround" in result.events:
            queries.add_log(s, case.id, now, actor, "problem",
                            f"workaround from problem P{problem.id}: {problem.workaround}")
        if "resolved" in result.events and not result.resolve_linked:
            queries.add_log(s, case.id, now, actor, "problem",
                            f"problem P{problem.id} resolved: {problem.root_cause}")


def _resolve_cases(s: Session, rt: Runtime, problem: Problem, open_cases: Sequence[Case],
                   msg: Inbound, now: datetime) -> list[int]:
    """``#resolve-linked``: each open linked case resolved with the root cause; its customer
    asked to confirm and rate by the usual mail."""
    assert problem.id is not None and problem.root_cause is not None
    done: list[int] = []
    for case in open_cases:
        assert case.id is not None
        outcome = cases.resolve_by_problem(queries.view_of(case), problem.root_cause,
                                           problem.id, now)
        if outcome is None:
            continue
        queries.store_view(case, outcome.case, now)
        write_log(s, case.id, now, msg.from_addr, outcome.log)
        notify_events(s, rt, case, outcome.events, staff_recipient(rt, msg.from_addr).name,
                      msg.from_addr, None)
        done.append(case.id)
    return done


def _result_mail(s: Session, rt: Runtime, msg: Inbound, problem: Problem,
                 commands: Sequence[Command], refusal: Refusal | None, now: datetime) -> None:
    """What the staff member's mail did to the problem (or why it did nothing)."""
    def verdict(c: Command) -> dict[str, Any]:
        refused = refusal is not None and c.line == refusal.line
        text = (f"#{c.tag} {c.arg}" if c.tag else c.arg).strip().split("\n")[0][:200]
        return {"number": c.line, "text": text,
                "verdict": "done" if refusal is None else ("refused" if refused else "skipped"),
                "reason": refusal.reason if refusal and refused else None,
                "reason_zh": refusal.zh if refusal and refused else None, "suggestion": None}

    ctx = base_context(rt, None)
    ctx["problem"] = problem_context(s, rt, problem, "result")
    ctx["transcript"] = {"applied": refusal is None, "lines": [verdict(c) for c in commands]}
    notice = notify.Notice("problem_result", staff_recipient(rt, msg.from_addr))
    assert problem.id is not None
    enqueue(s, rt, notice, ctx, now, in_reply_to=msg.message_id, token=(PROBLEM, problem.id))
