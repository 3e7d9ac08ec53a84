"""What a staff mail's tags did, line by line: the transcript every tagged staff mail gets back.

The service applies the tags (``core.cases.apply``, all or nothing) and hands
the commands and the result here; ``lines`` says for every tag line whether it
was done, refused (and why), not a tag at all (with the nearest known tag, by
edit distance, as a suggestion), or not applied because another line was
refused. Rendering the mail is the templates' job; nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from maild.core.cases import MAILBOX_TAGS, TAGS, Refusal
from maild.core.values import Command

UNDO = "undo"
KNOWN_TAGS: tuple[str, ...] = (*TAGS, UNDO, *sorted(MAILBOX_TAGS))

DONE = "done"
REFUSED = "refused"
UNKNOWN = "unknown"
SKIPPED = "skipped"  # a good line of a mail that another line made fail


@dataclass(frozen=True)
class Line:
    """One tag line of the staff member's mail and what became of it."""

    number: int
    text: str
    verdict: str  # DONE | REFUSED | UNKNOWN | SKIPPED
    reason: str | None = None
    suggestion: str | None = None  # for UNKNOWN: the nearest known tag, without '#'
    reason_zh: str | None = None  # the reason in Chinese, for a Chinese transcript


def distance(a: str, b: str) -> int:
    """Edit distance counting an insertion, a deletion, a substitution or two swapped
    neighbours (``clsoe``) as one edit each (optimal string alignment)."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(rows[i - 1][j] + 1, row[j - 1] + 1,
                         rows[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[i - 2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def suggest(tag: str, known: Sequence[str] = KNOWN_TAGS) -> str | None:
    """The known tag nearest to ``tag`` (at most 2 edits, or a prefix of 3+ letters)."""
    word = tag.lower()
    best = min(known, key=lambda k: (distance(word, k), known.index(k)))
    if distance(word, best) <= min(2, max(1, len(word) // 3)):
        return best
    prefixed = [k for k in known if len(word) >= 3 and k.startswith(word)]
    return prefixed[0] if prefixed else None


def _text(number: int, new_text: Sequence[str]) -> str:
    """The line as written (first line of a multi-line argument), cut for the mail."""
    text = new_text[number - 1].strip() if 0 < number <= len(new_text) else ""
    return text if len(text) <= 200 else text[:199] + "…"


def lines(commands: Sequence[Command], new_text: str,
          refusal: Refusal | None) -> tuple[Line, ...]:
    """Every tag line with its verdict; ``refusal`` None means all of them were applied."""
    written = new_text.splitlines()
    out: list[Line] = []
    for cmd in commands:
        text = _text(cmd.line, written) or f"#{cmd.tag}"
        if cmd.tag not in KNOWN_TAGS:
            out.append(Line(cmd.line, text, UNKNOWN, suggestion=suggest(cmd.tag)))
        elif refusal is None:
            out.append(Line(cmd.line, text, DONE))
        elif refusal.line == cmd.line:
            out.append(Line(cmd.line, text, REFUSED, refusal.reason,
                            reason_zh=refusal.zh or None))
        else:
            out.append(Line(cmd.line, text, SKIPPED))
    return tuple(out)
