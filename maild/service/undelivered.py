"""Operators hear about outbox mail that failed for good, by mail, at most once an hour.

The notice is itself an outbox row (so it is sent, retried and recorded like
any mail) and goes only to operators (else the incident manager) whose
address any relay takes and who are not among the failed recipients: a
notice about an un-sendable address is never sent to that address. Failed
notices are not themselves reported, so a broken operator address cannot
make a notice an hour for ever.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session

from maild.core import addresses, notify
from maild.core.values import Role
from maild.db import queries
from maild.db.models import OutboxMail
from maild.db.session import transaction
from maild.runtime import Runtime
from maild.service.notices import base_context, enqueue, staff_recipient

log = logging.getLogger("maild.outbox")

TEMPLATE = "outbox_failed"
EVERY = timedelta(hours=1)
SHOWN = 20  # failed mails listed in one notice; the rest are counted
_LOCK = 0x6D61696C64  # PostgreSQL advisory lock: replicas decide one at a time


def _item(row: OutboxMail) -> dict[str, object]:
    return {"id": row.id, "to": ", ".join(row.recipients), "template": row.template,
            "subject": row.subject, "reason": row.last_error or "(no reason recorded)"}


def _recipients(rt: Runtime, failed: set[str]) -> list[str]:
    """Operators (else the incident manager) that any relay can reach, minus the failed."""
    def usable(email: str) -> bool:
        return addresses.sendable(email) and addresses.key(email) not in failed

    operators = [p.email for p in rt.rules.with_role(Role.OPERATOR) if usable(p.email)]
    if operators:
        return operators
    return [rt.rules.incident_manager] if usable(rt.rules.incident_manager) else []


def _decide(s: Session, rt: Runtime, now: datetime) -> int:
    if s.get_bind().dialect.name == "postgresql":
        s.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
    last = queries.last_outbox_at(s, TEMPLATE)
    if last is not None and now - last < EVERY:
        return 0
    rows, count = queries.failed_outbox_since(s, last, TEMPLATE, SHOWN)
    if not count:
        return 0
    failed = {addresses.key(r) for row in rows for r in row.recipients}
    to = _recipients(rt, failed)
    if not to:
        log.error("%d outbox mail(s) failed and no operator address can be written to", count)
        return 0
    ctx = base_context(rt, None)
    ctx["undelivered"] = {"count": count, "items": [_item(r) for r in rows],
                          "more": max(count - len(rows), 0)}
    for email in to:
        enqueue(s, rt, notify.Notice(TEMPLATE, staff_recipient(rt, email)), ctx, now)
    log.warning("%d outbox mail(s) failed; operators told (%s)", count, ", ".join(to))
    return len(to)


def tell_operators(rt: Runtime, now: datetime) -> int:
    """Queue one notice per operator about mail that failed since the last notice, unless
    one went out less than an hour ago; returns how many were queued."""
    with transaction(rt.engine) as s:
        return _decide(s, rt, now)
