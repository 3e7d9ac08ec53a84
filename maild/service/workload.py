"""A staff member's workload by mail: ``#mine``, ``#queue``, and the engineers' morning list.

``#mine`` (to the helpdesk address, with the personal-address or sender-authentication
proof, as ``#search``) answers with the sender's open cases; ``#queue`` with the
``new`` cases of the sender's sites — an engineer's sites from rules/sites.toml,
every site (and cases no site took) for operators and managers, who hand out the
work of all of them. ``send_digests`` is the scheduled job of ``[digest]
engineers_at``: on each working day of the SLA calendar, from that time on, each
engineer with open cases gets their ``#mine`` list, once per engineer and day
(a ``digest_runs`` row claimed in the transaction that queues the mail, as the
reports' ``report_runs``); if maild was down at that time, the list still goes
out later that day.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy.exc as sa_exc
from sqlmodel import Session, col, select

from maild.core import addresses, notify
from maild.core.values import OPEN_STATUSES, Disposition, Inbound, Role, Status
from maild.core.when import age
from maild.db.models import Case, DigestRun, InboundMessage
from maild.db.session import transaction
from maild.runtime import Runtime
from maild.service.isolated import each
from maild.service.notices import base_context, enqueue, staff_recipient
from maild.service.opening import Handled
from maild.service.reading import Reading

log = logging.getLogger("maild.workload")

LISTED = 50  # cases in one answer, most urgent first; the rest are counted
_OPEN = tuple(str(x) for x in sorted(OPEN_STATUSES))


def open_cases(s: Session, engineer: str) -> list[Case]:
    """An engineer's open cases, most urgent (then oldest) first."""
    return list(s.exec(select(Case).where(Case.engineer_email == engineer)
                       .where(col(Case.status).in_(_OPEN))
                       .order_by(col(Case.priority), col(Case.created_at))))


def queue_cases(s: Session, sites: Sequence[str] | None) -> list[Case]:
    """The ``new`` cases of these sites (None: of all sites, and of none), oldest first
    within each priority."""
    q = select(Case).where(Case.status == Status.NEW.value)
    if sites is not None:
        q = q.where(col(Case.site_code).in_(list(sites)))
    return list(s.exec(q.order_by(col(Case.priority), col(Case.created_at))))


def rows(rt: Runtime, cases: Sequence[Case], now: datetime) -> list[dict[str, Any]]:
    """What a workload mail shows of each case: id, status, priority, age, SLA due, subject."""
    tz = rt.settings.helpdesk.tz
    return [{"id": c.id, "status": c.status, "priority": c.priority,
             "age": age((now - c.created_at).total_seconds()),
             "due": c.resolution_due.astimezone(tz) if c.resolution_due else None,
             "overdue": c.resolution_due is not None and c.resolution_due < now,
             "subject": c.subject} for c in cases[:LISTED]]


def _context(rt: Runtime, kind: str, cases: Sequence[Case], sites: Sequence[str] | None,
             now: datetime) -> dict[str, Any]:
    names = {x.code: x.name for x in rt.rules.sites}
    ctx = base_context(rt, None)
    ctx["workload"] = {"kind": kind, "cases": rows(rt, cases, now),
                       "more": max(len(cases) - LISTED, 0),
                       "sites": [names.get(c, c) for c in sites] if sites is not None else None}
    return ctx


def sites_of(rt: Runtime, email: str) -> list[str] | None:
    """The site codes whose queue is this person's: an engineer's own; None: every site."""
    if rt.rules.role_of(email) != Role.ENGINEER:
        return None
    return [x.code for x in rt.rules.sites if addresses.key(email) in x.engineers]


def answer(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage,
           seen: Reading) -> Handled:
    """``#mine`` or ``#queue`` from proven staff: the list, in reply to their mail."""
    assert seen.first is not None
    kind, now, who = seen.first.tag, row.received_at, msg.from_addr
    if kind == "mine":
        sites = None
        cases = open_cases(s, addresses.key(who))
    else:
        sites = sites_of(rt, who)
        cases = queue_cases(s, sites)
    ctx = _context(rt, kind, cases, sites, now)
    enqueue(s, rt, notify.Notice("workload", staff_recipient(rt, who)), ctx, now,
            in_reply_to=msg.message_id)
    return Handled(Disposition.COMMAND, None, f"#{kind} answered: {len(cases)} case(s)")


def digest_day(rt: Runtime, now: datetime) -> date | None:
    """The local day whose morning list is due at ``now``: a working day of the SLA
    calendar, at or after ``[digest] engineers_at``; None: none due (or the digest off)."""
    at = rt.settings.digest.at()
    if at is None:
        return None
    local = now.astimezone(rt.rules.calendar.tz)
    if (local.hour, local.minute) < at or not rt.rules.calendar.is_business_day(local.date()):
        return None
    return local.date()


def send_digests(rt: Runtime, now: datetime) -> int:
    """The scheduled job: each engineer with open cases gets today's list, once."""
    day = digest_day(rt, now)
    if day is None:
        return 0
    engineers = [p.email for p in rt.rules.with_role(Role.ENGINEER)]
    return each(engineers, lambda e: _digest(rt, e, day, now), "morning list for")


def _digest(rt: Runtime, engineer: str, day: date, now: datetime) -> bool:
    """One engineer's list for ``day``, claimed by a ``digest_runs`` row; False when they
    have no open case or it was already sent (by this replica or another)."""
    try:
        with transaction(rt.engine) as s:
            done = s.exec(select(DigestRun.id).where(DigestRun.engineer_email == engineer)
                          .where(DigestRun.day == day.isoformat())).first()
            cases = open_cases(s, engineer) if done is None else []
            if not cases:
                return False
            s.add(DigestRun(engineer_email=engineer, day=day.isoformat(), at=now))
            s.flush()  # the claim: a second sender fails here, before any mail
            enqueue(s, rt, notify.Notice("workload", staff_recipient(rt, engineer)),
                    _context(rt, "digest", cases, None, now), now)
    except sa_exc.IntegrityError:
        return False
    log.info("morning list for %s (%s): %d open case(s)", engineer, day, len(cases))
    return True
