"""Everything a use case needs, loaded once: settings, rules, templates, database."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import jinja2
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from maild.config import Settings
from maild.core.ruleset import RuleSet
from maild.db import search as _search_index  # noqa: F401  (registers the index hook)
from maild.db.models import Site, Staff
from maild.db.session import make_engine
from maild.rules import load_rules
from maild.templating import make_envs


def database(settings: Settings) -> Engine:
    """The engine for ``[database]``."""
    return make_engine(settings.database.url, settings.database.busy_timeout_seconds)


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    rules: RuleSet
    envs: Mapping[str, jinja2.Environment]
    engine: Engine

    @classmethod
    def load(cls, settings: Settings, engine: Engine | None = None) -> Runtime:
        return cls(
            settings=settings,
            rules=load_rules(settings.paths.rules, settings.helpdesk.tz),
            envs=make_envs(settings.paths.templates),
            engine=engine or database(settings),
        )

    def sync_directory(self) -> None:
        """Mirror rules/ staff and sites into their tables (for joins and reports).

        Replicas starting together may insert the same row at once: the loser
        tries again and then finds the row there to update."""
        for attempt in range(3):
            try:
                with Session(self.engine) as s:
                    for person in self.rules.people.values():
                        s.merge(Staff(email=person.email, name=person.name,
                                      role=person.role.value))
                    for site in self.rules.sites:
                        s.merge(Site(code=site.code, name=site.name))
                    s.commit()
                return
            except IntegrityError:
                if attempt == 2:
                    raise
