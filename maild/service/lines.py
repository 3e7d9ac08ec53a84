"""Support lines (rules/lines.toml): what a case's move up a line writes, and the automatic
move on a missed resolution target (``[sla] auto_escalate``).

The move itself is decided by the pure state machine (``core.cases.escalate_up``);
this module reads what it needs (``desk``: the catalogue's kinds, the lines and
their engineers' loads), records a move (``moved``: a ``line_moves`` row for the
reports and the new line's own resolution time) and runs the automatic move from
the SLA sweep. The automatic move is claimed by an ``sla_events`` row unique per
case and line (target ``line``, kind ``up<level>``), inserted before anything else
is written, exactly as the sweep claims its alerts: across restarts and replicas a
case leaves each line automatically at most once.
"""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy.exc as sa_exc
from sqlmodel import Session, col, select

from maild.core import cases, sla
from maild.core.ruleset import next_line
from maild.core.values import OPEN_STATUSES, Status
from maild.db import queries
from maild.db.models import Case, LineMove, SlaEvent
from maild.db.session import transaction
from maild.runtime import Runtime
from maild.service.isolated import each
from maild.service.opening import notify_events, write_log

log = logging.getLogger("maild.lines")

LINE_TARGET = "line"  # sla_events.target of an automatic move; kind "up<from level>"


def desk(s: Session, rt: Runtime) -> cases.Desk:
    """What #type, #assign and #escalate need besides the case (``core.cases.Desk``)."""
    rules = rt.rules
    engineers = [e for x in rules.lines for e in x.engineers]
    loads, last = queries.engineer_loads(s, engineers) if engineers else ({}, {})
    return cases.Desk(kinds={t.name: t.kind for t in rules.types if t.kind},
                      lines=rules.lines, loads=loads, last=last)


def set_line_due(rt: Runtime, case: Case, now: datetime) -> None:
    """A line that takes a case gets the case's whole resolution time from now before
    ``auto_escalate`` passes it further up (line 1's is the case's own deadline)."""
    target, cal = rt.rules.clock_for(case.priority, case.type, case.kind)
    case.line_due = sla.add_business_minutes(cal, now, target.resolution_minutes)


def moved(s: Session, rt: Runtime, case: Case, before: cases.CaseView, now: datetime,
          auto: bool = False) -> None:
    """Record that ``case`` went up from ``before.line`` (#escalate, or #assign to someone of
    a higher line); a case sent back down to line 1 runs on its own deadline again."""
    if case.line < before.line and case.line <= 1:
        case.line_due = case.resolution_due
    if case.line <= before.line or case.id is None:
        return
    s.add(LineMove(case_id=case.id, from_line=before.line, to_line=case.line,
                   engineer=case.engineer_email or "", auto=auto, at=now))
    set_line_due(rt, case, now)


def escalate_due(rt: Runtime, now: datetime) -> int:
    """The scheduled job: every open case whose line's time is up, one line up (when
    ``[sla] auto_escalate``); returns how many moved."""
    if not rt.settings.sla.auto_escalate or not rt.rules.lines:
        return 0
    with Session(rt.engine) as s:
        ids = list(s.exec(select(Case.id).where(
            col(Case.status).in_([st.value for st in OPEN_STATUSES]))
            .where(col(Case.line_due) <= now)))
    return each((i for i in ids if i is not None), lambda i: auto_escalate(rt, i, now),
                "automatic escalation of case")


def unmoved(s: Session, rt: Runtime, case: Case, at: datetime) -> None:
    """``#undo`` of an ``#escalate``: the moves of that mail are dropped (reports do not
    count them) and the case's line gets back its time, from its deadline or from now."""
    assert case.id is not None
    for move in s.exec(select(LineMove).where(LineMove.case_id == case.id)
                       .where(col(LineMove.at) >= at).where(col(LineMove.auto).is_(False))):
        s.delete(move)
    if case.line <= 1:
        case.line_due = case.resolution_due
    else:
        set_line_due(rt, case, at)


def auto_escalate(rt: Runtime, case_id: int, now: datetime) -> bool:
    """Move a case whose line has used up its resolution time one line up, once per line;
    True when it moved. Off unless ``[sla] auto_escalate``; nothing when no line is above."""
    if not rt.settings.sla.auto_escalate or not rt.rules.lines:
        return False
    with Session(rt.engine) as s:
        case = s.get(Case, case_id)
        if case is None or not _due(rt, case, now):
            return False
        level = case.line
    try:
        with transaction(rt.engine) as s:
            s.add(SlaEvent(case_id=case_id, target=LINE_TARGET, kind=f"up{level}", at=now))
            s.flush()  # the claim: another replica's insert of the same row fails here
            case = queries.get_case(s, case_id)
            if case is None or case.line != level or not _due(rt, case, now):
                raise _Stale
            before = queries.view_of(case)
            why = (f"resolution time of line {level} used up "
                   f"(due {case.line_due.isoformat() if case.line_due else '?'})")
            outcome = cases.escalate_up(before, desk(s, rt), now, why)
            if outcome is None:
                raise _Stale
            queries.store_view(case, outcome.case, now)
            write_log(s, case_id, now, "maild", outcome.log)
            moved(s, rt, case, before, now, auto=True)
            notify_events(s, rt, case, outcome.events, rt.settings.helpdesk.name, None, None)
    except (sa_exc.IntegrityError, _Stale):
        return False
    log.info("case %s: moved up from line %s automatically", case_id, level)
    return True


class _Stale(Exception):
    """The case changed between the look and the claim: roll the claim back."""


def _due(rt: Runtime, case: Case, now: datetime) -> bool:
    """Open, its line's time used up, and a line above it for its type."""
    return (Status(case.status) in OPEN_STATUSES and case.engineer_email is not None
            and case.line_due is not None and sla.as_utc(now) >= sla.as_utc(case.line_due)
            and next_line(rt.rules.lines, case.type, case.line) is not None)
