"""Notices → rendered Outbox rows, written in the caller's transaction.

Rendering happens here, at enqueue time, so the stored bytes (with their
Message-ID) are exactly what the sender will deliver, however often it
retries.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import jinja2
from sqlmodel import Session, col, select

from maild.core import addresses, mime, sms
from maild.core.notify import (
    CUSTOMER,
    ENGINEER,
    INCIDENT_MANAGER,
    LINE_OWNER,
    OLD_ENGINEER,
    OPERATORS,
    SUPERVISORS,
    VENDOR,
    Notice,
    Recipient,
)
from maild.core.tokens import CASE, make_token, personal_token, token_address
from maild.core.values import Role
from maild.db import queries
from maild.db.models import Case, Complaint, Customer, OutboxMail, Survey
from maild.db.rows import new_row
from maild.runtime import Runtime

log = logging.getLogger("maild.outbound")


_QUEUED = "maild.queued"


@contextmanager
def queued(s: Session) -> Iterator[list[OutboxMail]]:
    """The outbox rows ``enqueue`` adds in ``s`` inside the block (the flood cap may take
    them back); rows of other transactions are never in it."""
    rows: list[OutboxMail] = []
    s.info[_QUEUED] = rows
    try:
        yield rows
    finally:
        s.info.pop(_QUEUED, None)


def queued_so_far(s: Session) -> list[OutboxMail]:
    """The rows ``enqueue`` added in ``s`` so far inside the current ``queued`` block."""
    return list(s.info.get(_QUEUED, []))


def new_message_id(domain: str) -> str:
    return f"maild.{uuid.uuid4().hex}@{domain}"


def personal_address(rt: Runtime, staff_email: str) -> str:
    """``helpdesk+s-<token>@domain`` for one staff member (docs/TRUST.md, proof 2)."""
    h = rt.settings.helpdesk
    return token_address(h.address, personal_token(h.secret, staff_email))


def staff_recipient(rt: Runtime, email: str) -> Recipient:
    """A staff member (or a vendor: named after its line) in their language."""
    person = rt.rules.person(email)
    vendor = rt.rules.vendor(email) if person is None else None
    name = person.name if person else vendor.name if vendor else email
    lang = (person.language if person else None) or rt.settings.helpdesk.language
    return Recipient(email, name, lang)


def audiences(s: Session, rt: Runtime, case: Case,
              old_engineer: str | None = None) -> dict[str, list[Recipient]]:
    """Who plays which part for this case, with the language to write to them in."""
    out: dict[str, list[Recipient]] = {}
    customer = s.get(Customer, case.customer_id) if case.customer_id else None
    if customer and customer.email:
        out[CUSTOMER] = [Recipient(customer.email, customer.name, case.language)]
    if case.engineer_email:
        line = rt.rules.vendor(case.engineer_email)
        out[VENDOR if line else ENGINEER] = [staff_recipient(rt, case.engineer_email)]
        if line is not None:
            out[LINE_OWNER] = [staff_recipient(rt, line.owner or rt.rules.incident_manager)]
    if old_engineer and old_engineer != case.engineer_email:
        out[OLD_ENGINEER] = [staff_recipient(rt, old_engineer)]
    out[OPERATORS] = [staff_recipient(rt, p.email) for p in rt.rules.with_role(Role.OPERATOR)]
    out[INCIDENT_MANAGER] = [staff_recipient(rt, rt.rules.incident_manager)]
    out[SUPERVISORS] = [staff_recipient(rt, p.email) for p in rt.rules.supervisors()]
    return out


def case_context(s: Session, rt: Runtime, case: Case,
                 new_log: Sequence[queries.LogLine] | None = None) -> dict[str, Any]:
    """The ``case`` variable of every template.

    ``new_log``: the case was opened in this transaction and this is its log as
    written (``opening.open_case``): nothing to read back, and no complaint or
    survey can exist for it yet (three queries fewer for every new case)."""
    tz = rt.settings.helpdesk.tz
    customer = s.get(Customer, case.customer_id) if case.customer_id else None
    engineer = staff_recipient(rt, case.engineer_email) if case.engineer_email else None
    site = next((x for x in rt.rules.sites if x.code == case.site_code), None)
    type_rule = rt.rules.type_rule(case.type)
    assert case.id is not None
    return {
        "id": case.id, "subject": case.subject, "status": case.status,
        "priority": case.priority, "type": case.type, "description": case.description,
        "resolution": case.resolution, "rating": case.rating, "channel": case.channel,
        "customer_name": customer.name if customer else "",
        "customer_email": customer.email if customer else None,
        "customer_phone": customer.phone if customer else None,
        "customer_company": customer.company if customer else None,
        "customer_employee_id": customer.employee_id if customer else None,
        "engineer_name": engineer.name if engineer else case.engineer_email,
        "engineer_email": case.engineer_email,
        "site_name": site.name if site else None,
        "kind": case.kind, "type_description": type_rule.description if type_rule else None,
        "line": case.line, "line_name": line_name(rt, case),
        "created_at": case.created_at.astimezone(tz),
        "follows": _follows(s, case.follows_id),
        "complaint": _complaint(s, case.id) if new_log is None else None,
        "survey": _survey(s, case.id) if new_log is None else None,
        "log": [{"at": e.at.astimezone(tz), "author": e.author, "kind": e.kind, "text": e.text}
                for e in (queries.case_log_lines(s, case.id) if new_log is None
                          else sorted(new_log, key=lambda e: e.at))],
    }


def line_name(rt: Runtime, case: Case) -> str | None:
    """The name of the support line a case is with: its site's for line 1."""
    if case.line <= 1:
        site = next((x for x in rt.rules.sites if x.code == case.site_code), None)
        return site.name if site else None
    found = next((x for x in rt.rules.lines if x.level == case.line and x.takes(case.type)),
                 None)
    return found.name if found else None


def _complaint(s: Session, case_id: int) -> dict[str, Any] | None:
    """The case's latest complaint, as the complaint mails show it."""
    c = s.exec(select(Complaint).where(Complaint.case_id == case_id)
               .order_by(col(Complaint.id).desc())).first()
    return {"id": c.id, "category": c.category, "text": c.text, "status": c.status,
            "outcome": c.outcome, "author": c.author} if c else None


def _survey(s: Session, case_id: int) -> dict[str, Any] | None:
    v = s.exec(select(Survey).where(Survey.case_id == case_id)).first()
    return {"score": v.score, "comment": v.comment} if v else None


def _follows(s: Session, case_id: int | None) -> dict[str, Any] | None:
    """The long-closed case a new case follows: its number, subject and resolution."""
    old = s.get(Case, case_id) if case_id else None
    return {"id": old.id, "subject": old.subject, "resolution": old.resolution} if old else None


def base_context(rt: Runtime, case_ctx: Mapping[str, Any] | None) -> dict[str, Any]:
    h = rt.settings.helpdesk
    return {
        "helpdesk": {"name": h.name, "address": h.address, "personal": None},
        "tag": h.subject_tag, "unproven": None, "changed": None,
        "flood": None,
        "case": case_ctx, "auto_close_days": h.auto_close_days,
        "error": None, "held": None, "failed": None, "sla": None, "results": None,
        "query": None, "missing": None, "undelivered": None, "summary": None,
        "problem": None, "problems": None,
        "candidates": None, "workload": None, "visit": None,
    }


# Mail that answers whoever wrote in: capped per address and hour, so that a robot
# that slips past screening cannot make us write to it without end.
RESPONSES = frozenset({"ack", "hold", "rejected_sender", "command_error", "help",
                       "customer_tag",
                       "search_results", "phone_missing"})


def over_limit(s: Session, rt: Runtime, template: str, address: str, now: datetime) -> bool:
    """True when ``address`` already got its hourly share of automatic answers."""
    if template not in RESPONSES:
        return False
    sent = queries.responses_since(s, address, RESPONSES, now - timedelta(hours=1))
    return sent >= rt.settings.helpdesk.auto_replies_per_hour


def enqueue(s: Session, rt: Runtime, notice: Notice, context: Mapping[str, Any], now: datetime,
            *, case: Case | None = None, in_reply_to: str | None = None,
            token: tuple[str, int] | None = None,
            attachments: Sequence[tuple[str, str, bytes]] = (),
            inline: Sequence[tuple[str, str, bytes]] = ()) -> OutboxMail | None:
    """Render one notice and add it to the outbox (and to the case's thread).

    Returns None, sending nothing, when the recipient is over the hourly limit of
    automatic answers; the suppression is logged (and noted on the case)."""
    h = rt.settings.helpdesk
    if over_limit(s, rt, notice.template, notice.to.email, now):
        log.warning("not sending %s to %s: over %d automatic answers an hour (case %s)",
                    notice.template, notice.to.email, h.auto_replies_per_hour,
                    case.id if case else None)
        if case is not None and case.id is not None:
            queries.add_log(s, case.id, now, "maild", "suppressed",
                            f"{notice.template} to {notice.to.email} not sent: more than "
                            f"{h.auto_replies_per_hour} automatic answers in an hour")
        return None
    try:
        row = _rendered(rt, notice, context, now, case, in_reply_to, token, attachments,
                        inline)
    except Exception as exc:  # a template or an address: this mail fails, the change stands
        log.warning("%s to %r not queued: %s: %s", notice.template, notice.to.email,
                    type(exc).__name__, exc)
        why = "not sendable" if isinstance(exc, addresses.AddressError) else "not rendered"
        row = _unsendable(notice, case, now, f"{why}: {type(exc).__name__}: {exc}",
                          new_message_id(h.domain))
    s.add(row)
    s.info.get(_QUEUED, []).append(row)
    if case and case.id and row.status == "pending":
        queries.remember_ref(s, row.message_id, case.id, new=True)
    return row


def enqueue_sms(s: Session, rt: Runtime, notice: Notice, gateway: str,
                context: Mapping[str, Any], now: datetime, case: Case) -> OutboxMail | None:
    """The text-message twin of ``notice`` for an SMS gateway (``core.sms``): plain text of
    at most 70 characters from ``sms.txt.j2``, no HTML, no subject, no quoting, no footer,
    no reply address (a text cannot be answered into a case)."""
    h = rt.settings.helpdesk
    env = rt.envs.get(notice.to.language) or rt.envs["en"]
    try:
        text = sms.fit(env.get_template("sms.txt.j2").render(
            {**context, "kind": notice.template, "recipient_name": notice.to.name}))
        to = addresses.check(gateway)
        message_id = new_message_id(h.domain)
        raw = mime.build(mime.OutgoingMail(
            from_name=h.name, from_addr=h.address, to=(to,), subject="", text=text, html="",
            message_id=message_id, date=now, plain=True))
    except Exception as exc:  # as ``enqueue``: this text fails, the change stands
        log.warning("sms to %r not queued (case %s): %s: %s", gateway, case.id,
                    type(exc).__name__, exc)
        row = _unsendable(replace(notice, template="sms", to=replace(notice.to, email=gateway)),
                          case, now, f"not sendable: {type(exc).__name__}: {exc}",
                          new_message_id(h.domain))
    else:
        row = new_row(
            OutboxMail,
            case_id=case.id, recipients=[to], to_addr=addresses.key(to), subject=text,
            template="sms", message_id=message_id, raw=raw, status="pending", attempts=0,
            next_attempt_at=now, created_at=now)
    s.add(row)
    s.info.get(_QUEUED, []).append(row)
    return row


def _printable(text: str, limit: int) -> str:
    """Text any database column takes (PostgreSQL refuses NUL, UTF-8 lone surrogates):
    control characters and surrogates written as Python escapes, cut to ``limit``."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)[:limit]


def _unsendable(notice: Notice, case: Case | None, now: datetime, reason: str,
                message_id: str) -> OutboxMail:
    """A ``failed`` row that keeps who should have had which notice and why it could not."""
    to = _printable(notice.to.email, 320)
    return new_row(
        OutboxMail, case_id=case.id if case else None, recipients=[to], to_addr=addresses.key(to),
        subject=notice.template, template=notice.template, message_id=message_id, raw=b"",
        status="failed", attempts=0, last_error=_printable(reason, 2000), next_attempt_at=now,
        created_at=now,
    )


def _rendered(rt: Runtime, notice: Notice, context: Mapping[str, Any], now: datetime,
              case: Case | None, in_reply_to: str | None, token: tuple[str, int] | None,
              attachments: Sequence[tuple[str, str, bytes]],
              inline: Sequence[tuple[str, str, bytes]] = ()) -> OutboxMail:
    """The pending row with the message as it will be sent; raises for a bad template
    or an address no relay could take (``addresses.AddressError``)."""
    h = rt.settings.helpdesk
    to = addresses.check(notice.to.email)
    if rt.rules.person(notice.to.email) is not None:  # staff: their personal address
        personal = personal_address(rt, notice.to.email)
        context = {**context, "helpdesk": {**context["helpdesk"], "personal": personal}}
    subject, text, html = render(rt.envs, notice, context)
    kind, ident = token if token else (CASE, case.id if case and case.id else 0)
    reply_to = (token_address(h.address, make_token(h.secret, kind, ident, to))
                if ident else None)
    message_id = new_message_id(h.domain)
    refs = tuple(r for r in ((case.root_message_id if case else None), in_reply_to) if r)
    raw = mime.build(mime.OutgoingMail(
        from_name=h.name, from_addr=h.address, to=(to,), subject=subject,
        text=text, html=html, message_id=message_id, date=now, reply_to=reply_to,
        in_reply_to=in_reply_to, references=refs, attachments=tuple(attachments),
        inline=tuple(inline),
    ))
    return new_row(
        OutboxMail, case_id=case.id if case else None, recipients=[to], to_addr=addresses.key(to),
        subject=mime.one_line(subject, 998), template=notice.template, message_id=message_id,
        raw=raw, status="pending", attempts=0, next_attempt_at=now, created_at=now,
    )


def render(envs: Mapping[str, jinja2.Environment], notice: Notice,
           context: Mapping[str, Any]) -> tuple[str, str, str]:
    """(subject, text, html) for one notice in the recipient's language."""
    env = envs.get(notice.to.language) or envs["en"]
    full = {**context, "recipient_name": notice.to.name, "actor": notice.actor,
            "note": notice.note, **notice.extra}
    parts = []
    for kind in ("subject", "txt", "html"):
        tpl = env.get_template(f"{notice.template}.{kind}.j2")
        parts.append(tpl.render(full))
    subject = " ".join(parts[0].split())
    return subject, parts[1], parts[2]
