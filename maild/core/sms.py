"""Text messages for urgent cases: who gets one, and the text cut to what a phone shows.

An email-to-SMS gateway turns a mail into one text message. One message holds 70
characters of Chinese (UCS-2) — and we write Chinese as often as English — so
every text is cut to 70 characters (characters, not bytes). ``fit`` keeps it on
one line and marks a cut with an ellipsis; ``texts`` says which of a change's
notices also go out as a text: the dispatch (or re-dispatch) to the engineer, the
escalation to the incident manager, and the SLA breach (the sweep's escalation, to the
incident manager and the engineer), of P1 and P2 cases, for people with an ``sms``
address in rules/staff.toml.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from maild.core.notify import Notice

LIMIT = 70
ELLIPSIS = "…"
URGENT = frozenset({"P1", "P2"})
TEMPLATES = frozenset({"dispatch", "escalation", "sla_breach"})


def fit(text: str, limit: int = LIMIT) -> str:
    """``text`` on one line, runs of white space as one space, at most ``limit`` characters;
    a cut text ends in "…" (counted in the limit)."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    if len(flat) <= limit:
        return flat
    return flat[:limit - 1].rstrip() + ELLIPSIS


def texts(notices: Sequence[Notice], priority: str,
          sms_of: Mapping[str, str]) -> list[tuple[Notice, str]]:
    """The notices that also go out as a text, each with the gateway address to use."""
    if priority not in URGENT:
        return []
    out: list[tuple[Notice, str]] = []
    seen: set[str] = set()
    for notice in notices:
        address = sms_of.get(notice.to.email)
        if notice.template in TEMPLATES and address and address not in seen:
            seen.add(address)
            out.append((notice, address))
    return out
