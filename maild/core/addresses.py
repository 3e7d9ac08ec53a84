"""Internationalised mail addresses (RFC 6530-6533): one place to check, compare and encode them.

IDNA with the ``idna`` package (IDNA 2008 with the UTS #46 mapping), not the
stdlib's ``encodings.idna`` (IDNA 2003): the stdlib maps ``ß`` to ``ss`` and
knows only Unicode 3.2, so it turns some valid domains into other domains and
refuses newer ones; ``idna`` follows the registries' current rules, is pure
Python and is kept up to date with Unicode.

Comparison key: the domain as a lower-case U-label (so ``例子.广告``,
``xn--fsqu00a.xn--4rr70v`` and ``EXAMPLE.com`` each have one form); an ASCII
local part lower-cased, as maild always has (every mail system it meets treats
``Wang.Fang`` and ``wang.fang`` as one mailbox); a non-ASCII local part kept
exactly (NFC only: Unicode case rules are not mailbox rules, so ``José`` and
``josé`` stay two mailboxes).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import idna

MAX_ADDRESS = 254  # octets in a forward-path (RFC 5321 4.5.3.1.3, with the errata)
MAX_LOCAL = 64
# Atoms of an unquoted local part: RFC 5322 atext, plus any non-ASCII (RFC 6532 UTF8-non-ascii).
_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+")
_QTEXT = re.compile(r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\U0010ffff]|\\[\x20-\x7e])*"')
_BAD = re.compile(r"[\x00-\x1f\x7f\u0080-\u009f\ud800-\udfff\u2028\u2029\ufeff]")


class AddressError(ValueError):
    """An address that cannot be used, with the reason in words."""


@dataclass(frozen=True)
class Envelope:
    """What to say in RCPT TO, and whether the transaction needs SMTPUTF8."""

    address: str
    smtputf8: bool


def split(addr: str) -> tuple[str, str]:
    """(local part, domain) at the last ``@``; AddressError when there is none."""
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain:
        raise AddressError(f"not an address: {addr!r}")
    return local, domain


def _local_ok(local: str) -> bool:
    if local.startswith('"'):
        return bool(_QTEXT.fullmatch(local))
    return all(_ATEXT.fullmatch(atom) for atom in local.split("."))


def u_label(domain: str) -> str:
    """The domain in Unicode (U-label) form, lower-case; AddressError when not a valid name."""
    try:
        return str(idna.decode(idna.encode(domain.rstrip("."), uts46=True)))
    except (idna.IDNAError, UnicodeError) as exc:
        raise AddressError(f"not a valid domain: {domain!r} ({exc})") from None


def a_label(domain: str) -> str:
    """The domain in ASCII (A-label, ``xn--``) form, as a relay without SMTPUTF8 needs it."""
    if domain.isascii() and "xn--" not in domain.lower():
        return domain.lower().rstrip(".")
    try:
        return bytes(idna.encode(domain.rstrip("."), uts46=True)).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise AddressError(f"not a valid domain: {domain!r} ({exc})") from None


@lru_cache(maxsize=512)
def check(addr: str) -> str:
    """The address, NFC-normalised, with its domain as a U-label; AddressError when unusable.

    Remembered (an unusable address is not: it raises each time): a notification
    checks its recipient three times (the row, its key, the To: field), and the
    same few staff and customers get most of them. Only 512: a check costs 14 µs,
    and a larger cache fills for tens of thousands of messages from a stream of
    one-off addresses (strangers, bounces), each entry pinning Python memory: that
    was the daemon's slow RSS creep (docs/PERFORMANCE.md, memory)."""
    if _BAD.search(addr):
        raise AddressError(f"control or invalid characters in address {addr!r}")
    local, domain = split(unicodedata.normalize("NFC", addr.strip()))
    if not _local_ok(local):
        raise AddressError(f"malformed local part in {addr!r}")
    if len(local.encode("utf-8")) > MAX_LOCAL:
        raise AddressError(f"local part longer than {MAX_LOCAL} octets in {addr!r}")
    domain = domain.lower() if domain.isascii() and "xn--" not in domain.lower() \
        else u_label(domain)
    if domain.isascii() and not re.fullmatch(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?", domain):
        raise AddressError(f"malformed domain in {addr!r}")
    whole = f"{local}@{domain}"
    if len(f"{local}@{a_label(domain)}".encode()) > MAX_ADDRESS:
        raise AddressError(f"address longer than {MAX_ADDRESS} octets: {addr!r}")
    return whole


def key(addr: str) -> str:
    """The form addresses are compared and stored in (see the module docstring).

    Never raises: an address that is not valid is only lower-cased and trimmed,
    so a comparison with it still works the way it did before."""
    try:
        local, domain = split(check(addr))
    except AddressError:
        return addr.strip().lower()
    return f"{local.lower() if local.isascii() else local}@{domain}"


def needs_smtputf8(addr: str) -> bool:
    """True when no ASCII form of the address exists (its local part is not ASCII)."""
    return not split(addr)[0].isascii()


def envelope(addr: str, relay_smtputf8: bool) -> Envelope:
    """The RCPT TO form for a relay with or without SMTPUTF8 (RFC 6531).

    An ASCII local part goes with the A-label domain, which every relay takes;
    a non-ASCII one needs SMTPUTF8, and without it the address cannot be sent
    to at all (AddressError says so)."""
    local, domain = split(check(addr))
    if local.isascii():
        return Envelope(f"{local}@{a_label(domain)}", False)
    if not relay_smtputf8:
        raise AddressError(f"{addr}: the local part {local!r} has no ASCII form and the "
                           "mail relay does not offer SMTPUTF8")
    return Envelope(f"{local}@{domain}", True)


def header_form(addr: str) -> str:
    """The address as written in a To: header: ASCII when it can be (A-label domain),
    else UTF-8 as RFC 6532 allows (such a message then goes only with SMTPUTF8)."""
    local, domain = split(check(addr))
    return f"{local}@{a_label(domain)}" if local.isascii() else f"{local}@{domain}"


def sendable(addr: str, relay_smtputf8: bool = False) -> bool:
    """Whether mail to ``addr`` can go out through such a relay (operators' notices)."""
    try:
        envelope(addr, relay_smtputf8)
    except AddressError:
        return False
    return True


def send_plan(recipients: list[str], raw: bytes,
              relay_smtputf8: bool) -> tuple[list[str], list[str]]:
    """(RCPT TO addresses, MAIL FROM options) for one stored mail through this relay.

    SMTPUTF8 is asked for when an envelope address or the header block has
    UTF-8 in it (RFC 6531); AddressError when the mail cannot go through this
    relay at all, which fails that one mail and no other."""
    envelopes = [envelope(r, relay_smtputf8) for r in recipients]
    if not envelopes:
        raise AddressError("no recipients")
    head = raw.split(b"\r\n\r\n", 1)[0]
    utf8 = any(e.smtputf8 for e in envelopes) or not head.isascii()
    if utf8 and not relay_smtputf8:
        raise AddressError("the message's headers need SMTPUTF8, which the mail relay "
                           "does not offer")
    return [e.address for e in envelopes], (["SMTPUTF8"] if utf8 else [])


def domain_key(domain: str) -> str:
    """A domain as ``key`` compares it (lower-case U-label); lower-cased when not valid."""
    try:
        return u_label(domain.strip()) if not domain.isascii() or "xn--" in domain.lower() \
            else domain.strip().lower()
    except AddressError:
        return domain.strip().lower()
