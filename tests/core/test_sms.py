"""Text messages: cut to 70 characters (not bytes); only urgent dispatches and escalations."""

from __future__ import annotations

import pytest

from maild.core.notify import Notice, Recipient
from maild.core.sms import LIMIT, fit, texts

LONG_ZH = "打印机卡纸" * 20  # 100 characters, 300 bytes in UTF-8


@pytest.mark.parametrize(("text", "expected"), [
    ("P1 #12 Shanghai / Wang: printer", "P1 #12 Shanghai / Wang: printer"),
    ("  P1 #12\n Shanghai\t/ Wang:\r\n printer \n", "P1 #12 Shanghai / Wang: printer"),
    ("x" * 70, "x" * 70),  # exactly the limit: untouched
    ("x" * 71, "x" * 69 + "…"),
    ("【派单】P2 #7 上海/王芳：" + LONG_ZH, ("【派单】P2 #7 上海/王芳：" + LONG_ZH)[:69] + "…"),
    ("word " * 20, ("word " * 14).rstrip() + "…"),  # no space left before the ellipsis
    ("a\x00b\x1bc", "a b c"),  # control characters are not text
    ("", ""),
])
def test_fit(text: str, expected: str) -> None:
    """One line, at most 70 characters; a cut ends in an ellipsis."""
    got = fit(text)
    assert got == expected
    assert len(got) <= LIMIT


def test_fit_counts_characters_not_bytes() -> None:
    got = fit(LONG_ZH)
    assert len(got) == 70 and len(got.encode("utf-8")) > 70


def notice(template: str, email: str) -> Notice:
    return Notice(template, Recipient(email, email, "en"))


SMS = {"li@x.example": "138@sms.example", "im@x.example": "139@sms.example"}


@pytest.mark.parametrize(("template", "email", "priority", "sent"), [
    ("dispatch", "li@x.example", "P1", True),
    ("dispatch", "li@x.example", "P2", True),
    ("dispatch", "li@x.example", "P3", False),  # not urgent
    ("dispatch", "han@x.example", "P1", False),  # no sms address
    ("escalation", "im@x.example", "P2", True),
    ("escalation", "im@x.example", "P5", False),
    ("sla_breach", "im@x.example", "P1", True),  # the sweep's escalation
    ("sla_breach", "li@x.example", "P3", False),
    ("sla_warning", "li@x.example", "P1", False),  # a warning is mail only
    ("ack", "li@x.example", "P1", False),  # only dispatches and escalations
    ("reassigned", "li@x.example", "P1", False),
])
def test_texts(template: str, email: str, priority: str, sent: bool) -> None:
    got = texts([notice(template, email)], priority, SMS)
    assert got == ([(notice(template, email), SMS[email])] if sent else [])


def test_one_text_per_gateway_and_change() -> None:
    both = [notice("dispatch", "li@x.example"), notice("escalation", "li@x.example")]
    assert len(texts(both, "P1", SMS)) == 1
