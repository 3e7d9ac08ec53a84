"""The customer directory: add, update, delete, list, CSV import and export (docs/REFERENCE §7)."""

from __future__ import annotations

import csv
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, or_, select

from maild.core.directory import COLUMNS, CustomerRow, RowError, validate_row, validate_rows
from maild.core.values import OPEN_STATUSES
from maild.db.models import Case, Customer
from maild.db.session import transaction


class DirectoryError(ValueError):
    """A directory request that cannot be done; the message says why."""


def find(s: Session, key: str) -> Customer | None:
    """A customer by id (digits), email, or employee id."""
    if key.isdigit() and (c := s.get(Customer, int(key))) is not None:
        return c
    return s.exec(select(Customer).where(or_(func.lower(Customer.email) == key.lower(),
                                             Customer.employee_id == key))).first()


def _conflict(s: Session, row: CustomerRow, own_id: int | None = None) -> str | None:
    for field, value in (("email", row.email), ("employee_id", row.employee_id)):
        if value is None:
            continue
        other = s.exec(select(Customer).where(getattr(Customer, field) == value)).first()
        if other is not None and other.id != own_id:
            return f"{field} {value} already belongs to customer {other.id} ({other.name})"
    return None


def add(engine: Engine, fields: Mapping[str, str | None], now: datetime) -> Customer:
    row = validate_row(fields, 0)
    if isinstance(row, RowError):
        raise DirectoryError(row.message)
    with transaction(engine) as s:
        problem = _conflict(s, row)
        if problem:
            raise DirectoryError(problem)
        customer = Customer(**asdict(row), created_at=now)
        s.add(customer)
    return customer


def update(engine: Engine, key: str, changes: Mapping[str, str | None]) -> Customer:
    """Change the given fields; the result is validated like a CSV row."""
    with transaction(engine) as s:
        customer = find(s, key)
        if customer is None:
            raise DirectoryError(f"no customer {key!r}")
        current = {c: _text(getattr(customer, c)) for c in COLUMNS}
        row = validate_row({**current, **changes}, 0)
        if isinstance(row, RowError):
            raise DirectoryError(row.message)
        problem = _conflict(s, row, customer.id)
        if problem:
            raise DirectoryError(problem)
        for name, value in asdict(row).items():
            setattr(customer, name, value)
        customer.auto_created = False  # someone has looked at it now
    return customer


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


def open_cases(s: Session, customer_id: int) -> int:
    return int(s.exec(select(func.count()).select_from(Case).where(
        Case.customer_id == customer_id).where(
        col(Case.status).in_([st.value for st in OPEN_STATUSES]))).one())


def delete(engine: Engine, key: str, force: bool = False) -> Customer:
    """Delete a customer; refused while they have open cases unless ``force``
    (their cases then keep their history but lose the customer link)."""
    with transaction(engine) as s:
        customer = find(s, key)
        if customer is None or customer.id is None:
            raise DirectoryError(f"no customer {key!r}")
        busy = open_cases(s, customer.id)
        if busy and not force:
            raise DirectoryError(f"customer {customer.id} ({customer.name}) has {busy} open "
                                 "case(s); close them first or use --force")
        for case in s.exec(select(Case).where(Case.customer_id == customer.id)):
            case.customer_id = None
        s.delete(customer)
    return customer


def listing(s: Session, company: str | None = None, vip: bool | None = None,
            auto_created: bool | None = None, text: str | None = None) -> list[Customer]:
    q = select(Customer).order_by(col(Customer.id))
    if company:
        q = q.where(Customer.company == company)
    if vip is not None:
        q = q.where(Customer.vip == vip)
    if auto_created is not None:
        q = q.where(Customer.auto_created == auto_created)
    if text:
        like = f"%{text.lower()}%"
        q = q.where(or_(func.lower(Customer.name).like(like),
                        func.lower(func.coalesce(Customer.email, "")).like(like),
                        func.lower(func.coalesce(Customer.employee_id, "")).like(like)))
    return list(s.exec(q))


def read_csv(stream: TextIO) -> tuple[list[CustomerRow], list[RowError]]:
    """Validate a whole CSV file; nothing is written here.

    Lines starting with ``#`` before the header are comments (the template that
    ``maild init`` writes explains the columns there); error line numbers count them."""
    from maild.core.directory import check_header

    comments = 0
    first = stream.readline()
    while first.startswith("#"):
        comments += 1
        first = stream.readline()
    reader = csv.DictReader(itertools.chain([first], stream))
    problem = check_header(reader.fieldnames or [])
    if problem:
        return [], [RowError(1 + comments, problem.removeprefix("line 1: "))]
    rows, errors = validate_rows(reader)
    return rows, [RowError(e.line + comments, e.message) for e in errors]


def import_rows(engine: Engine, rows: Sequence[CustomerRow], now: datetime,
                progress: Callable[[int, int], None] | None = None) -> tuple[int, int]:
    """Insert or update (by employee id, else email) in one transaction: all or nothing.
    Returns (created, updated)."""
    created = updated = 0
    with transaction(engine) as s:
        by_id = {c.employee_id: c for c in s.exec(select(Customer)) if c.employee_id}
        by_email = {c.email: c for c in s.exec(select(Customer)) if c.email}
        for i, row in enumerate(rows, start=1):
            existing = (by_id.get(row.employee_id) if row.employee_id else None) or \
                (by_email.get(row.email) if row.email else None)
            if existing is None:
                existing = Customer(**asdict(row), created_at=now)
                s.add(existing)
                created += 1
            else:
                for name, value in asdict(row).items():
                    setattr(existing, name, value)
                existing.auto_created = False
                updated += 1
            if row.employee_id:
                by_id[row.employee_id] = existing
            if row.email:
                by_email[row.email] = existing
            if progress and (i % 1000 == 0 or i == len(rows)):
                progress(i, len(rows))
    return created, updated


def export_rows(s: Session) -> Iterator[dict[str, str]]:
    for c in s.exec(select(Customer).order_by(col(Customer.id))):
        yield {name: _text(getattr(c, name)) for name in COLUMNS}


def customer_json(c: Customer) -> dict[str, Any]:
    return {"id": c.id, **{name: getattr(c, name) for name in COLUMNS},
            "auto_created": c.auto_created}
