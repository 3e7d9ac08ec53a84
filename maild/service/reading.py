"""One read of what the decision needs: the message's case, its sender, its proofs.

``read`` turns a parsed message into ``core.classify.Facts`` plus the rows and
values the chosen route will use (so no route reads them again). The proofs
of the sender (``core.trust``) are gathered here: which recipient headers our
MTA vouches for, a case token issued to this sender, the personal address of a
staff member, our own Authentication-Results, and References naming a mail we
sent the case's customer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlmodel import Session, col, select

from maild.core import addresses, threads, trust
from maild.core.classify import Facts
from maild.core.forwarding import Forwarded, find_forwarded, looks_forwarded
from maild.core.html_quote import reply_text
from maild.core.mime import LOOP_HEADER
from maild.core.screening import screen
from maild.core.tags import parse_tags
from maild.core.trust import Proof
from maild.core.values import CaseRef, Command, Inbound
from maild.db import problems, queries
from maild.db.models import Case, Customer, OutboxMail
from maild.db.queries import Recorded
from maild.runtime import Runtime

log = logging.getLogger("maild.trust")


@dataclass(frozen=True)
class Reading:
    """The facts for ``classify``, and what the routes need beside them."""

    facts: Facts
    new_text: str  # the author's new words; "" for mail decided before it is read
    case: Case | None = None
    customer: Customer | None = None  # the sender's own directory entry
    first: Command | None = None
    forwarded: Forwarded | None = None
    earlier: Recorded | None = None  # the message this one duplicates


def read(s: Session, rt: Runtime, msg: Inbound) -> Reading:
    """Read just enough, in decision order: a duplicate or auto-reply needs nothing more."""
    h = rt.settings.helpdesk
    author = bool(msg.from_addr) and any(
        "@" in msg.headers.get(name, "") for name in ("from", "sender"))
    if not author:
        return Reading(Facts(has_author=False), "")
    earlier = queries.seen_before(s, msg.dedup_key)
    if earlier is not None:
        return Reading(Facts(has_author=True, duplicate_of=earlier.id), "", earlier=earlier)
    reason = screen(msg, frozenset({h.address.lower()}), LOOP_HEADER)
    if reason:
        return Reading(Facts(has_author=True, auto_generated=reason), "")
    text = reply_text(msg).strip()  # quotes cut only for mail that will be read
    rcpts = trust.recipients(msg.envelope, msg.to, msg.cc, rt.settings.trust.recipient_headers)
    proofs = set(sender_proofs(rt, msg, rcpts))
    ref = find_case(s, rt, msg, rcpts)
    case = queries.get_case(s, ref.case_id) if ref else None
    case_customer = False
    if ref is not None and case is not None:
        if ref.token_owner is not None and ref.token_owner == msg.from_addr:
            proofs.add(Proof.CASE_TOKEN)
        address = customer_of(s, case)
        case_customer = address is not None and address == addresses.key(msg.from_addr)
        if case_customer and answers_our_mail(s, case, msg, msg.from_addr):
            proofs.add(Proof.REFERENCES)
    problem_id = find_problem(s, rt, msg, rcpts, ref)
    if problem_id is not None and threads.problem_token_id(
            msg, rcpts, h.address, h.secrets) == problem_id:
        proofs.add(Proof.PROBLEM_TOKEN)
    refs_case = (ref is not None and ref.via == "subject"
                 and queries.case_by_references(s, threads.reference_ids(msg)) == ref.case_id)
    first = next(iter(parse_tags(text)), None)
    role = rt.rules.role_of(msg.from_addr)
    forwarding = role is not None and looks_forwarded(msg)
    fwd = find_forwarded(msg) if forwarding else None
    if fwd is not None and fwd.from_addr == msg.from_addr:
        fwd = None
    customer = queries.customer_by_email(s, msg.from_addr)
    facts = Facts(has_author=True, case_id=ref.case_id if ref else None,
                  problem_id=problem_id,
                  via=ref.via if ref else None, references_case=refs_case,
                  case_customer=case_customer, role=role, proofs=frozenset(proofs),
                  held_id=threads.hold_token_id(msg, rcpts, h.address, h.secrets),
                  first_tag=first.tag if first else None, looks_forwarded=forwarding,
                  forwarded_from=fwd.from_addr if fwd else None,
                  known_customer=customer is not None, unknown_senders=h.unknown_senders)
    return Reading(facts, text, case=case, customer=customer, first=first, forwarded=fwd)


def find_case(s: Session, rt: Runtime, msg: Inbound, rcpts: tuple[str, ...]) -> CaseRef | None:
    """Token, then [Case #N] in the subject, then In-Reply-To/References."""
    h = rt.settings.helpdesk
    ref = threads.token_ref(msg, rcpts, h.address, h.secrets)
    if ref and queries.get_case(s, ref.case_id):
        return ref
    number = threads.subject_case_id(msg.subject, h.subject_tag)
    if number is not None and queries.get_case(s, number):
        return CaseRef(number, "subject")
    found = queries.case_by_references(s, threads.reference_ids(msg))
    return CaseRef(found, "references") if found else None


def find_problem(s: Session, rt: Runtime, msg: Inbound, rcpts: tuple[str, ...],
                 case_ref: CaseRef | None) -> int | None:
    """A problem token, else ``[Problem P<n>]`` in the subject (not in a reply through a
    case token: that mail is about its case); only a problem that exists."""
    h = rt.settings.helpdesk
    number = threads.problem_token_id(msg, rcpts, h.address, h.secrets)
    if number is None and (case_ref is None or case_ref.via != "token"):
        number = threads.subject_problem_id(msg.subject)
    return number if number is not None and problems.get_problem(s, number) else None


def sender_proofs(rt: Runtime, msg: Inbound, rcpts: tuple[str, ...]) -> frozenset[Proof]:
    """Proofs 2 and 3, which do not depend on a case."""
    h = rt.settings.helpdesk
    found = set()
    if threads.to_personal_address(msg, rcpts, h.address, h.secrets):
        found.add(Proof.PERSONAL)
    verdict = trust.authentication(msg.auth_results, rt.settings.trust.authserv_id,
                                   msg.from_addr)
    if verdict.authenticated:
        found.add(Proof.AUTHENTICATED)
    log.debug("proofs of %s: %s (%s)", msg.from_addr, sorted(found), verdict.reason)
    return frozenset(found)


def customer_of(s: Session, case: Case) -> str | None:
    """The case's customer's address, compared as ``core.addresses.key``."""
    customer = s.get(Customer, case.customer_id) if case.customer_id else None
    return addresses.key(customer.email) if customer and customer.email else None


def answers_our_mail(s: Session, case: Case, msg: Inbound, address: str) -> bool:
    """The mail's In-Reply-To/References name a mail we sent ``address`` on ``case``."""
    ids = threads.reference_ids(msg)
    if not ids or case.id is None:
        return False
    found = s.exec(select(OutboxMail.id).where(OutboxMail.case_id == case.id)
                   .where(col(OutboxMail.to_addr) == addresses.key(address))
                   .where(col(OutboxMail.message_id).in_(ids))).first()
    return found is not None
