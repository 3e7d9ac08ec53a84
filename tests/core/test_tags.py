"""Command tags and customer words are read from the new text only."""

from __future__ import annotations

import pytest

from maild.core.tags import customer_intent, parse_tags


def test_tags_with_multiline_arguments() -> None:
    cmds = parse_tags("#inprogress waiting for parts\nfrom the warehouse\n#LOG called the user")
    assert [(c.tag, c.arg, c.line) for c in cmds] == [
        ("inprogress", "waiting for parts\nfrom the warehouse", 1),
        ("log", "called the user", 3),
    ]


@pytest.mark.parametrize("text", ["#1 priority for me", "see issue #12345", "a #resolve inline",
                                  "#resolve-me later", ""])
def test_not_tags(text: str) -> None:
    assert parse_tags(text) == []


def test_fullwidth_hash_and_colon() -> None:
    cmds = parse_tags("＃resolve：更换了硒鼓")
    assert [(c.tag, c.arg) for c in cmds] == [("resolve", "更换了硒鼓")]


@pytest.mark.parametrize(("text", "action", "rating"), [
    ("confirm", "confirm", None), ("Confirmed, thanks!", "confirm", None),
    ("确认，谢谢", "confirm", None), ("#confirm", "confirm", None),
    ("reopen please, still broken", "reopen", None), ("重开", "reopen", None),
    ("5", "rate", 5), (" 4 ", "rate", 4), ("3分", "rate", 3), ("5星", "rate", 5),
    ("Excellent!", "rate", 5), ("非常满意", "rate", 5), ("一般。", "rate", 3),
    ("不满意", "rate", 2), ("bad", "rate", 1),
])
def test_customer_intent(text: str, action: str, rating: int | None) -> None:
    intent = customer_intent(text)
    assert intent is not None and (intent.action, intent.rating) == (action, rating)


@pytest.mark.parametrize("text", ["confirmation needed?", "6", "thanks",
                                  "the printer works 5 times", ""])
def test_no_customer_intent(text: str) -> None:
    assert customer_intent(text) is None
