"""Staff mail that opens a case for someone else: phone summaries and forwarded mail.

An operator's mail to the helpdesk address (not a reply) is a phone summary
(docs/REFERENCE §6): the caller is found by employee id, else by phone number, else by
name (+ company), else created; several customers that fit alike get the operator a
list to choose from, and no case; details that changed are updated and logged;
``Engineer:`` dispatches by hand. A summary that lacks what a case needs is
answered with the missing fields and opens nothing. Staff forwarding a
customer's mail open the case for the original sender, with the original text
and files.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from maild.core import addresses, cases, notify, sla
from maild.core.directory import Caller, narrow
from maild.core.forwarding import Forwarded
from maild.core.html_quote import reply_text
from maild.core.phone import PhoneFields, missing, parse_summary, phone_key
from maild.core.values import Channel, Disposition, Inbound, Role
from maild.db import queries
from maild.db.models import Customer, InboundMessage
from maild.runtime import Runtime
from maild.service.notices import base_context, enqueue, staff_recipient
from maild.service.opening import Handled, Opening, open_case
from maild.service.reading import Reading


def forwarded(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage,
              seen: Reading) -> Handled:
    """Staff forwarded a customer's mail: the case is the customer's, with their words."""
    assert seen.forwarded is not None
    return forwarded_case(s, rt, msg, row, seen.forwarded)


def phone(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage, seen: Reading) -> Handled:
    """An operator's mail to the helpdesk address: a phone summary."""
    fields = parse_summary(seen.new_text) or PhoneFields()
    if fields.complaint:  # a complaint is about a case: the summary must name it
        return _refuse(s, rt, msg, row, ["[Case #N] in the subject, or a reply to the case "
                                         "mail / 主题中的 [Case #N]，或直接回复工单邮件"])
    return phone_case(s, rt, msg, row, fields)


def forwarded_case(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage,
                   fwd: Forwarded) -> Handled:
    """The forwarded customer becomes the case's customer; the forwarder is the reporter."""
    customer = queries.customer_by_email(s, fwd.from_addr) or _new_customer(
        s, row.received_at, email=fwd.from_addr, name=fwd.from_name or fwd.from_addr)
    source = replace(msg, attachments=fwd.attachments)
    opening = Opening(subject=fwd.subject or msg.subject, description=fwd.text, source=source,
                      reporter=msg.from_addr, how=f"from mail forwarded by {msg.from_addr}")
    return open_case(s, rt, opening, customer, row)


def phone_case(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage,
               f: PhoneFields) -> Handled:
    """Open a phone case from an operator's summary, or say exactly what is missing."""
    lacking = missing(f)
    engineers = {p.email: p.name for p in rt.rules.with_role(Role.ENGINEER)}
    engineer = cases.find_engineer(f.engineer, engineers) if f.engineer else None
    if f.engineer and engineer is None:
        lacking.append(f"Engineer / 工程师 (no engineer called {f.engineer!r})")
    priority = cases.parse_priority(f.priority) if f.priority else None
    if f.priority and priority is None:
        lacking.append(f"Priority / 优先级 ({f.priority!r} is not P1..P5, high, medium or low)")
    for label, value in (("Urgency / 紧急程度", f.urgency), ("Impact / 影响范围", f.impact)):
        if value and sla.detect_level(value) is None:
            lacking.append(f"{label} ({value!r} is not high, medium or low / 高, 中, 低)")
    if priority is None and not lacking:  # the SLA matrix, when the operator rated the call
        priority = rt.rules.matrix_priority(
            sla.detect_level(f.urgency) if f.urgency else None,
            sla.detect_level(f.impact) if f.impact else None)
    if f.email and "@" not in f.email:
        lacking.append(f"Email / 邮箱 ({f.email!r} is not an email address)")
    if lacking:
        return _refuse(s, rt, msg, row, lacking)
    found, candidates, how = find_caller(s, f)
    if candidates:
        return _ambiguous(s, rt, msg, row, candidates, how)
    customer, changes, old_email = _caller(s, f, found, row.received_at)
    assert f.description is not None
    first_line = f.description.strip().splitlines()[0][:80]
    opening = Opening(subject=f"{first_line}", description=f.description, source=msg,
                      reporter=msg.from_addr, how=f"by phone, taken by {msg.from_addr}",
                      channel=Channel.PHONE, engineer=engineer, priority=priority,
                      type=f.type.lower() if f.type else None)
    result = open_case(s, rt, opening, customer, row)
    if changes and result.case_id is not None:
        queries.add_log(s, result.case_id, row.received_at, msg.from_addr, "customer",
                        "customer details updated from the phone summary: " + "; ".join(changes))
    if old_email and customer.email:
        _tell_address_change(s, rt, customer, old_email, msg.from_addr, row.received_at)
    return result


def _tell_address_change(s: Session, rt: Runtime, customer: Customer, old: str, by: str,
                         now: datetime) -> None:
    """Both the old and the new address hear of a changed email (docs/TRUST.md): a wrong change
    cannot quietly send someone's case mail elsewhere."""
    assert customer.email is not None
    ctx = base_context(rt, None)
    ctx["changed"] = {"old": old, "new": customer.email, "by": staff_recipient(rt, by).name}
    for address in (old, customer.email):
        to = notify.Recipient(address, customer.name, rt.settings.helpdesk.language)
        enqueue(s, rt, notify.Notice("address_changed", to), ctx, now)


def _refuse(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage,
            lacking: list[str]) -> Handled:
    ctx = base_context(rt, None)
    ctx["missing"] = lacking
    notice = notify.Notice("phone_missing", staff_recipient(rt, msg.from_addr),
                           note=reply_text(msg).strip() or None)
    enqueue(s, rt, notice, ctx, row.received_at, in_reply_to=msg.message_id)
    return Handled(Disposition.REJECTED, None,
                   "phone summary not accepted: missing " + ", ".join(lacking))


LOOKUP_LIMIT = 20  # candidates listed back to the operator, at most


def find_caller(s: Session, f: PhoneFields) -> tuple[Customer | None, list[Customer], str]:
    """The caller by employee id, else by phone number, else by name (+ company).

    Returns (the customer, or None; the candidates when several fit and the summary
    must name one; how they were looked up). A phone number is compared as
    ``core.phone.phone_key`` (country and trunk prefixes, separators ignored); several
    customers with one number (or one name) are narrowed by the summary's other
    details (``core.directory.narrow``); none found: a new customer."""
    if f.employee:
        found = s.exec(select(Customer).where(Customer.employee_id == f.employee)).first()
        if found is not None:
            return found, [], "employee id"
    key = phone_key(f.phone)
    steps: list[tuple[str, Any]] = []
    if key:
        steps.append(("phone", select(Customer).where(Customer.phone_key == key)))
    if f.name:
        q = select(Customer).where(func.lower(Customer.name) == f.name.lower())
        if f.company:
            q = q.where(Customer.company == f.company)
        steps.append(("name", q))
    for how, query in steps:
        rows = {c.id: c for c in s.exec(query.order_by(col(Customer.id)).limit(LOOKUP_LIMIT))}
        left = narrow([_as_caller(c) for c in rows.values()], employee=f.employee,
                      name=f.name, company=f.company, email=f.email)
        if len(left) == 1:
            return rows[left[0].id], [], how
        if left:
            return None, [rows[c.id] for c in left], how
    return None, [], "new"


def _as_caller(c: Customer) -> Caller:
    assert c.id is not None
    return Caller(c.id, c.name, c.employee_id, c.company, c.phone, c.email)


def _caller(s: Session, f: PhoneFields, found: Customer | None,
            now: datetime) -> tuple[Customer, list[str], str | None]:
    """Update what changed on the caller found (or create one); also the email address it
    had, when that changed. The employee id never changes."""
    if found is None:
        return _new_customer(s, now, email=f.email, name=f.name or f.employee or "?",
                             employee_id=f.employee, company=f.company, phone=f.phone), [], None
    changes = []
    old_email = found.email
    for field in ("phone", "email", "company"):
        new, old = getattr(f, field), getattr(found, field)
        if field == "email" and new:
            new = new.lower()
        if field == "phone" and new and phone_key(new) and phone_key(new) == phone_key(old):
            continue  # the same number written another way
        if new and new != old and not _taken(s, field, new, found.id):
            changes.append(f"{field} {old or '-'} → {new}")
            setattr(found, field, new)
    if any(c.startswith("company ") for c in changes):
        changes.append("the customer moves to another company: site and engineer follow it")
    moved = old_email if old_email and found.email != old_email else None
    return found, changes, moved


def _ambiguous(s: Session, rt: Runtime, msg: Inbound, row: InboundMessage,
               candidates: list[Customer], how: str) -> Handled:
    """Several customers fit the summary: list them to the operator, open nothing."""
    ctx = base_context(rt, None)
    ctx["candidates"] = {
        "by": how, "people": [
            {"name": c.name, "employee_id": c.employee_id, "company": c.company,
             "phone": c.phone, "email": c.email} for c in candidates]}
    notice = notify.Notice("caller_ambiguous", staff_recipient(rt, msg.from_addr),
                           note=reply_text(msg).strip() or None)
    enqueue(s, rt, notice, ctx, row.received_at, in_reply_to=msg.message_id)
    return Handled(Disposition.REJECTED, None,
                   f"phone summary not accepted: {len(candidates)} customers match by {how}; "
                   "the operator was asked to name one")


def _taken(s: Session, field: str, value: str, own_id: int | None) -> bool:
    """An email that already belongs to another customer is not moved over."""
    if field != "email":
        return False
    other = queries.customer_by_email(s, value)
    return other is not None and other.id != own_id


def _new_customer(s: Session, now: datetime, *, name: str, email: str | None = None,
                  employee_id: str | None = None, company: str | None = None,
                  phone: str | None = None) -> Customer:
    """A customer created from mail or a call, marked for the operators to complete."""
    customer = Customer(name=name, email=addresses.key(email) if email else None,
                        employee_id=employee_id, company=company, phone=phone,
                        auto_created=True, created_at=now)
    s.add(customer)
    s.flush()
    return customer
