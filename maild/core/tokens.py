"""Signed reply tokens: ``helpdesk+<token>@domain`` ties a reply to a case and a person.

A token is ``<kind><id>-<sig>`` where ``sig`` is an HMAC-SHA256 over the kind,
the id and the recipient's address, truncated to 80 bits and base32-encoded
(16 characters). The recipient is not in the token: a reply verifies only
when it comes *from* the address the token was issued to, so a forwarded
dispatch mail gives its new reader no command rights. The whole plus-part
stays well under the 64-character local-part limit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence

from maild.core import addresses

CASE = "c"  # a case notification
HOLD = "h"  # a held message awaiting the sender's confirmation
PROBLEM = "p"  # a problem notification: the kind is signed, so a case token never names
#                a problem (nor a problem token a case), though both carry numbers
PERSONAL = "s"  # a staff member's personal address: ``s-<sig>``, no id

_PERSONAL_RE = re.compile(r"^s-([a-z2-7]{16})$")

_TOKEN_RE = re.compile(r"^([chp])(\d{1,12})-([a-z2-7]{16})$")


def _sig(secret: str, kind: str, ident: int, recipient: str) -> str:
    mac = hmac.new(secret.encode(), f"{kind}{ident}:{addresses.key(recipient)}".encode(),
                   hashlib.sha256).digest()
    return base64.b32encode(mac[:10]).decode().lower()


def make_token(secret: str, kind: str, ident: int, recipient: str) -> str:
    """A token for ``recipient`` about case (or held message) ``ident``."""
    return f"{kind}{ident}-{_sig(secret, kind, ident, recipient)}"


def parse_token(token: str) -> tuple[str, int, str] | None:
    """Split a token into (kind, id, signature), or None if it is not one of ours."""
    m = _TOKEN_RE.match(token.lower())
    return (m.group(1), int(m.group(2)), m.group(3)) if m else None


def verify_token(secrets: Sequence[str], token: str, sender: str) -> tuple[str, int] | None:
    """(kind, id) when ``token`` was issued to ``sender`` under one of ``secrets``.

    ``secrets`` is the current secret followed by the retired ones still honoured
    (``[helpdesk] previous_secrets``): after a rotation, replies to mail sent
    before it keep working until the old secret is removed from the list, and a
    token that verifies under none of them is refused, never guessed at.
    Every comparison is constant-time."""
    parts = parse_token(token)
    if parts is None:
        return None
    kind, ident, sig = parts
    ok = False
    for secret in secrets:
        ok |= hmac.compare_digest(sig, _sig(secret, kind, ident, sender))
    return (kind, ident) if ok else None


def personal_token(secret: str, staff_email: str) -> str:
    """The plus-part of ``staff_email``'s personal helpdesk address (docs/TRUST.md, proof 2)."""
    return f"{PERSONAL}-{_sig(secret, PERSONAL, 0, staff_email)}"


def verify_personal(secrets: Sequence[str], token: str, sender: str) -> bool:
    """Whether ``token`` is the personal address of ``sender`` under one of ``secrets``
    (the same rotation rule as ``verify_token``)."""
    m = _PERSONAL_RE.match(token.lower())
    if m is None:
        return False
    ok = False
    for secret in secrets:
        ok |= hmac.compare_digest(m.group(1), _sig(secret, PERSONAL, 0, sender))
    return ok


def token_address(helpdesk_address: str, token: str) -> str:
    """``helpdesk@corp`` + token → ``helpdesk+token@corp``."""
    local, _, domain = helpdesk_address.partition("@")
    return f"{local}+{token}@{domain}"


def tokens_in(addresses: tuple[str, ...], helpdesk_address: str) -> list[str]:
    """The plus-parts of every address that is our helpdesk address with a tag."""
    local, _, domain = helpdesk_address.lower().partition("@")
    found = []
    for addr in addresses:
        a_local, _, a_domain = addr.lower().partition("@")
        base, plus, tag = a_local.partition("+")
        if plus and base == local and a_domain == domain and tag:
            found.append(tag)
    return found
