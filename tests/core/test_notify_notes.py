"""Staff text reaches the customer only where it is meant for them."""

from __future__ import annotations

from maild.core.cases import Event
from maild.core.notify import CUSTOMER, ENGINEER, Recipient, plan

WHO = {CUSTOMER: [Recipient("c@x.example", "C", "en")],
       ENGINEER: [Recipient("e@corp.example", "E", "en")]}


def test_internal_notes_stay_internal() -> None:
    for kind in ("in_progress", "closed"):
        for notice in plan((Event(kind, "internal note"),), WHO, "E"):
            assert notice.note is None or notice.to.email != "c@x.example", kind


def test_resolution_invalid_reason_and_reply_reach_the_customer() -> None:
    for kind in ("resolved", "invalid", "staff_reply"):
        notices = plan((Event(kind, "for you"),), WHO, "E")
        assert any(n.to.email == "c@x.example" and n.note == "for you" for n in notices), kind


def test_a_move_up_a_line_tells_the_customer_but_not_why() -> None:
    notices = plan((Event("escalated_up", "the fuser is broken"),), WHO, "E")
    [told] = [n for n in notices if n.to.email == "c@x.example"]
    assert told.template == "passed_on" and told.note is None
