"""Who sent a mail, as far as maild can prove it, and what that lets them do (docs/TRUST.md).

Headers can be forged by anyone, so a ``From:`` alone proves nothing. A mail
carries at most three proofs of its sender — a case token, a staff member's
personal address, sender authentication stamped by our own mail server — and
customers on a case have a fourth, weaker one: References naming a mail we
sent them. ``allowed`` is the one place that turns (who the mail claims to be
from, what it asks for, which proofs it carries) into yes or no; the handlers
only ask it.

Authentication-Results (RFC 8601) are parsed with ``authres``: a small,
pure-Python parser by the dkimpy maintainers that handles comments, quoted
values, several results and ``none``; writing our own grammar would be one
more place for a forgery to slip through. Which header we believe:

* walk the Authentication-Results headers top-down (our MTA prepends);
* the first one whose authserv-id is ``[trust] authserv_id`` is ours, but only
  if no header of another id (or one we cannot parse) stands above it — a
  header of ours below a foreign one may have come with the mail;
* if a second header with our id appears anywhere, none is believed: the
  sender put one in, and we cannot tell which is which.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import authres  # type: ignore[import-untyped]


class Proof(StrEnum):
    """One piece of evidence about the sender of a mail."""

    CASE_TOKEN = "case token"  # 1: helpdesk+<case token>@, issued to this sender
    PERSONAL = "personal address"  # 2: helpdesk+s-<token>@, issued to this staff member
    AUTHENTICATED = "sender authentication"  # 3: our MTA's dmarc=pass / aligned dkim=pass
    REFERENCES = "references"  # the mail answers one we sent this customer on this case


class Claim(StrEnum):
    """Who the From: header says the sender is, relative to the mail's case."""

    STAFF = "staff"
    CUSTOMER = "customer"  # the case's own customer (or, with no case, any sender)
    STRANGER = "stranger"  # neither the case's customer nor staff
    VENDOR = "vendor"  # an outside support line (rules/lines.toml); its tags: core.cases


class Action(StrEnum):
    """What a mail asks maild to do, grouped as the trust table's groups it."""

    STAFF_COMMAND = "staff command on a case"
    MAILBOX = "phone summary, forward on behalf of a customer, #search, #mine, #queue"
    CUSTOMER_STATE = "customer confirm, reopen, rating or complaint"
    CUSTOMER_MAIL = "new case, or reply logged and forwarded"


_ANY: tuple[frozenset[Proof], ...] = (frozenset(),)

# (claim, action) → the proof sets any one of which is enough; absent = never.
POLICY: Mapping[tuple[Claim, Action], tuple[frozenset[Proof], ...]] = {
    (Claim.STAFF, Action.STAFF_COMMAND): (
        frozenset({Proof.CASE_TOKEN}), frozenset({Proof.PERSONAL}),
        frozenset({Proof.AUTHENTICATED})),
    (Claim.STAFF, Action.MAILBOX): (
        frozenset({Proof.PERSONAL}), frozenset({Proof.AUTHENTICATED})),
    (Claim.CUSTOMER, Action.CUSTOMER_STATE): (
        frozenset({Proof.CASE_TOKEN}), frozenset({Proof.REFERENCES}),
        frozenset({Proof.AUTHENTICATED})),
    (Claim.CUSTOMER, Action.CUSTOMER_MAIL): _ANY,
    (Claim.STAFF, Action.CUSTOMER_MAIL): _ANY,  # unproven staff are handled as customers
    (Claim.STRANGER, Action.CUSTOMER_MAIL): _ANY,  # then the unknown-sender policy decides
    # a vendor acts on a case only through the token of the mail that passed it the case:
    # outside our organisation, neither a personal address nor our MTA's word is about them
    (Claim.VENDOR, Action.STAFF_COMMAND): (frozenset({Proof.CASE_TOKEN}),),
    (Claim.VENDOR, Action.CUSTOMER_MAIL): _ANY,  # unproven: a stranger's mail
}


def allowed(claim: Claim, action: Action, proofs: Iterable[Proof]) -> bool:
    """Whether a mail claiming ``claim`` may do ``action`` with these proofs."""
    have = frozenset(proofs)
    return any(need <= have for need in POLICY.get((claim, action), ()))


@dataclass(frozen=True)
class Verdict:
    """What our own Authentication-Results header says, and why it was (not) believed."""

    authenticated: bool
    reason: str


def _parse(value: str) -> tuple[str | None, list[tuple[str, str, dict[str, str]]]]:
    """(authserv-id, [(method, result, {ptype.property: value})]); id None if unreadable."""
    try:
        header = authres.AuthenticationResultsHeader.parse_value(
            " ".join(value.split()))
    except Exception:  # authres raises several kinds of error on malformed input
        return None, []
    results = [(str(r.method).lower(), str(r.result).lower(),
                {f"{p.type}.{p.name}".lower(): str(p.value).lower() for p in r.properties})
               for r in header.results]
    return str(header.authserv_id).lower(), results


def _aligned(domain: str, from_domain: str) -> bool:
    """``domain`` is the From domain or a parent of it (relaxed alignment)."""
    domain = domain.strip().strip(".").lower()
    return bool(domain) and "." in domain and (
        from_domain == domain or from_domain.endswith("." + domain))


def authentication(headers: Sequence[str], authserv_id: str | None,
                   from_addr: str) -> Verdict:
    """Proof 3 from the Authentication-Results headers, in order from the top."""
    if not authserv_id:
        return Verdict(False, "proof 3 is off ([trust] authserv_id unset)")
    ours = authserv_id.strip().lower()
    parsed = [_parse(h) for h in headers]
    mine = [i for i, (sid, _) in enumerate(parsed) if sid == ours]
    if not mine:
        return Verdict(False, f"no Authentication-Results from {ours}")
    if len(mine) > 1:
        return Verdict(False, f"{len(mine)} Authentication-Results claim {ours}: none believed")
    if mine[0] != 0:
        return Verdict(False, f"the Authentication-Results of {ours} is below a foreign one")
    from_domain = from_addr.rpartition("@")[2].lower()
    for method, result, props in parsed[0][1]:
        if result != "pass":
            continue
        if method == "dmarc" and _aligned(props.get("header.from", from_domain), from_domain):
            return Verdict(True, f"{ours}: dmarc=pass")
        if method == "dkim" and _aligned(props.get("header.d", ""), from_domain):
            return Verdict(True, f"{ours}: dkim=pass header.d={props['header.d']}")
    return Verdict(False, f"{ours}: no dmarc=pass or aligned dkim=pass for {from_domain}")


ENVELOPE_HEADERS = frozenset({"delivered-to", "x-original-to", "envelope-to"})


def recipients(envelope: Sequence[tuple[str, str]], to: Sequence[str], cc: Sequence[str],
               names: Sequence[str]) -> tuple[str, ...]:
    """The addresses our MTA vouches for: of each envelope header named, only the topmost
    (the one our MTA added last; any below it may have come with the mail), plus To/Cc."""
    found: list[str] = []
    for name in names:
        key = name.lower()
        if key == "to":
            found += to
        elif key == "cc":
            found += cc
        else:
            found += [v for k, v in envelope if k == key][:1]
    return tuple(dict.fromkeys(a.lower() for a in found))
