"""``#undo``: may this staff member take back their last command mail on a case, and to what?

Every applied command mail is kept as a ``Step``: the case's fields before and
after it, as plain JSON-able values (``snapshot``), and who was told. Beside the
case's fields a step keeps what else its mail changed (``records``): the case's
problem link, and the complaint rows it opened or changed (``touched``). The rule
(``refusal``) is pure: only the author of the case's latest step, only within
the window, only while the case, its problem link and those complaints still
look exactly as that step left them (a customer's confirmation, the auto-close,
or a customer adding to the complaint make the step history), and while no
complaint was made on the case since (``KNOWN``: a closed complaint reopened
beside a new one would leave two open), never a mail that opened a problem, and
a step is undone once.

A complaint the mail opened is taken back whole (recorded on the wrong case, it
would count against the engineer); one it re-categorised, closed or added to gets
its fields back. A ``#problem P<n>`` link is put back as it was. A problem the mail
*opened* is not taken back: its number and its reply address went to the incident
manager, and deleting the row could give that number (on SQLite) to the next
problem, on which replies to the old mail would then act; so ``#undo`` refuses,
says why, and changes nothing (all or nothing, like the commands themselves).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from maild.core.cases import CaseView
from maild.core.values import Status

_TIMES = frozenset({"dispatched_at", "first_response_at", "resolved_at", "closed_at",
                    "work_started_at"})


@dataclass(frozen=True)
class Step:
    """One applied command mail on a case."""

    author: str
    at: datetime
    before: Mapping[str, Any]
    after: Mapping[str, Any]
    undone: bool = False


# The view's open-complaint category comes from the complaint rows, kept as ``COMPLAINTS``.
_NOT_KEPT = frozenset({"complaint"})

# What a step keeps beside the case's fields (``records``); absent from older steps.
PROBLEM = "problem_id"  # the case's problem link
COMPLAINTS = "complaints"  # complaint rows the mail opened or changed: "id" → fields (None: none)
OPENED = "opened_problem"  # (after only) the problem the mail opened
KNOWN = "complaint_ids"  # (after only) every complaint row of the case after the mail
_RECORDS = frozenset({PROBLEM, COMPLAINTS, OPENED, KNOWN})

# The tags that change complaint rows: only a mail with one of them has its rows read.
COMPLAINT_TAGS = frozenset({"complaint", "category", "complaint-close"})
Fields = Mapping[str, Any]  # a complaint row as JSON values (``service.complaints.fields``)


def touched(before: Mapping[int, Fields], after: Mapping[int, Fields]
            ) -> tuple[dict[str, Fields | None], dict[str, Fields | None]]:
    """The complaint rows a mail opened or changed, from the case's rows before and after
    it: their fields before (None: the mail opened it) and after, keyed by id as JSON
    keys are."""
    ids = [i for i in sorted(after) if before.get(i) != after[i]]
    return ({str(i): before.get(i) for i in ids}, {str(i): after[i] for i in ids})


def records(problem_id: int | None, complaints: Mapping[str, Fields | None],
            opened: int | None = None, known: Iterable[int] | None = None) -> dict[str, Any]:
    """What a step keeps beside the case's fields, to merge into its ``before``/``after``;
    ``known`` (after only): the ids of all the case's complaint rows after the mail."""
    out: dict[str, Any] = {PROBLEM: problem_id, COMPLAINTS: dict(complaints)}
    if opened is not None:
        out[OPENED] = opened
    if known is not None:
        out[KNOWN] = sorted(known)
    return out


def snapshot(view: CaseView) -> dict[str, Any]:
    """The view as JSON values (times in ISO 8601), to store and to compare."""
    out: dict[str, Any] = {}
    for f in fields(view):
        if f.name in _NOT_KEPT:
            continue
        value = getattr(view, f.name)
        if isinstance(value, datetime):
            value = value.astimezone(UTC).isoformat()  # one spelling, whatever the zone
        elif isinstance(value, Status):
            value = value.value
        out[f.name] = value
    return out


def restore(current: CaseView, data: Mapping[str, Any]) -> CaseView:
    """``current`` with every field ``data`` holds put back (the id never changes)."""
    changes: dict[str, Any] = {}
    for name, value in data.items():
        if name == "id" or not hasattr(current, name):
            continue
        if name in _TIMES and value is not None:
            value = datetime.fromisoformat(value)
        elif name == "status":
            value = Status(value)
        changes[name] = value
    return replace(current, **changes)


def refusal(latest: Step | None, author: str, current: CaseView, now: datetime,
            window_minutes: int, problem_id: int | None = None,
            complaints: Mapping[int, Fields] | None = None) -> tuple[str, str] | None:
    """Why ``author`` may not undo ``latest`` (the case's latest step), in English and
    Chinese, or None: they may. ``problem_id`` and ``complaints`` (the case's complaint
    rows by id) are the case's records now, compared with what the step left."""
    if latest is None or latest.undone:
        return NOTHING
    if latest.author.lower() != author.lower():
        return (f"another command came after yours (from {latest.author}); "
                "only the last command mail can be undone, by its author",
                f"您的指令之后还有别人的指令（{latest.author}）；只有最后一封指令邮件"
                "可以由其发件人撤销")
    opened = latest.after.get(OPENED)
    if opened is not None:
        return (f"your mail opened problem P{opened}, and a problem once announced stays: "
                "#undo cannot take it back, so nothing was undone (to move the case to "
                "another problem: #problem P<n>)",
                f"您的邮件新建了问题单 P{opened}，问题单一经通知即不能撤销，因此未撤销任何内容"
                "（如需把工单改挂到其他问题单：#problem P<n>）")
    if now - latest.at > timedelta(minutes=window_minutes):
        return (f"too late: a command can be undone only within {window_minutes} minutes",
                f"太晚了：指令只能在 {window_minutes} 分钟内撤销")
    left = {k: v for k, v in latest.after.items() if k not in _RECORDS}
    if snapshot(current) != left or \
            (PROBLEM in latest.after and latest.after[PROBLEM] != problem_id):
        return ("the case has changed since your command; nothing was undone",
                "您的指令之后工单已有变化；未撤销任何内容")
    rows = complaints or {}
    kept: Mapping[str, Fields | None] = latest.after.get(COMPLAINTS) or {}
    if any(rows.get(int(i)) != fields for i, fields in kept.items()):
        return ("the complaint has changed since your command; nothing was undone",
                "您的指令之后投诉已有变化；未撤销任何内容")
    known = latest.after.get(KNOWN)
    if known is not None and set(rows) - set(known):
        return ("a new complaint was made on the case since your command; nothing was "
                "undone", "您的指令之后本工单又有了新的投诉；未撤销任何内容")
    back = complaints_back(latest)
    after = {i: f for i, f in rows.items() if i not in back}
    after |= {i: f for i, f in back.items() if f is not None}
    if sum(f["status"] == "open" for f in after.values()) > 1:
        return ("undoing your command would leave more than one complaint open on the "
                "case; nothing was undone",
                "撤销您的指令会使本工单同时有多个未结投诉；未撤销任何内容")
    return None


def complaints_back(step: Step) -> dict[int, Fields | None]:
    """Each complaint row the step's mail opened or changed → its fields before the mail,
    None for one the mail opened (it goes)."""
    kept: Mapping[str, Fields | None] = step.before.get(COMPLAINTS) or {}
    return {int(i): fields for i, fields in kept.items()}


NOTHING = ("there is nothing to undo on this case", "本工单没有可撤销的指令")
ALONE = ("#undo goes alone in its mail", "#undo 须单独写在一封邮件里")
