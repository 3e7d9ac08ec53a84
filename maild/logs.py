"""Log set-up for the daemon: one event per line as text, JSON or key=value, secrets masked.

stdlib ``logging`` only: every module already logs through it, and a
formatter is all that structured output needs. Extras passed with
``log.info(..., extra={"message_id": 12})`` become fields. Every line is
scrubbed of the configured secrets (passwords, the signing secret, and
``MAILD_*`` environment values that look like secrets) as a last line of
defence: no code should log them, and if one does, the log still does not
leak them.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

from maild.config import LoggingSettings, Settings

MASK = "***"
# Attributes every LogRecord has; anything else on a record is an ``extra``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_SECRET_WORDS = ("SECRET", "PASSWORD", "TOKEN", "KEY")
_PROTOCOL_LOGGERS = ("aioimaplib", "aiosmtplib", "mail.log", "apscheduler", "alembic")


def secrets_of(settings: Settings | None) -> list[str]:
    """Values that must never reach a log: config secrets and secret-looking MAILD_* vars."""
    found: list[str] = []
    if settings is not None:
        found += [settings.helpdesk.secret, *settings.helpdesk.previous_secrets,
                  settings.imap.password, settings.smtp.password]
    found += [value for name, value in os.environ.items()
              if name.startswith("MAILD_") and any(w in name for w in _SECRET_WORDS)]
    # longest first, so a secret containing another is masked whole; tiny values are
    # skipped because masking them would shred ordinary words.
    return sorted({s for s in found if len(s) >= 3}, key=len, reverse=True)


def extras(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra=`` fields of a record."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class StructuredFormatter(logging.Formatter):
    """``text``, ``json`` or ``kv`` lines with timestamp, level, logger, message and extras;
    any configured secret in the finished line is replaced by ``***``."""

    def __init__(self, style_name: str = "text", secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.style_name = style_name
        self.secrets = list(secrets)

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **extras(record),
        }
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        return self.redact(self._render(fields))

    def _render(self, fields: dict[str, Any]) -> str:
        if self.style_name == "json":
            return json.dumps(fields, ensure_ascii=False, default=str)
        if self.style_name == "kv":
            return " ".join(f"{k}={_kv_value(v)}" for k, v in fields.items())
        extra = " ".join(f"{k}={_kv_value(v)}" for k, v in fields.items()
                         if k not in ("ts", "level", "logger", "msg", "exc"))
        line = (f"{fields['ts']} {fields['level'].upper()} {fields['logger']}: {fields['msg']}"
                + (f" [{extra}]" if extra else ""))
        return line + ("\n" + fields["exc"] if "exc" in fields else "")

    def redact(self, line: str) -> str:
        for secret in self.secrets:
            line = line.replace(secret, MASK)
        return line


def _kv_value(value: Any) -> str:
    text = str(value)
    if not text or any(c in text for c in ' "=\n\t'):
        return json.dumps(text, ensure_ascii=False)
    return text


def setup(cfg: LoggingSettings, settings: Settings | None = None,
          stream: TextIO | None = None) -> logging.Handler:
    """Send every logger's records, one line each, to ``stream`` (stderr: journald reads it)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(StructuredFormatter(cfg.format, secrets_of(settings)))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(cfg.level.upper())
    # Libraries: their debug lines carry whole messages (bodies stay out) and APScheduler
    # logs every run of the one-minute SLA job at info; only their warnings are events.
    quiet = logging.INFO if root.level <= logging.DEBUG else max(root.level, logging.WARNING)
    for noisy in _PROTOCOL_LOGGERS:
        logging.getLogger(noisy).setLevel(quiet)
    return handler
