"""One read of what the decision needs: the message's case, its sender, its proofs.

``read`` turns a parsed message into ``core.classify.Facts`` plus the rows
and values the chosen action will use (so no action reads them again).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from maild.core import threads
from maild.core.classify import Facts
from maild.core.forwarding import Forwarded, find_forwarded, looks_forwarded
from maild.core.html_quote import reply_text
from maild.core.mime import LOOP_HEADER
from maild.core.screening import screen
from maild.core.tags import parse_tags
from maild.core.values import CaseRef, Command, Inbound
from maild.db import queries
from maild.db.models import Case, Customer
from maild.db.queries import Recorded
from maild.runtime import Runtime


@dataclass(frozen=True)
class Reading:
    """The facts for ``classify``, and what the actions need beside them."""

    facts: Facts
    new_text: str  # the author's new words (quoted history and signature cut)
    case: Case | None = None
    ref: CaseRef | None = None
    customer: Customer | None = None
    first: Command | None = None
    forwarded: Forwarded | None = None
    earlier: Recorded | None = None  # the message this one duplicates


def read(s: Session, rt: Runtime, msg: Inbound) -> Reading:
    """Read just enough, in decision order: a duplicate or auto-reply needs nothing more."""
    h = rt.settings.helpdesk
    author = bool(msg.from_addr) and any(
        "@" in msg.headers.get(name, "") for name in ("from", "sender"))
    text = reply_text(msg).strip()
    if not author:
        return Reading(Facts(has_author=False), text)
    earlier = queries.seen_before(s, msg.dedup_key)
    if earlier is not None:
        return Reading(Facts(has_author=True, duplicate_of=earlier.id), text, earlier=earlier)
    reason = screen(msg, frozenset({h.address.lower()}), LOOP_HEADER)
    if reason:
        return Reading(Facts(has_author=True, auto_generated=reason), text)
    role = rt.rules.role_of(msg.from_addr)
    ref = find_case(s, rt, msg)
    if ref is not None:
        case = queries.get_case(s, ref.case_id)
        owner = ref.token_owner is not None and ref.token_owner == msg.from_addr
        return Reading(Facts(has_author=True, case_id=ref.case_id, role=role,
                             case_token_owner=owner), text, case=case, ref=ref)
    first = next(iter(parse_tags(text)), None)
    fwd = find_forwarded(msg) if role is not None and looks_forwarded(msg) else None
    if fwd is not None and fwd.from_addr == msg.from_addr:
        fwd = None
    customer = queries.customer_by_email(s, msg.from_addr)
    facts = Facts(has_author=True, role=role,
                  held_id=threads.hold_token_id(msg, h.address, h.secrets),
                  first_tag=first.tag if first else None,
                  forwarded_from=fwd.from_addr if fwd else None,
                  known_customer=customer is not None, unknown_senders=h.unknown_senders)
    return Reading(facts, text, customer=customer, first=first, forwarded=fwd)


def find_case(s: Session, rt: Runtime, msg: Inbound) -> CaseRef | None:
    """Token, then [Case #N] in the subject, then In-Reply-To/References."""
    h = rt.settings.helpdesk
    ref = threads.token_ref(msg, h.address, h.secrets)
    if ref and queries.get_case(s, ref.case_id):
        return ref
    number = threads.subject_case_id(msg.subject, h.subject_tag)
    if number is not None and queries.get_case(s, number):
        return CaseRef(number, "subject")
    found = queries.case_by_references(s, threads.reference_ids(msg))
    return CaseRef(found, "references") if found else None
