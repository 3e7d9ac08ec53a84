"""Opening a case: route it, dispatch it, keep its files, tell everyone (docs/REFERENCE §2).

Every way a case starts — a customer's mail, a released held mail, an
operator's phone summary, a forwarded mail — ends in ``open_case`` with an
``Opening`` that says what is known.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlmodel import Session

from maild.core import cases, notify, routing, sms
from maild.core.html_quote import reply_text
from maild.core.values import Channel, Disposition, Inbound
from maild.db import queries
from maild.db.attachments import Kept, keep
from maild.db.models import Case, Customer, InboundMessage
from maild.db.queries import LogLine
from maild.db.rows import new_row
from maild.runtime import Runtime
from maild.service.notices import audiences, base_context, case_context, enqueue, enqueue_sms
from maild.service.reading import Reading
from maild.service.sla import set_deadlines

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Handled:
    disposition: Disposition
    case_id: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Opening:
    """What a new case starts from; ``source`` is the message whose files it keeps."""

    subject: str
    description: str
    source: Inbound
    reporter: str
    how: str = "by mail"
    channel: Channel = Channel.EMAIL
    engineer: str | None = None  # manual dispatch (an operator's Engineer: field)
    priority: str | None = None
    type: str | None = None
    follows: int | None = None  # the long-closed case this mail was about


def mail_opening(msg: Inbound) -> Opening:
    """A case from a mail: its subject, and its new text as the description."""
    text = reply_text(msg).strip() or msg.text.strip()
    return Opening(subject=msg.subject, description=text, source=msg, reporter=msg.from_addr)


def language_of(rt: Runtime, text: str) -> str:
    """Answer in Chinese whoever writes in Chinese; else the configured language."""
    return "zh" if _CJK.search(text) else rt.settings.helpdesk.language


def keep_attachments(s: Session, rt: Runtime, msg: Inbound, case: Case,
                      row: InboundMessage, written: list[LogLine] | None = None) -> Kept:
    """Store the attachments for the case; log the ones refused for their size
    (and add those lines to ``written``, when given)."""
    assert case.id is not None
    kept = keep(s, rt.settings.paths.store, rt.settings.limits, msg, row.size, case.id, row.id)
    for name, size in kept.refused:
        text = f"refused {name} ({size} bytes): over the size limit"
        queries.add_log(s, case.id, row.received_at, "maild", "attachment", text)
        if written is not None:
            written.append(LogLine(row.received_at, "maild", "attachment", text))
    return kept


def write_log(s: Session, case_id: int, now: datetime, author: str,
               lines: tuple[tuple[str, str], ...], written: list[LogLine] | None = None
               ) -> None:
    """The log lines of one change (also added to ``written``, when given)."""
    for kind, text in lines:
        queries.add_log(s, case_id, now, author, kind, text)
        if written is not None:
            written.append(LogLine(now, author, kind, text))


@dataclass(frozen=True)
class Extras:
    """Per-template additions to the planned notices: a note, attached files."""

    notes: Mapping[str, str | None] = field(default_factory=dict)
    files: Mapping[str, Sequence[tuple[str, str, bytes]]] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)  # template variables (visit)


def notify_events(s: Session, rt: Runtime, case: Case, events: tuple[cases.Event, ...],
                  actor: str | None, skip: str | None, in_reply_to: str | None,
                  extras: Extras | None = None, new_log: Sequence[LogLine] | None = None
                  ) -> None:
    """Plan and enqueue the notices for ``events`` on ``case``.

    ``new_log``: the case was opened in this transaction and this is its whole log,
    as just written (the templates need not read it back; ``case_context``)."""
    if not events:
        return
    extras = extras or Extras()
    old = next((e.old_engineer for e in events if e.old_engineer), None)
    who = audiences(s, rt, case, old)
    ctx = {**base_context(rt, case_context(s, rt, case, new_log)), **extras.context}
    planned = notify.plan(events, who, actor, skip)
    for notice in planned:
        if notice.template in extras.notes:
            notice = replace(notice, note=extras.notes[notice.template])
        enqueue(s, rt, notice, ctx, case.updated_at, case=case, in_reply_to=in_reply_to,
                attachments=extras.files.get(notice.template, ()))
    for notice, gateway in sms.texts(planned, case.priority, rt.rules.sms_addresses()):
        enqueue_sms(s, rt, notice, gateway, ctx, case.updated_at, case)


def open_case(s: Session, rt: Runtime, opening: Opening, customer: Customer,
              row: InboundMessage) -> Handled:
    """Create, route and dispatch a case; acknowledge and notify (docs/REFERENCE §2)."""
    now = row.received_at
    subject = opening.subject.strip() or "(no subject)"
    description = opening.description.strip() or "(no text)"
    type_rule = routing.classify_type(f"{subject}\n{description}", rt.rules.types)
    site = routing.pick_site(customer.company, customer.email, rt.rules.sites)
    engineer = opening.engineer
    if engineer is None:
        loads, last = queries.engineer_loads(s, site.engineers) if site else ({}, {})
        engineer = routing.pick_engineer(site, loads, last)
    priority = opening.priority or routing.initial_priority(
        customer.vip, type_rule, rt.rules.default_priority, rt.rules.vip_priority)
    case_type = opening.type or (type_rule.name if type_rule else None)
    case = new_row(
        Case, subject=subject[:998], description=description,
        type=case_type, kind=rt.rules.kind_of(case_type), priority=priority,
        status="new", channel=opening.channel.value,
        language=language_of(rt, subject + description), customer_id=customer.id,
        site_code=site.code if site else None, root_message_id=opening.source.message_id,
        created_at=now, updated_at=now, follows_id=opening.follows,
    )
    set_deadlines(rt, case)
    # dispatched before its first flush: one INSERT, not an INSERT and an UPDATE
    outcome = cases.dispatch(queries.view_of(case, unsaved=True), engineer, now)
    queries.store_view(case, outcome.case, now)
    s.add(case)
    s.flush()
    assert case.id is not None
    written: list[LogLine] = []  # the new case's whole log, for its first notices
    write_log(s, case.id, now, opening.reporter,
              (("created", f"case opened {opening.how}: {subject}"),), written)
    write_log(s, case.id, now, "maild", outcome.log, written)
    if opening.follows is not None:
        write_log(s, case.id, now, "maild", (("follows", f"follows case #{opening.follows}"),),
                  written)
        queries.add_log(s, opening.follows, now, "maild", "followed",
                        f"{opening.reporter} wrote again; the mail opened case #{case.id}")
    kept = keep_attachments(s, rt, opening.source, case, row, written)
    queries.remember_ref(s, opening.source.message_id, case.id)
    budget = rt.settings.limits.forward_attachments_bytes
    notify_events(s, rt, case, outcome.events, customer.name, None, opening.source.message_id,
                  Extras(notes={"dispatch": kept.summary(budget),
                                "ack": kept.refused_summary()},
                         files={"dispatch": kept.forwardable(budget)}),
                  new_log=written)
    reason = f"dispatched to {engineer}" if engineer else "no engineer found; operators told"
    kind = Disposition.PHONE_CASE if opening.channel == Channel.PHONE else Disposition.NEW_CASE
    return Handled(kind, case.id, reason)


def new_case(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage,
             seen: Reading) -> Handled:
    """A known customer's mail (or staff's, or anyone's under ``open``) opens a case."""
    customer = seen.customer
    if customer is None:  # staff writing for themselves, or a stranger under ``open``
        person = rt.rules.person(msg.from_addr)
        customer = Customer(email=msg.from_addr,
                            name=person.name if person else msg.from_name or msg.from_addr,
                            auto_created=True, created_at=row.received_at)
        s.add(customer)
        s.flush()
    return open_case(s, rt, mail_opening(msg), customer, row)
