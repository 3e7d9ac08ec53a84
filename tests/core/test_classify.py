"""The decision table: which rule wins for each kind of mail, and that order matters."""

from __future__ import annotations

import pytest

from maild.core.classify import RULES, Facts, Route, classify
from maild.core.values import Role

BASE = Facts(has_author=True)


@pytest.mark.parametrize(("facts", "action", "rule"), [
    (Facts(has_author=False, duplicate_of=3), Route.FAIL, "no author"),
    (Facts(has_author=True, duplicate_of=3, auto_generated="Auto-Submitted: auto-replied"),
     Route.DUPLICATE, "seen before"),
    (Facts(has_author=True, auto_generated="bounce", case_id=4, role=Role.ENGINEER,
           case_token_owner=True), Route.IGNORE, "auto-generated"),
    (Facts(has_author=True, case_id=4, role=Role.ENGINEER, case_token_owner=True),
     Route.COMMAND, "staff on a case"),
    (Facts(has_author=True, case_id=4, role=Role.ENGINEER, case_token_owner=False),
     Route.REPLY, "on a case"),
    (Facts(has_author=True, case_id=4, role=None, case_token_owner=True),
     Route.REPLY, "on a case"),
    (Facts(has_author=True, held_id=9, first_tag="help"), Route.RELEASE, "confirms a held mail"),
    (Facts(has_author=True, first_tag="help"), Route.HELP, "#help"),
    (Facts(has_author=True, first_tag="search", role=Role.MANAGER), Route.SEARCH,
     "#search from staff"),
    (Facts(has_author=True, first_tag="search", known_customer=True), Route.NEW_CASE,
     "known sender"),
    (Facts(has_author=True, role=Role.OPERATOR, forwarded_from="a@x.example"),
     Route.FORWARDED, "staff forward"),
    (Facts(has_author=True, role=Role.OPERATOR), Route.PHONE, "phone summary"),
    (Facts(has_author=True, role=Role.ENGINEER), Route.NEW_CASE, "known sender"),
    (Facts(has_author=True, known_customer=True, unknown_senders="reject"), Route.NEW_CASE,
     "known sender"),
    (Facts(has_author=True, unknown_senders="open"), Route.NEW_CASE, "known sender"),
    (Facts(has_author=True, unknown_senders="hold"), Route.HOLD, "stranger, hold"),
    (Facts(has_author=True, unknown_senders="reject"), Route.REJECT, "stranger, reject"),
    (Facts(has_author=True, forwarded_from="a@x.example", unknown_senders="reject"),
     Route.REJECT, "stranger, reject"),
])
def test_first_rule_that_holds_decides(facts: Facts, action: Route, rule: str) -> None:
    decision = classify(facts)
    assert (decision.route, decision.rule) == (action, rule)


def test_every_action_is_reachable_and_names_are_unique() -> None:
    assert {r.route for r in RULES} == set(Route)
    assert len({r.name for r in RULES}) == len(RULES)


def test_the_last_rule_catches_everything() -> None:
    assert RULES[-1].test(BASE)
    assert classify(BASE, RULES[-1:]).route == RULES[-1].route
