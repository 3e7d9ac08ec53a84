"""New text → command tags (docs/REFERENCE §4), and a customer's confirm/reopen/rating words (§5).

A tag starts a line (``#resolve replaced the toner``); its argument is the
rest of that line and the following lines up to the next tag. Only letters make a
tag name (and the one hyphenated tag, ``#complaint-close``), so ``#1``, ``#12345``
or ``#resolve-me`` in prose is not a command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from maild.core.values import Command

_TAG_RE = re.compile(
    r"^[ \t]*[#＃]((?i:complaint-close)|[A-Za-z]+)(?![\w-])[ \t]*[:：]?[ \t]*(.*)$")


def parse_tags(new_text: str) -> list[Command]:
    """Every tag in ``new_text`` in order, with its (possibly multi-line) argument."""
    commands: list[Command] = []
    tag: str | None = None
    start = 0
    arg_lines: list[str] = []

    def flush() -> None:
        if tag is not None:
            commands.append(Command(tag, "\n".join(arg_lines).strip(), start))

    for number, line in enumerate(new_text.splitlines(), start=1):
        m = _TAG_RE.match(line)
        if m:
            flush()
            tag, start, arg_lines = m.group(1).lower(), number, [m.group(2)]
        elif tag is not None:
            arg_lines.append(line)
    flush()
    return commands


@dataclass(frozen=True)
class CustomerIntent:
    """What a customer's reply to a resolved case asks for."""

    action: str  # "confirm" | "reopen" | "rate"
    rating: int | None = None


_CONFIRM = ("#confirm", "confirm", "confirmed", "确认", "確認")
_REOPEN = ("#reopen", "reopen", "重开", "重新打开", "重開")
_RATING_RE = re.compile(r"^\s*([1-5])\s*(?:分|星|颗星|stars?|/\s*5)?\s*[.!。！]?\s*$",
                        re.IGNORECASE)
# Rating words (a reply that is only this word, maybe with punctuation): English and Chinese.
RATING_WORDS = {
    "excellent": 5, "perfect": 5, "great": 5, "五星": 5, "非常满意": 5, "很满意": 5,
    "good": 4, "满意": 4, "四星": 4, "ok": 3, "okay": 3, "average": 3, "一般": 3, "三星": 3,
    "poor": 2, "不满意": 2, "两星": 2, "二星": 2, "bad": 1, "terrible": 1, "非常不满意": 1,
    "很不满意": 1, "一星": 1,
}


def customer_intent(new_text: str) -> CustomerIntent | None:
    """confirm / reopen when the new text starts with the word; a lone 1-5 is a rating."""
    text = new_text.strip()
    lowered = text.lower()
    m = _RATING_RE.match(text)
    if m:
        return CustomerIntent("rate", int(m.group(1)))
    word = lowered.strip(" \t\n.!。！~～")
    if word in RATING_WORDS:
        return CustomerIntent("rate", RATING_WORDS[word])
    for words, action in ((_CONFIRM, "confirm"), (_REOPEN, "reopen")):
        for word in words:
            if lowered.startswith(word) and _word_ends(lowered, len(word)):
                return CustomerIntent(action)
    return None


def _word_ends(text: str, at: int) -> bool:
    """True when ``text[at:]`` does not continue the word (confirm ≠ confirmation)."""
    return at >= len(text) or not (text[at].isascii() and text[at].isalnum())
