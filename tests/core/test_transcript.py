"""The transcript's verdicts, line by line, and the "did you mean" suggestion."""

from __future__ import annotations

import pytest

from maild.core.cases import Refusal
from maild.core.tags import parse_tags
from maild.core.transcript import (
    DONE,
    KNOWN_TAGS,
    REFUSED,
    SKIPPED,
    UNKNOWN,
    distance,
    lines,
    suggest,
)


@pytest.mark.parametrize(("a", "b", "d"), [
    ("resolve", "resolve", 0), ("resolv", "resolve", 1), ("reslove", "resolve", 1),
    ("clsoe", "close", 1), ("", "kb", 2), ("kitten", "sitting", 3)])
def test_distance(a: str, b: str, d: int) -> None:
    assert distance(a, b) == d == distance(b, a)


@pytest.mark.parametrize(("typo", "meant"), [
    ("resolv", "resolve"), ("reslove", "resolve"), ("inprogres", "inprogress"),
    ("asign", "assign"), ("priorty", "priority"), ("RESOLVED", "resolve"), ("und", "undo"),
    ("esc", "escalate"), ("clsoe", "close"),
])
def test_suggest_the_nearest_tag(typo: str, meant: str) -> None:
    assert suggest(typo) == meant


@pytest.mark.parametrize("word", ["frobnicate", "urgent", "x", "hello"])
def test_no_suggestion_for_words_far_from_every_tag(word: str) -> None:
    assert suggest(word) is None


def test_known_tags_include_undo_and_the_mailbox_tags() -> None:
    assert {"undo", "help", "search", "resolve"} <= set(KNOWN_TAGS)


def test_applied_mail_every_line_done() -> None:
    text = "#inprogress on my way\n#priority P2\n\n> #close quoted"
    out = lines(parse_tags("#inprogress on my way\n#priority P2"), text, None)
    assert [(x.number, x.text, x.verdict) for x in out] == [
        (1, "#inprogress on my way", DONE), (2, "#priority P2", DONE)]


def test_refused_mail_names_the_line_and_marks_the_others() -> None:
    text = "#inprogress\n#resolv fixed it\n#assign Nobody"
    cmds = parse_tags(text)
    out = lines(cmds, text, Refusal("#resolv is not a command", 2, "resolv"))
    assert [x.verdict for x in out] == [SKIPPED, UNKNOWN, SKIPPED]
    assert out[1].suggestion == "resolve" and out[1].text == "#resolv fixed it"
    refused = lines(cmds[2:], text, Refusal("#assign: no engineer called 'Nobody'", 3, "assign"))
    assert refused[0].verdict == REFUSED and "Nobody" in (refused[0].reason or "")


def test_a_transcript_line_is_never_a_tag_when_quoted_back() -> None:
    """The verdict lines start with a word, never with '#': quoted back they do nothing."""
    assert parse_tags("  Line 1: #resolve fixed\n    -> done\n  第 1 行：#close") == []
