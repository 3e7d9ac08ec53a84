"""One sender cannot make maild write without end (docs/TRUST.md, ``[limits]``).

Before, 100 mails from one address made 100 dispatch mails to one engineer and
100 forwarded replies. Now a sender's mails that open or join cases
(``new_case``, ``reply``) make maild write to anyone only
``mails_per_sender_per_hour`` times an hour; past that the mail is still
handled and logged, but what it would have sent is held back: dropped from
the outbox in the same transaction, listed on the case log and in the
message's recorded reason (``maild messages list`` is the digest). The
operators hear once, when the sender reaches the cap. Staff commands and
phone summaries are not capped: they carry a proof, and busy operators write
many. Automatic answers keep their own cap (``auto_replies_per_hour``).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

from sqlmodel import Session

from maild.core import notify
from maild.core.values import Disposition, Role
from maild.db import queries
from maild.db.models import InboundMessage, OutboxMail
from maild.runtime import Runtime
from maild.service.notices import base_context, enqueue, staff_recipient
from maild.service.opening import Handled

log = logging.getLogger("maild.flood")

CAPPED = frozenset({Disposition.NEW_CASE, Disposition.REPLY})
ALERT = "flood_alert"
_CAPPED_VALUES = sorted(d.value for d in CAPPED)


def cap(s: Session, rt: Runtime, sender: str, row: InboundMessage,
        queued: list[OutboxMail], handled: Handled) -> Handled:
    """Hold back what handling the message ``queued`` when ``sender`` is over the hourly cap.

    ``queued`` are the rows this very transaction added (``notices.queued``): another
    replica's rows, committed meanwhile, are never touched."""
    limit = rt.settings.limits.mails_per_sender_per_hour
    if not limit or handled.disposition not in CAPPED:
        return handled
    now = row.received_at
    assert row.id is not None  # flushed before it is handled
    earlier = queries.messages_since(s, sender.lower()[:320], now - timedelta(hours=1),
                                     _CAPPED_VALUES, row.id, row)
    if earlier < limit:
        return handled
    s.flush()  # the queued rows are written first: deleting takes persisted rows
    for mail in queued:
        s.delete(mail)
    held = ", ".join(f"{m.template} to {m.to_addr}" for m in queued) or "nothing"
    log.warning("sender %s over %d mails an hour: held back %s", sender, limit, held)
    if handled.case_id is not None:
        queries.add_log(s, handled.case_id, now, "maild", "suppressed",
                        f"mail from {sender} over the cap of {limit} an hour: "
                        f"held back {held}")
    if earlier == limit:
        _alert(s, rt, sender, limit, now)
    return replace(handled, reason=f"{handled.reason}; over the sender cap, held back {held}")


def _alert(s: Session, rt: Runtime, sender: str, limit: int, now: datetime) -> None:
    """Tell the operators, once, that a sender reached the cap."""
    ctx = base_context(rt, None)
    ctx["flood"] = {"sender": sender, "limit": limit}
    for person in rt.rules.with_role(Role.OPERATOR):
        enqueue(s, rt, notify.Notice(ALERT, staff_recipient(rt, person.email)), ctx, now)
