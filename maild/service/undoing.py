"""``#undo``: a staff member takes back their last command mail on a case (docs/REFERENCE §4).

The rule is ``core.undo.refusal``; here the case's latest step
(``db.models.CommandStep``) is read, its fields put back with its problem link
and the complaints it opened or changed, the step marked undone, the log
written, and everyone that mail told gets a "please disregard" — all in the
transaction of the ``#undo`` mail, which gets its own transcript.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from maild.core import notify, transcript, undo
from maild.core.cases import Refusal
from maild.core.values import Command, Disposition, Inbound
from maild.db import queries
from maild.db.models import Case
from maild.runtime import Runtime
from maild.service import complaints, transcripts, visits
from maild.service.lines import unmoved
from maild.service.notices import enqueue, staff_recipient
from maild.service.opening import Handled
from maild.service.sla import set_deadlines


def take_back(s: Session, rt: Runtime, msg: Inbound, case: Case, commands: Sequence[Command],
                   new_text: str, now: datetime) -> Handled:
    """Revert the sender's last command mail on ``case``, or refuse and say why."""
    assert case.id is not None
    first = next(c for c in commands if c.tag == transcript.UNDO)
    step = transcripts.latest(s, case.id)
    kept = transcripts.as_step(step)
    rows = complaints.rows_of(s, case.id) if kept and kept.after.get(undo.COMPLAINTS) else {}
    why = (undo.ALONE if len(commands) > 1 else
           undo.refusal(kept, msg.from_addr, queries.view_of(case), now,
                        rt.settings.helpdesk.undo_minutes, case.problem_id, rows))
    if why is not None or step is None:
        why = why or undo.NOTHING
        lines = transcript.lines(commands, new_text,
                                 Refusal(why[0], first.line, first.tag, why[1]))
        transcripts.send(s, rt, msg, case, lines, False, [], now)
        return Handled(Disposition.REJECTED, case.id, f"#undo: {why[0]}")
    start = transcripts.mark(s)
    old_clock, old_line = (case.priority, case.type, case.kind), case.line
    queries.store_view(case, undo.restore(queries.view_of(case), step.before), now)
    if (case.priority, case.type, case.kind) != old_clock:
        set_deadlines(rt, case)
    if case.line < old_line:  # an #escalate taken back: the move never happened
        unmoved(s, rt, case, step.at)
    step.undone_at = now
    s.add(step)
    visits.take_back(s, case.id, step.at)
    assert kept is not None
    also = _records_back(s, case, kept, now)
    queries.add_log(s, case.id, now, msg.from_addr, "undo",
                    f"took back the command mail of {step.at.isoformat()}: status "
                    f"{step.after.get('status')} → {case.status}, priority "
                    f"{step.after.get('priority')} → {case.priority}, engineer "
                    f"{step.after.get('engineer')} → {case.engineer_email}{also}")
    actor = staff_recipient(rt, msg.from_addr).name
    for told in step.told:
        who = transcripts.recipient(s, rt, case, told["email"])
        notice = notify.Notice("undone", who, actor)
        enqueue(s, rt, notice, transcripts.disregard_context(rt, s, case, told["subject"]), now,
                case=case, in_reply_to=msg.message_id)
    sent = transcripts.told(transcripts.sent_since(s, start))
    transcripts.send(s, rt, msg, case, transcript.lines(commands, new_text, None), True, sent,
                     now)
    return Handled(Disposition.COMMAND, case.id, f"#undo: took back the mail of {step.at}")


def _records_back(s: Session, case: Case, step: undo.Step, now: datetime) -> str:
    """The problem link and the complaints put back as they were before the step's mail;
    what changed, for the log line."""
    assert case.id is not None
    said = ""
    if undo.PROBLEM in step.before and case.problem_id != step.before[undo.PROBLEM]:
        was = step.before[undo.PROBLEM]
        said += (f", problem P{case.problem_id} → "
                 f"{f'P{was}' if was is not None else 'none'}")
        case.problem_id = was
        case.updated_at = now
    back = undo.complaints_back(step)
    if back:
        complaints.put_back(s, case.id, back)
        said += ", complaint " + ("taken back" if all(v is None for v in back.values())
                                  else "put back as it was")
    return said
