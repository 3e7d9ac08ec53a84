"""The problem state machine: many incidents, one root cause (docs/REFERENCE.md, "Problems").

A problem is opened from a case (``#problem <title>`` in a staff reply) and
then commanded through its own mail: ``#workaround`` makes it a known error,
``#resolve`` closes it with a root cause, and ``#resolve-linked`` beside
``#resolve`` also resolves its open linked cases. ``PROBLEM_TAGS`` is that
command table as data (who, from which statuses, to which status), like
``core.cases.TAGS``; ``apply`` runs one mail's tags all or nothing and returns
an ``Outcome`` (the new view, the events to tell people about, the cases to link)
or a ``core.cases.Refusal``. The service does what needs the database: the
cases a ``#link`` names and the cases ``#resolve-linked`` resolves.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from maild.core.cases import Refusal
from maild.core.values import STAFF_ROLES, Command, Role


class ProblemStatus(StrEnum):
    """A problem's status: open, a known error (a workaround is shared), resolved."""

    OPEN = "open"
    KNOWN_ERROR = "known_error"
    RESOLVED = "resolved"


STATUS_ZH: Mapping[ProblemStatus, str] = {
    ProblemStatus.OPEN: "处理中", ProblemStatus.KNOWN_ERROR: "已知错误",
    ProblemStatus.RESOLVED: "已解决",
}

UNRESOLVED = frozenset({ProblemStatus.OPEN, ProblemStatus.KNOWN_ERROR})


@dataclass(frozen=True)
class ProblemTag:
    """From which statuses a problem tag may be used, where it moves the problem."""

    from_statuses: frozenset[ProblemStatus]
    to_status: ProblemStatus | None
    needs_arg: bool
    usage: str


# Every problem tag is for staff (any staff role): a problem belongs to no one engineer.
PROBLEM_TAGS: Mapping[str, ProblemTag] = {
    "workaround": ProblemTag(UNRESOLVED, ProblemStatus.KNOWN_ERROR, True,
                             "#workaround <text>"),
    "link": ProblemTag(UNRESOLVED, None, True, "#link <case number>"),
    "resolve": ProblemTag(UNRESOLVED, ProblemStatus.RESOLVED, True, "#resolve <root cause>"),
    "resolve-linked": ProblemTag(UNRESOLVED, None, False, "#resolve-linked"),
}


@dataclass(frozen=True)
class ProblemView:
    """The parts of a problem the state machine reads and writes."""

    id: int
    title: str
    status: ProblemStatus
    workaround: str | None = None
    root_cause: str | None = None
    known_error_at: datetime | None = None
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class Outcome:
    """The problem after one mail's tags; ``link`` the cases to link, ``resolve_linked``
    whether its open linked cases are to be resolved with the root cause."""

    problem: ProblemView
    events: tuple[str, ...] = ()  # "workaround" | "resolved"
    link: tuple[int, ...] = ()
    resolve_linked: bool = False


_CASE_NUMBER = re.compile(r"^\s*[#＃]?\s*(\d{1,12})\s*$")
_PROBLEM_REF = re.compile(r"^\s*[Pp](\d{1,12})\s*$")


def case_number(arg: str) -> int | None:
    """``#link 12`` or ``#link #12`` → 12; None when the first line is not one number."""
    first = arg.strip().split("\n")[0]
    m = _CASE_NUMBER.match(first)
    return int(m.group(1)) if m else None


def problem_ref(arg: str) -> int | None:
    """``#problem P3`` names problem 3; any other argument is a new problem's title."""
    m = _PROBLEM_REF.match(arg.strip().split("\n")[0])
    return int(m.group(1)) if m else None


def title_of(arg: str) -> str:
    """A new problem's title: the first line of ``#problem``'s argument, at most 200 chars."""
    return " ".join(arg.strip().split("\n")[0].split())[:200]


def _refuse(cmd: Command, en: str, zh: str) -> Refusal:
    return Refusal(f"#{cmd.tag}: {en}", cmd.line, cmd.tag, f"#{cmd.tag}：{zh}")


def _check(problem: ProblemView, cmd: Command, role: Role | None) -> Refusal | None:
    """Why the tag cannot be used here; None when it can."""
    rule = PROBLEM_TAGS.get(cmd.tag)
    if rule is None:
        usage = ", ".join(r.usage for r in PROBLEM_TAGS.values())
        what = f"#{cmd.tag} is not a problem command" if cmd.tag else "no command tag"
        what_zh = f"#{cmd.tag} 不是问题单指令" if cmd.tag else "没有指令"
        return Refusal(f"{what} (use {usage})", cmd.line, cmd.tag or None,
                       f"{what_zh}（可用：{usage}）")
    if role not in STAFF_ROLES:
        return _refuse(cmd, "only helpdesk staff can use problem commands",
                       "只有服务台工作人员可以使用问题单指令")
    if problem.status not in rule.from_statuses:
        return _refuse(cmd, f"problem P{problem.id} is {problem.status.value}",
                       f"问题单 P{problem.id} 的状态为“{STATUS_ZH[problem.status]}”")
    if rule.needs_arg and not cmd.arg:
        return _refuse(cmd, f"needs more: {rule.usage}", f"缺少内容，用法：{rule.usage}")
    return None


def apply(problem: ProblemView, commands: Sequence[Command], role: Role | None,
          now: datetime) -> Outcome | Refusal:
    """Apply one mail's problem tags in order; the first refusal cancels them all.

    ``#resolve-linked`` only says what ``#resolve`` does to the linked cases, so it
    needs a ``#resolve`` in the same mail; the cases ``#link`` names are checked by
    the service (they must exist), which then refuses the whole mail as well."""
    events: list[str] = []
    links: list[int] = []
    resolve_linked = False
    start = problem
    for cmd in commands:
        refused = _check(start if cmd.tag == "resolve-linked" else problem, cmd, role)
        if refused:
            return refused
        if cmd.tag == "workaround":
            problem = replace(problem, status=ProblemStatus.KNOWN_ERROR, workaround=cmd.arg,
                              known_error_at=problem.known_error_at or now)
            events.append("workaround")
        elif cmd.tag == "link":
            number = case_number(cmd.arg)
            if number is None:
                return _refuse(cmd, f"{cmd.arg!r} is not a case number (#link 12)",
                               f"{cmd.arg!r} 不是工单号（例如 #link 12）")
            links.append(number)
        elif cmd.tag == "resolve":
            problem = replace(problem, status=ProblemStatus.RESOLVED, root_cause=cmd.arg,
                              resolved_at=now)
            events.append("resolved")
        else:  # resolve-linked
            resolve_linked = True
    if resolve_linked and "resolved" not in events:
        cmd = next(c for c in commands if c.tag == "resolve-linked")
        return _refuse(cmd, "goes with #resolve <root cause> in the same mail: the root "
                       "cause becomes the resolution of the linked cases",
                       "须与 #resolve <根本原因> 写在同一封邮件中："
                       "根本原因将作为关联工单的解决方案")
    return Outcome(problem, tuple(events), tuple(dict.fromkeys(links)),
                   resolve_linked)


def opened(problem_id: int, title: str) -> ProblemView:
    """A new problem, as ``#problem <title>`` opens it."""
    return ProblemView(problem_id, title, ProblemStatus.OPEN)
