"""Everything a use case needs, loaded once: settings, rules, templates, database.

SIGHUP loads rules/ and templates afresh and swaps them into the running
daemon. ``Runtime`` stays a frozen value; the daemon keeps it in a
``RuntimeHolder`` and every loop reads ``holder.current`` when it starts a
piece of work, so a swap takes effect at the next message. A new set is fully
loaded and checked (every rules file, every template compiled) before the
swap: a bad file is refused with its name and the key or line, and the old
set stays.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import jinja2
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from maild.config import ConfigError, Settings
from maild.core.ruleset import RuleSet
from maild.db import search as _search_index  # noqa: F401  (registers the index hook)
from maild.db.models import Site, Staff
from maild.db.session import make_engine
from maild.rules import RulesError, load_rules
from maild.templating import make_envs


def database(settings: Settings) -> Engine:
    """The engine for ``[database]``."""
    return make_engine(settings.database.url, settings.database.busy_timeout_seconds)


def template_cache(settings: Settings) -> Path:
    """Where compiled templates are kept (maild/templating.py says why): in the store."""
    return settings.paths.store / "cache" / "templates"


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    rules: RuleSet
    envs: Mapping[str, jinja2.Environment]
    engine: Engine

    @classmethod
    def load(cls, settings: Settings, engine: Engine | None = None) -> Runtime:
        try:
            envs = make_envs(settings.paths.templates, cache=template_cache(settings))
        except FileNotFoundError as exc:  # a wrong [paths] templates: permanent, not transient
            raise ConfigError(f"{settings.source}: {exc}") from exc
        return cls(
            settings=settings,
            rules=load_rules(settings.paths.rules, settings.helpdesk.tz),
            envs=envs,
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


log = logging.getLogger("maild.reload")


class ReloadError(ValueError):
    """A rules file or template is wrong; the message names the file."""


def load_templates(settings: Settings) -> dict[str, jinja2.Environment]:
    """Fresh template environments, snapshotted (see ``snapshot``)."""
    try:
        envs = make_envs(settings.paths.templates)
    except FileNotFoundError as exc:
        raise ReloadError(str(exc)) from exc
    return snapshot(envs)


def snapshot(envs: Mapping[str, jinja2.Environment]) -> dict[str, jinja2.Environment]:
    """Each environment with every template read now, parsed (to find syntax errors) and
    held in memory: an edit on disk changes nothing until the next reload, so a broken file
    can be refused while the old templates stay in use."""
    frozen = {}
    for lang, env in envs.items():
        assert env.loader is not None
        sources = {}
        for name in env.list_templates():
            try:  # parsing finds every syntax error; compiling all would cost seconds
                source, filename, _ = env.loader.get_source(env, name)
                env.parse(source, name, filename)
            except jinja2.TemplateSyntaxError as exc:
                raise ReloadError(f"{exc.filename or name}: line {exc.lineno}: "
                                  f"template error: {exc.message}") from exc
            sources[name] = source
        frozen[lang] = env.overlay(loader=jinja2.DictLoader(sources))
    return frozen


def load_rule_set(settings: Settings) -> RuleSet:
    try:
        return load_rules(settings.paths.rules, settings.helpdesk.tz)
    except RulesError as exc:
        raise ReloadError(str(exc)) from exc


def reloaded(rt: Runtime) -> Runtime:
    """A new Runtime with fresh rules and templates, same settings and database."""
    rules = load_rule_set(rt.settings)
    envs: Mapping[str, jinja2.Environment] = load_templates(rt.settings)
    return dataclasses.replace(rt, rules=rules, envs=envs)


class RuntimeHolder:
    """The current Runtime; replaced whole on reload, read at the start of each unit of work."""

    def __init__(self, rt: Runtime) -> None:
        self.current = rt
        self.generation = 0

    def freeze(self) -> None:
        """Hold the current templates in memory (the long-running daemon does this at start,
        so that only a reload, never a half-saved file, changes them)."""
        self.current = dataclasses.replace(self.current, envs=snapshot(self.current.envs))

    def reload(self) -> bool:
        """Swap in freshly loaded rules and templates; on error log it and keep the old ones."""
        try:
            new = reloaded(self.current)
        except ReloadError as exc:
            log.error("reload refused, keeping the previous rules and templates: %s", exc,
                      extra={"event": "reload_failed"})
            return False
        self.current = new
        self.generation += 1
        try:  # the staff/site tables only feed joins and reports: a failure here is not fatal
            new.sync_directory()
        except Exception as exc:
            log.warning("reloaded, but could not update the staff and site tables: %s", exc)
        log.info("reloaded rules and templates from %s and %s",
                 new.settings.paths.rules, new.settings.paths.templates,
                 extra={"event": "reloaded", "generation": self.generation,
                        "engineers": len(new.rules.people)})
        return True
