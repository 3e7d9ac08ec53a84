"""Reply tokens and subject tags: who may act on which case."""

from __future__ import annotations

import pytest

from maild.core import threads, tokens
from maild.core.values import Inbound

SECRET = "s" * 32


def _msg(sender: str, to: tuple[str, ...] = (), subject: str = "") -> Inbound:
    return Inbound(message_id=None, dedup_key="x", from_addr=sender, from_name="",
                   subject=subject, to=to)


def test_token_verifies_only_for_its_recipient() -> None:
    tok = tokens.make_token(SECRET, tokens.CASE, 42, "Li.Lei@corp.example")
    assert tokens.verify_token([SECRET], tok, "li.lei@corp.example") == ("c", 42)
    assert tokens.verify_token([SECRET], tok, "mallory@corp.example") is None
    assert tokens.verify_token(["t" * 32], tok, "li.lei@corp.example") is None


def test_token_is_short_enough_for_a_local_part() -> None:
    tok = tokens.make_token(SECRET, tokens.CASE, 999_999_999_999, "a@b.c")
    local = tokens.token_address("helpdesk@corp.example", tok).split("@")[0]
    assert len(local) < 64


@pytest.mark.parametrize("tampered", ["c43-", "c42-aaaaaaaaaaaaaaaa", "x42-", "c42"])
def test_tampered_tokens_fail(tampered: str) -> None:
    tok = tokens.make_token(SECRET, tokens.CASE, 42, "li.lei@corp.example")
    bad = tampered + tok.split("-")[1] if tampered.endswith("-") else tampered
    assert tokens.verify_token([SECRET], bad, "li.lei@corp.example") is None


def test_token_ref_from_delivered_address() -> None:
    tok = tokens.make_token(SECRET, tokens.CASE, 7, "li.lei@corp.example")
    msg = _msg("li.lei@corp.example", to=(f"HelpDesk+{tok}@Corp.Example".lower(),))
    ref = threads.token_ref(msg, msg.recipients, "helpdesk@corp.example", [SECRET])
    assert ref is not None and ref.case_id == 7 and ref.token_owner == "li.lei@corp.example"
    forged = _msg("boss@corp.example", to=(f"helpdesk+{tok}@corp.example",))
    assert threads.token_ref(forged, forged.recipients, "helpdesk@corp.example", [SECRET]) is None


@pytest.mark.parametrize(("subject", "expected"), [
    ("[Case #12] Printer", 12),
    ("Re: RE: [case #12] Printer", 12),
    ("回复：[Case #7] 打印机", 7),
    ("AW: Fwd: something [Case#301]", 301),
    ("【Case ＃9】打印机", 9),
    ("Case 12 printer", None),
    ("[Ticket #12]", None),
])
def test_subject_case_id(subject: str, expected: int | None) -> None:
    assert threads.subject_case_id(subject, "Case") == expected


def test_rotation_keeps_old_tokens_only_while_listed() -> None:
    """After a secret change, old tokens verify while the old secret is in previous_secrets."""
    old, new = "o" * 32, "n" * 32
    tok = tokens.make_token(old, tokens.CASE, 5, "li.lei@corp.example")
    assert tokens.verify_token([new, old], tok, "li.lei@corp.example") == ("c", 5)
    assert tokens.verify_token([new], tok, "li.lei@corp.example") is None
    forged = "c5-" + "a" * 16
    assert tokens.verify_token([new, old], forged, "li.lei@corp.example") is None
