"""The Jinja2 environment for notification templates (templates/{en,zh}/)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import jinja2

TEMPLATE_NAMES = (
    "ack", "dispatch", "status", "resolved", "closed", "customer_reply", "staff_reply",
    "command_error", "unassigned", "reopened", "hold", "rejected_sender", "failed_alert",
    "help", "phone_missing", "search_results", "reassigned", "escalation", "sla_warning",
    "sla_breach", "report",
)


def _when(value: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Format a datetime for people (already in the helpdesk time zone)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return value.strftime(fmt)


LANGUAGES = ("en", "zh")


def make_envs(directory: Path) -> dict[str, jinja2.Environment]:
    """One environment per language directory (templates include each other by plain name)."""
    missing = [lang for lang in LANGUAGES if not (directory / lang).is_dir()]
    if missing:
        raise FileNotFoundError(f"{directory}: template folder(s) missing: {', '.join(missing)}")
    return {lang: make_env(directory / lang) for lang in LANGUAGES}


def make_env(directory: Path) -> jinja2.Environment:
    """HTML templates autoescape; missing variables are errors, not blanks."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"),
                                            default_for_string=False, default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["when"] = _when
    return env
