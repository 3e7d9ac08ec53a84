"""Frozen values passed between the pipeline's stages (no I/O, no clock)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """A case's status (docs/REFERENCE §2)."""

    NEW = "new"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    INVALID = "invalid"


OPEN_STATUSES = frozenset({Status.NEW, Status.DISPATCHED, Status.IN_PROGRESS})
# Resolved or closed: the case was answered (it may be reopened, rated, marked #kb).
ANSWERED_STATUSES = frozenset({Status.RESOLVED, Status.CLOSED})
# No longer open: answered, or found invalid (reports count these as handled).
FINISHED_STATUSES = ANSWERED_STATUSES | {Status.INVALID}


class Disposition(StrEnum):
    """What became of one inbound message (docs/REFERENCE §3); exactly one each."""

    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    COMMAND = "command"
    REPLY = "reply"
    PHONE_CASE = "phone_case"
    NEW_CASE = "new_case"
    HELD = "held"
    REJECTED = "rejected"
    FAILED = "failed"


class Role(StrEnum):
    """Who a sender is, as far as maild trusts it."""

    CUSTOMER = "customer"
    ENGINEER = "engineer"
    OPERATOR = "operator"
    MANAGER = "manager"
    INCIDENT_MANAGER = "incident_manager"
    VENDOR = "vendor"  # an outside support line (rules/lines.toml): never staff
    SUPERVISOR = "supervisor"  # customer service: hears of complaints and low survey scores


STAFF_ROLES = frozenset({Role.ENGINEER, Role.OPERATOR, Role.MANAGER, Role.INCIDENT_MANAGER,
                         Role.SUPERVISOR})


class Channel(StrEnum):
    EMAIL = "email"
    PHONE = "phone"


@dataclass(frozen=True)
class Attachment:
    """One attached file as found in a message."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Inbound:
    """One parsed inbound message: only what the pipeline needs."""

    message_id: str | None
    dedup_key: str
    from_addr: str
    from_name: str
    subject: str
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    delivered_to: tuple[str, ...] = ()
    date: datetime | None = None
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    text: str = ""
    html: str = ""
    html_only: bool = False  # no text/plain part: ``text`` was made from ``html``
    headers: Mapping[str, str] = field(default_factory=dict)
    return_path: str | None = None
    content_type: str = "text/plain"
    attachments: tuple[Attachment, ...] = ()
    envelope: tuple[tuple[str, str], ...] = ()  # (delivery header, address), top-down
    auth_results: tuple[str, ...] = ()  # every Authentication-Results value, top-down

    @property
    def recipients(self) -> tuple[str, ...]:
        """Every address the message was sent or delivered to."""
        return self.delivered_to + self.to + self.cc


@dataclass(frozen=True)
class Command:
    """One command tag from the new text of a reply (docs/REFERENCE §4)."""

    tag: str
    arg: str
    line: int


@dataclass(frozen=True)
class CaseRef:
    """How an inbound message was tied to a case, and whether it carries trust."""

    case_id: int
    via: str  # "token" | "subject" | "references"
    token_owner: str | None = None  # the address a valid reply token was issued to


class TransientError(RuntimeError):
    """The database (or another resource) is unavailable now; try the same message later."""


@dataclass(frozen=True)
class IngestResult:
    """What became of one inbound message (the edges move it or exit by this)."""

    disposition: Disposition
    message_row_id: int | None
    case_id: int | None
    reason: str | None
    already_recorded: bool = False


@dataclass(frozen=True)
class Job:
    """A piece of scheduled work: ``run(rt, now)`` returns how many things it did.

    ``minutes`` repeats it (first run at start); ``daily_at`` ("HH:MM", the config's
    time zone) runs it once a day as well. ``done`` is the log line for a non-zero
    count. The scheduler edge knows nothing else about what a job does."""

    name: str
    run: Callable[[Any, datetime], int]
    minutes: int
    done: str
    daily_at: str | None = None
