"""SIGHUP: load rules/ and templates afresh and swap them into the running daemon.

``Runtime`` stays a frozen value; the daemon keeps it in a ``RuntimeHolder``
and every loop reads ``holder.current`` when it starts a piece of work, so
a swap takes effect at the next message. A new set is fully loaded and
checked (every rules file, every template compiled) before the swap: a bad
file is refused with its name and the key or line, and the old set stays.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping

import jinja2

from maild.config import Settings
from maild.core.ruleset import RuleSet
from maild.rules import RulesError, load_rules
from maild.runtime import Runtime
from maild.templating import make_envs

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
