"""Split a reply body into the text its author just wrote and the quoted rest.

Why: command tags act only in new text (SPEC §4, "Tags inside quoted text
never act"), so a `#resolve` quoted back in a customer's or an engineer's
reply must never fire. The cut is line-based and deliberately simple, so that
a person can predict it: the new text ends at the first reply header
("-----Original Message-----", "-----原始邮件-----", an Outlook "From:/Sent:" or
"发件人:/发送时间:" block, "On … wrote:", "在 … 写道："), signature delimiter
("-- ") or mobile footer ("Sent from my iPhone", "发自我的iPhone"), or at a
`>` quote block that runs to the end or into one of those.

Two refinements keep bottom-posted and inline replies working: a `>` block
(or an "On … wrote:" line introducing one) that is followed by more new text
does not end the new text, but its lines are moved out of it, so quoted tags
still never act. One pass over the lines, each looked at a bounded number of
times: linear in the size of the body.
"""

from __future__ import annotations

import re

_QUOTE = re.compile(r"[ \t]*>")
_RULE = re.compile(r"[ \t]*[_\-—=]{8,}[ \t]*")
# Lines that end the new text wherever they stand, as (what, pattern) pairs.
_BOUNDARIES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "original message",
        re.compile(
            r"[ \t]*-+[ \t]*(?:original message|原始邮件|邮件原件|原始郵件|郵件原件)[ \t]*-*[ \t]*",
            re.I,
        ),
    ),
    ("signature delimiter", re.compile(r"--[ \t]*")),
    (
        "mobile footer",
        re.compile(
            r"[ \t]*(?:Sent from my (?:iPhone|iPad|iPod|Android|BlackBerry|Samsung|Galaxy|Huawei"
            r"|Xiaomi|Honor|Pixel|mobile|phone|smartphone|Windows Phone)\b[^.!?]{0,30}"
            r"|Sent from (?:Mail|Outlook|Yahoo Mail)\b(?: for| on)?[\w ]{0,20}"
            r"|Get Outlook for (?:iOS|Android)\S*"
            r"|(?:发自|来自)我的\s*(?:iPhone|iPad|Android|手机|华为|小米|荣耀|三星|OPPO|vivo)\S{0,10})"
            r"[ \t]*"
        ),
    ),
)
_OUTLOOK_FROM = re.compile(r"[ \t]*\*?(?:From|发件人)\*?[ \t]*[:：]")
_OUTLOOK_SENT = re.compile(r"[ \t]*\*?(?:Sent|发送时间)\*?[ \t]*[:：]")
_WROTE = ("wrote:", "写道:", "写道：")


def _boundary(lines: list[str], i: int) -> bool:
    """A line that ends the new text by itself (reply header, signature, footer)."""
    line = lines[i]
    if any(pattern.fullmatch(line) for _, pattern in _BOUNDARIES):
        return True
    if _OUTLOOK_FROM.match(line):
        return any(_OUTLOOK_SENT.match(nxt) for nxt in lines[i + 1 : i + 4])
    return False


def _attribution(lines: list[str], i: int) -> tuple[int, bool]:
    """(lines spanned, explicit?) of an "On … wrote:" / "在 … 写道：" line at i.

    Explicit forms cut on their own; a bare "X wrote:" counts only before a quote.
    """
    line = lines[i].strip()
    opener = line[:3].lower() == "on " or line.startswith("在")
    if line.endswith(_WROTE):
        return 1, opener or not line.endswith("wrote:")
    if opener and i + 1 < len(lines) and lines[i + 1].rstrip().endswith(_WROTE):
        return 2, True
    return 0, False


def _scan_ahead(lines: list[str]) -> tuple[list[int], list[int]]:
    """For each line: the next non-blank line, and the next line neither quote nor blank."""
    n = len(lines)
    nonblank, unquoted = [n] * (n + 1), [n] * (n + 1)
    for i in range(n - 1, -1, -1):
        blank = not lines[i].strip()
        nonblank[i] = nonblank[i + 1] if blank else i
        unquoted[i] = unquoted[i + 1] if blank or _QUOTE.match(lines[i]) else i
    return nonblank, unquoted


class _Splitter:
    """One body's lines with the look-ahead tables the cut rules need."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.nonblank, self.unquoted = _scan_ahead(lines)
        self.memo: dict[int, bool] = {}

    def quote_ends(self, i: int) -> bool:
        """Does the quote block at i run to the end, or into a reply header?"""
        j = self.unquoted[i]
        if j not in self.memo:
            _, explicit = _attribution(self.lines, j) if j < len(self.lines) else (0, False)
            self.memo[j] = j >= len(self.lines) or _boundary(self.lines, j) or explicit
        return self.memo[j]

    def classify(self, i: int) -> tuple[str, int]:
        """("cut" | "quoted" | "text", lines spanned) for line i."""
        if _boundary(self.lines, i):
            return "cut", 0
        span, explicit = _attribution(self.lines, i)
        if span:
            k = self.nonblank[i + span]
            if k < len(self.lines) and _QUOTE.match(self.lines[k]):
                return ("cut", 0) if self.quote_ends(k) else ("quoted", span)
            if explicit:
                return "cut", 0
        if _QUOTE.match(self.lines[i]):
            return ("cut", 0) if self.quote_ends(i) else ("quoted", 1)
        return "text", 1


def split_reply(text: str) -> tuple[str, str]:
    """Return (new_text, quoted_rest): what the author wrote vs. quoted history and signature."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    splitter = _Splitter(lines)
    keep: list[str] = []
    moved: list[str] = []
    i = 0
    while i < len(lines):
        kind, span = splitter.classify(i)
        if kind == "cut":
            break
        (keep if kind == "text" else moved).extend(lines[i : i + span])
        i += span
    tail = lines[i:]
    last = next((k for k in range(len(keep) - 1, -1, -1) if keep[k].strip()), -1)
    if tail and last >= 0 and _RULE.fullmatch(keep[last]):  # Outlook's "_____" above From:
        keep, tail = keep[:last], keep[last:] + tail
    return "\n".join(keep).strip("\n").rstrip(), "\n".join(moved + tail)
