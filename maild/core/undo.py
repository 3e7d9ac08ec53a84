"""``#undo``: may this staff member take back their last command mail on a case, and to what?

Every applied command mail is kept as a ``Step``: the case's fields before and
after it, as plain JSON-able values (``snapshot``), and who was told. The rule
(``refusal``) is pure: only the author of the case's latest step, only within
the window, only while the case still looks exactly as that step left it (a
customer's confirmation or the auto-close after it make the step history),
and a step is undone once.
"""

from __future__ import annotations

from collections.abc import Mapping
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


# Kept in a table of its own, not on the case: ``#undo`` does not take back complaint tags.
_NOT_KEPT = frozenset({"complaint"})


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
            window_minutes: int) -> tuple[str, str] | None:
    """Why ``author`` may not undo ``latest`` (the case's latest step), in English and
    Chinese, or None: they may."""
    if latest is None or latest.undone:
        return NOTHING
    if latest.author.lower() != author.lower():
        return (f"another command came after yours (from {latest.author}); "
                "only the last command mail can be undone, by its author",
                f"您的指令之后还有别人的指令（{latest.author}）；只有最后一封指令邮件"
                "可以由其发件人撤销")
    if now - latest.at > timedelta(minutes=window_minutes):
        return (f"too late: a command can be undone only within {window_minutes} minutes",
                f"太晚了：指令只能在 {window_minutes} 分钟内撤销")
    if snapshot(current) != dict(latest.after):
        return ("the case has changed since your command; nothing was undone",
                "您的指令之后工单已有变化；未撤销任何内容")
    return None


NOTHING = ("there is nothing to undo on this case", "本工单没有可撤销的指令")
ALONE = ("#undo goes alone in its mail", "#undo 须单独写在一封邮件里")
