"""Who may do what with which proof (docs/TRUST.md), and which Authentication-Results count."""

from __future__ import annotations

from itertools import combinations

import pytest

from maild.core import threads, tokens, trust
from maild.core.parse import parse
from maild.core.trust import Action, Claim, Proof, allowed
from maild.core.values import Inbound

SECRET = "s" * 32
OURS = "mx.corp.example"

# Every cell of the trust table's, one proof at a time: Y = this proof alone is enough.
# Columns: no proof, case token, personal address, sender authentication, References.
GRID = """
staff_command   staff     -  Y  Y  Y  -
staff_command   customer  -  -  -  -  -
staff_command   stranger  -  -  -  -  -
mailbox         staff     -  -  Y  Y  -
mailbox         customer  -  -  -  -  -
mailbox         stranger  -  -  -  -  -
customer_state  staff     -  -  -  -  -
customer_state  customer  -  Y  -  Y  Y
customer_state  stranger  -  -  -  -  -
customer_mail   staff     Y  Y  Y  Y  Y
customer_mail   customer  Y  Y  Y  Y  Y
customer_mail   stranger  Y  Y  Y  Y  Y
staff_command   vendor    -  Y  -  -  -
mailbox         vendor    -  -  -  -  -
customer_state  vendor    -  -  -  -  -
customer_mail   vendor    Y  Y  Y  Y  Y
"""
COLUMNS = (None, Proof.CASE_TOKEN, Proof.PERSONAL, Proof.AUTHENTICATED, Proof.REFERENCES)
ACTIONS = {"staff_command": Action.STAFF_COMMAND, "mailbox": Action.MAILBOX,
           "customer_state": Action.CUSTOMER_STATE, "customer_mail": Action.CUSTOMER_MAIL}
CELLS = [(ACTIONS[row.split()[0]], Claim(row.split()[1]), col, mark == "Y")
         for row in GRID.strip().splitlines()
         for col, mark in zip(COLUMNS, row.split()[2:], strict=True)]


@pytest.mark.parametrize(("action", "claim", "proof", "expected"), CELLS)
def test_policy_table_cell(action: Action, claim: Claim, proof: Proof | None,
                           expected: bool) -> None:
    assert allowed(claim, action, {proof} if proof else set()) is expected


def test_grid_covers_every_claim_and_action() -> None:
    assert {(a, c) for a, c, _, _ in CELLS} == {(a, c) for a in Action for c in Claim}


@pytest.mark.parametrize("claim", list(Claim))
@pytest.mark.parametrize("action", list(Action))
def test_several_proofs_allow_exactly_what_one_of_them_does(claim: Claim,
                                                            action: Action) -> None:
    """No combination of proofs opens a cell that none of its proofs opens alone."""
    alone = {p: allowed(claim, action, {p}) for p in Proof}
    for n in range(2, len(Proof) + 1):
        for combo in combinations(Proof, n):
            assert allowed(claim, action, combo) == any(alone[p] for p in combo), combo


def ar(*values: str) -> list[str]:
    return list(values)


@pytest.mark.parametrize(("headers", "sender", "expected"), [
    (ar(f"{OURS}; dmarc=pass header.from=corp.example"), "op@corp.example", True),
    (ar(f"{OURS} 1; spf=pass smtp.mailfrom=corp.example; dkim=pass (2048-bit key; "
        "secure) header.d=corp.example header.i=@corp.example; dmarc=pass (p=REJECT "
        'sp=REJECT dis=NONE) header.from="corp.example"'), "op@corp.example", True),
    (ar(f"{OURS};\r\n\tdkim=pass header.d=corp.example"), "op@sh.corp.example", True),
    (ar(f"{OURS.upper()}; dmarc=pass"), "op@corp.example", True),
    # dkim=pass for an unrelated domain proves nothing about the From address
    (ar(f"{OURS}; dkim=pass header.d=evil.example; dmarc=fail"), "op@corp.example", False),
    (ar(f"{OURS}; dkim=pass header.d=ample"), "op@corp.example", False),
    (ar(f"{OURS}; dkim=pass header.d=example"), "op@corp.example", False),
    (ar(f"{OURS}; dmarc=pass header.from=evil.example"), "op@corp.example", False),
    (ar(f"{OURS}; dmarc=fail header.from=corp.example; spf=pass"), "op@corp.example", False),
    (ar(f"{OURS}; none"), "op@corp.example", False),
    # the result words inside a comment are not results
    (ar(f"{OURS}; spf=fail (dmarc=pass) smtp.mailfrom=corp.example"), "op@corp.example",
     False),
    # a foreign server's word counts for nothing
    (ar("mx.evil.example; dmarc=pass header.from=corp.example"), "op@corp.example", False),
    # ours below a foreign one: the sender may have written it
    (ar("mx.relay.example; dmarc=fail", f"{OURS}; dmarc=pass"), "op@corp.example", False),
    (ar("garbage without structure", f"{OURS}; dmarc=pass"), "op@corp.example", False),
    # ours on top, the sender's forgery of ours below it: two of ours, none believed
    (ar(f"{OURS}; dmarc=fail", f"{OURS}; dmarc=pass"), "op@corp.example", False),
    (ar(f"{OURS}; dmarc=pass", f"{OURS}; dmarc=pass"), "op@corp.example", False),
    # ours on top, a foreign one (an earlier hop) below: ours counts
    (ar(f"{OURS}; dmarc=pass", "mx.google.com; dmarc=fail"), "op@corp.example", True),
    ([], "op@corp.example", False),
])
def test_authentication_results(headers: list[str], sender: str, expected: bool) -> None:
    verdict = trust.authentication(headers, OURS, sender)
    assert verdict.authenticated is expected, verdict.reason


def test_authentication_is_off_without_an_authserv_id() -> None:
    verdict = trust.authentication([f"{OURS}; dmarc=pass"], "", "op@corp.example")
    assert not verdict.authenticated and "off" in verdict.reason


def test_headers_come_from_the_parsed_message_in_order() -> None:
    raw = (f"Authentication-Results: {OURS}; dmarc=fail\r\n"
           "Delivered-To: helpdesk@corp.example\r\n"
           "From: op@corp.example\r\nTo: helpdesk@corp.example\r\nSubject: x\r\n"
           f"Authentication-Results: {OURS}; dmarc=pass\r\n"
           "Delivered-To: helpdesk+c1-aaaaaaaaaaaaaaaa@corp.example\r\n\r\nbody\r\n").encode()
    msg = parse(raw)
    assert msg.auth_results[0].endswith("dmarc=fail") and len(msg.auth_results) == 2
    assert not trust.authentication(msg.auth_results, OURS, msg.from_addr).authenticated
    assert trust.recipients(msg.envelope, msg.to, msg.cc, ("delivered-to",)) == (
        "helpdesk@corp.example",)


def test_only_the_topmost_envelope_header_counts() -> None:
    env = (("delivered-to", "helpdesk@corp.example"), ("delivered-to", "helpdesk+x@corp.example"),
           ("x-original-to", "helpdesk+y@corp.example"))
    assert trust.recipients(env, ("a@b.example",), ("c@d.example",),
                            ("delivered-to", "to", "cc")) == (
        "helpdesk@corp.example", "a@b.example", "c@d.example")
    assert trust.recipients(env, (), (), ("x-original-to",)) == ("helpdesk+y@corp.example",)


def _msg(sender: str, to: str) -> Inbound:
    return Inbound(message_id=None, dedup_key="x", from_addr=sender, from_name="", subject="",
                   to=(to,))


def test_personal_address_is_bound_to_its_staff_member() -> None:
    tok = tokens.personal_token(SECRET, "CallCenter@corp.example")
    address = tokens.token_address("helpdesk@corp.example", tok)
    assert tok.startswith("s-") and len(address.split("@")[0]) < 64
    mine = _msg("callcenter@corp.example", address)
    assert threads.to_personal_address(mine, mine.recipients, "helpdesk@corp.example", [SECRET])
    other = _msg("attacker@evil.example", address)
    assert not threads.to_personal_address(other, other.recipients, "helpdesk@corp.example",
                                           [SECRET])
    # a personal address is no case token, and a case token no personal address
    assert tokens.verify_token([SECRET], tok, "callcenter@corp.example") is None
    case_tok = tokens.make_token(SECRET, tokens.CASE, 1, "callcenter@corp.example")
    assert not tokens.verify_personal([SECRET], case_tok, "callcenter@corp.example")


def test_personal_address_survives_rotation_while_the_old_secret_is_listed() -> None:
    old = tokens.personal_token(SECRET, "op@corp.example")
    assert tokens.verify_personal(["n" * 32, SECRET], old, "op@corp.example")
    assert not tokens.verify_personal(["n" * 32], old, "op@corp.example")
