"""rules/*.toml → a validated RuleSet: staff, sites, SLA targets, the catalogue of case
types and the support lines.

The rules are plain files so that a helpdesk lead can change who works
where without touching the database; they are checked on load and a bad
file is refused with the file name and the key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from maild.core import addresses, sla
from maild.core.ruleset import (
    KINDS,
    PRIORITIES,
    Clock,
    Line,
    Person,
    RuleSet,
    Site,
    Target,
    TypeRule,
)
from maild.core.values import Role


class RulesError(ValueError):
    """A rules file is missing or wrong; the message says which and where."""




def _load(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise RulesError(f"{path}: rules file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{path}: not valid TOML: {exc}") from exc


# The keys each rules file and each of its tables may hold: a misspelt key is named
# (with the known ones) instead of being silently ignored.
STAFF_KEYS = ("incident_manager", "engineers", "operators", "managers", "supervisors")
PERSON_KEYS = ("email", "name", "language", "sms")
SITES_KEYS = ("sites",)
SITE_KEYS = ("code", "name", "companies", "domains", "engineers")
SLA_KEYS = ("default_priority", "vip_priority", "business_hours", "matrix", "priorities", "types",
            "kinds")
TARGET_KEYS = ("response_minutes", "resolution_minutes", "clock")
TYPE_KEYS = ("name", "keywords", "priority", "kind", "description", "response_minutes",
             "resolution_minutes", "clock")
LINES_KEYS = ("lines",)
LINE_KEYS = ("level", "name", "types", "engineers", "address", "owner")


def _known(table: Any, keys: tuple[str, ...], where: str) -> None:
    """Refuse a table that is not one, or that holds a key not in ``keys``."""
    if not isinstance(table, Mapping):
        raise RulesError(f"{where}: must be a table")
    unknown = sorted(str(k) for k in table if k not in keys)
    if unknown:
        raise RulesError(f"{where}: unknown key(s): {', '.join(unknown)} "
                         f"(known: {', '.join(keys)})")


def _str(entry: Mapping[str, Any], key: str, where: str, required: bool = True) -> str:
    value = entry.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise RulesError(f"{where}: {key} must be a non-empty string")
    return value.strip()


def _strs(entry: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RulesError(f"{where}: {key} must be a list of strings")
    return tuple(v.strip() for v in value)


def _people(data: Mapping[str, Any], where: str) -> dict[str, Person]:
    _known(data, STAFF_KEYS, where)
    people: dict[str, Person] = {}
    groups = (("engineers", Role.ENGINEER), ("operators", Role.OPERATOR),
              ("managers", Role.MANAGER), ("supervisors", Role.SUPERVISOR))
    for key, role in groups:
        entries = data.get(key, [])
        if not isinstance(entries, list):
            raise RulesError(f"{where}: [[{key}]] must be an array of tables")
        for i, entry in enumerate(entries):
            at = f"{where}: {key}[{i}]"
            _known(entry, PERSON_KEYS, at)
            email = addresses.key(_str(entry, "email", at))
            if "@" not in email:
                raise RulesError(f"{at}: email {email!r} is not an email address")
            if email in people:
                raise RulesError(f"{at}: {email} is listed twice")
            language = entry.get("language")
            if language not in (None, "en", "zh"):
                raise RulesError(f"{at}: language must be en or zh")
            sms = None
            if "sms" in entry:
                sms = addresses.key(_str(entry, "sms", at))
                if "@" not in sms:
                    raise RulesError(f"{at}: sms {sms!r} is not an email address (the "
                                     "gateway's address for this person's phone)")
            people[email] = Person(email, _str(entry, "name", at), role, language, sms)
    im = addresses.key(_str(data, "incident_manager", where))
    if im not in people:
        people[im] = Person(im, "Incident Manager", Role.INCIDENT_MANAGER)
    return people


def _sites(data: Mapping[str, Any], people: Mapping[str, Person], where: str) -> tuple[Site, ...]:
    _known(data, SITES_KEYS, where)
    sites = []
    for i, entry in enumerate(data.get("sites", [])):
        at = f"{where}: sites[{i}]"
        _known(entry, SITE_KEYS, at)
        engineers = tuple(addresses.key(e) for e in _strs(entry, "engineers", at))
        for e in engineers:
            if e not in people or people[e].role != Role.ENGINEER:
                raise RulesError(f"{at}: engineer {e} is not in staff.toml [[engineers]]")
        sites.append(Site(
            code=_str(entry, "code", at), name=_str(entry, "name", at),
            companies=_strs(entry, "companies", at),
            domains=tuple(addresses.domain_key(d) for d in _strs(entry, "domains", at)),
            engineers=engineers,
        ))
    return tuple(sites)


def _priority(value: Any, where: str) -> str:
    if value not in PRIORITIES:
        raise RulesError(f"{where}: must be one of {', '.join(PRIORITIES)}, got {value!r}")
    return str(value)


def _sla(data: Mapping[str, Any], where: str) -> tuple[dict[str, Target], tuple[TypeRule, ...]]:
    _known(data, SLA_KEYS, where)
    _known(data.get("priorities", {}), PRIORITIES, f"{where}: [priorities]")
    targets = {}
    for p in PRIORITIES:
        entry = data.get("priorities", {}).get(p)
        if entry is None:
            raise RulesError(f"{where}: [priorities.{p}] is missing")
        _known(entry, TARGET_KEYS, f"{where}: [priorities.{p}]")
        clock = entry.get("clock", "business")
        if clock not in ("business", "24x7"):
            raise RulesError(f'{where}: [priorities.{p}] clock must be "business" or "24x7"')
        try:
            targets[p] = Target(int(entry["response_minutes"]), int(entry["resolution_minutes"]),
                                clock == "24x7")
        except (KeyError, TypeError, ValueError) as exc:
            raise RulesError(
                f"{where}: [priorities.{p}] needs whole-number response_minutes "
                "and resolution_minutes"
            ) from exc
    types = []
    for i, entry in enumerate(data.get("types", [])):
        at = f"{where}: types[{i}]"
        _known(entry, TYPE_KEYS, at)
        prio, kind = entry.get("priority"), entry.get("kind")
        if kind is not None and kind not in KINDS:
            raise RulesError(f"{at}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
        types.append(TypeRule(
            name=_str(entry, "name", at).lower(), keywords=_strs(entry, "keywords", at),
            priority=_priority(prio, f"{at}: priority") if prio is not None else None,
            kind=kind, clock=_clock(entry, at),
            description=_str(entry, "description", at, required=False),
        ))
    return targets, tuple(types)


def _minutes(entry: Mapping[str, Any], key: str, where: str) -> int | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise RulesError(f"{where}: {key} must be a positive whole number, got {value!r}")
    return value


def _clock(entry: Mapping[str, Any], where: str) -> Clock:
    """The response/resolution minutes and clock a type or a kind sets (all optional)."""
    clock = entry.get("clock")
    if clock not in (None, "business", "24x7"):
        raise RulesError(f'{where}: clock must be "business" or "24x7"')
    return Clock(_minutes(entry, "response_minutes", where),
                 _minutes(entry, "resolution_minutes", where),
                 None if clock is None else clock == "24x7")


def _kinds(data: Mapping[str, Any], where: str) -> dict[str, Clock]:
    """``[kinds.incident]`` / ``[kinds.request]``: each kind's own SLA clock (optional)."""
    table = data.get("kinds", {})
    _known(table, KINDS, f"{where}: [kinds]")
    out = {}
    for kind, entry in table.items():
        _known(entry, TARGET_KEYS, f"{where}: [kinds.{kind}]")
        out[kind] = _clock(entry, f"{where}: [kinds.{kind}]")
    return out


# Who may own a vendor line: staff who may #log and #assign on any case (``core.cases``),
# as the SLA mails of the line's cases ask them to; not an engineer.
OWNER_ROLES = frozenset({Role.OPERATOR, Role.MANAGER, Role.SUPERVISOR, Role.INCIDENT_MANAGER})


def _owner(entry: Mapping[str, Any], address: str | None, people: Mapping[str, Person],
           at: str) -> str | None:
    """A vendor line's ``owner``: the staff member who chases the vendor (its cases' SLA
    alerts go to them; one of ``OWNER_ROLES``); None: the incident manager."""
    if "owner" not in entry:
        return None
    owner = addresses.key(_str(entry, "owner", at))
    if address is None:
        raise RulesError(f"{at}: owner is for a vendor line (address); a line of engineers "
                         "hears of its own cases")
    if owner not in people:
        raise RulesError(f"{at}: owner {owner} is not in staff.toml")
    if people[owner].role not in OWNER_ROLES:
        name = _str(entry, "name", at)
        raise RulesError(
            f"{at} ({name}): owner {owner} is an engineer; the owner must be an operator, "
            "manager, supervisor or the incident manager (an engineer can act only on the "
            "cases assigned to them, and could not take a case back from the vendor with "
            "#assign, as the SLA mails ask)")
    return owner


def _lines(path: Path, people: Mapping[str, Person]) -> tuple[Line, ...]:
    """rules/lines.toml (optional: without it every case stays with line 1)."""
    where = str(path)
    if not path.exists():
        return ()
    data = _load(path)
    _known(data, LINES_KEYS, where)
    lines = []
    for i, entry in enumerate(data.get("lines", [])):
        at = f"{where}: lines[{i}]"
        _known(entry, LINE_KEYS, at)
        level = entry.get("level")
        if level not in (2, 3) or isinstance(level, bool):
            raise RulesError(f"{at}: level must be 2 or 3 (line 1 is the site's engineers)")
        engineers = tuple(addresses.key(e) for e in _strs(entry, "engineers", at))
        address = entry.get("address")
        if bool(engineers) == (address is not None):
            raise RulesError(f"{at}: give either engineers (specialists) or address (a "
                             "vendor), not both or neither")
        for e in engineers:
            if e not in people or people[e].role != Role.ENGINEER:
                raise RulesError(f"{at}: engineer {e} is not in staff.toml [[engineers]]")
        if address is not None:
            address = addresses.key(_str(entry, "address", at))
            if "@" not in address or address in people:
                raise RulesError(f"{at}: address must be a vendor's email address, not staff")
        types = tuple(t.lower() for t in _strs(entry, "types", at))
        if not types:
            raise RulesError(f'{at}: types must list case types (or "*" for every type)')
        lines.append(Line(level, _str(entry, "name", at), types, engineers, address,
                          _owner(entry, address, people, at)))
    return tuple(sorted(lines, key=lambda x: x.level))


def load_rules(directory: Path, tz: ZoneInfo | None = None) -> RuleSet:
    """Read staff.toml, sites.toml, sla.toml (and lines.toml, if there) from ``directory``;
    ``tz`` is the helpdesk's time zone, in which business hours and holidays are meant."""
    staff_path, sites_path, sla_path = (directory / n for n in
                                        ("staff.toml", "sites.toml", "sla.toml"))
    staff_data = _load(staff_path)
    people = _people(staff_data, str(staff_path))
    sites = _sites(_load(sites_path), people, str(sites_path))
    sla_data = _load(sla_path)
    targets, types = _sla(sla_data, str(sla_path))
    kinds = _kinds(sla_data, str(sla_path))
    try:
        calendar = sla.calendar_from_toml(sla_data.get("business_hours", {}),
                                          tz or ZoneInfo("UTC"), str(sla_path))
        matrix = sla.matrix_from_toml(sla_data.get("matrix", {}), str(sla_path))
    except sla.SlaConfigError as exc:
        raise RulesError(str(exc)) from exc
    return RuleSet(
        people=people,
        incident_manager=addresses.key(_str(staff_data, "incident_manager", str(staff_path))),
        sites=sites,
        default_priority=_priority(sla_data.get("default_priority", "P3"),
                                   f"{sla_path}: default_priority"),
        vip_priority=_priority(sla_data.get("vip_priority", "P2"), f"{sla_path}: vip_priority"),
        priorities=targets,
        types=types,
        kinds=kinds,
        lines=_lines(directory / "lines.toml", people),
        calendar=calendar,
        matrix=matrix,
    )
