"""The Jinja2 environment for notification templates (templates/{en,zh}/).

Compiled templates are kept on disk (``make_envs(..., cache=)``, under the
store): ``maild ingest`` runs once per message and renders a few templates, and
compiling them from source cost about as much as the rest of its work. Jinja
checks every cached template against a checksum of its source, so an edited
template is compiled afresh; each set of template directories (with the Jinja
and maild versions, which decide the compiled code) has a cache folder of its
own, so two installations or a site's own templates never share one.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.filters import do_wordwrap

from maild import __version__
from maild.core.when import human
from maild.db.private import private_dir
from maild.resources import shipped_dir

log = logging.getLogger("maild.templating")

TEMPLATE_NAMES = (
    "ack", "dispatch", "status", "resolved", "closed", "customer_reply", "staff_reply",
    "unassigned", "reopened", "hold", "rejected_sender", "failed_alert",
    "help", "phone_missing", "search_results", "reassigned", "escalation", "sla_warning",
    "sla_breach", "report", "outbox_failed", "staff_unproven", "reply_to_case_mail",
    "address_changed", "flood_alert", "transcript", "undone", "customer_tag",
    "complaint", "complaint_ack", "complaint_closed", "survey", "survey_low", "complaint_summary",
    "vendor_case", "passed_on",
    "problem", "problem_result",
    "caller_ambiguous", "workload", "visit", "visit_late",
)
# Plain-text templates with no subject or HTML part: text messages (core.sms).
PLAIN_TEMPLATES = (
    "sms",
)


def _when(value: datetime | str | None, fmt: str | None = None) -> str:
    """Format a datetime for people (already in the helpdesk time zone): with its UTC
    offset (maild/core/when.py) unless a template asks for its own ``fmt``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return value.strftime(fmt) if fmt else human(value)


LANGUAGES = ("en", "zh")


def make_envs(directory: Path, cache: Path | None = None) -> dict[str, jinja2.Environment]:
    """One environment per language (templates include each other by plain name).

    A file in ``directory/<lang>/`` overrides the shipped template of that name; every
    template it does not have comes from the package, so a site copies only what it
    changes (and keeps getting new templates on upgrade). With ``cache``, compiled
    templates are kept in a folder under it (see the module's docstring)."""
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: templates directory not found "
                                f"([paths] templates; leave the key out to use the shipped ones)")
    shipped = shipped_dir("templates")
    envs = {}
    for lang in LANGUAGES:
        dirs = [directory / lang] if (directory / lang).is_dir() else []
        if (shipped / lang).resolve() != (directory / lang).resolve():
            dirs.append(shipped / lang)
        envs[lang] = make_env(*dirs)
        if cache is not None:
            envs[lang].bytecode_cache = compiled_cache(cache, dirs)
    return envs


class _DiskCache(jinja2.FileSystemBytecodeCache):
    """Jinja's cache of compiled templates in a folder; one that cannot be written (a full
    disk, a store owned by someone else) only means compiling from source."""

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError as exc:
            log.debug("template cache not written: %s", exc)


def compiled_cache(cache: Path, directories: Sequence[Path]) -> jinja2.BytecodeCache | None:
    """The cache folder for templates read from ``directories`` (in this order), or None
    if it cannot be made."""
    key = "\0".join([jinja2.__version__, __version__, *(str(d.resolve()) for d in directories)])
    folder = cache / hashlib.sha256(key.encode()).hexdigest()[:16]
    try:
        private_dir(folder)
    except OSError as exc:
        log.debug("no template cache in %s: %s", folder, exc)
        return None
    return _DiskCache(str(folder))


_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Environment(jinja2.Environment):
    """Jinja's environment, with ``case.id`` on a plain dict looked up without an
    exception.

    Jinja tries an attribute first and the item only when that raises: a
    template context is dicts, so every ``x.y`` raised and caught an
    ``AttributeError`` (a few hundred a dispatch mail). A name that is no
    attribute of ``dict`` can only be an item of a plain dict (its instances
    have no attributes of their own), so the answer is the same: the item, or
    undefined (``case.items`` still means the method)."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def make_env(*directories: Path) -> jinja2.Environment:
    """HTML templates autoescape; missing variables are errors, not blanks.

    Templates are read once (no ``auto_reload``: a stat of every template and
    include on every render); edits take effect on restart or reload (SIGHUP)."""
    env = _Environment(
        loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(d)) for d in directories]),
        auto_reload=False,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"),
                                            default_for_string=False, default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["when"] = _when
    env.filters["wordwrap"] = _make_wordwrap(env)
    return env


def _make_wordwrap(env: jinja2.Environment) -> Callable[..., str]:
    """Jinja's ``wordwrap``, remembered: the command-tag table wraps the same fixed
    sentences in every mail, and textwrap is the slowest step of a render."""

    @lru_cache(maxsize=4096)
    def wrap(text: str, width: int = 79, break_long_words: bool = True,
             wrapstring: str | None = None, break_on_hyphens: bool = True) -> str:
        return do_wordwrap(env, text, width, break_long_words, wrapstring, break_on_hyphens)

    def wordwrap(text: str, *args: Any, **kwargs: Any) -> str:
        if type(text) is not str:  # Markup and friends: not worth a cache key
            return do_wordwrap(env, text, *args, **kwargs)
        return wrap(text, *args, **kwargs)

    return wordwrap
