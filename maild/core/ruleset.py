"""The rules as values: staff, sites, SLA targets and case types (loaded by ``maild.rules``).

Pure data with small lookups, so that routing, SLA and the decision table in
``maild.core`` take them as arguments and never read a file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from zoneinfo import ZoneInfo

from maild.core import addresses, sla
from maild.core.values import Role

PRIORITIES = ("P1", "P2", "P3", "P4", "P5")


@dataclass(frozen=True)
class Person:
    email: str
    name: str
    role: Role
    language: str | None = None
    sms: str | None = None  # an email-to-SMS gateway address: urgent cases also as a text


@dataclass(frozen=True)
class Site:
    code: str
    name: str
    companies: tuple[str, ...]
    domains: tuple[str, ...]
    engineers: tuple[str, ...]


@dataclass(frozen=True)
class Target:
    response_minutes: int
    resolution_minutes: int
    round_the_clock: bool = False  # counted 24x7 instead of in business hours


@dataclass(frozen=True)
class TypeRule:
    name: str
    keywords: tuple[str, ...]
    priority: str | None = None


@dataclass(frozen=True)
class RuleSet:
    """Everything from rules/, immutable; reloaded as a whole."""

    people: Mapping[str, Person]
    incident_manager: str
    sites: tuple[Site, ...]
    default_priority: str
    vip_priority: str
    priorities: Mapping[str, Target]
    types: tuple[TypeRule, ...]
    calendar: sla.Calendar = field(default_factory=lambda: sla.Calendar(ZoneInfo("UTC")))
    matrix: Mapping[tuple[str, str], str] = field(default_factory=lambda: dict(sla.DEFAULT_MATRIX))

    def calendar_for(self, priority: str) -> sla.Calendar:
        """The clock a priority's targets run on: business hours, or 24x7 if so configured."""
        target = self.priorities.get(priority)
        if target is not None and target.round_the_clock:
            return replace(self.calendar, always=True)
        return self.calendar

    def matrix_priority(self, urgency: str | None, impact: str | None) -> str | None:
        """Urgency × impact → priority; a missing one counts as medium."""
        if not urgency and not impact:
            return None
        return sla.matrix_priority(urgency or "medium", impact or "medium", self.matrix)

    def role_of(self, email: str) -> Role | None:
        person = self.people.get(addresses.key(email))
        return person.role if person else None

    def person(self, email: str) -> Person | None:
        return self.people.get(addresses.key(email))

    def sms_addresses(self) -> dict[str, str]:
        """Staff email → SMS gateway address, for those who have one."""
        return {p.email: p.sms for p in self.people.values() if p.sms}

    def with_role(self, role: Role) -> tuple[Person, ...]:
        return tuple(p for p in self.people.values() if p.role == role)

    def supervisors(self) -> tuple[Person, ...]:
        """Who hears of complaints and low survey scores: ``[[supervisors]]``, or the
        managers when there are none."""
        return self.with_role(Role.SUPERVISOR) or self.with_role(Role.MANAGER)
