"""Header values → addresses, Message-IDs, dates and the return path, tolerantly."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_tz

from maild.core.addresses import key as address_key
from maild.core.charsets import CONTROL, ENCODED_WORD, guess, header_text, raw_bytes

# --- addresses --------------------------------------------------------------

_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"?', re.S)
_ANGLE = re.compile(r"<([^<>]*)>")
COMMENT = re.compile(r"\(([^()]*)\)")
LOCAL_PART = re.compile(r"[A-Za-z0-9._+-]+")


def _split_list(value: str) -> Iterator[str]:
    """Split an address list at top-level commas; quotes, comments, <> and words are opaque."""
    quote = angle = False
    depth = start = i = 0
    while i < len(value):
        c = value[i]
        if quote or depth:
            if c == "\\":
                i += 1
            elif quote:
                quote = c != '"'
            else:
                depth += (c == "(") - (c == ")")
        elif c == "=" and (m := ENCODED_WORD.match(value, i)):
            i = m.end()
            continue
        elif c in '"(':
            quote, depth = c == '"', int(c == "(")
        elif c in "<>":
            angle = c == "<"
        elif not angle and c in ",;:":
            if c != ":":  # ":" only ends a group's display name
                yield value[start:i]
            start = i + 1
        i += 1
    yield value[start:]


def bare_address(addr: str) -> str:
    addr = "".join(COMMENT.sub("", addr).split()).rsplit(":", 1)[-1]  # "mailto:", routes
    return address_key(guess(raw_bytes(addr))) if addr else ""


def _mailbox(item: str, hint: str | None) -> tuple[str, str]:
    """One list item → (decoded display name, lower-cased bare address or "")."""
    masked = _QUOTED.sub(lambda m: " " * len(m[0]), item)
    angles = list(_ANGLE.finditer(masked))
    if angles:
        m = next((a for a in angles if "@" in a[1]), angles[0])
        name, addr = item[: m.start()], bare_address(item[m.start() + 1 : m.end() - 1])
        if not addr and LOCAL_PART.fullmatch(name.strip()):  # "MAILER-DAEMON <>"
            addr = name.strip().lower()
    else:
        comment = COMMENT.search(masked)
        name = comment[1] if comment else ""
        words = COMMENT.sub(" ", masked).split()
        addr = next((w for w in words if "@" in w), words[0] if len(words) == 1 else "")
        addr = addr if "@" in addr or LOCAL_PART.fullmatch(addr) else ""
        addr = bare_address(addr)
    name = _QUOTED.sub(lambda q: re.sub(r"\\(.)", r"\1", q[1]), name)
    return header_text(name, hint).strip("\"' "), addr


def mailboxes(values: list[str], hint: str | None = None) -> list[tuple[str, str]]:
    found = [_mailbox(item, hint) for value in values for item in _split_list(value)]
    return [(name, addr) for name, addr in found if addr]


def addresses(values: list[str], hint: str | None = None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(addr for _, addr in mailboxes(values, hint)))


# --- ids, dates, return path ------------------------------------------------


def message_ids(value: str | None) -> tuple[str, ...]:
    """Message-ids in a header, without brackets; bare `x@y` tokens accepted."""
    text = guess(raw_bytes(value or ""))
    found = ["".join(m.split()) for m in _ANGLE.findall(text)]
    if not any(found):
        found = [w.strip("<>,;") for w in text.split() if "@" in w]
    return tuple(dict.fromkeys(CONTROL.sub("", f) for f in found if f))


def message_id_of(value: str | None) -> str | None:
    ids = message_ids(value)
    words = header_text(value or "").strip("<> ").split()
    return ids[0] if ids else (words[0] if words else None)


def parse_date(value: str | None) -> datetime | None:
    """The Date header as a tz-aware datetime; a missing zone is read as UTC."""
    try:
        t = parsedate_tz(header_text(value)) if value else None
        if t is None:
            return None
        year = t[0] + 1900 if t[0] < 1000 else t[0]  # RFC 5322 obs-year "101"
        try:
            tz = timezone(timedelta(seconds=t[9] or 0))
        except ValueError:
            tz = UTC
        return datetime(year, t[1], t[2], t[3], t[4], min(t[5], 59), tzinfo=tz)
    except (ValueError, OverflowError, IndexError, TypeError):
        return None


def return_path_of(values: list[str]) -> str | None:
    if not values:
        return None
    if not COMMENT.sub("", values[0]).strip(" \t\r\n<>"):
        return ""  # "<>": the null sender of bounces and auto-replies
    boxes = mailboxes(values[:1])
    return boxes[0][1] if boxes else None
