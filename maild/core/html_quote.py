"""New text of an HTML-only reply: quoted history removed, the rest as plain text.

Why: some clients send a reply as ``text/html`` only, and the quoted history
there is marked by elements, not by ``>``. Tags in it must never act (docs/REFERENCE §4),
so ``html_new_text`` drops it in two passes:

1. Structure. Left out with everything inside: ``<blockquote>`` (any, including
   ``type="cite"``), ``div.gmail_quote``, Yahoo's ``.yahoo_quoted``,
   Thunderbird's ``.moz-cite-prefix`` attribution, NetEase's ``#isReplyContent``,
   ``<script>``, ``<style>``, ``<head>``, ``<title>``. Left out with everything
   *after* them in the document: Outlook's ``#divRplyFwdMsg`` and
   ``#appendonsend``, an Outlook/Windows Mail header block (a ``div`` styled
   ``border-top:solid …`` / ``border-top-style: solid``), Hotmail's
   ``hr#stopSpelling`` and ``#mail-editor-reference-message-container``.
2. Text. What is left becomes plain text (``html.parser``; block elements and
   ``<br>`` end a line, runs of whitespace collapse outside ``<pre>``, entities
   are decoded, ``&nbsp;`` is a space) and goes through
   :func:`maild.core.quoting.split_reply`, which cuts what the structure did not
   mark: QQ/Foxmail's ``------------------ 原始邮件 ------------------``,
   "From:/Sent:" and "发件人:/发送时间:" blocks, "On … wrote:" lines, footers.

Malformed HTML never raises: unknown or unbalanced tags are tolerated, and a
parser error keeps the text read so far. Linear in the size of the input.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from maild.core.parse import defuse_html
from maild.core.quoting import split_reply
from maild.core.values import Inbound

_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                   "param", "source", "track", "wbr", "keygen", "frame"})
_SKIP_TAGS = frozenset({"blockquote", "script", "style", "head", "title", "template",
                        "noscript", "xml"})
_SKIP_CLASSES = frozenset({"gmail_quote", "gmail_quote_container", "yahoo_quoted",
                           "moz-cite-prefix"})
_SKIP_IDS = frozenset({"isreplycontent"})
_STOP_IDS = frozenset({"divrplyfwdmsg", "appendonsend", "stopspelling",
                       "mail-editor-reference-message-container"})
_BLOCK = frozenset({"address", "article", "aside", "blockquote", "center", "dd", "div", "dl",
                    "dt", "fieldset", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5",
                    "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section",
                    "table", "tbody", "thead", "tfoot", "tr", "ul", "br", "caption"})
_CELL = frozenset({"td", "th"})
_OUTLOOK_BORDER = re.compile(r"border-top(?:-style)?\s*:\s*solid", re.I)
_SPACES = re.compile(r"[ \t\r\n\f\v\xa0\u200b\u200e\u200f\ufeff]+")


def _quoted(tag: str, attrs: dict[str, str]) -> str:
    """"skip" (drop this element), "stop" (drop it and all after) or ""."""
    ident = attrs.get("id", "").strip().lower()
    classes = set(attrs.get("class", "").lower().split())
    if ident in _STOP_IDS:
        return "stop"
    if tag == "div" and _OUTLOOK_BORDER.search(attrs.get("style", "")):
        return "stop"
    if tag in _SKIP_TAGS or ident in _SKIP_IDS or classes & _SKIP_CLASSES:
        return "skip"
    return ""


class _TextExtractor(HTMLParser):
    """Collects the text outside quoted elements, with line breaks at block boundaries."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[tuple[str, bool]] = []  # (tag, skipped?)
        self.skipping = 0  # how many open elements are skipped
        self.pre = 0
        self.stopped = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.stopped:
            return
        verdict = _quoted(tag, {k.lower(): v or "" for k, v in attrs})
        if verdict == "stop" and not self.skipping:  # inside a dropped quote it changes nothing
            self.stopped = True
            return
        if tag in _BLOCK:
            self.parts.append("\n")
        elif tag in _CELL:
            self.parts.append(" ")
        if tag in _VOID:
            return
        skipped = verdict != ""
        self.stack.append((tag, skipped))
        self.skipping += skipped
        self.pre += tag == "pre"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            self.handle_starttag(tag, attrs)
        elif not self.stopped and not self.skipping \
                and _quoted(tag, {k.lower(): v or "" for k, v in attrs}) == "stop":
            self.stopped = True

    def handle_endtag(self, tag: str) -> None:
        if self.stopped or not any(open_tag == tag for open_tag, _ in self.stack):
            return  # stray end tag: ignore
        while self.stack:
            open_tag, skipped = self.stack.pop()
            self.skipping -= skipped
            self.pre -= open_tag == "pre"
            if open_tag == tag:
                break
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.stopped or self.skipping:
            return
        self.parts.append(data.replace("\xa0", " ") if self.pre else _SPACES.sub(" ", data))

    def text(self) -> str:
        lines = (line.strip() for line in "".join(self.parts).split("\n"))
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def html_unquoted_text(html: str) -> str:
    """Plain text of an HTML body with quoted elements left out (pass 1 only)."""
    parser = _TextExtractor()
    try:
        parser.feed(defuse_html(html))  # html.parser is quadratic on unclosed tags
        parser.close()
    except Exception:  # html.parser on hostile input: keep what was read so far
        pass
    return parser.text()


def html_new_text(html: str) -> str:
    """The new text of an HTML reply body, as plain text, with quoted history removed."""
    return split_reply(html_unquoted_text(html))[0]


def reply_text(msg: Inbound) -> str:
    """The author's new words in a message: from its HTML when it has no text part
    (so blockquotes and Outlook reply blocks are cut by structure), else from its text."""
    if msg.html_only and msg.html:
        return html_new_text(msg.html)
    return split_reply(msg.text)[0]
