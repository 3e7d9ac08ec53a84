"""The decision table: which rule wins for each kind of mail, what the trust table
lets through, and the side effects the decision names."""

from __future__ import annotations

import pytest

from maild.core.classify import RULES, Facts, Route, classify
from maild.core.trust import Proof
from maild.core.values import Role

TOKEN, PERSONAL, AUTH, REFS = (Proof.CASE_TOKEN, Proof.PERSONAL, Proof.AUTHENTICATED,
                               Proof.REFERENCES)
PTOKEN = Proof.PROBLEM_TOKEN
ENG, OPS, MGR, SUP = Role.ENGINEER, Role.OPERATOR, Role.MANAGER, Role.SUPERVISOR


def F(**kw: object) -> Facts:
    kw.setdefault("has_author", True)
    if "proofs" in kw:
        kw["proofs"] = frozenset(kw["proofs"])  # type: ignore[arg-type]
    return Facts(**kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("facts", "route", "rule"), [
    (F(has_author=False, duplicate_of=3), Route.FAIL, "no author"),
    (F(duplicate_of=3, auto_generated="auto-replied"), Route.DUPLICATE, "seen before"),
    (F(auto_generated="bounce", case_id=4, role=ENG, proofs={TOKEN}), Route.IGNORE,
     "auto-generated"),
    # staff on a case: any one of the three proofs
    (F(case_id=4, via="token", role=ENG, proofs={TOKEN}), Route.COMMAND,
     "proven staff on a case"),
    (F(case_id=4, via="subject", role=ENG, proofs={PERSONAL}), Route.COMMAND,
     "proven staff on a case"),
    (F(case_id=4, via="references", role=MGR, proofs={AUTH}), Route.COMMAND,
     "proven staff on a case"),
    # staff on a problem: its own token, or a personal address or authentication
    (F(problem_id=2, role=ENG, proofs={PTOKEN}), Route.PROBLEM, "proven staff on a problem"),
    (F(problem_id=2, role=MGR, proofs={PERSONAL}), Route.PROBLEM,
     "proven staff on a problem"),
    (F(problem_id=2, role=ENG, proofs={AUTH}), Route.PROBLEM, "proven staff on a problem"),
    # a case token is no proof on a problem, nor a problem token on a case
    (F(problem_id=2, case_id=4, via="token", role=ENG, proofs={TOKEN}), Route.COMMAND,
     "proven staff on a case"),
    (F(problem_id=2, role=ENG, proofs={TOKEN}), Route.NEW_CASE, "known sender"),
    (F(case_id=4, via="subject", role=ENG, proofs={PTOKEN}), Route.NEW_CASE, "known sender"),
    (F(problem_id=2, role=ENG), Route.NEW_CASE, "known sender"),
    (F(problem_id=2, known_customer=True, proofs={PTOKEN}), Route.NEW_CASE, "known sender"),
    # a supervisor is staff: proven, their tags (#complaint-close, #assign) are commands
    (F(case_id=4, via="token", role=SUP, proofs={TOKEN}), Route.COMMAND,
     "proven staff on a case"),
    (F(case_id=4, via="subject", role=SUP, proofs={PERSONAL}), Route.COMMAND,
     "proven staff on a case"),
    (F(case_id=4, via="subject", role=SUP), Route.NEW_CASE, "known sender"),
    (F(case_id=4, via="subject", role=SUP, proofs={REFS}), Route.NEW_CASE, "known sender"),
    # a staff address without proof on a case is nobody special
    (F(case_id=4, via="references", role=ENG), Route.REPLY, "someone in the case's thread"),
    (F(case_id=4, via="subject", role=ENG), Route.NEW_CASE, "known sender"),
    (F(case_id=4, via="subject", role=ENG, case_customer=True), Route.REPLY,
     "the case's customer"),
    # a vendor: its case token and nothing else
    (F(case_id=4, via="token", role=Role.VENDOR, proofs={TOKEN}), Route.COMMAND,
     "the vendor on a case, by its token"),
    (F(case_id=4, via="subject", role=Role.VENDOR, proofs={AUTH}), Route.HOLD,
     "stranger, hold"),
    (F(case_id=4, via="references", role=Role.VENDOR), Route.REPLY,
     "someone in the case's thread"),
    # customers and third parties
    (F(case_id=4, via="subject", case_customer=True), Route.REPLY, "the case's customer"),
    (F(case_id=4, via="subject", references_case=True), Route.REPLY,
     "someone in the case's thread"),
    (F(case_id=4, via="subject", known_customer=True), Route.NEW_CASE, "known sender"),
    (F(case_id=4, via="subject", unknown_senders="hold"), Route.HOLD, "stranger, hold"),
    (F(case_id=4, via="token"), Route.REPLY, "someone in the case's thread"),
    # about no case
    (F(held_id=9, first_tag="help"), Route.RELEASE, "confirms a held mail"),
    (F(first_tag="help", role=OPS), Route.HELP, "#help"),
    (F(first_tag="search", role=MGR, proofs={PERSONAL}), Route.SEARCH,
     "#search from proven staff"),
    (F(first_tag="search", role=MGR), Route.NEW_CASE, "known sender"),
    (F(first_tag="search", known_customer=True), Route.NEW_CASE, "known sender"),
    # a staff member's workload: the same proofs as #search; without one, a case like anyone's
    (F(first_tag="mine", role=ENG, proofs={PERSONAL}), Route.WORKLOAD,
     "#mine or #queue from proven staff"),
    (F(first_tag="queue", role=OPS, proofs={AUTH}), Route.WORKLOAD,
     "#mine or #queue from proven staff"),
    (F(first_tag="mine", role=ENG), Route.NEW_CASE, "known sender"),
    (F(first_tag="queue", role=ENG, proofs={TOKEN}), Route.NEW_CASE, "known sender"),
    (F(first_tag="mine", known_customer=True, proofs={AUTH}), Route.NEW_CASE, "known sender"),
    (F(role=OPS, looks_forwarded=True, forwarded_from="a@x.example", proofs={AUTH}),
     Route.FORWARDED, "forward from proven staff"),
    (F(role=OPS, proofs={PERSONAL}), Route.PHONE, "summary from a proven operator"),
    (F(role=OPS, proofs={TOKEN}), Route.NEW_CASE, "known sender"),  # a case token is no proof
    (F(role=OPS, proofs={REFS}), Route.NEW_CASE, "known sender"),
    (F(role=ENG, proofs={PERSONAL}), Route.NEW_CASE, "known sender"),
    (F(known_customer=True, unknown_senders="reject"), Route.NEW_CASE, "known sender"),
    (F(unknown_senders="open"), Route.NEW_CASE, "known sender"),
    (F(unknown_senders="hold"), Route.HOLD, "stranger, hold"),
    (F(unknown_senders="reject"), Route.REJECT, "stranger, reject"),
    (F(forwarded_from="a@x.example", unknown_senders="reject"), Route.REJECT,
     "stranger, reject"),
])
def test_first_rule_that_holds_decides(facts: Facts, route: Route, rule: str) -> None:
    decision = classify(facts)
    assert (decision.route, decision.rule) == (route, rule)


@pytest.mark.parametrize(("facts", "unproven"), [
    (F(case_id=4, via="references", role=ENG), "a command on case #4"),
    (F(case_id=4, via="subject", role=ENG), "a command on case #4"),
    (F(case_id=4, via="token", role=ENG, proofs={TOKEN}), None),
    (F(problem_id=2, role=ENG), "a command on problem P2"),
    (F(problem_id=2, role=ENG, proofs={TOKEN}), "a command on problem P2"),
    (F(problem_id=2, role=ENG, proofs={PTOKEN}), None),
    (F(role=OPS), "a phone summary"),
    (F(role=OPS, proofs={PERSONAL}), None),
    (F(role=MGR, first_tag="search"), "#search"),
    (F(role=ENG, first_tag="mine"), "#mine"),
    (F(role=ENG, first_tag="queue", proofs={TOKEN}), "#queue"),
    (F(role=ENG, first_tag="queue", proofs={PERSONAL}), None),
    (F(role=ENG, looks_forwarded=True), "a mail forwarded on behalf of a customer"),
    (F(role=ENG), None),  # an engineer's own problem: a case like anyone's
    (F(role=OPS, first_tag="help"), None),  # #help needs no proof
    (F(first_tag="search", known_customer=True), None),  # not staff: nobody to tell
    (F(role=OPS, auto_generated="bounce"), None),
])
def test_staff_without_proof_are_told(facts: Facts, unproven: str | None) -> None:
    assert classify(facts).unproven == unproven


def test_a_case_named_only_by_a_stranger_is_linked() -> None:
    assert classify(F(case_id=4, via="subject", known_customer=True)).link_case == 4
    assert classify(F(case_id=4, via="subject", case_customer=True)).link_case is None
    assert classify(F(case_id=4, via="token", role=ENG, proofs={TOKEN})).link_case is None
    assert classify(F(known_customer=True)).link_case is None


def test_every_route_is_reachable_and_names_are_unique() -> None:
    assert {r.route for r in RULES} == set(Route)
    assert len({r.name for r in RULES}) == len(RULES)


def test_the_last_rule_catches_everything() -> None:
    assert RULES[-1].test(F())
    assert classify(F(), RULES[-1:]).route == RULES[-1].route
