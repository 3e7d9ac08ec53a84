"""rules/*.toml → a validated RuleSet: staff, sites, SLA targets and case types.

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

from maild.core import sla
from maild.core.ruleset import PRIORITIES, Person, RuleSet, Site, Target, TypeRule
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
    people: dict[str, Person] = {}
    groups = (("engineers", Role.ENGINEER), ("operators", Role.OPERATOR),
              ("managers", Role.MANAGER))
    for key, role in groups:
        entries = data.get(key, [])
        if not isinstance(entries, list):
            raise RulesError(f"{where}: [[{key}]] must be an array of tables")
        for i, entry in enumerate(entries):
            at = f"{where}: {key}[{i}]"
            email = _str(entry, "email", at).lower()
            if "@" not in email:
                raise RulesError(f"{at}: email {email!r} is not an email address")
            if email in people:
                raise RulesError(f"{at}: {email} is listed twice")
            language = entry.get("language")
            if language not in (None, "en", "zh"):
                raise RulesError(f"{at}: language must be en or zh")
            people[email] = Person(email, _str(entry, "name", at), role, language)
    im = _str(data, "incident_manager", where).lower()
    if im not in people:
        people[im] = Person(im, "Incident Manager", Role.INCIDENT_MANAGER)
    return people


def _sites(data: Mapping[str, Any], people: Mapping[str, Person], where: str) -> tuple[Site, ...]:
    sites = []
    for i, entry in enumerate(data.get("sites", [])):
        at = f"{where}: sites[{i}]"
        engineers = tuple(e.lower() for e in _strs(entry, "engineers", at))
        for e in engineers:
            if e not in people or people[e].role != Role.ENGINEER:
                raise RulesError(f"{at}: engineer {e} is not in staff.toml [[engineers]]")
        sites.append(Site(
            code=_str(entry, "code", at), name=_str(entry, "name", at),
            companies=_strs(entry, "companies", at),
            domains=tuple(d.lower() for d in _strs(entry, "domains", at)),
            engineers=engineers,
        ))
    return tuple(sites)


def _priority(value: Any, where: str) -> str:
    if value not in PRIORITIES:
        raise RulesError(f"{where}: must be one of {', '.join(PRIORITIES)}, got {value!r}")
    return str(value)


def _sla(data: Mapping[str, Any], where: str) -> tuple[dict[str, Target], tuple[TypeRule, ...]]:
    targets = {}
    for p in PRIORITIES:
        entry = data.get("priorities", {}).get(p)
        if entry is None:
            raise RulesError(f"{where}: [priorities.{p}] is missing")
        clock = entry.get("clock", "business") if isinstance(entry, Mapping) else None
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
        prio = entry.get("priority")
        types.append(TypeRule(
            name=_str(entry, "name", at), keywords=_strs(entry, "keywords", at),
            priority=_priority(prio, f"{at}: priority") if prio is not None else None,
        ))
    return targets, tuple(types)


def load_rules(directory: Path, tz: ZoneInfo | None = None) -> RuleSet:
    """Read staff.toml, sites.toml and sla.toml from ``directory``; ``tz`` is the
    helpdesk's time zone, in which business hours and holidays are meant."""
    staff_path, sites_path, sla_path = (directory / n for n in
                                        ("staff.toml", "sites.toml", "sla.toml"))
    staff_data = _load(staff_path)
    people = _people(staff_data, str(staff_path))
    sites = _sites(_load(sites_path), people, str(sites_path))
    sla_data = _load(sla_path)
    targets, types = _sla(sla_data, str(sla_path))
    try:
        calendar = sla.calendar_from_toml(sla_data.get("business_hours", {}),
                                          tz or ZoneInfo("UTC"), str(sla_path))
        matrix = sla.matrix_from_toml(sla_data.get("matrix", {}), str(sla_path))
    except sla.SlaConfigError as exc:
        raise RulesError(str(exc)) from exc
    return RuleSet(
        people=people,
        incident_manager=_str(staff_data, "incident_manager", str(staff_path)).lower(),
        sites=sites,
        default_priority=_priority(sla_data.get("default_priority", "P3"),
                                   f"{sla_path}: default_priority"),
        vip_priority=_priority(sla_data.get("vip_priority", "P2"), f"{sla_path}: vip_priority"),
        priorities=targets,
        types=types,
        calendar=calendar,
        matrix=matrix,
    )
