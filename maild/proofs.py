"""The proofs an inbound mail carries (SPEC §9), gathered for ``core.trust`` to judge.

The decision is pure (``core.trust.allowed``); this module only looks things up:
which recipient headers to read, whether a References id is a mail we sent
this customer on this case, and the hourly notice to a staff member whose
address was used without a proof.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from maild.core import notify, threads, trust
from maild.core.trust import Proof
from maild.core.values import Inbound
from maild.db.models import Case, Customer, OutboxMail
from maild.outbound import base_context, enqueue, personal_address, staff_recipient
from maild.runtime import Runtime

log = logging.getLogger("maild.trust")

UNPROVEN = "staff_unproven"  # the notice a staff member gets, at most one an hour


def recipients(rt: Runtime, msg: Inbound) -> tuple[str, ...]:
    """The recipient addresses our MTA vouches for, from ``[trust] recipient_headers``."""
    return trust.recipients(msg.envelope, msg.to, msg.cc, rt.settings.trust.recipient_headers)


def of_sender(rt: Runtime, msg: Inbound, rcpts: tuple[str, ...]) -> frozenset[Proof]:
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
    """The case's customer's address, lower-case."""
    customer = s.get(Customer, case.customer_id) if case.customer_id else None
    return customer.email.lower() if customer and customer.email else None


def answers_our_mail(s: Session, case: Case, msg: Inbound, address: str) -> bool:
    """The mail's In-Reply-To/References name a mail we sent ``address`` on ``case``."""
    ids = threads.reference_ids(msg)
    if not ids or case.id is None:
        return False
    found = s.exec(select(OutboxMail.id).where(OutboxMail.case_id == case.id)
                   .where(col(OutboxMail.to_addr) == address.lower())
                   .where(col(OutboxMail.message_id).in_(ids))).first()
    return found is not None


def tell_unproven(s: Session, rt: Runtime, msg: Inbound, now: datetime, what: str) -> None:
    """Tell the staff member whose address was used that the mail was not taken as theirs
    (once an hour at most: a forger must not be able to flood them)."""
    to = staff_recipient(rt, msg.from_addr)
    since = now - timedelta(hours=1)
    sent = s.exec(select(OutboxMail.id).where(col(OutboxMail.to_addr) == to.email.lower())
                  .where(OutboxMail.template == UNPROVEN)
                  .where(col(OutboxMail.created_at) >= since)).first()
    log.warning("mail from %s (%s) carries no proof of its sender: %s", msg.from_addr,
                msg.message_id, what)
    if sent is not None:
        return
    ctx = base_context(rt, None)
    ctx["unproven"] = {"subject": msg.subject, "what": what,
                       "personal": personal_address(rt, to.email)}
    enqueue(s, rt, notify.Notice(UNPROVEN, to), ctx, now)
