"""Decide whether an inbound message is automatic mail that must be ignored.

Why: answering an auto-reply, a bounce, a mailing list or our own mail starts
a mail loop or spams a list (RFC 3834 §2, docs/REFERENCE §3 item 2). `screen` returns
the reason, a short sentence kept with the message's `ignored` disposition,
or None for mail a person wrote.

The rules are the `RULES` table, tried in order; the first match wins.
Deliberately not a rule: `X-Auto-Response-Suppress`. Outlook and Exchange
put it on ordinary mail a person sends (it asks *other* systems not to
auto-reply), so it says nothing about whether this message is automatic.
Neither is an "Out of office" or "自动回复" subject: a customer may well
write those words, and an ignored message is never answered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from maild.core.values import Inbound

_BULK_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply", "auto-reply"})
_DAEMONS = frozenset({"mailer-daemon", "postmaster"})
_NEGATIVE = frozenset({"no", "false", "0"})


def _token(value: str) -> str:
    """The first word of a header value, lower-cased, without comments or parameters."""
    words = value.split("(", 1)[0].split(";", 1)[0].split()
    return words[0].lower() if words else ""


def _unplussed(addr: str) -> str:
    """`local+tag@domain` → `local@domain`, lower-cased."""
    local, at, domain = addr.lower().partition("@")
    return local.split("+", 1)[0] + at + domain


@dataclass(frozen=True)
class Seen:
    """One message as the rules see it: the message, its headers by lower-case name, our setup."""

    msg: Inbound
    headers: Mapping[str, str]
    own: frozenset[str]  # our addresses, without +tags
    loop_header: str


def _loop(s: Seen) -> str | None:
    found = s.loop_header.lower() in s.headers
    return f"carries our loop header {s.loop_header}" if found else None


def _own_address(s: Seen) -> str | None:
    sender = _unplussed(s.msg.from_addr)
    return f"from our own address {s.msg.from_addr}" if sender and sender in s.own else None


def _report(s: Seen) -> str | None:
    return "bounce: multipart/report" if s.msg.content_type == "multipart/report" else None


def _daemon(s: Seen) -> str | None:
    local = s.msg.from_addr.partition("@")[0].lower()
    return f"bounce: from {s.msg.from_addr}" if local in _DAEMONS else None


def _null_sender(s: Seen) -> str | None:
    return "bounce or auto-reply: empty Return-Path <>" if s.msg.return_path == "" else None


def _failed_recipients(s: Seen) -> str | None:
    """Only MTAs write X-Failed-Recipients (Exim and others, on bounces)."""
    return "bounce: X-Failed-Recipients" if s.headers.get("x-failed-recipients") else None


def _auto_submitted(s: Seen) -> str | None:
    value = _token(s.headers.get("auto-submitted", ""))
    return f"Auto-Submitted: {value}" if value and value != "no" else None


def _autoreply_header(s: Seen) -> str | None:
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder"):
        if name in s.headers and _token(s.headers[name]) not in _NEGATIVE:
            return f"auto-reply header {name}"
    return None


def _precedence(s: Seen) -> str | None:
    value = _token(s.headers.get("precedence", ""))
    return f"Precedence: {value}" if value in _BULK_PRECEDENCE else None


def _list_mail(s: Seen) -> str | None:
    found = [name for name in ("list-id", "list-unsubscribe") if s.headers.get(name, "").strip()]
    return f"mailing-list mail ({found[0]})" if found else None


# (rule, check) in priority order: the first check that returns a reason decides.
RULES: tuple[tuple[str, Callable[[Seen], str | None]], ...] = (
    ("loop header", _loop),
    ("own address", _own_address),
    ("delivery report", _report),
    ("mailer daemon", _daemon),
    ("null sender", _null_sender),
    ("failed recipients", _failed_recipients),
    ("auto-submitted", _auto_submitted),
    ("auto-reply header", _autoreply_header),
    ("bulk precedence", _precedence),
    ("mailing list", _list_mail),
)


def screen(
    msg: Inbound, own_addresses: frozenset[str], loop_header: str = "X-Maild-Loop"
) -> str | None:
    """Return why `msg` is automatic mail to ignore, or None if a person wrote it."""
    seen = Seen(
        msg=msg,
        headers={name.lower(): value for name, value in msg.headers.items()},
        own=frozenset(_unplussed(addr) for addr in own_addresses),
        loop_header=loop_header,
    )
    for _rule, check in RULES:
        reason = check(seen)
        if reason is not None:
            return reason
    return None
