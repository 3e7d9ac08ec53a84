"""The notice to a staff member whose address was used without the proof it needs.

``core.classify`` decides that a mail from a staff address asked for something
its proofs do not allow (``Decision.unproven``); the mail is then handled as a
customer's and the staff member's registered address is told, at most once an
hour, with their personal address (docs/TRUST.md).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from maild.core import notify
from maild.core.values import Inbound
from maild.db.models import OutboxMail
from maild.runtime import Runtime
from maild.service.notices import base_context, enqueue, personal_address, staff_recipient

log = logging.getLogger("maild.trust")

UNPROVEN = "staff_unproven"  # the notice a staff member gets, at most one an hour


def tell(s: Session, rt: Runtime, msg: Inbound, now: datetime, what: str) -> None:
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
