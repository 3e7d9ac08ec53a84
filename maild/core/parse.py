"""Raw bytes → `Inbound`: read any real-world mail without raising.

Every inbound message must get a disposition (docs/REFERENCE §3), so parsing never
fails on a broken e-mail; it raises `UnparseableMessage` only when the input
is not an e-mail at all (no header block and no sender address).

Why the stdlib and not mail-parser: the tree is built by
`email.message_from_bytes` with `policy.compat32`, which is exactly what
mail-parser 4.8 does internally, minus its failure modes. Its
`parse_from_bytes` raises on 5 corpus files (Received-header parsing), its
header decoding drops undecodable bytes (`errors="ignore"`) with no GBK or
GB18030 repair, and its address parser discards any mailbox whose header
carries raw 8-bit bytes, which is common in Chinese mail. What maild needs on
top of compat32 is charset repair, and that lives here: RFC 2047 words
re-joined per charset before decoding (mis-split multibyte characters),
GB2312/GBK labels read as GB18030, unlabelled 8-bit bytes tried as UTF-8,
then GB18030, then Latin-1. No result of the stdlib is trusted to decode
itself: every header is read raw and every payload as bytes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import Message
from email.utils import collapse_rfc2231_value
from html.parser import HTMLParser
from typing import TypeVar

from maild.core.charsets import WHITESPACE, decode, header_text, raw_bytes, raw_param
from maild.core.headers import (
    addresses,
    bare_address,
    mailboxes,
    message_id_of,
    message_ids,
    parse_date,
    return_path_of,
)
from maild.core.values import Attachment, Inbound

T = TypeVar("T")


class UnparseableMessage(ValueError):
    """The input is not an e-mail: no header block and no sender address."""

# --- bodies -----------------------------------------------------------------

_BLOCK_TAGS = frozenset(
    {"p", "div", "li", "tr", "table", "ul", "ol", "dl", "dt", "dd", "pre", "hr", "h1", "h2",
     "h3", "h4", "h5", "h6", "section", "article", "header", "footer", "address", "center"}
)
_SKIP_TAGS = frozenset({"style", "script", "head", "title", "template"})


class _HTMLText(HTMLParser):
    """Readable text from HTML: line breaks for blocks, `> ` for blockquotes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = self.quote = self.pre = 0

    def _newline(self) -> None:
        self.out.append("\n" + "> " * self.quote)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skip += 1
        elif tag == "body":
            self.skip = 0  # an unclosed <head> must not hide the body
        elif tag == "blockquote":
            self.quote += 1
            self._newline()
        elif tag == "br" or tag in _BLOCK_TAGS:
            self.pre += tag == "pre"
            self._newline()
            self.out.append("- " if tag == "li" else "")
        elif tag in ("td", "th"):
            self.out.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _SKIP_TAGS:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
        elif tag == "blockquote" or tag in _BLOCK_TAGS:
            self.quote = max(0, self.quote - (tag == "blockquote"))
            self.pre = max(0, self.pre - (tag == "pre"))
            self._newline()

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre:
            data = data.replace("\n", "\n" + "> " * self.quote)
        else:
            data = WHITESPACE.sub(" ", data)
        self.out.append(data.replace("\xa0", " "))


_UNCLOSED_TAG = re.compile(r"<(?![^<>]*>)")


def defuse_html(html: str) -> str:
    """Drop `<!…>` constructs and escape unclosed `<`, in one forward pass.

    Python 3.11's html.parser is quadratic on unclosed tags and comments
    ("<a <a <a …", "<!--x>" repeated): 40 KB of them would stall the worker.
    """
    out, pos = [], 0
    while (start := html.find("<!", pos)) != -1:
        out.append(html[pos:start])
        marker = "-->" if html.startswith("<!--", start) else ">"
        end = html.find(marker, start + 2)
        pos = len(html) if end == -1 else end + len(marker)
    out.append(html[pos:])
    return _UNCLOSED_TAG.sub("&lt;", "".join(out))


def html_whole_text(html: str) -> str:
    """All the text of an HTML body, quoted parts included (the message text; the quote
    splitter cuts later). ``html_quote.html_unquoted_text`` leaves quoted elements out."""
    parser = _HTMLText()
    try:
        parser.feed(defuse_html(html))
        parser.close()
    except (AssertionError, ValueError):  # old html.parser raised on bad markup
        pass
    lines = [re.sub(r" {2,}", " ", line).rstrip() for line in "".join(parser.out).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.lstrip(" ") for line in lines)).strip("\n")


def _safe(get: Callable[[], T], default: T) -> T:
    """Call a compat32 accessor that raises on some garbled headers; fall back to a default."""
    try:
        return get()
    except Exception:  # broken parameters, RFC 2231 continuations, transfer encodings…
        return default


def _ctype(part: Message) -> str:
    return _safe(lambda: str(part.get_content_type()).lower(), "text/plain")


def _charset(part: Message) -> str | None:
    label = _safe(lambda: collapse_rfc2231_value(part.get_param("charset") or ""), "")
    return label if isinstance(label, str) and label else None


def _filename(part: Message, hint: str | None = None) -> str:
    """The attachment's name; raw 8-bit bytes in its header are decoded by ``raw_param``
    (compat32 would turn them into U+FFFD before we saw them)."""
    name = _safe(lambda: _raw_filename(part, hint) or part.get_filename(), None)
    return header_text(name, _charset(part) or hint) if isinstance(name, str) else ""


def _raw_filename(part: Message, hint: str | None) -> str | None:
    for key, value in part.raw_items():
        if key.lower() in ("content-disposition", "content-type") and isinstance(value, str) \
                and not value.isascii():
            decoded = Message()
            decoded[key] = raw_param(raw_bytes(value), _charset(part) or hint)
            name = decoded.get_filename()
            if name:
                return name
    return None


def _disposition(part: Message) -> str | None:
    return _safe(part.get_content_disposition, None)


_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=\s]|\S[ \t]+\S")


def _payload(part: Message) -> bytes:
    """Decoded bytes; a part labelled base64 that is plainly not base64 is taken as sent."""
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    if cte == "base64":
        raw: object = _safe(lambda: part.get_payload(decode=False), None)
        if isinstance(raw, str):  # judged by its first line: lists append plain footers
            first = next((line for line in raw.splitlines()[:50] if line.strip()), "")
            if _NOT_BASE64.search(first):
                return raw.encode("utf-8", "surrogateescape")
    data = _safe(lambda: part.get_payload(decode=True), None)
    return data if isinstance(data, bytes) else b""


# A literal table, not mimetypes: that reads the machine's MIME files (I/O, and names that
# differ from one machine to the next).
_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif",
               "image/bmp": ".bmp", "image/webp": ".webp", "image/svg+xml": ".svg",
               "image/tiff": ".tif", "application/pdf": ".pdf", "audio/mpeg": ".mp3",
               "video/mp4": ".mp4", "application/zip": ".zip"}


def _inline_name(part: Message, ctype: str, index: int) -> str:
    """A file name for an unnamed inline part (an HTML mail's cid: image)."""
    cid = re.sub(r"[^A-Za-z0-9_.-]", "", str(part.get("content-id", "")).split("@")[0])[:40]
    ext = _EXTENSIONS.get(ctype, ".bin")
    return f"{cid or f'inline-{index}'}{ext}"


def _part_text(part: Message, hint: str | None) -> str:
    text = decode(_payload(part), _charset(part), hint)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _message_bytes(part: Message) -> bytes:
    """An attached message/rfc822 as bytes, regenerated from compat32's tree."""
    inner = part.get_payload() if part.is_multipart() else None  # no decoding attempted
    if not isinstance(inner, list) or not inner or not isinstance(inner[0], Message):
        return _payload(part)
    attached: Message = inner[0]
    return _safe(attached.as_bytes, b"")


def _walk(msg: Message) -> Iterator[tuple[Message, bool]]:
    """Leaves and message/* parts in order, with "inside an attachment"; iterative."""
    stack = [(msg, False, 0)]
    while stack:
        part, attached, depth = stack.pop()
        payload = part.get_payload() if part.is_multipart() else None  # the list of parts
        if not isinstance(payload, list) or _ctype(part).startswith("message/"):
            yield part, attached
        elif depth < 64:
            inside = attached or _disposition(part) == "attachment" or bool(_filename(part))
            subparts = [p for p in payload if isinstance(p, Message)]
            stack.extend((p, inside, depth + 1) for p in reversed(subparts))


def _hint(msg: Message) -> str | None:
    """The first declared charset: the best guess for unlabelled 8-bit headers."""
    return next(filter(None, (_charset(part) for part, _ in _walk(msg))), None)


def _bodies(msg: Message, hint: str | None) -> tuple[str, str, tuple[Attachment, ...]]:
    """(text/plain body, HTML body, attachments) from the MIME tree."""
    text: str | None = None
    html = ""
    attachments: list[Attachment] = []
    for part, attached in _walk(msg):
        ctype, name = _ctype(part), _filename(part, hint)
        if ctype in ("message/rfc822", "message/global"):
            attachments.append(Attachment(name or "forwarded.eml", ctype, _message_bytes(part)))
        elif ctype.startswith("message/"):
            continue  # delivery-status and friends: neither body nor file
        elif name or _disposition(part) == "attachment":
            attachments.append(Attachment(name or "attachment", ctype, _payload(part)))
        elif not ctype.startswith(("text/", "multipart/")):  # unnamed inline image and kin
            attachments.append(Attachment(_inline_name(part, ctype, len(attachments) + 1),
                                          ctype, _payload(part)))
        elif attached:
            continue
        elif text is None and (ctype == "text/plain" or ctype.startswith("multipart/")):
            text = _part_text(part, hint)  # a multipart with no boundary is read as text
        elif not html and ctype == "text/html":
            html = _part_text(part, hint)
    return text or "", html, tuple(attachments)


# --- the message ------------------------------------------------------------

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_HEADER_LINE = re.compile(rb"[A-Za-z0-9][A-Za-z0-9_-]*[ \t]*:")
_OBS_COLON = re.compile(rb"(?m)^([A-Za-z0-9][A-Za-z0-9_-]*)[ \t]+:")
_KNOWN = frozenset(
    {"from", "to", "cc", "subject", "date", "message-id", "received", "return-path", "sender",
     "reply-to", "mime-version", "content-type", "delivered-to", "in-reply-to", "references"}
)
_DELIVERY = ("delivered-to", "x-original-to", "envelope-to")


def _from_bytes(data: bytes) -> Message:
    try:
        return message_from_bytes(data, policy=policy.compat32)
    except RecursionError:  # absurd nesting: keep the headers, drop the body
        head = re.split(rb"\r?\n\r?\n", data, maxsplit=1)[0]
        return message_from_bytes(head, policy=policy.compat32)


def _header_count(msg: Message, names: frozenset[str] | None = None) -> int:
    keys = [k.lower() for k in msg.keys() if _NAME.fullmatch(k)]  # noqa: SIM118
    return len(keys) if names is None else len(names.intersection(keys))


def _repairs(data: bytes) -> Iterator[bytes]:
    """Candidate fixes for a header block the stdlib could not read."""
    head, *rest = re.split(rb"(\r?\n\r?\n)", data, maxsplit=1)
    yield _OBS_COLON.sub(rb"\1:", head) + b"".join(rest)  # RFC 5322 obsolete "Name  : value"
    lines = data.split(b"\n", 3)
    skip = next((i for i in range(1, len(lines)) if _HEADER_LINE.match(lines[i])), 0)
    if skip:  # a few garbage lines before the real headers
        yield b"\n".join(lines[skip:])


def _load(raw: bytes) -> Message:
    """Parse, after repairing a BOM, leading blank space or a broken first header."""
    data = raw.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    msg = _from_bytes(data)
    if _header_count(msg):
        return msg
    for candidate in _repairs(data):
        retry = _from_bytes(candidate)
        if _header_count(retry, _KNOWN) >= 2:
            return retry
    return msg


def _sender(heads: dict[str, list[str]], msg: Message, hint: str | None) -> tuple[str, str]:
    """(display name, address) from From, else Sender, else Return-Path, else mbox From_."""
    for name in ("from", "sender", "return-path"):
        boxes = mailboxes(heads.get(name, []), hint)
        if boxes:
            return boxes[0]
    envelope = (msg.get_unixfrom() or "").split()
    return ("", bare_address(envelope[1])) if len(envelope) > 1 and "@" in envelope[1] else ("", "")


def _content_digest(raw: bytes, first: dict[str, str]) -> str:
    """A hash that survives redelivery: the author's headers and the body, not the trace
    headers (Received, Return-Path, Delivered-To) that every delivery adds anew."""
    body = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[-1]
    head = "\n".join(f"{k}:{first.get(k, '')}" for k in ("from", "to", "cc", "subject", "date"))
    return hashlib.sha256(head.encode("utf-8", "surrogateescape") + b"\n\n" + body).hexdigest()


def parse(raw: bytes) -> Inbound:
    """Parse one raw message; raise `UnparseableMessage` only for non-mail input."""
    msg = _load(raw)
    heads: dict[str, list[str]] = {}
    for key, value in msg.raw_items():
        heads.setdefault(key.lower(), []).append(str(value))
    hint = _hint(msg)
    from_name, from_addr = _sender(heads, msg, hint)
    if not from_addr and not _header_count(msg):
        raise UnparseableMessage(f"no header block and no sender address in {len(raw)} bytes")
    first = {key: values[0] for key, values in heads.items()}
    message_id = message_id_of(first.get("message-id"))
    text, html, attachments = _bodies(msg, hint)
    delivered = [v for k, vs in heads.items() if k in _DELIVERY for v in vs]
    digest = _content_digest(raw, first)
    return Inbound(
        message_id=message_id,
        dedup_key=f"mid:{message_id}" if message_id else f"sha256:{digest}",
        from_addr=from_addr,
        from_name=from_name,
        subject=header_text(first.get("subject", ""), hint),
        to=addresses(heads.get("to", []), hint),
        cc=addresses(heads.get("cc", []), hint),
        delivered_to=addresses(delivered),
        date=parse_date(first.get("date")),
        in_reply_to=message_ids(first.get("in-reply-to")),
        references=message_ids(" ".join(heads.get("references", []))),
        text=text or (html_whole_text(html) if html else ""),  # an empty text part defers to HTML
        html=html,
        html_only=not text and bool(html),
        headers={key: header_text(value, hint) for key, value in first.items()},
        return_path=return_path_of(heads.get("return-path", [])),
        content_type=_ctype(msg),
        attachments=attachments,
        envelope=tuple((k, a) for k in _DELIVERY for v in heads.get(k, [])
                       for a in addresses([v])),
        auth_results=tuple(heads.get("authentication-results", [])),
    )
