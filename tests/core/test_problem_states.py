"""The problem state machine: every (status, tag, role) cell is a move or a refusal, and the
tokens and subject tags that name a problem never name a case."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from maild.core import cases, problems, tags, threads, tokens
from maild.core.problems import PROBLEM_TAGS, ProblemStatus, ProblemView
from maild.core.values import STAFF_ROLES, Command, Role, Status

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
SECRET = "s" * 32
ARGS = {"workaround": "reconnect", "link": "#12", "resolve": "certificate expired"}


def view(status: ProblemStatus) -> ProblemView:
    return ProblemView(3, "VPN drops", status,
                       workaround="reconnect" if status != ProblemStatus.OPEN else None)


@pytest.mark.parametrize("status", list(ProblemStatus))
@pytest.mark.parametrize("tag", [*PROBLEM_TAGS, "inprogress", "bogus"])
@pytest.mark.parametrize("role", [*Role, None])
def test_every_cell_is_defined(status: ProblemStatus, tag: str, role: Role | None) -> None:
    """A staff tag from an allowed status moves as PROBLEM_TAGS says; all else is refused
    with a reason in English and Chinese. #resolve-linked is tried beside a #resolve."""
    commands = [Command(tag, ARGS.get(tag, ""), 1)]
    if tag == "resolve-linked":
        commands.insert(0, Command("resolve", "root cause", 0))
    result = problems.apply(view(status), commands, role, NOW)
    rule = PROBLEM_TAGS.get(tag)
    staff = role in STAFF_ROLES  # a vendor (a support line's outside address) is not
    if rule is not None and staff and status in rule.from_statuses:
        assert isinstance(result, problems.Outcome), result
        if rule.to_status is not None:
            assert result.problem.status == rule.to_status
    else:
        assert isinstance(result, cases.Refusal)
        assert result.reason and result.zh and result.line in (0, 1)


def test_workaround_makes_a_known_error_and_resolve_keeps_it() -> None:
    out = problems.apply(view(ProblemStatus.OPEN), [Command("workaround", "reconnect", 1)],
                         Role.ENGINEER, NOW)
    assert isinstance(out, problems.Outcome)
    assert (out.problem.status, out.problem.known_error_at, out.events) == (
        ProblemStatus.KNOWN_ERROR, NOW, ("workaround",))
    out = problems.apply(out.problem, [Command("resolve", "cert", 1),
                                       Command("resolve-linked", "", 2)], Role.MANAGER, NOW)
    assert isinstance(out, problems.Outcome)
    assert out.problem.status == ProblemStatus.RESOLVED and out.resolve_linked
    assert out.problem.workaround == "reconnect" and out.problem.root_cause == "cert"


@pytest.mark.parametrize("commands", [
    [Command("resolve-linked", "", 1)],  # without #resolve
    [Command("link", "twelve", 1)],
    [Command("workaround", "x", 1), Command("resolve", "", 2)],  # all or nothing
])
def test_refused_mails_change_nothing(commands: list[Command]) -> None:
    assert isinstance(problems.apply(view(ProblemStatus.OPEN), commands, Role.ENGINEER, NOW),
                      cases.Refusal)


def test_links_are_collected_once_each() -> None:
    out = problems.apply(view(ProblemStatus.OPEN), [Command("link", "12", 1),
                                                    Command("link", "#7", 2),
                                                    Command("link", "＃12", 3)],
                         Role.OPERATOR, NOW)
    assert isinstance(out, problems.Outcome) and out.link == (12, 7)


@pytest.mark.parametrize(("arg", "ref", "title"), [
    ("P3", 3, None), ("p12 ", 12, None), ("VPN drops\nevery hour", None, "VPN drops"),
    ("P3 and more", None, "P3 and more"), ("打印机  全部卡纸", None, "打印机 全部卡纸"),
])
def test_problem_argument(arg: str, ref: int | None, title: str | None) -> None:
    assert problems.problem_ref(arg) == ref
    if title is not None:
        assert problems.title_of(arg) == title


CASE = cases.CaseView(1, Status.DISPATCHED, "li@corp.example", "P3")


@pytest.mark.parametrize(("arg", "known", "ok"), [
    ("VPN drops", {}, True), ("P2", {2: "open"}, True), ("P2", {2: "known_error"}, True),
    ("P2", {}, False), ("P2", {2: "resolved"}, False),
])
def test_problem_tag_on_a_case(arg: str, known: dict[int, str], ok: bool) -> None:
    actor = cases.Actor("li@corp.example", Role.ENGINEER, problems=known)
    result = cases.apply(CASE, [Command("problem", arg, 1)], actor, NOW)
    assert isinstance(result, cases.Outcome) is ok
    if isinstance(result, cases.Outcome):
        assert result.case == CASE and [e.kind for e in result.events] == ["problem"]


@pytest.mark.parametrize("status", list(Status))
def test_resolve_by_problem_resolves_only_open_cases(status: Status) -> None:
    out = cases.resolve_by_problem(cases.CaseView(1, status, None, "P3"), "cert", 3, NOW)
    if status in (Status.NEW, Status.DISPATCHED, Status.IN_PROGRESS):
        assert out is not None and out.case.status == Status.RESOLVED
        assert out.case.resolution == "cert" and [e.kind for e in out.events] == ["resolved"]
        assert out.case.first_response_at == NOW and out.case.resolved_at == NOW
    else:
        assert out is None


def test_hyphenated_tags_parse() -> None:
    assert [c.tag for c in tags.parse_tags("#resolve cert\n#resolve-linked\n#1 floor")] == [
        "resolve", "resolve-linked"]


def test_problem_and_case_tokens_never_stand_for_each_other() -> None:
    sender = "li@corp.example"
    p = tokens.make_token(SECRET, tokens.PROBLEM, 3, sender)
    c = tokens.make_token(SECRET, tokens.CASE, 3, sender)
    assert tokens.verify_token([SECRET], p, sender) == (tokens.PROBLEM, 3)
    assert tokens.verify_token([SECRET], c, sender) == (tokens.CASE, 3)
    swapped = "p" + c[1:]  # a case token's signature under the problem kind
    assert tokens.verify_token([SECRET], swapped, sender) is None
    assert tokens.verify_token([SECRET], "c" + p[1:], sender) is None


def test_problem_token_is_no_case_reference_nor_a_held_mail() -> None:
    from maild.core.values import Inbound

    sender = "li@corp.example"
    addr = tokens.token_address("helpdesk@corp.example",
                                tokens.make_token(SECRET, tokens.PROBLEM, 3, sender))
    msg = Inbound(message_id=None, dedup_key="k", from_addr=sender, from_name="", subject="",
                  to=(addr,))
    args = ((addr,), "helpdesk@corp.example", [SECRET])
    assert threads.token_ref(msg, *args) is None
    assert threads.hold_token_id(msg, *args) is None
    assert threads.problem_token_id(msg, *args) == 3


@pytest.mark.parametrize(("subject", "expected"), [
    ("Re: [Problem P3] Workaround: VPN", 3), ("答复: 【Problem P12】VPN", 12),
    ("RE: [问题 P4] 打印机", 4), ("[Case #3] VPN", None), ("Problem P3", None),
])
def test_subject_problem_id(subject: str, expected: int | None) -> None:
    assert threads.subject_problem_id(subject) == expected
