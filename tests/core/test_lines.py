"""The service catalogue (kind, a type's own SLA clock) and support lines, as pure tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from maild.core import cases
from maild.core.ruleset import Clock, Line, Target, line_of, next_line, target_for
from maild.core.values import Command, Role, Status

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
P3 = Target(120, 1440)
LI, WANG, ZHAO = "li@corp.example", "wang@corp.example", "zhao@corp.example"
VENDOR = "support@printco.example"
LINES = (Line(2, "Infrastructure", ("printer", "network"), (WANG, ZHAO)),
         Line(3, "PrintCo", ("printer",), address=VENDOR),
         Line(2, "Everything else", ("*",), (ZHAO,)))


@pytest.mark.parametrize(("kind", "type_", "expected"), [
    (Clock(), Clock(), Target(120, 1440)),  # the priority's
    (Clock(240, 2880), Clock(), Target(240, 2880)),  # the kind's win over the priority's
    (Clock(240, 2880), Clock(None, 480), Target(240, 480)),  # the type's win over both
    (Clock(), Clock(30, 120), Target(30, 120)),
    (Clock(None, None, True), Clock(), Target(120, 1440, True)),  # a 24x7 kind
    (Clock(None, None, True), Clock(None, None, False), Target(120, 1440, False)),
])
def test_the_types_values_win_over_the_kinds_and_the_prioritys(
        kind: Clock, type_: Clock, expected: Target) -> None:
    assert target_for(P3, kind, type_) == expected


@pytest.mark.parametrize(("type_", "level", "expected"), [
    ("printer", 1, 2), ("printer", 2, 3), ("printer", 3, None),
    ("network", 1, 2), ("network", 2, None),
    ("email", 1, 2),  # "*": the line for every type
    (None, 1, 2),
])
def test_next_line_is_the_lowest_above_that_takes_the_type(
        type_: str | None, level: int, expected: int | None) -> None:
    found = next_line(LINES, type_, level)
    assert (found.level if found else None) == expected


def test_line_of_an_engineer() -> None:
    assert line_of(LINES, "printer", WANG) == 2
    assert line_of(LINES, "printer", VENDOR) == 3
    assert line_of(LINES, "printer", LI) == 1


def _case(**kw: object) -> cases.CaseView:
    base = dict(id=7, status=Status.IN_PROGRESS, engineer=LI, priority="P3", type="printer",
                dispatched_at=NOW - timedelta(hours=1), work_started_at=NOW - timedelta(hours=1))
    base.update(kw)
    return cases.CaseView(**base)  # type: ignore[arg-type]


DESK = cases.Desk(kinds={"password": "request"}, lines=LINES, loads={WANG: 3, ZHAO: 1})


def _by(email: str, role: Role = Role.ENGINEER) -> cases.Actor:
    return cases.Actor(email, role, {LI: "Li", WANG: "Wang", ZHAO: "Zhao"}, DESK)


def test_escalate_moves_the_case_to_the_least_loaded_engineer_of_the_next_line() -> None:
    result = cases.apply(_case(), [Command("escalate", "needs a new fuser", 1)], _by(LI), NOW)
    assert isinstance(result, cases.Outcome)
    assert (result.case.line, result.case.engineer, result.case.status) == (
        2, ZHAO, Status.DISPATCHED)
    assert result.log[0] == ("escalate", "line 1 → line 2 (Infrastructure): needs a new fuser")
    assert [(e.kind, e.old_engineer) for e in result.events] == [("escalated_up", LI)]
    assert result.case.dispatched_at == _case().dispatched_at  # the handling clock runs on


def test_escalate_from_line_2_reaches_the_vendor_and_from_the_top_the_incident_manager() -> None:
    at2 = _case(line=2, engineer=ZHAO)
    result = cases.apply(at2, [Command("escalate", "", 1)], _by(ZHAO), NOW)
    assert isinstance(result, cases.Outcome) and result.case.engineer == VENDOR
    assert result.case.line == 3
    top = cases.apply(_case(line=2, engineer=ZHAO, type="network"),
                      [Command("escalate", "", 1)], _by(ZHAO), NOW)
    assert isinstance(top, cases.Outcome) and top.case.line == 2
    assert [e.kind for e in top.events] == ["escalated"]  # as before there were lines


def test_escalate_by_other_staff_tells_the_incident_manager() -> None:
    result = cases.apply(_case(), [Command("escalate", "", 1)],
                         _by("boss@corp.example", Role.MANAGER), NOW)
    assert isinstance(result, cases.Outcome) and result.case.line == 1
    assert [e.kind for e in result.events] == ["escalated"]


@pytest.mark.parametrize(("tag", "allowed"), [
    ("log", True), ("reply", True), ("resolve", True), ("assign", False),
    ("priority", False), ("close", False), ("escalate", False), ("kind", False),
    ("inprogress", False), ("invalid", False), ("undo", False), ("search", False),
])
def test_a_vendor_may_log_reply_and_resolve_its_case_and_nothing_else(
        tag: str, allowed: bool) -> None:
    args = {"assign": "Li", "priority": "P1", "kind": "request", "invalid": "spam"}
    case = _case(line=3, engineer=VENDOR)
    result = cases.apply(case, [Command(tag, args.get(tag, "done"), 1)],
                         _by(VENDOR, Role.VENDOR), NOW)
    assert isinstance(result, cases.Outcome) is allowed, result


def test_a_vendor_may_not_act_on_a_case_no_longer_with_it() -> None:
    result = cases.apply(_case(line=3, engineer=LI), [Command("log", "x", 1)],
                         _by(VENDOR, Role.VENDOR), NOW)
    assert isinstance(result, cases.Refusal) and "no longer with you" in result.reason


@pytest.mark.parametrize(("arg", "kind"), [
    ("request", "request"), ("Incident", "incident"), ("服务请求", "request"),
    ("故障", "incident"), ("请求", "request"), ("maybe", None), ("request please", "request"),
])
def test_kind_words(arg: str, kind: str | None) -> None:
    assert cases.parse_kind(arg) == kind


def test_kind_changes_and_type_brings_its_catalogue_kind() -> None:
    result = cases.apply(_case(), [Command("kind", "request", 1)], _by(LI), NOW)
    assert isinstance(result, cases.Outcome) and result.case.kind == "request"
    typed = cases.apply(_case(), [Command("type", "password", 1)], _by(LI), NOW)
    assert isinstance(typed, cases.Outcome) and typed.case.kind == "request"
    assert ("kind", "incident → request (the kind of type password)") in typed.log
    bad = cases.apply(_case(), [Command("kind", "maybe", 1)], _by(LI), NOW)
    assert isinstance(bad, cases.Refusal) and bad.zh


def test_assign_puts_the_case_on_the_assignees_line() -> None:
    result = cases.apply(_case(line=3, engineer=VENDOR), [Command("assign", "Li", 1)],
                         _by("boss@corp.example", Role.MANAGER), NOW)
    assert isinstance(result, cases.Outcome) and result.case.line == 1
    to2 = cases.apply(_case(), [Command("assign", "Wang", 1)],
                      _by("boss@corp.example", Role.MANAGER), NOW)
    assert isinstance(to2, cases.Outcome) and to2.case.line == 2


def _facts(n: int, kind: str, line: int, path: tuple[int, ...], resolved: bool,
           breached: bool = False, created: datetime = NOW) -> object:
    from maild.core.report import CaseFacts
    return CaseFacts(id=n, engineer=LI, type="printer", status="resolved" if resolved else
                     "in_progress", created_at=created, dispatched_at=created,
                     resolved_at=created + timedelta(hours=3) if resolved else None,
                     closed_at=None, rating=None, reopened=0, escalated=len(path) > 1,
                     response_breached=False, resolution_breached=breached, kind=kind,
                     line=line, path=path)


def test_reports_split_by_kind_and_by_line() -> None:
    """Handled: cases each line had; escalated: passed up from it; resolved: at that line."""
    from zoneinfo import ZoneInfo

    from maild.core.report import KindRow, LineRow, build_report, day_period
    from maild.core.sla import Calendar

    tz = ZoneInfo("Asia/Shanghai")
    period = day_period(NOW.astimezone(tz).date(), tz)
    cases = [_facts(1, "incident", 1, (1,), True),
             _facts(2, "incident", 2, (1, 2), True, breached=True),
             _facts(3, "request", 3, (1, 2, 3), True),
             _facts(4, "incident", 2, (1, 2), False),
             _facts(5, "request", 1, (1,), False, created=NOW - timedelta(days=9))]  # backlog
    report = build_report(period, cases, [LI], Calendar(tz, always=True))
    assert report.by_kind == (KindRow("incident", 3, 2, 1, 1), KindRow("request", 1, 1, 1, 0))
    assert report.by_line == (LineRow(1, 4, 3, 1), LineRow(2, 3, 1, 1), LineRow(3, 1, 0, 1))


@pytest.mark.parametrize(("priority", "type_", "kind", "expected", "always"), [
    ("P3", "password", "request", (30, 120), False),  # the type's own minutes
    ("P4", "new-laptop", "request", (240, 1620), False),  # [kinds.request], then its own
    ("P3", "printer", "incident", (120, 1440), False),  # the priority's
    ("P3", "printer", "request", (240, 1080), False),  # #kind request: the kind's clock
    ("P1", "printer", "incident", (15, 240), True),  # P1 runs 24x7
    ("P3", None, "incident", (120, 1440), False),  # no type
])
def test_the_shipped_catalogue_clocks(priority: str, type_: str | None, kind: str,
                                      expected: tuple[int, int], always: bool) -> None:
    from pathlib import Path

    from maild.rules import load_rules

    rules = load_rules(Path(__file__).resolve().parents[2] / "rules")
    target, cal = rules.clock_for(priority, type_, kind)
    assert (target.response_minutes, target.resolution_minutes) == expected
    assert cal.always is always
    assert rules.kind_of(type_) == ("request" if type_ in ("password", "new-laptop") else
                                    "incident")
