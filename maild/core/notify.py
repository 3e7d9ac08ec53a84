"""Events → who is told what (``plan``), and a notice → subject, text and HTML (``render``).

``PLAN`` is the table of docs/REFERENCE §1: for each event, the templates and the
people they go to. Rendering takes the Jinja2 environment as an argument;
nothing here sends or stores anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from maild.core.cases import Event

CUSTOMER = "customer"
ENGINEER = "engineer"
OLD_ENGINEER = "old_engineer"
OPERATORS = "operators"
INCIDENT_MANAGER = "incident_manager"
VENDOR = "vendor"  # the outside vendor a case is with (its line 3): not staff, no staff mail
SUPERVISORS = "supervisors"
LINE_OWNER = "line_owner"  # the staff owner of the vendor line a case is with (lines.toml)

# Events whose note the customer may read (REFERENCE §4): the resolution they confirm, the
# reason a case is invalid, #reply text and a #visit's note (written for the customer:
# "bring your badge"). Every other note (#inprogress, #close, #reopen) is internal: the
# customer hears of the change of status, not the note.
PUBLIC_NOTES = frozenset({"resolved", "invalid", "staff_reply", "visit"})

# event kind → (template, audience) pairs
PLAN: Mapping[str, tuple[tuple[str, str], ...]] = {
    "dispatched": (("ack", CUSTOMER), ("dispatch", ENGINEER)),
    "unassigned": (("ack", CUSTOMER), ("unassigned", OPERATORS)),
    "in_progress": (("status", CUSTOMER),),
    "resolved": (("resolved", CUSTOMER),),
    "closed": (("closed", CUSTOMER), ("closed", ENGINEER), ("closed", VENDOR)),
    "invalid": (("status", CUSTOMER),),
    "staff_reply": (("staff_reply", CUSTOMER),),
    "assigned": (("dispatch", ENGINEER), ("reassigned", OLD_ENGINEER)),
    "rejected": (("unassigned", OPERATORS),),
    "escalated": (("escalation", INCIDENT_MANAGER),),
    # the customer hears that their case went to specialists (#escalate or the automatic
    # move), as helpdesks say; not why: the escalation note is internal
    "escalated_up": (("dispatch", ENGINEER), ("vendor_case", VENDOR),
                     ("reassigned", OLD_ENGINEER), ("passed_on", CUSTOMER)),
    "reopened": (("reopened", ENGINEER), ("vendor_case", VENDOR)),
    "customer_reply": (("customer_reply", ENGINEER), ("customer_reply", VENDOR)),
    "visit": (("visit", CUSTOMER),),
    "complaint": (("complaint", SUPERVISORS), ("complaint", ENGINEER)),
    "complaint_closed": (("complaint_closed", SUPERVISORS), ("complaint_closed", ENGINEER)),
    "survey_low": (("survey_low", SUPERVISORS),),
}


# SLA alert kind → (template, audiences): the sweep's mails (service.sla).
SLA_ALERTS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "warn": ("sla_warning", (ENGINEER,)),
    "breach": ("sla_breach", (INCIDENT_MANAGER, ENGINEER)),
}


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str
    language: str


@dataclass(frozen=True)
class Notice:
    """One mail to one person (a reply token is per person)."""

    template: str
    to: Recipient
    actor: str | None = None
    note: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def plan(events: Sequence[Event], audiences: Mapping[str, Sequence[Recipient]],
         actor: str | None, skip: str | None = None) -> list[Notice]:
    """The notices for ``events``; ``skip`` is the actor's address (never told of their own act),
    unless the event is one where telling them is the point (a dispatch to a new engineer)."""
    notices: list[Notice] = []
    seen: set[tuple[str, str]] = set()
    for event in events:
        for template, audience in PLAN.get(event.kind, ()):
            for person in audiences.get(audience, ()):
                key = (template, person.email)
                if key in seen or (person.email == skip and template != "dispatch"):
                    continue
                seen.add(key)
                public = audience != CUSTOMER or event.kind in PUBLIC_NOTES
                notices.append(Notice(template, person, actor, event.note if public else None))
    return notices


def sla_notices(kind: str, audiences: Mapping[str, Sequence[Recipient]]) -> list[Notice]:
    """The mails of one SLA alert (``SLA_ALERTS``), once per person.

    The engineer's part goes to whoever can act on the case. A case with an outside
    vendor has no engineer of ours: the vendor line's owner (``owner`` in
    rules/lines.toml, else the incident manager) chases the vendor or takes the case
    back, so they hear it. Not the vendor: these mails are internal (the case's log,
    our staff's footers), and its contract is the owner's to press. Not the operators:
    they can neither act on a case a vendor holds nor reach the vendor through it. A case
    nobody is assigned to is the operators' to dispatch: they stand in."""
    template, roles = SLA_ALERTS[kind]
    if ENGINEER in audiences:
        acting = audiences[ENGINEER]
    elif VENDOR in audiences:
        acting = audiences.get(LINE_OWNER, audiences.get(INCIDENT_MANAGER, ()))
    else:
        acting = audiences.get(OPERATORS, ())
    notices: list[Notice] = []
    seen: set[str] = set()
    for role in roles:
        for person in acting if role == ENGINEER else audiences.get(role, ()):
            if person.email not in seen:
                seen.add(person.email)
                notices.append(Notice(template, person))
    return notices
