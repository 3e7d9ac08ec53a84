"""The rules as values: staff, sites, SLA targets, the catalogue of case types and the
support lines (loaded by ``maild.rules``).

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
INCIDENT = "incident"  # something broke
REQUEST = "request"  # something wanted: an account, a laptop, access
KINDS = (INCIDENT, REQUEST)
DEFAULT_KIND = INCIDENT  # a type that says no kind, or no type at all: most mail is a fault


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
class Clock:
    """SLA targets a catalogue entry or a kind sets; None: not set, the priority's stands."""

    response_minutes: int | None = None
    resolution_minutes: int | None = None
    round_the_clock: bool | None = None


@dataclass(frozen=True)
class TypeRule:
    """One entry of the service catalogue (a ``[[types]]`` table of sla.toml)."""

    name: str
    keywords: tuple[str, ...]
    priority: str | None = None
    kind: str | None = None
    clock: Clock = Clock()
    description: str = ""


def target_for(base: Target, *clocks: Clock) -> Target:
    """The priority's target with each clock's values laid over it, later ones winning.

    The order is the precedence: priority, then kind (``[kinds.<kind>]``), then the
    type's own values — a catalogue entry knows best how long its work takes."""
    response, resolution, always = (base.response_minutes, base.resolution_minutes,
                                    base.round_the_clock)
    for c in clocks:
        response = c.response_minutes if c.response_minutes is not None else response
        resolution = c.resolution_minutes if c.resolution_minutes is not None else resolution
        always = c.round_the_clock if c.round_the_clock is not None else always
    return Target(response, resolution, always)


@dataclass(frozen=True)
class Line:
    """A support line above the site's engineers (rules/lines.toml): specialists
    (``engineers``) or an outside vendor (``address``), for some case types."""

    level: int  # 2 or 3; line 1 is the site's engineers
    name: str
    types: tuple[str, ...]  # "*" stands for every type
    engineers: tuple[str, ...] = ()
    address: str | None = None  # a vendor: gets a case token, may #log, #reply, #resolve
    # a vendor line's staff owner, who hears of its cases' SLA alerts in the engineer's
    # place (``core.notify.sla_notices``); None: the incident manager
    owner: str | None = None

    @property
    def vendor(self) -> bool:
        return self.address is not None

    def takes(self, case_type: str | None) -> bool:
        return "*" in self.types or (case_type or "") in self.types


def next_line(lines: tuple[Line, ...], case_type: str | None, level: int) -> Line | None:
    """The lowest line above ``level`` that takes this type; None: nobody above."""
    above = [x for x in lines if x.level > level and x.takes(case_type)]
    return min(above, key=lambda x: x.level) if above else None


def line_of(lines: tuple[Line, ...], case_type: str | None, email: str | None) -> int:
    """The level an engineer works at for this type: the lowest line listing them, else 1."""
    levels = [x.level for x in lines if x.takes(case_type)
              and (email in x.engineers or (x.address is not None and email == x.address))]
    return min(levels, default=1)


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
    kinds: Mapping[str, Clock] = field(default_factory=dict)
    lines: tuple[Line, ...] = ()
    calendar: sla.Calendar = field(default_factory=lambda: sla.Calendar(ZoneInfo("UTC")))
    matrix: Mapping[tuple[str, str], str] = field(default_factory=lambda: dict(sla.DEFAULT_MATRIX))

    def type_rule(self, name: str | None) -> TypeRule | None:
        return next((t for t in self.types if t.name == name), None) if name else None

    def kind_of(self, type_name: str | None) -> str:
        """The kind a type declares; DEFAULT_KIND when it declares none."""
        rule = self.type_rule(type_name)
        return rule.kind if rule and rule.kind else DEFAULT_KIND

    def clock_for(self, priority: str, type_name: str | None,
                  kind: str) -> tuple[Target, sla.Calendar]:
        """A case's SLA target and the calendar it runs on: the priority's, overridden by
        its kind's, overridden by its type's (``target_for``)."""
        rule = self.type_rule(type_name)
        base = self.priorities.get(priority) or self.priorities[self.default_priority]
        target = target_for(base, self.kinds.get(kind, Clock()),
                            rule.clock if rule else Clock())
        cal = replace(self.calendar, always=True) if target.round_the_clock else self.calendar
        return target, cal

    def vendor(self, email: str | None) -> Line | None:
        """The vendor line whose address this is, if any."""
        key = addresses.key(email) if email else None
        return next((x for x in self.lines if x.address is not None and x.address == key),
                    None)

    def matrix_priority(self, urgency: str | None, impact: str | None) -> str | None:
        """Urgency × impact → priority; a missing one counts as medium."""
        if not urgency and not impact:
            return None
        return sla.matrix_priority(urgency or "medium", impact or "medium", self.matrix)

    def role_of(self, email: str) -> Role | None:
        """The role of an address: staff from staff.toml, or a vendor from lines.toml."""
        person = self.people.get(addresses.key(email))
        if person is None:
            return Role.VENDOR if self.vendor(email) else None
        return person.role

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
