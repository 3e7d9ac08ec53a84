"""Who hears of an SLA warning or breach: whoever can act on the case (core.notify)."""

from __future__ import annotations

import pytest

from maild.core.notify import (
    ENGINEER,
    INCIDENT_MANAGER,
    LINE_OWNER,
    OPERATORS,
    VENDOR,
    Recipient,
    sla_notices,
)

IM = Recipient("im@corp.example", "IM", "en")
OWNER = Recipient("it-manager@corp.example", "IT Manager", "en")
ENG = Recipient("li.lei@corp.example", "Li Lei", "zh")
OPS = [Recipient("callcenter@corp.example", "Call Centre", "en"),
       Recipient("night@corp.example", "Night Desk", "en")]
PRINTCO = Recipient("support@printco.example", "PrintCo", "en")
BASE = {OPERATORS: OPS, INCIDENT_MANAGER: [IM]}


def told(kind: str, who: dict[str, list[Recipient]]) -> list[tuple[str, str]]:
    return [(n.template, n.to.email) for n in sla_notices(kind, who)]


@pytest.mark.parametrize(("who", "warned", "breached"), [
    ({**BASE, ENGINEER: [ENG]}, [ENG], [IM, ENG]),  # our engineer has it
    ({**BASE, VENDOR: [PRINTCO], LINE_OWNER: [OWNER]}, [OWNER], [IM, OWNER]),  # a vendor
    ({**BASE, VENDOR: [PRINTCO], LINE_OWNER: [IM]}, [IM], [IM]),  # owner by default: once
    ({**BASE, VENDOR: [PRINTCO]}, [IM], [IM]),  # no owner given at all
    (BASE, OPS, [IM, *OPS]),  # nobody assigned: the operators dispatch it
])
def test_who_hears_of_an_sla_alert(who: dict[str, list[Recipient]], warned: list[Recipient],
                                   breached: list[Recipient]) -> None:
    assert told("warn", who) == [("sla_warning", p.email) for p in warned]
    assert told("breach", who) == [("sla_breach", p.email) for p in breached]


def test_the_vendor_and_the_operators_never_hear_of_a_vendor_case() -> None:
    who = {**BASE, VENDOR: [PRINTCO], LINE_OWNER: [OWNER]}
    emails = {e for kind in ("warn", "breach") for _, e in told(kind, who)}
    assert PRINTCO.email not in emails and not emails & {p.email for p in OPS}
