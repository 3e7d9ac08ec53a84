"""The case state machine: every (status, tag, role) cell ends in a move, a log or a refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from maild.core import cases
from maild.core.values import ANSWERED_STATUSES, Command, Role, Status

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
ENG = "li.lei@corp.example"
ENGINEERS = {ENG: "Li Lei", "han@corp.example": "Han Meimei"}
ARGS = {"priority": "P1", "assign": "Han Meimei", "type": "printer", "kind": "request",
        "category": "quality", "complaint-close": "apologised", "visit": "tomorrow 14:00"}


def view(status: Status, **kw: object) -> cases.CaseView:
    base = dict(id=1, status=status, engineer=ENG if status != Status.NEW else None,
                priority="P3", resolution="fixed" if status in ANSWERED_STATUSES else None,
                dispatched_at=NOW - timedelta(hours=2), work_started_at=NOW - timedelta(hours=2))
    base.update(kw)
    return cases.CaseView(**base)  # type: ignore[arg-type]


ACTORS = {
    "assigned engineer": cases.Actor(ENG, Role.ENGINEER, ENGINEERS),
    "other engineer": cases.Actor("han@corp.example", Role.ENGINEER, ENGINEERS),
    "operator": cases.Actor("cc@corp.example", Role.OPERATOR, ENGINEERS),
    "manager": cases.Actor("boss@corp.example", Role.MANAGER, ENGINEERS),
    "incident manager": cases.Actor("im@corp.example", Role.INCIDENT_MANAGER, ENGINEERS),
    "supervisor": cases.Actor("cs@corp.example", Role.SUPERVISOR, ENGINEERS),
    "customer": cases.Actor("user@corp.example", Role.CUSTOMER, ENGINEERS),
    "vendor": cases.Actor("support@vendor.example", Role.VENDOR, ENGINEERS),  # not its case
}


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("tag", [*cases.TAGS, "search", "help", "bogus"])
@pytest.mark.parametrize("who", list(ACTORS))
def test_every_cell_is_defined(status: Status, tag: str, who: str) -> None:
    """Each cell is an allowed move/log as the TAGS table says, or a refusal with a reason."""
    actor = ACTORS[who]
    result = cases.apply(view(status, complaint="attitude"),
                         [Command(tag, ARGS.get(tag, "note"), 1)], actor, NOW)
    rule = cases.TAGS.get(tag)
    allowed = (
        rule is not None
        and actor.role not in (Role.CUSTOMER, Role.VENDOR)
        and (rule.who == cases.STAFF
             or (rule.who == cases.ASSIGNED and who == "assigned engineer")
             or (rule.who == cases.SUPERVISOR and who in ("supervisor", "manager")))
        and status in rule.from_statuses
        # an engineer not (or no longer) assigned may only add a note (docs/TRUST.md: a token
        # gives the rights of the holder's current relation to the case)
        and (who != "other engineer" or status == Status.NEW or tag == "log")
    )
    if allowed:
        assert isinstance(result, cases.Outcome), result
        if rule is not None and rule.to_status is not None:
            assert result.case.status == rule.to_status
        # #problem's log line is the service's: only it knows the problem's number
        assert result.log or tag == "problem", "every applied command leaves a log line"
    else:
        assert isinstance(result, cases.Refusal)
        assert result.reason and result.line == 1 and result.tag == tag


def test_resolve_records_handling_time_and_reopen_resumes_it() -> None:
    actor = ACTORS["assigned engineer"]
    first = cases.apply(view(Status.IN_PROGRESS), [Command("resolve", "toner", 1)], actor, NOW)
    assert isinstance(first, cases.Outcome)
    assert first.case.handling_seconds == 7200 and first.case.resolved_at == NOW
    reopened = cases.customer_action(first.case, "reopen", None, NOW + timedelta(days=1))
    assert reopened is not None and reopened.case.status == Status.IN_PROGRESS
    again = cases.apply(reopened.case, [Command("resolve", "drum", 1)], actor,
                        NOW + timedelta(days=1, minutes=30))
    assert isinstance(again, cases.Outcome)
    assert again.case.handling_seconds == 7200 + 1800


def test_all_or_nothing() -> None:
    actor = ACTORS["assigned engineer"]
    start = view(Status.DISPATCHED)
    result = cases.apply(start, [Command("inprogress", "", 1), Command("priority", "P9", 2)],
                         actor, NOW)
    assert isinstance(result, cases.Refusal) and result.line == 2 and "P9" in result.reason


def test_missing_argument_is_refused() -> None:
    result = cases.apply(view(Status.DISPATCHED), [Command("resolve", "", 3)],
                         ACTORS["assigned engineer"], NOW)
    assert isinstance(result, cases.Refusal) and "#resolve <resolution>" in result.reason


def test_second_rejection_escalates() -> None:
    actor = ACTORS["assigned engineer"]
    result = cases.apply(view(Status.DISPATCHED, rejections=1), [Command("reject", "not mine", 1)],
                         actor, NOW)
    assert isinstance(result, cases.Outcome)
    assert result.case.status == Status.NEW and result.case.engineer is None
    assert [e.kind for e in result.events] == ["rejected", "escalated"]


@pytest.mark.parametrize(("action", "status"), [("confirm", Status.CLOSED),
                                                ("reopen", Status.IN_PROGRESS)])
def test_customer_actions_on_resolved(action: str, status: Status) -> None:
    out = cases.customer_action(view(Status.RESOLVED), action, None, NOW)
    assert out is not None and out.case.status == status


def test_customer_confirm_on_open_case_changes_nothing() -> None:
    assert cases.customer_action(view(Status.IN_PROGRESS), "confirm", None, NOW) is None


def test_rating_on_closed_case() -> None:
    out = cases.customer_action(view(Status.CLOSED), "rate", 4, NOW)
    assert out is not None and out.case.rating == 4 and out.case.status == Status.CLOSED


def test_assign_unknown_engineer_suggests_close_matches() -> None:
    result = cases.apply(view(Status.NEW), [Command("assign", "Han Meimai", 2)],
                         ACTORS["operator"], NOW)
    assert isinstance(result, cases.Refusal)
    assert "did you mean Han Meimei <han@corp.example>" in result.reason and result.line == 2


@pytest.mark.parametrize("commands", [
    [Command("resolv", "typo", 1)],
    [Command("search", "printer", 1)],
    [Command("priority", "urgent-ish", 1)],
    [Command("assign", "nobody at all", 1)],
    [Command("kb", "", 1)],
    [Command("resolve", "", 1)],
    [Command("reopen", "", 1)],
])
def test_every_refusal_has_a_chinese_reason(commands: list[Command]) -> None:
    """A Chinese transcript says why in Chinese: every refusal carries both languages."""
    case = view(Status.DISPATCHED)
    result = cases.apply(case, commands, ACTORS["assigned engineer"], NOW)
    assert isinstance(result, cases.Refusal)
    assert result.reason and result.zh and result.zh != result.reason
    assert any("\u4e00" <= ch <= "\u9fff" for ch in result.zh)


@pytest.mark.parametrize(("actor", "tag"), [("other engineer", "resolve"),
                                            ("other engineer", "close"),
                                            ("operator", "inprogress")])
def test_a_role_refusal_has_a_chinese_reason(actor: str, tag: str) -> None:
    result = cases.apply(view(Status.DISPATCHED), [Command(tag, "x", 1)], ACTORS[actor], NOW)
    assert isinstance(result, cases.Refusal) and result.zh.startswith(f"#{tag}：")


SH_ENGINEER = cases.Actor(ENG, Role.ENGINEER, ENGINEERS, tz=ZoneInfo("Asia/Shanghai"))


def test_visit_is_read_in_the_helpdesk_time_zone() -> None:
    """NOW is 16:00 in Shanghai: "18:00" is today there, two hours on."""
    result = cases.apply(view(Status.DISPATCHED), [Command("visit", "18:00 带硒鼓", 1)],
                         SH_ENGINEER, NOW)
    assert isinstance(result, cases.Outcome)
    [event] = result.events
    assert event.kind == "visit" and event.note == "带硒鼓" and event.visit is not None
    assert event.visit.start == NOW + timedelta(hours=2)
    assert result.case.status == Status.DISPATCHED
    assert result.log == (("visit", "2026-11-22 18:00 +08:00 – 19:00: 带硒鼓"),)


@pytest.mark.parametrize(("arg", "reason"), [
    ("after lunch", "is not a time I can read"),
    ("9:00", "already passed"),  # 9:00 in Shanghai was seven hours ago
])
def test_visit_refusals_say_what_works(arg: str, reason: str) -> None:
    result = cases.apply(view(Status.IN_PROGRESS), [Command("visit", arg, 1)], SH_ENGINEER,
                         NOW)
    assert isinstance(result, cases.Refusal) and reason in result.reason
    assert "tomorrow 9:30" in result.reason and "明天 9:30" in result.zh


def test_arrived_starts_the_work() -> None:
    result = cases.apply(view(Status.DISPATCHED), [Command("arrived", "", 1)], SH_ENGINEER,
                         NOW)
    assert isinstance(result, cases.Outcome)
    assert result.case.status == Status.IN_PROGRESS and result.case.first_response_at == NOW
    assert result.log == (("arrived", "arrived on site"),)


def test_complaint_tags_follow_the_open_complaint() -> None:
    """#complaint opens one (category guessed), #category changes it, #complaint-close ends
    it; without an open complaint the last two are refused; a supervisor's #assign voids
    the dispatch of the engineer complained about."""
    sup = ACTORS["supervisor"]
    opened = cases.apply(view(Status.CLOSED), [Command("complaint", "工程师迟到了", 1)],
                         ACTORS["operator"], NOW)
    assert isinstance(opened, cases.Outcome) and opened.case.complaint == "timeliness"
    assert [e.kind for e in opened.events] == ["complaint"]
    moved = cases.apply(opened.case, [Command("category", "态度", 1),
                                      Command("complaint-close", "apologised", 2)], sup, NOW)
    assert isinstance(moved, cases.Outcome) and moved.case.complaint is None
    assert [e.kind for e in moved.events] == ["complaint_category", "complaint_closed"]
    for tag in ("category", "complaint-close"):
        refused = cases.apply(view(Status.CLOSED), [Command(tag, "quality", 1)], sup, NOW)
        assert isinstance(refused, cases.Refusal) and "no open complaint" in refused.reason
    refused = cases.apply(opened.case, [Command("category", "weather", 1)], sup, NOW)
    assert isinstance(refused, cases.Refusal) and refused.zh
    reassigned = cases.apply(view(Status.IN_PROGRESS, complaint="timeliness"),
                             [Command("assign", "Han Meimei", 1)], sup, NOW)
    assert isinstance(reassigned, cases.Outcome)
    assert reassigned.log[0][0] == "void" and ENG in reassigned.log[0][1]
    assert reassigned.events[0].old_engineer == ENG
    denied = cases.apply(opened.case, [Command("complaint-close", "ok", 1)],
                         ACTORS["operator"], NOW)
    assert isinstance(denied, cases.Refusal) and "supervisor" in denied.reason
