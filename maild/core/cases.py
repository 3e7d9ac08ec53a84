"""The case state machine: tags and customer words → a new case state, or a refusal.

``TAGS`` is the whole command table as data (docs/REFERENCE §4): who may use a tag,
from which statuses, where it moves the case and whether it needs an
argument. ``apply`` runs a reply's commands in order on a frozen
``CaseView`` and returns either an ``Outcome`` (the new view, log lines and
events to notify about) or a ``Refusal`` naming the line and the reason, in
which case nothing changes (all or nothing).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo

from maild.core import complaints, visits, when
from maild.core.routing import least_loaded
from maild.core.ruleset import KINDS, Line, line_of, next_line
from maild.core.values import (
    ANSWERED_STATUSES,
    OPEN_STATUSES,
    STAFF_ROLES,
    Command,
    Role,
    Status,
)

ANY = frozenset(Status)
WORKING = frozenset({Status.DISPATCHED, Status.IN_PROGRESS})
ASSIGNED = "assigned engineer"
STAFF = "staff"
SUPERVISOR = "supervisor"  # a supervisor, or a manager (above them)
SUPERVISING = frozenset({Role.SUPERVISOR, Role.MANAGER})

PRIORITY_WORDS = {"high": "P2", "medium": "P3", "low": "P4", "urgent": "P1", "critical": "P1",
                  "高": "P2", "中": "P3", "低": "P4", "紧急": "P1"}


@dataclass(frozen=True)
class TagRule:
    """Who may use a tag, in which statuses, and what it does."""

    who: str  # ASSIGNED or STAFF
    from_statuses: frozenset[Status]
    to_status: Status | None
    needs_arg: bool
    usage: str


TAGS: Mapping[str, TagRule] = {
    "inprogress": TagRule(ASSIGNED, WORKING, Status.IN_PROGRESS, False, "#inprogress [note]"),
    "resolve": TagRule(ASSIGNED, WORKING, Status.RESOLVED, True, "#resolve <resolution>"),
    "log": TagRule(STAFF, ANY, None, True, "#log <note>"),
    "reply": TagRule(STAFF, ANY, None, True, "#reply <text>"),
    "assign": TagRule(STAFF, OPEN_STATUSES, Status.DISPATCHED, True,
                      "#assign <engineer email or name>"),
    "priority": TagRule(STAFF, OPEN_STATUSES, None, True, "#priority P1..P5"),
    "type": TagRule(STAFF, ANY, None, True, "#type <type>"),
    "reject": TagRule(ASSIGNED, WORKING, Status.NEW, True, "#reject <reason>"),
    "escalate": TagRule(STAFF, OPEN_STATUSES, None, False, "#escalate [note]"),
    "reopen": TagRule(STAFF, ANSWERED_STATUSES, Status.IN_PROGRESS, False, "#reopen [note]"),
    "close": TagRule(STAFF, ANY - {Status.CLOSED, Status.INVALID}, Status.CLOSED, False,
                     "#close [note]"),
    "invalid": TagRule(STAFF, OPEN_STATUSES, Status.INVALID, True, "#invalid <reason>"),
    "kb": TagRule(STAFF, ANSWERED_STATUSES, None, False, "#kb"),
    "visit": TagRule(ASSIGNED, WORKING, None, True, "#visit <when> [note]"),
    "arrived": TagRule(ASSIGNED, WORKING, Status.IN_PROGRESS, False, "#arrived [note]"),
    "kind": TagRule(STAFF, ANY, None, True, "#kind incident|request"),
    "complaint": TagRule(STAFF, ANY, None, True, "#complaint <what the customer said>"),
    "category": TagRule(STAFF, ANY, None, True,
                        "#category attitude|quality|timeliness|other"),
    "complaint-close": TagRule(SUPERVISOR, ANY, None, True, "#complaint-close <outcome>"),
    "problem": TagRule(STAFF, ANY, None, True, "#problem <title> | #problem P<n>"),
}

# What an outside vendor (a line of rules/lines.toml with an address) may do, and only on
# a case that is with them, through the case token their mail carries.
VENDOR_TAGS = frozenset({"log", "reply", "resolve"})

# #kind's argument, English and Chinese.
KIND_WORDS = {"incident": "incident", "fault": "incident", "事件": "incident",
              "故障": "incident", "request": "request", "service request": "request",
              "请求": "request", "服务请求": "request", "申请": "request"}

# Tags that are not about one case: answered by the service, never applied here.
MAILBOX_TAGS = frozenset({"search", "help", "mine", "queue"})


@dataclass(frozen=True)
class CaseView:
    """The parts of a case the state machine reads and writes."""

    id: int
    status: Status
    engineer: str | None
    priority: str
    type: str | None = None
    resolution: str | None = None
    rating: int | None = None
    kb: bool = False
    rejections: int = 0
    dispatched_at: datetime | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    work_started_at: datetime | None = None
    handling_seconds: int | None = None
    kind: str = "incident"
    line: int = 1  # the support line the case is with: 1 site, 2 specialists, 3 vendor
    complaint: str | None = None  # the category of the case's open complaint; None: none


@dataclass(frozen=True)
class Desk:
    """What some tags need beyond the case, read by the service before ``apply``: each
    type's catalogue kind (#type), the support lines and their engineers' loads (#assign,
    #escalate)."""

    kinds: Mapping[str, str] = field(default_factory=dict)  # type → the kind it declares
    lines: tuple[Line, ...] = ()
    loads: Mapping[str, int] = field(default_factory=dict)  # open cases per line engineer
    last: Mapping[str, datetime] = field(default_factory=dict)  # their last dispatch


@dataclass(frozen=True)
class Event:
    """Something happened that someone should be told about (see core.notify)."""

    kind: str
    note: str | None = None
    old_engineer: str | None = None
    visit: visits.Window | None = None  # a ``#visit``: when the engineer will be there


@dataclass(frozen=True)
class Outcome:
    case: CaseView
    log: tuple[tuple[str, str], ...] = ()  # (kind, text)
    events: tuple[Event, ...] = ()


# Status names as Chinese staff read them (the templates use the same words).
STATUS_ZH: Mapping[Status, str] = {
    Status.NEW: "新建", Status.DISPATCHED: "已派单", Status.IN_PROGRESS: "处理中",
    Status.RESOLVED: "已解决", Status.CLOSED: "已关闭", Status.INVALID: "无效",
}


@dataclass(frozen=True)
class Refusal:
    """Why a reply's commands were not applied; becomes an error reply. ``zh`` is the same
    reason in Chinese, for a transcript in the staff member's language."""

    reason: str
    line: int | None = None
    tag: str | None = None
    zh: str = ""


@dataclass(frozen=True)
class Actor:
    email: str
    role: Role
    engineers: Mapping[str, str] = field(default_factory=dict)  # email → name, for #assign
    desk: Desk = field(default_factory=Desk)
    problems: Mapping[int, str] = field(default_factory=dict)  # id → status, for #problem P<n>
    tz: tzinfo = UTC  # the helpdesk's time zone, in which #visit times are meant


def _allowed(tag: str, rule: TagRule, case: CaseView, actor: Actor) -> tuple[str, str] | None:
    """Why ``actor`` may not use the tag here, in English and Chinese; None: they may."""
    if actor.role == Role.VENDOR:
        if tag not in VENDOR_TAGS:
            return ("a vendor can use only #log, #reply and #resolve",
                    "外部厂商只能使用 #log、#reply 和 #resolve")
        if actor.email != case.engineer:
            return ("this case is no longer with you", "本工单已不在您处理")
        return None
    if actor.role not in STAFF_ROLES:
        return "only helpdesk staff can use command tags", "只有服务台工作人员可以使用指令"
    if rule.who == SUPERVISOR and actor.role not in SUPERVISING:
        return "only a supervisor can use it", "只有客服主管可以使用"
    if rule.who == ASSIGNED and (actor.role != Role.ENGINEER or actor.email != case.engineer):
        return ("only the engineer assigned to this case can use it",
                "只有本工单的负责工程师可以使用")
    if actor.role == Role.ENGINEER and case.engineer not in (None, actor.email) \
            and rule is not TAGS["log"]:
        # a token outlives its holder's relation to the case: after #assign to someone
        # else, the previous engineer may still add a note, but no longer move the case
        return ("this case is assigned to another engineer: you can only use #log",
                "本工单已派给其他工程师：您只能使用 #log")
    return None


def find_engineer(arg: str, engineers: Mapping[str, str]) -> str | None:
    """An engineer by email or (case-insensitive) name."""
    wanted = arg.strip().strip("<>").lower()
    for email, name in engineers.items():
        if wanted in (email.lower(), name.lower()):
            return email
    return None


def close_engineers(arg: str, engineers: Mapping[str, str]) -> list[str]:
    """Up to three engineers whose name or address resembles ``arg`` (for the error reply)."""
    wanted = arg.strip().strip("<>").lower()
    names = {name.lower(): f"{name} <{email}>" for email, name in engineers.items()}
    names |= {email.lower(): f"{name} <{email}>" for email, name in engineers.items()}
    found = difflib.get_close_matches(wanted, list(names), n=3, cutoff=0.6)
    return list(dict.fromkeys(names[f] for f in found))


def parse_priority(arg: str) -> str | None:
    word = arg.strip().split()[0] if arg.strip() else ""
    upper = word.upper()
    if upper in ("P1", "P2", "P3", "P4", "P5"):
        return upper
    return PRIORITY_WORDS.get(word.lower())


def _stop_clock(case: CaseView, now: datetime) -> CaseView:
    """Add the time worked since dispatch (or reopen) to the handling time."""
    if case.work_started_at is None:
        return case
    worked = int((now - case.work_started_at).total_seconds())
    return replace(case, handling_seconds=(case.handling_seconds or 0) + max(worked, 0),
                   work_started_at=None)


def _responded(case: CaseView, actor: Actor, now: datetime) -> CaseView:
    if case.first_response_at is None and actor.role == Role.ENGINEER:
        return replace(case, first_response_at=now)
    return case


def _apply_one(case: CaseView, cmd: Command, actor: Actor, now: datetime) -> Outcome | Refusal:
    """One command on one case state."""
    if cmd.tag in MAILBOX_TAGS:
        return Refusal(f"#{cmd.tag} is sent on its own to the helpdesk address, not in a "
                       "reply to a case", cmd.line, cmd.tag,
                       f"#{cmd.tag} 请单独发到服务台地址，不要写在工单回复里")
    if actor.role == Role.VENDOR and cmd.tag not in VENDOR_TAGS:
        return Refusal(f"#{cmd.tag}: a vendor can use only #log, #reply and #resolve",
                       cmd.line, cmd.tag, f"#{cmd.tag}：外部厂商只能使用 #log、#reply 和 #resolve")
    rule = TAGS.get(cmd.tag)
    if rule is None:
        return Refusal(f"#{cmd.tag} is not a command", cmd.line, cmd.tag,
                       f"#{cmd.tag} 不是指令")
    denied = _allowed(cmd.tag, rule, case, actor)
    if denied:
        return Refusal(f"#{cmd.tag}: {denied[0]}", cmd.line, cmd.tag,
                       f"#{cmd.tag}：{denied[1]}")
    if case.status not in rule.from_statuses:
        return Refusal(f"#{cmd.tag} cannot be used on a case that is {case.status.value}",
                       cmd.line, cmd.tag,
                       f"#{cmd.tag} 不能用于状态为“{STATUS_ZH[case.status]}”的工单")
    if rule.needs_arg and not cmd.arg:
        return Refusal(f"#{cmd.tag} needs more: {rule.usage}", cmd.line, cmd.tag,
                       f"#{cmd.tag} 缺少内容，用法：{rule.usage}")
    handler = _HANDLERS[cmd.tag]
    return handler(case, cmd, actor, now)


def _inprogress(case: CaseView, cmd: Command, actor: Actor, now: datetime) -> Outcome:
    new = _responded(replace(case, status=Status.IN_PROGRESS), actor, now)
    log = (("status", f"in_progress{': ' + cmd.arg if cmd.arg else ''}"),)
    return Outcome(new, log, (Event("in_progress", cmd.arg or None),))


def _resolve(case: CaseView, cmd: Command, actor: Actor, now: datetime) -> Outcome:
    new = _stop_clock(_responded(case, actor, now), now)
    new = replace(new, status=Status.RESOLVED, resolution=cmd.arg, resolved_at=now)
    return Outcome(new, (("resolution", cmd.arg),), (Event("resolved", cmd.arg),))


def _log(case: CaseView, cmd: Command, actor: Actor, now: datetime) -> Outcome:
    return Outcome(_responded(case, actor, now), (("note", cmd.arg),))


def _reply(case: CaseView, cmd: Command, actor: Actor, now: datetime) -> Outcome:
    return Outcome(_responded(case, actor, now), (("reply", cmd.arg),),
                   (Event("staff_reply", cmd.arg),))


def _assign(case: CaseView, cmd: Command, actor: Actor, now: datetime) -> Outcome | Refusal:
    email = find_engineer(cmd.arg, actor.engineers)
    if email is None:
        hint = close_engineers(cmd.arg, actor.engineers)
        also = f"; did you mean {' or '.join(hint)}?" if hint else ""
        also_zh = f"；您是否想找 {' 或 '.join(hint)}？" if hint else ""
        return Refusal(f"#assign: no engineer called {cmd.arg!r}{also}", cmd.line, cmd.tag,
                       f"#assign：没有名为 {cmd.arg!r} 的工程师{also_zh}")
    new = replace(case, status=Status.DISPATCHED, engineer=email, dispatched_at=now,
                  work_started_at=case.work_started_at or now,
                  line=line_of(actor.desk.lines, case.type, email))
    log: tuple[tuple[str, str], ...] = (("assign", f"assigned to {email}"),)
    if case.complaint is not None and case.engineer not in (None, email):
        log = (("void", f"the dispatch to {case.engineer} is void (complaint: "
                f"{case.complaint}); re-dispatched to {email}"),)
    return Outcome(new, log, (Event("assigned", None, old_engineer=case.engineer),))


def _priority(case: CaseView, cmd: Command, actor: Actor, now: datetime) -> Outcome | Refusal:
    prio = parse_priority(cmd.arg)
    if prio is None:
        return Refusal(f"#priority: {cmd.arg!r} is not a priority (use P1..P5, high, medium "
                       "or low)", cmd.line, cmd.tag,
                       f"#priority：{cmd.arg!r} 不是优先级（请用 P1..P5、high、medium 或 low）")
    return Outcome(replace(case, priority=prio), (("priority", f"{case.priority} → {prio}"),))


def _type(case: CaseView, cmd: Command, actor: Actor, now: datetime) -> Outcome:
    """A new type; its catalogue kind comes with it, when the catalogue gives one."""
    new_type = cmd.arg.split("\n")[0].strip().lower()
    kind = actor.desk.kinds.get(new_type, case.kind)
    log = [("type", f"{case.type} → {new_type}")]
    if kind != case.kind:
        log.append(("kind", f"{case.kind} → {kind} (the kind of type {new_type})"))
    return Outcome(replace(case, type=new_type, kind=kind), tuple(log))


def parse_kind(arg: str) -> str | None:
    """incident or request from #kind's argument (English or Chinese); None: neither."""
    word = " ".join(arg.split("\n")[0].split()).lower().rstrip(".。")
    found = KIND_WORDS.get(word) or KIND_WORDS.get(word.split(" ")[0] if word else "")
    return found if found in KINDS else None


def _kind(case: CaseView, cmd: Command, actor: Actor, now: datetime) -> Outcome | Refusal:
    kind = parse_kind(cmd.arg)
    if kind is None:
        return Refusal(f"#kind: {cmd.arg!r} is not a kind (use incident or request)",
                       cmd.line, cmd.tag,
                       f"#kind：{cmd.arg!r} 不是类别（请用 incident 或 request）")
    return Outcome(replace(case, kind=kind), (("kind", f"{case.kind} → {kind}"),))


def _reject(case: CaseView, cmd: Command, actor: Actor, now: datetime) -> Outcome:
    new = _stop_clock(case, now)
    new = replace(new, status=Status.NEW, engineer=None, rejections=case.rejections + 1)
    events = [Event("rejected", cmd.arg, old_engineer=case.engineer)]
    if new.rejections >= 2:
        events.append(Event("escalated", f"rejected {new.rejections} times: {cmd.arg}"))
    return Outcome(new, (("reject", cmd.arg),), tuple(events))


def _escalate(case: CaseView, cmd: Command, actor: Actor, now: datetime) -> Outcome:
    """From the assigned engineer: up to the next support line for the case's type, if
    there is one; otherwise (or from other staff) the incident manager is told."""
    if actor.role == Role.ENGINEER and actor.email == case.engineer:
        up = escalate_up(case, actor.desk, now, cmd.arg or f"escalated by {actor.email}")
        if up is not None:
            return up
    return Outcome(case, (("escalate", cmd.arg or "escalated"),), (Event("escalated", cmd.arg),))


def escalate_up(case: CaseView, desk: Desk, now: datetime, why: str) -> Outcome | None:
    """The case moved to the next line for its type (its least-loaded engineer, or the
    vendor), ``dispatched`` there; None when no line is above it. Handling time and the
    first dispatch stand: the case is the same piece of work, passed on."""
    line = next_line(desk.lines, case.type, case.line)
    if line is None:
        return None
    who = line.address or least_loaded(line.engineers, desk.loads, desk.last)
    if who is None:
        return None
    new = replace(case, status=Status.DISPATCHED, engineer=who, line=line.level,
                  work_started_at=case.work_started_at or now)
    log = (("escalate", f"line {case.line} → line {line.level} ({line.name}): {why}"),
           ("assign", f"escalated to {who}"))
    return Outcome(new, log, (Event("escalated_up", why, old_engineer=case.engineer),))


def _reopen(case: CaseView, cmd: Command, actor: Actor, now: datetime) -> Outcome:
    new = replace(case, status=Status.IN_PROGRESS, closed_at=None, resolved_at=None,
                  work_started_at=now)
    return Outcome(new, (("reopen", cmd.arg or "reopened"),), (Event("reopened", cmd.arg),))


def _close(case: CaseView, cmd: Command, actor: Actor, now: datetime) -> Outcome:
    new = replace(_stop_clock(case, now), status=Status.CLOSED, closed_at=now)
    return Outcome(new, (("close", cmd.arg or "closed"),), (Event("closed", cmd.arg),))


def _invalid(case: CaseView, cmd: Command, actor: Actor, now: datetime) -> Outcome:
    new = replace(_stop_clock(case, now), status=Status.INVALID, closed_at=now)
    return Outcome(new, (("invalid", cmd.arg),), (Event("invalid", cmd.arg),))


def _kb(case: CaseView, cmd: Command, actor: Actor, now: datetime) -> Outcome | Refusal:
    if not case.resolution:
        return Refusal("#kb: the case has no resolution to keep", cmd.line, cmd.tag,
                       "#kb：本工单还没有可收录的解决方案")
    return Outcome(replace(case, kb=True), (("kb", "resolution marked for the knowledge base"),))


def _visit(case: CaseView, cmd: Command, actor: Actor, now: datetime) -> Outcome | Refusal:
    local = now.astimezone(actor.tz)
    window = visits.parse(cmd.arg, local)
    forms = ", ".join(visits.FORMS)
    if window is None:
        return Refusal(f"#visit: {cmd.arg.splitlines()[0]!r} is not a time I can read; write "
                       f"one of these forms: {forms}", cmd.line, cmd.tag,
                       f"#visit：无法识别时间 {cmd.arg.splitlines()[0]!r}，请按以下格式之一书写："
                       f"{forms}")
    if window.end <= local:
        return Refusal("#visit: that time has already passed; give a day for a later one "
                       "(tomorrow 9:30, 明天 9:30, 2026-12-02 14:00)", cmd.line, cmd.tag,
                       "#visit：该时间已过，请写明日期（如 明天 9:30、2026-12-02 14:00）")
    span = f"{when.human(window.start)} – {window.end.strftime('%H:%M')}"
    if window.end.date() != window.start.date():
        span = f"{when.human(window.start)} – {when.human(window.end)}"
    text = span + (f": {window.note}" if window.note else "")
    return Outcome(_responded(case, actor, now), (("visit", text),),
                   (Event("visit", window.note or None, visit=window),))


def _arrived(case: CaseView, cmd: Command, actor: Actor, now: datetime) -> Outcome:
    new = _responded(replace(case, status=Status.IN_PROGRESS), actor, now)
    text = "arrived on site" + (f": {cmd.arg}" if cmd.arg else "")
    return Outcome(new, (("arrived", text),), (Event("arrived", cmd.arg or None),))


def _complaint(case: CaseView, cmd: Command, actor: Actor, now: datetime) -> Outcome:
    """Staff record a complaint the customer made by phone or in person."""
    category = complaints.guess_category(cmd.arg)
    new = replace(case, complaint=case.complaint or category)
    return Outcome(new, (("complaint", f"complaint ({category}): {cmd.arg}"),),
                   (Event("complaint", cmd.arg),))


def _category(case: CaseView, cmd: Command, actor: Actor, now: datetime) -> Outcome | Refusal:
    if case.complaint is None:
        return Refusal("#category: the case has no open complaint", cmd.line, cmd.tag,
                       "#category：本工单没有未结的投诉")
    category = complaints.parse_category(cmd.arg)
    if category is None:
        return Refusal(f"#category: {cmd.arg!r} is not a category (use attitude, quality, "
                       "timeliness or other)", cmd.line, cmd.tag,
                       f"#category：{cmd.arg!r} 不是投诉类别（请用 态度、质量、超时 或 其他）")
    return Outcome(replace(case, complaint=category),
                   (("complaint", f"category {case.complaint} → {category}"),),
                   (Event("complaint_category", category),))


def _complaint_close(case: CaseView, cmd: Command, actor: Actor,
                     now: datetime) -> Outcome | Refusal:
    if case.complaint is None:
        return Refusal("#complaint-close: the case has no open complaint", cmd.line, cmd.tag,
                       "#complaint-close：本工单没有未结的投诉")
    return Outcome(replace(case, complaint=None),
                   (("complaint", f"complaint closed: {cmd.arg}"),),
                   (Event("complaint_closed", cmd.arg),))
def _problem(case: CaseView, cmd: Command, actor: Actor, now: datetime) -> Outcome | Refusal:
    """Open a problem or link to one: the service does it on the ``problem`` event; here,
    only whether the problem named exists and is not resolved (all or nothing)."""
    first = cmd.arg.strip().split("\n")[0].strip()
    m = re.fullmatch(r"[Pp](\d{1,12})", first)
    if m is None:
        return Outcome(case, (), (Event("problem", first[:200]),))
    status = actor.problems.get(int(m.group(1)))
    if status is None:
        return Refusal(f"#problem: there is no problem {first.upper()} (to open one: "
                       "#problem <title>)", cmd.line, cmd.tag,
                       f"#problem：没有问题单 {first.upper()}（新建请用 #problem <标题>）")
    if status == "resolved":
        return Refusal(f"#problem: problem {first.upper()} is resolved; open a new one with "
                       "#problem <title>", cmd.line, cmd.tag,
                       f"#problem：问题单 {first.upper()} 已解决，请用 #problem <标题> 新建")
    return Outcome(case, (), (Event("problem", first.upper()),))


_HANDLERS = {
    "inprogress": _inprogress, "resolve": _resolve, "log": _log, "reply": _reply,
    "assign": _assign, "priority": _priority, "type": _type, "reject": _reject,
    "escalate": _escalate, "reopen": _reopen, "close": _close, "invalid": _invalid, "kb": _kb,
    "visit": _visit, "arrived": _arrived,
    "kind": _kind,
    "complaint": _complaint, "category": _category, "complaint-close": _complaint_close,
    "problem": _problem,
}


def apply(case: CaseView, commands: Sequence[Command], actor: Actor,
          now: datetime) -> Outcome | Refusal:
    """Apply every command in order; the first refusal cancels them all."""
    log: list[tuple[str, str]] = []
    events: list[Event] = []
    for cmd in commands:
        result = _apply_one(case, cmd, actor, now)
        if isinstance(result, Refusal):
            return result
        case = result.case
        log.extend(result.log)
        events.extend(result.events)
    return Outcome(case, tuple(log), tuple(events))


def customer_action(case: CaseView, action: str, rating: int | None,
                    now: datetime) -> Outcome | None:
    """A customer's confirm / reopen / rating on a resolved case (REFERENCE §5); None: no change.

    A rating is also taken on a closed case: customers often rate after confirming."""
    if action == "rate" and rating is not None and case.status in ANSWERED_STATUSES:
        return Outcome(replace(case, rating=rating), (("rating", str(rating)),))
    if case.status != Status.RESOLVED:
        return None
    if action == "confirm":
        new = replace(case, status=Status.CLOSED, closed_at=now)
        return Outcome(new, (("close", "confirmed by the customer"),), (Event("closed"),))
    if action == "reopen":
        new = replace(case, status=Status.IN_PROGRESS, resolved_at=None, work_started_at=now)
        return Outcome(new, (("reopen", "reopened by the customer"),), (Event("reopened"),))
    return None


def resolve_by_problem(case: CaseView, root_cause: str, problem_id: int,
                       now: datetime) -> Outcome | None:
    """An open case resolved by ``#resolve-linked`` on its problem: the root cause is its
    resolution and its customer is asked to confirm, as after ``#resolve``; None for a
    case that is no longer open (left as it is)."""
    if case.status not in OPEN_STATUSES:
        return None
    new = _stop_clock(case, now)
    # the resolution mail is the customer's first answer if nobody answered before
    new = replace(new, status=Status.RESOLVED, resolution=root_cause, resolved_at=now,
                  first_response_at=case.first_response_at or now)
    return Outcome(new, (("resolution", root_cause),
                         ("problem", f"resolved with problem P{problem_id}")),
                   (Event("resolved", root_cause),))


def dispatch(case: CaseView, engineer: str | None, now: datetime) -> Outcome:
    """A new case: dispatched to ``engineer``, or left ``new`` for the operators."""
    if engineer is None:
        return Outcome(case, (("status", "new: no engineer could be chosen"),),
                       (Event("unassigned"),))
    new = replace(case, status=Status.DISPATCHED, engineer=engineer, dispatched_at=now,
                  work_started_at=now)
    return Outcome(new, (("assign", f"dispatched to {engineer}"),), (Event("dispatched"),))
