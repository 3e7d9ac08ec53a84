"""SQLModel tables: the one place the schema is written (Alembic migrates it).

Times are stored as naive UTC and come back timezone-aware (``UTCDateTime``),
so SQLite and PostgreSQL behave the same.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from maild.core.phone import phone_key


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


def _when(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


class Customer(SQLModel, table=True):
    __tablename__ = "customers"
    id: int | None = Field(default=None, primary_key=True)
    email: str | None = Field(default=None, unique=True, max_length=320)
    name: str = Field(max_length=200)
    employee_id: str | None = Field(default=None, unique=True, max_length=64)
    company: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=64)
    # ``core.phone.phone_key(phone)``, kept by the listeners below: the caller lookup
    # compares numbers however they were written (migration 0012)
    phone_key: str | None = Field(default=None, max_length=64, index=True)
    address: str | None = Field(default=None, max_length=400)
    vip: bool = False
    auto_created: bool = False
    created_at: datetime = _when(nullable=False)


@sa.event.listens_for(Customer, "before_insert")
@sa.event.listens_for(Customer, "before_update")
def _keep_phone_key(mapper: Any, connection: Any, target: Customer) -> None:
    """Every write of a customer's phone writes its lookup key too, whoever writes it."""
    target.phone_key = phone_key(target.phone)


class Site(SQLModel, table=True):
    """Mirror of rules/sites.toml, refreshed at start-up, for reports and joins."""

    __tablename__ = "sites"
    code: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=200)


class Staff(SQLModel, table=True):
    """Mirror of rules/staff.toml, refreshed at start-up, for reports and joins."""

    __tablename__ = "staff"
    email: str = Field(primary_key=True, max_length=320)
    name: str = Field(max_length=200)
    role: str = Field(max_length=32)


class Case(SQLModel, table=True):
    __tablename__ = "cases"
    # The report's open backlog at a moment (reporting.load_backlog), one index
    # per part of the rule, each holding the columns its part filters on, so
    # counting 100,000 open cases reads no table rows (migration 0004).
    __table_args__ = (
        sa.Index("ix_cases_backlog_open", "status", "created_at", "engineer_email"),
        sa.Index("ix_cases_backlog_resolved", "resolved_at", "created_at"),
        sa.Index("ix_cases_backlog_closed", "closed_at", "created_at"),
        # Routing a new case: each engineer's open cases and last dispatch, read from
        # the index alone, however many cases they have had (migration 0005).
        sa.Index("ix_cases_engineer_status", "engineer_email", "status"),
        sa.Index("ix_cases_engineer_dispatched", "engineer_email", "dispatched_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(max_length=998)
    description: str
    type: str | None = Field(default=None, max_length=64)
    priority: str = Field(max_length=2)
    status: str = Field(max_length=16, index=True)
    channel: str = Field(max_length=8)
    language: str = Field(default="en", max_length=8)
    customer_id: int | None = Field(default=None, foreign_key="customers.id", index=True)
    engineer_email: str | None = Field(default=None, max_length=320, index=True)
    site_code: str | None = Field(default=None, max_length=32)
    resolution: str | None = None
    rating: int | None = None
    kb: bool = False
    rejections: int = 0
    created_at: datetime = _when(nullable=False, index=True)
    dispatched_at: datetime | None = _when(index=True)  # reports: dispatched in a period
    first_response_at: datetime | None = _when()
    resolved_at: datetime | None = _when(index=True)
    closed_at: datetime | None = _when()
    work_started_at: datetime | None = _when()
    handling_seconds: int | None = None
    root_message_id: str | None = Field(default=None, max_length=998)
    response_due: datetime | None = _when()
    resolution_due: datetime | None = _when(index=True)
    updated_at: datetime = _when(nullable=False)
    follows_id: int | None = Field(default=None, foreign_key="cases.id")  # a long-closed case
    kind: str = Field(default="incident", max_length=16, sa_column_kwargs={
        "server_default": "incident"})  # incident | request (migration 0010)
    line: int = Field(default=1, sa_column_kwargs={"server_default": "1"})  # support line
    # when the case's current line has used up its resolution time ([sla] auto_escalate)
    line_due: datetime | None = _when()
    problem_id: int | None = Field(default=None, foreign_key="problems.id", index=True)


class LineMove(SQLModel, table=True):
    """A case passed up a support line (rules/lines.toml): by #escalate or automatically on
    a resolution breach. Reports count escalations per line from these rows (migration 0010)."""

    __tablename__ = "line_moves"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    from_line: int
    to_line: int
    engineer: str = Field(max_length=320)  # who has it now: an engineer or a vendor address
    auto: bool = False  # on a breach, not by #escalate
    at: datetime = _when(nullable=False, index=True)


class Problem(SQLModel, table=True):
    """Many incidents with one root cause (migration 0011): a case links to at most one
    problem (``cases.problem_id``); what happens to it is logged on its linked cases."""

    __tablename__ = "problems"
    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    status: str = Field(max_length=16, index=True)  # open | known_error | resolved
    workaround: str | None = None
    root_cause: str | None = None
    opened_by: str = Field(max_length=320)
    created_at: datetime = _when(nullable=False)
    updated_at: datetime = _when(nullable=False)
    known_error_at: datetime | None = _when()
    resolved_at: datetime | None = _when()


class LogEntry(SQLModel, table=True):
    __tablename__ = "case_log"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    at: datetime = _when(nullable=False)
    author: str = Field(max_length=320)
    kind: str = Field(max_length=32)
    text: str


class InboundMessage(SQLModel, table=True):
    """Every inbound message, with its raw bytes and its one disposition."""

    __tablename__ = "messages"
    # One sender's mail of the last hour, for the per-sender cap (migration 0006).
    __table_args__ = (sa.Index("ix_messages_from_received", "from_addr", "received_at"),)
    id: int | None = Field(default=None, primary_key=True)
    dedup_key: str = Field(max_length=1000, index=True)
    source: str | None = Field(default=None, max_length=300, unique=True)
    message_id: str | None = Field(default=None, max_length=998)
    from_addr: str = Field(default="", max_length=320)
    subject: str = Field(default="", max_length=998)
    disposition: str = Field(max_length=16, index=True)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    reason: str | None = None
    received_at: datetime = _when(nullable=False)
    size: int = 0
    sha256: str = Field(max_length=64)
    raw: bytes = Field(sa_type=sa.LargeBinary)


class OutboxMail(SQLModel, table=True):
    """A rendered notification, committed with the change that caused it."""

    __tablename__ = "outbox"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    recipients: list[str] = Field(sa_type=sa.JSON)
    to_addr: str = Field(default="", max_length=320, index=True)  # first recipient, for limits
    subject: str = Field(max_length=998)
    template: str = Field(max_length=64)
    message_id: str = Field(max_length=998, unique=True)
    raw: bytes = Field(sa_type=sa.LargeBinary)
    status: str = Field(default="pending", max_length=16, index=True)
    attempts: int = 0
    next_attempt_at: datetime = _when(nullable=False)  # a failed row: when it failed
    last_error: str | None = None
    created_at: datetime = _when(nullable=False)
    sent_at: datetime | None = _when()


class AttachmentFile(SQLModel, table=True):
    """An attachment of a case, its bytes kept under store/attachments by SHA-256."""

    __tablename__ = "attachments"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    inbound_id: int | None = Field(default=None, foreign_key="messages.id")
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=200)
    size: int
    sha256: str = Field(max_length=64)


class SlaEvent(SQLModel, table=True):
    """An SLA warning or breach already announced: the unique key makes it exactly once,
    across restarts and replicas (claimed by insert before the mail is queued)."""

    __tablename__ = "sla_events"
    __table_args__ = (sa.UniqueConstraint("case_id", "target", "kind"),)
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    target: str = Field(max_length=16)  # response | resolution
    kind: str = Field(max_length=8)  # warn | breach
    at: datetime = _when(nullable=False)


class ReportRun(SQLModel, table=True):
    """A report already sent for a kind and period: the unique key makes it exactly once,
    across restarts, crashes and replicas (claimed in the transaction that queues the mail)."""

    __tablename__ = "report_runs"
    __table_args__ = (sa.UniqueConstraint("kind", "period"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=8)  # daily | monthly
    period: str = Field(max_length=16)  # 2026-11-22 | 2026-11
    at: datetime = _when(nullable=False)


class MessageRef(SQLModel, table=True):
    """Message-IDs we sent or received for a case, for In-Reply-To threading."""

    __tablename__ = "message_refs"
    message_id: str = Field(primary_key=True, max_length=998)
    case_id: int = Field(foreign_key="cases.id", index=True)


class CommandStep(SQLModel, table=True):
    """One applied staff command mail: the case before and after it, and who was told.

    ``#undo`` needs exactly this, per mail and as values: a table of its own keeps
    the append-only case log free of machine data and makes "the case's latest
    step" one indexed query (migration 0007)."""

    __tablename__ = "command_steps"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    author: str = Field(max_length=320)
    message_id: str | None = Field(default=None, max_length=998)
    at: datetime = _when(nullable=False)
    before: dict[str, Any] = Field(sa_type=sa.JSON)
    after: dict[str, Any] = Field(sa_type=sa.JSON)
    told: list[dict[str, str]] = Field(sa_type=sa.JSON)  # email, language, subject
    undone_at: datetime | None = _when()


class Visit(SQLModel, table=True):
    """An engineer's announced visit (``#visit``): its window, the arrival, the lateness
    notice. ``late_at`` is set, once, in the transaction that queues that notice, so a
    second replica finds it set (migration 0012)."""

    __tablename__ = "visits"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    engineer_email: str = Field(max_length=320)
    starts_at: datetime = _when(nullable=False)
    ends_at: datetime = _when(nullable=False, index=True)
    note: str | None = None
    created_at: datetime = _when(nullable=False)
    arrived_at: datetime | None = _when()
    late_at: datetime | None = _when()  # when the engineer and operators were told


class DigestRun(SQLModel, table=True):
    """An engineer's morning list already sent for a day: exactly once per engineer and
    day, across restarts and replicas, as ``report_runs`` (migration 0012)."""

    __tablename__ = "digest_runs"
    __table_args__ = (sa.UniqueConstraint("engineer_email", "day"),)
    id: int | None = Field(default=None, primary_key=True)
    engineer_email: str = Field(max_length=320)
    day: str = Field(max_length=10)  # 2026-12-01, in the helpdesk's time zone
    at: datetime = _when(nullable=False)


class Complaint(SQLModel, table=True):
    """A customer's complaint (投诉) about a case: opened by their mail or an operator's,
    closed by a supervisor's ``#complaint-close`` (migration 0008)."""

    __tablename__ = "complaints"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    engineer: str | None = Field(default=None, max_length=320)  # the case's, when made
    category: str = Field(max_length=16)  # attitude | quality | timeliness | other
    text: str
    author: str = Field(max_length=320)  # the customer, or the operator who took the call
    status: str = Field(default="open", max_length=8)  # open | closed
    outcome: str | None = None
    created_at: datetime = _when(nullable=False, index=True)
    closed_at: datetime | None = _when()


class Survey(SQLModel, table=True):
    """The follow-up survey (回访) of one closed case: the unique case makes it exactly once,
    across restarts and replicas (claimed in the transaction that queues the mail)."""

    __tablename__ = "surveys"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", unique=True)
    engineer: str | None = Field(default=None, max_length=320)  # the case's, when asked
    reason: str = Field(max_length=16)  # complaint | vip | sample
    sent_at: datetime = _when(nullable=False, index=True)
    score: int | None = None
    comment: str | None = None
    answered_at: datetime | None = _when()


def utcnow() -> datetime:
    return datetime.now(UTC)
