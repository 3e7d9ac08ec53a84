"""Which site and which engineer get a new case.

The customer's company picks the site (exact name, then case- and
width-insensitive); failing that, the mail domain. The site's engineer with
the fewest open cases gets it; ties go to the one idle longest, then to
the order in sites.toml.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime

from maild.core import addresses
from maild.core.ruleset import Site, TypeRule


def _fold(text: str) -> str:
    """Case- and width-insensitive form (ＳＨ → sh)."""
    return unicodedata.normalize("NFKC", text).casefold().strip()


def pick_site(company: str | None, email: str | None, sites: Sequence[Site]) -> Site | None:
    """The customer's site by company name, else by mail domain."""
    if company:
        for site in sites:
            if company in site.companies:
                return site
        folded = _fold(company)
        for site in sites:
            if any(_fold(c) == folded for c in site.companies):
                return site
    if email and "@" in email:
        domain = addresses.domain_key(email.rsplit("@", 1)[1])
        for site in sites:
            if domain in site.domains:
                return site
    return None


def pick_engineer(site: Site | None, open_cases: Mapping[str, int],
                  last_assigned: Mapping[str, datetime]) -> str | None:
    """The least-loaded engineer of the site; ties by longest idle, then file order."""
    if site is None:
        return None
    return least_loaded(site.engineers, open_cases, last_assigned)


def least_loaded(engineers: Sequence[str], open_cases: Mapping[str, int],
                 last_assigned: Mapping[str, datetime]) -> str | None:
    """Fewest open cases; ties by longest idle, then the order given."""
    if not engineers:
        return None
    never = datetime.min

    def key(item: tuple[int, str]) -> tuple[int, datetime, int]:
        order, email = item
        since = last_assigned.get(email, never)
        if since.tzinfo is not None:
            since = since.replace(tzinfo=None)
        return open_cases.get(email, 0), since, order

    return min(enumerate(engineers), key=key)[1]


def classify_type(text: str, types: Sequence[TypeRule]) -> TypeRule | None:
    """The first type with a keyword in ``text`` (case-insensitive)."""
    folded = _fold(text)
    for rule in types:
        if any(_fold(k) in folded for k in rule.keywords):
            return rule
    return None


def initial_priority(vip: bool, type_rule: TypeRule | None, default: str, vip_priority: str) -> str:
    """VIPs get vip_priority (unless their type is more urgent); else the type's, else default."""
    base = type_rule.priority if type_rule and type_rule.priority else default
    return min(base, vip_priority) if vip else base
