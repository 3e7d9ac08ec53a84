"""OutgoingMail → RFC 5322 bytes, with the headers that keep threads together and loops away."""

from __future__ import annotations

import hashlib
import re
import struct
from binascii import b2a_base64
from dataclasses import dataclass
from datetime import datetime
from email import base64mime, quoprimime
from email.policy import Compat32
from email.utils import format_datetime, formataddr
from itertools import chain
from urllib.parse import quote

from maild.core import addresses

LOOP_HEADER = "X-Maild-Loop"
HEADER_LINE = 78  # RFC 5322's "SHOULD" line length, compat32's default fold width


class _Compat32(Compat32):
    """compat32, writing a short plain-ASCII header line directly.

    compat32 builds an ``email.header.Header`` for every header only to learn
    that it fits on one line: a third of the time of building a notification
    (0.42 → 0.28 ms). Such a header (printable: no CR, LF or other line break)
    folds to itself; longer or non-ASCII ones take the usual path
    (tests/core/test_mime.py checks that both give the same bytes)."""

    def fold_binary(self, name: str, value: object) -> bytes:
        if (type(value) is str and value.isascii() and value.isprintable()
                and len(name) + len(value) + 2 <= HEADER_LINE):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)  # type: ignore[arg-type]


class Utf8Header(str):
    """A header value written as raw UTF-8 (RFC 6532): addresses whose local part has
    no ASCII form, which RFC 2047 may not encode. Such a message needs SMTPUTF8."""


class _Compat32Utf8(_Compat32):
    def fold_binary(self, name: str, value: object) -> bytes:
        if isinstance(value, Utf8Header):  # checked addresses: no CR, LF or controls
            return f"{name}: {value}{self.linesep}".encode()
        return super().fold_binary(name, value)


SMTP_COMPAT = _Compat32Utf8(linesep="\r\n")


@dataclass(frozen=True)
class OutgoingMail:
    from_name: str
    from_addr: str
    to: tuple[str, ...]
    subject: str
    text: str
    html: str
    message_id: str  # without angle brackets
    date: datetime
    reply_to: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    auto_submitted: str = "auto-replied"
    attachments: tuple[tuple[str, str, bytes], ...] = ()  # (filename, content type, data)
    # images the HTML shows by ``<img src="cid:ID">``: (ID, content type, data)
    inline: tuple[tuple[str, str, bytes], ...] = ()
    plain: bool = False  # text/plain alone, no HTML (a text message through a gateway)


def one_line(text: str, limit: int = 200) -> str:
    """No header injection: collapse CR/LF and control characters, cap the length."""
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(text.split())[:limit]


def _address(name: str, addr: str) -> str:
    """``Name <addr>`` with the name RFC 2047-encoded when it is not ASCII."""
    return formataddr((one_line(name), addr), charset="utf-8")


_LINE = 76  # base64 characters a line (RFC 2045 6.8), as base64.encodebytes writes them
_LINES = re.compile(b".{1,%d}" % _LINE, re.DOTALL).findall
_BLOCK = struct.Struct(f"{_LINE}s" * 128)  # 128 whole lines, cut in one call


def _base64(data: bytes) -> list[bytes]:
    """``base64.encodebytes`` with CRLF line ends: 76-character lines, each with its CRLF
    (nothing at all for no data), from one ``b2a_base64`` call instead of one a line,
    cut into lines 128 at a time (a dispatch's HTML is 28 KB: 500 lines)."""
    if not data:
        return []
    text = b2a_base64(data, newline=False)
    whole = len(text) - len(text) % _BLOCK.size
    lines = list(chain.from_iterable(_BLOCK.iter_unpack(memoryview(text)[:whole])))
    lines += _LINES(text, whole)
    return [b"\r\n".join(lines) + b"\r\n"]


def _subject(subject: str) -> bytes:
    """The Subject field of a one-line subject: as is when ASCII, else RFC 2047 encoded
    words folded as compat32 folds ``Header(subject, "utf-8")`` (tests/core/test_mime.py
    compares the two), without encoding each line anew for every character to learn
    where it must break: B or Q, whichever is shorter for the whole subject; each line
    as many characters as fit in 78 columns (the first counted without the field name)."""
    if subject.isascii():
        return _h("Subject", subject)
    data = subject.encode("utf-8")
    b_length, q_length = base64mime.header_length(data), quoprimime.header_length(data)
    b = b_length < q_length
    if (b_length if b else q_length) <= HEADER_LINE - _RFC2047_CHROME:  # one line
        word = base64mime.header_encode(data, "utf-8") if b \
            else quoprimime.header_encode(data, "utf-8")
        return f"Subject: {word}\r\n".encode("ascii")
    sizes = [len(c.encode("utf-8")) if b else quoprimime.header_length(c.encode("utf-8"))
             for c in subject]
    words: list[str] = []
    start, room = 0, HEADER_LINE - _RFC2047_CHROME
    while start < len(subject):
        end, total = start, 0
        while end < len(subject):  # at least one character a line
            total += sizes[end]
            if (-(-total // 3) * 4 if b else total) > room and end > start:
                break
            end += 1
        chunk = subject[start:end].encode("utf-8")
        words.append(base64mime.header_encode(chunk, "utf-8") if b
                     else quoprimime.header_encode(chunk, "utf-8"))
        start, room = end, HEADER_LINE - 1 - _RFC2047_CHROME  # after the continuation space
    return ("Subject: " + "\r\n ".join(words) + "\r\n").encode("ascii")


_RFC2047_CHROME = len("=?utf-8?b??=")


def _h(name: str, value: object) -> bytes:
    """One header field (folded if it must be), as ``SMTP_COMPAT`` writes it."""
    return SMTP_COMPAT.fold_binary(name, value)


# A part is its header fields and its body, the body as pieces to be joined once, at the
# end (a 50 KB attachment is copied once, not once per level of nesting); the blank line
# goes between the two when the part is written, and the message's own fields go after
# those of its top part.
Part = tuple[bytes, list[bytes]]

_VERSION = _h("MIME-Version", "1.0")
_BASE64 = _h("Content-Transfer-Encoding", "base64")


def _leaf(content_type: str, data: bytes, *fields: bytes) -> Part:
    """A base64 part, its fields in the order the ``email.mime`` classes add them."""
    return _h("Content-Type", content_type) + _VERSION + _BASE64 + b"".join(fields), \
        _base64(data)


def _multipart(content_type: str, boundary: str, parts: list[Part]) -> Part:
    """Each part after a delimiter line, CRLF before every delimiter but the first, and
    the close-delimiter last: ``email.generator``'s layout."""
    dash = b"--" + boundary.encode("ascii")
    body = [dash + b"\r\n"]
    for i, (head, text) in enumerate(parts):
        if i:
            body.append(b"\r\n" + dash + b"\r\n")
        body.append(head + b"\r\n")
        body += text
    body.append(b"\r\n" + dash + b"--\r\n")
    return _h("Content-Type", f'{content_type}; boundary="{boundary}"') + _VERSION, body


def _boundary(seed: str, n: int) -> str:
    return f"=_{seed[:24]}_{n}"


def _text_part(text: str, subtype: str) -> Part:
    return _leaf(f'text/{subtype}; charset="utf-8"', text.encode("utf-8"))


def _html_part(html: str, inline: tuple[tuple[str, str, bytes], ...], seed: str) -> Part:
    """The HTML part; with inline images, a multipart/related of it and them (RFC 2387).

    Mail clients show images only as such parts, referenced by Content-ID: they
    block remote images and most ignore data: URIs and SVG."""
    part = _text_part(html, "html")
    if not inline:
        return part
    images = [_leaf(f"image/{content_type.partition('/')[2] or 'png'}", data,
                    _h("Content-ID", f"<{one_line(cid, 120)}>"),
                    _h("Content-Disposition", "inline"))
              for cid, content_type, data in inline]
    return _multipart('multipart/related; type="text/html"', _boundary(seed, 2),
                      [part, *images])


def _attachment(filename: str, content_type: str, data: bytes) -> Part:
    maintype, _, subtype = content_type.partition("/")
    if not maintype or maintype == "application":
        maintype = "application"
    # RFC 2231, as email.message.Message.add_header writes filename=("utf-8", "", name)
    name = quote(one_line(filename, 120), safe="", encoding="utf-8")
    return _leaf(f"{maintype}/{subtype or 'octet-stream'}", data,
                 _h("Content-Disposition", f"attachment; filename*=utf-8''{name}"))


def build(mail: OutgoingMail) -> bytes:
    """A multipart/alternative (text + HTML) message, UTF-8, CRLF line endings.

    Written part by part with the fields, their folding (``SMTP_COMPAT``) and the
    layout of the compat32 ``email.mime`` classes and ``email.generator``, which
    built a message object per part and wrote every base64 body line by line: most
    of the time of building a notification. tests/core/test_mime.py builds mails
    both ways and compares the bytes.

    Boundaries come from the Message-ID, which appears nowhere else, and are made
    of letters, digits, ``=`` and ``_``: a boundary with ``_`` cannot occur in
    base64 text (RFC 2046 §5.1.1)."""
    seed = hashlib.sha256(mail.message_id.encode("utf-8", "surrogateescape")).hexdigest()
    if mail.plain:
        head, body = _text_part(mail.text, "plain")
    else:
        head, body = _multipart("multipart/alternative", _boundary(seed, 1), [
            _text_part(mail.text, "plain"), _html_part(mail.html, mail.inline, seed)])
    if mail.attachments:
        head, body = _multipart("multipart/mixed", _boundary(seed, 0), [
            (head, body), *(_attachment(*a) for a in mail.attachments)])
    fields = [head, _h("From", _address(mail.from_name, mail.from_addr))]
    to = ", ".join(addresses.header_form(a) for a in mail.to)  # AddressError when unusable
    fields.append(_h("To", to if to.isascii() else Utf8Header(to)))
    if mail.reply_to:
        fields.append(_h("Reply-To", _address(mail.from_name, mail.reply_to)))
    subject = one_line(mail.subject, 400)
    fields.append(_subject(subject))
    fields.append(_h("Date", format_datetime(mail.date)))
    fields.append(_h("Message-ID", f"<{mail.message_id}>"))
    if mail.in_reply_to:
        fields.append(_h("In-Reply-To", f"<{mail.in_reply_to}>"))
    refs = [r for r in dict.fromkeys(mail.references) if r]
    if refs:
        fields.append(_h("References", " ".join(f"<{r}>" for r in refs)))
    fields.append(_h("Auto-Submitted", mail.auto_submitted))
    fields.append(_h("X-Auto-Response-Suppress", "All"))
    fields.append(_h(LOOP_HEADER, mail.from_addr))
    fields.append(b"\r\n")
    return b"".join(fields + body)
