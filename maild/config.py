"""config.toml → frozen Settings, validated once at start-up.

Every error names the file and the key, so a sysadmin can fix it without
reading code. ``env:NAME`` values are resolved here and nowhere else.
Relative paths (``[paths]``, a relative SQLite file) are taken relative to
the directory of the config file, so ``maild run`` works from any cwd.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ConfigError(ValueError):
    """The config file is missing or wrong; the message says where and how."""


@dataclass(frozen=True)
class HelpdeskSettings:
    address: str
    name: str = "IT Helpdesk"
    language: str = "en"
    timezone: str = "UTC"
    subject_tag: str = "Case"
    unknown_senders: str = "hold"
    auto_close_days: int = 3
    secret: str = field(default="", repr=False)
    previous_secrets: tuple[str, ...] = field(default=(), repr=False)
    hold_hours: int = 72
    auto_replies_per_hour: int = 10
    undo_minutes: int = 15  # #undo takes back a command mail within this
    reopen_days: int = 7  # mail on a case closed longer ago opens a new case

    @property
    def secrets(self) -> tuple[str, ...]:
        """The signing secret first, then retired ones still accepted."""
        return (self.secret, *self.previous_secrets)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def domain(self) -> str:
        return self.address.rsplit("@", 1)[1]

    @property
    def local_part(self) -> str:
        return self.address.rsplit("@", 1)[0]


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "sqlite:///store/maild.db"
    busy_timeout_seconds: int = 30
    leader_retry_seconds: int = 10  # PostgreSQL replicas: how often a follower tries to lead


@dataclass(frozen=True)
class OAuth2Settings:
    """Where XOAUTH2 access tokens come from: a command, or a refresh-token grant."""

    token_command: str = ""  # run (no shell); stdout is the access token
    token_url: str = ""
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    refresh_token: str = field(default="", repr=False)
    scope: str = ""
    refresh_before_seconds: int = 300
    timeout_seconds: int = 30
    token_cache: str = ""  # where a rotated refresh token is kept; default store/oauth2-token.json


@dataclass(frozen=True)
class ImapSettings:
    host: str = "127.0.0.1"
    port: int = 993
    security: str = "ssl"
    username: str = ""
    password: str = field(default="", repr=False)
    ca_file: str = ""  # PEM bundle of trusted CAs; empty: the system's
    verify: bool = True
    auth: str = "password"
    oauth2: OAuth2Settings | None = field(default=None, metadata={"derived": True})
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    failed_folder: str = "Failed"
    idle: bool = True
    poll_seconds: int = 60
    idle_seconds: int = 25 * 60  # re-issue IDLE this often (RFC 2177: under 29 minutes)


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 587
    security: str = "starttls"
    username: str = ""
    password: str = field(default="", repr=False)
    timeout_seconds: int = 30
    retry_hours: int = 48
    retry_base_seconds: int = 30  # first back-off after a failed send; doubles, capped at 1 h
    ca_file: str = ""
    verify: bool = True
    auth: str = "password"
    oauth2: OAuth2Settings | None = field(default=None, metadata={"derived": True})


@dataclass(frozen=True)
class ReportSettings:
    recipients: tuple[str, ...] = ()
    daily_at: str = "08:00"
    monthly_day: int = 1
    grace_hours: int = 36  # a report missed while maild was down is still sent this late

    def at(self) -> tuple[int, int]:
        hh, _, mm = self.daily_at.partition(":")
        return int(hh), int(mm)


@dataclass(frozen=True)
class DigestSettings:
    """The engineers' morning list of their open cases; off unless ``engineers_at`` is set."""

    engineers_at: str = ""  # "08:30", the helpdesk's time zone, on working days

    def at(self) -> tuple[int, int] | None:
        if not self.engineers_at:
            return None
        hh, _, mm = self.engineers_at.partition(":")
        return int(hh), int(mm)


@dataclass(frozen=True)
class SurveySettings:
    """The follow-up survey (回访) of closed cases (docs/REFERENCE.md, "Follow-up survey")."""

    sample: float = 0.2  # share of closed cases asked, chosen by a keyed hash of the case
    vip: bool = True  # always ask VIP customers
    after_hours: int = 24  # hours after closing


@dataclass(frozen=True)
class LimitSettings:
    max_message_bytes: int = 50 * 1024 * 1024
    max_attachment_bytes: int = 20 * 1024 * 1024
    forward_attachments_bytes: int = 10 * 1024 * 1024
    mails_per_sender_per_hour: int = 30  # what one sender makes maild send (TRUST.md); 0: off


@dataclass(frozen=True)
class TrustSettings:
    """How maild tells who sent a mail (docs/TRUST.md)."""

    authserv_id: str = ""  # the Authentication-Results id our MTA stamps; empty: proof 3 off
    # where reply tokens are read from: of an envelope header only the topmost counts
    recipient_headers: tuple[str, ...] = ("delivered-to", "to", "cc")


@dataclass(frozen=True)
class SlaSettings:
    """What the SLA sweep does beyond telling people (docs/REFERENCE, configuration)."""

    auto_escalate: bool = False  # a missed resolution target moves the case up a line


@dataclass(frozen=True)
class PathSettings:
    rules: Path = Path("rules")
    templates: Path = Path("templates")
    store: Path = Path("store")


@dataclass(frozen=True)
class LoggingSettings:
    format: str = "text"  # text | json | kv: one event per line
    level: str = "info"


@dataclass(frozen=True)
class MetricsSettings:
    listen: str = ""  # "127.0.0.1:9108" serves /metrics and /healthz; empty: off
    max_poll_age_seconds: int = 0  # /healthz fails beyond this; 0: from the IMAP timings

    def address(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


@dataclass(frozen=True)
class LmtpSettings:
    """LMTP intake in ``maild run``: "127.0.0.1:8024" or "unix:/run/maild/lmtp.sock"."""

    listen: str = ""  # empty: off (mail comes from IMAP or ``maild ingest``)


@dataclass(frozen=True)
class Settings:
    """The whole validated configuration."""

    helpdesk: HelpdeskSettings
    database: DatabaseSettings
    imap: ImapSettings
    smtp: SmtpSettings
    reports: ReportSettings
    paths: PathSettings
    limits: LimitSettings = field(default_factory=LimitSettings)
    trust: TrustSettings = field(default_factory=TrustSettings)
    sla: SlaSettings = field(default_factory=SlaSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    lmtp: LmtpSettings = field(default_factory=LmtpSettings)
    oauth2: OAuth2Settings = field(default_factory=OAuth2Settings)
    digest: DigestSettings = field(default_factory=DigestSettings)
    survey: SurveySettings = field(default_factory=SurveySettings)
    source: Path = Path("config.toml")


_SECTIONS: dict[str, type] = {
    "helpdesk": HelpdeskSettings,
    "database": DatabaseSettings,
    "imap": ImapSettings,
    "smtp": SmtpSettings,
    "reports": ReportSettings,
    "paths": PathSettings,
    "limits": LimitSettings,
    "trust": TrustSettings,
    "sla": SlaSettings,
    "logging": LoggingSettings,
    "metrics": MetricsSettings,
    "lmtp": LmtpSettings,
    "oauth2": OAuth2Settings,
    "digest": DigestSettings,
    "survey": SurveySettings,
}

_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("helpdesk", "language"): ("en", "zh"),
    ("helpdesk", "unknown_senders"): ("open", "hold", "reject"),
    ("imap", "security"): ("ssl", "starttls", "none"),
    ("smtp", "security"): ("ssl", "starttls", "none"),
    ("logging", "format"): ("text", "json", "kv"),
    ("logging", "level"): ("debug", "info", "warning", "error"),
    ("imap", "auth"): ("password", "xoauth2"),
    ("smtp", "auth"): ("password", "xoauth2"),
}


def resolve_env(value: str, where: str) -> str:
    """Return ``value``, or the environment variable it names as ``env:NAME``."""
    if not value.startswith("env:"):
        return value
    name = value[4:]
    if name not in os.environ:
        raise ConfigError(f"{where}: environment variable {name} is not set")
    return os.environ[name]


def _convert(section: str, key: str, value: Any, default: Any, where: str) -> Any:
    """Check one value against its default's type and return it converted."""
    expected = type(default)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: [{section}] {key} must be true or false, got {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: [{section}] {key} must be a number, got {value!r}")
        return float(value)
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: [{section}] {key} must be a whole number, got {value!r}")
        return value
    if isinstance(default, Path):
        if not isinstance(value, str):
            raise ConfigError(f"{where}: [{section}] {key} must be a path string, got {value!r}")
        return Path(value)
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: [{section}] {key} must be a list of strings")
        return tuple(resolve_env(v, f"{where}: [{section}] {key}") for v in value)
    if not isinstance(value, expected):
        raise ConfigError(f"{where}: [{section}] {key} must be a string, got {value!r}")
    return resolve_env(value, f"{where}: [{section}] {key}")


def _build(section: str, cls: type, raw: Mapping[str, Any], where: str) -> Any:
    """Build one section's dataclass, naming unknown, missing or bad keys."""
    known = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("derived")}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) in [{section}]: {', '.join(unknown)} "
            f"(known: {', '.join(sorted(known))})"
        )
    values: dict[str, Any] = {}
    for name, spec in known.items():
        required = spec.default is dataclasses.MISSING
        if name not in raw:
            if required:
                raise ConfigError(f"{where}: [{section}] {name} is required")
            continue
        values[name] = _convert(section, name, raw[name], "" if required else spec.default, where)
        choices = _CHOICES.get((section, name))
        if choices and values[name] not in choices:
            raise ConfigError(
                f"{where}: [{section}] {name} must be one of {', '.join(choices)}, "
                f"got {values[name]!r}"
            )
    return cls(**values)


SUPPORTED_DATABASES = ("sqlite", "postgresql")


def _validate_database(url: str, where: str) -> None:
    """Only SQLite and PostgreSQL: the replicas rely on PostgreSQL's advisory locks,
    ``SKIP LOCKED`` and ``tsvector`` search, and only these two are tested."""
    scheme = url.partition(":")[0]
    backend = scheme.partition("+")[0]
    if backend not in SUPPORTED_DATABASES or scheme not in ("sqlite", "postgresql",
                                                            "postgresql+psycopg"):
        raise ConfigError(
            f"{where}: [database] url: {scheme or url!r} is not supported; use sqlite:///PATH "
            "or postgresql+psycopg://USER@HOST:PORT/DB (postgresql:// works too)")


def _clock_time(value: str, where: str) -> None:
    """Refuse a time of day that is not HH:MM."""
    hh, _, mm = value.partition(":")
    if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
        raise ConfigError(f"{where} must be HH:MM, got {value!r}")


def _validate(s: Settings, where: str, secrets: bool = True) -> None:
    """Cross-field checks that need more than a type."""
    _validate_database(s.database.url, where)
    if "@" not in s.helpdesk.address:
        raise ConfigError(f"{where}: [helpdesk] address must be an email address")
    try:
        ZoneInfo(s.helpdesk.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"{where}: [helpdesk] timezone {s.helpdesk.timezone!r} is not a known time zone "
            "(use a name like Asia/Shanghai or UTC)"
        ) from exc
    if secrets and len(s.helpdesk.secret) < 16:
        raise ConfigError(
            f"{where}: [helpdesk] secret must be at least 16 characters "
            '(e.g. secret = "env:MAILD_SECRET" with a long random value)'
        )
    if secrets and any(len(p) < 16 for p in s.helpdesk.previous_secrets):
        raise ConfigError(
            f"{where}: [helpdesk] previous_secrets must each be at least 16 characters")
    _clock_time(s.reports.daily_at, f"{where}: [reports] daily_at")
    if s.digest.engineers_at:
        _clock_time(s.digest.engineers_at, f"{where}: [digest] engineers_at")
    if not 1 <= s.smtp.retry_base_seconds <= 3600:
        raise ConfigError(f"{where}: [smtp] retry_base_seconds must be 1..3600")
    if s.database.leader_retry_seconds < 1:
        raise ConfigError(f"{where}: [database] leader_retry_seconds must be at least 1")
    if not 1 <= s.helpdesk.undo_minutes <= 1440:
        raise ConfigError(f"{where}: [helpdesk] undo_minutes must be 1..1440")
    if not 0 <= s.helpdesk.reopen_days <= 3650:
        raise ConfigError(f"{where}: [helpdesk] reopen_days must be 0..3650")
    if not 1 <= s.reports.monthly_day <= 28:
        raise ConfigError(f"{where}: [reports] monthly_day must be 1..28")
    _validate_ops(s, where)
    _validate_trust(s, where)
    _validate_survey(s, where)


def _validate_survey(s: Settings, where: str) -> None:
    if not 0.0 <= s.survey.sample <= 1.0:
        raise ConfigError(f"{where}: [survey] sample must be between 0 and 1")
    if not 0 <= s.survey.after_hours <= 24 * 90:
        raise ConfigError(f"{where}: [survey] after_hours must be 0..2160")


_RECIPIENT_HEADERS = ("delivered-to", "x-original-to", "envelope-to", "to", "cc")


def _validate_trust(s: Settings, where: str) -> None:
    """The [trust] header names and the [limits] sender cap."""
    bad = [h for h in s.trust.recipient_headers if h.lower() not in _RECIPIENT_HEADERS]
    if bad or not s.trust.recipient_headers:
        raise ConfigError(f"{where}: [trust] recipient_headers must be a non-empty list of "
                          f"{', '.join(_RECIPIENT_HEADERS)}; got {list(s.trust.recipient_headers)}")
    if any(c in s.trust.authserv_id for c in " ;()\"\t"):
        raise ConfigError(f"{where}: [trust] authserv_id must be one name such as "
                          f'"mx.corp.example", got {s.trust.authserv_id!r}')
    if s.limits.mails_per_sender_per_hour < 0:
        raise ConfigError(f"{where}: [limits] mails_per_sender_per_hour must be 0 (off) or more")


def _validate_ops(s: Settings, where: str) -> None:
    """IDLE timing and the metrics address."""
    if not 1 <= s.imap.idle_seconds < 29 * 60:
        raise ConfigError(f"{where}: [imap] idle_seconds must be 1..1739 (servers may drop an "
                          f"IDLE after 30 minutes, RFC 2177), got {s.imap.idle_seconds}")
    if s.imap.poll_seconds < 1:
        raise ConfigError(f"{where}: [imap] poll_seconds must be at least 1")
    if s.metrics.listen:
        host, _, port = s.metrics.listen.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"{where}: [metrics] listen must be HOST:PORT such as "
                              f'"127.0.0.1:9108", got {s.metrics.listen!r}')
    listen = s.lmtp.listen
    if listen and not listen.startswith("unix:/"):
        host, _, port = listen.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"{where}: [lmtp] listen must be HOST:PORT such as "
                              f'"127.0.0.1:8024" or unix:/PATH, got {listen!r}')
    if s.metrics.max_poll_age_seconds < 0:
        raise ConfigError(f"{where}: [metrics] max_poll_age_seconds must be 0 (automatic) "
                          "or more")


def _unset_env_blank(value: Any) -> Any:
    """``value`` with every ``env:NAME`` whose variable is unset replaced by ``""``."""
    if isinstance(value, str) and value.startswith("env:") and value[4:] not in os.environ:
        return ""
    if isinstance(value, Mapping):
        return {k: _unset_env_blank(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unset_env_blank(v) for v in value]
    return value


def load_settings(data: Mapping[str, Any], source: Path, secrets: bool = True) -> Settings:
    """Validate parsed TOML data; relative paths are taken from ``source``'s directory.

    ``secrets=False`` is for commands that only read the database (``cases list``,
    ``search``, …): an ``env:NAME`` whose variable is unset reads as empty and the
    signing secret is not checked, so they run without the IMAP password or secret."""
    where = str(source)
    if not secrets:
        data = _unset_env_blank(data)
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        raise ConfigError(f"{where}: unknown section(s): {', '.join(unknown)}")
    if "helpdesk" not in data:
        raise ConfigError(f"{where}: [helpdesk] section is required")
    parts = {}
    for name, cls in _SECTIONS.items():
        raw = data.get(name, {})
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where}: [{name}] must be a table")
        parts[name] = _build(name, cls, raw, where)
    base = source.parent.resolve()
    p: PathSettings = parts["paths"]
    parts["paths"] = PathSettings(rules=base / p.rules, store=base / p.store,
                                  templates=_templates_dir(base / p.templates, data))
    db: DatabaseSettings = parts["database"]
    parts["database"] = replace(db, url=absolute_sqlite_url(db.url, base))
    oauth2: OAuth2Settings = parts["oauth2"]
    cache = base / oauth2.token_cache if oauth2.token_cache else None
    parts["oauth2"] = replace(oauth2, token_cache=str(
        cache or parts["paths"].store / "oauth2-token.json"))
    for name in ("imap", "smtp"):
        parts[name] = _with_tls_and_oauth2(name, parts[name], parts["oauth2"], base, where)
    settings = Settings(source=source, **parts)
    _validate(settings, where, secrets)
    return settings


def _templates_dir(configured: Path, data: Mapping[str, Any]) -> Path:
    """``[paths] templates``; when the key is absent and there is no ``templates/`` next to
    the config, the templates shipped in the package (a wheel install needs no copy)."""
    paths = data.get("paths", {})
    if "templates" in paths or configured.is_dir():
        return configured
    from maild.resources import shipped_dir  # local: resources is not needed to read config

    return shipped_dir("templates")


def _with_tls_and_oauth2(section: str, cfg: Any, oauth2: OAuth2Settings, base: Path,
                         where: str) -> Any:
    """Make ``ca_file`` absolute and checked; give an ``auth = "xoauth2"`` section the
    [oauth2] table, which must say where tokens come from."""
    if cfg.ca_file:
        ca = base / cfg.ca_file
        if not ca.is_file():
            raise ConfigError(f"{where}: [{section}] ca_file {str(ca)!r} does not exist")
        cfg = replace(cfg, ca_file=str(ca))
    if cfg.auth != "xoauth2":
        return cfg
    if not cfg.username:
        raise ConfigError(f"{where}: [{section}] username is required with auth = \"xoauth2\"")
    grant = oauth2.token_url or oauth2.client_id or oauth2.refresh_token
    if bool(oauth2.token_command) == bool(grant):
        raise ConfigError(
            f"{where}: [{section}] auth = \"xoauth2\" needs an [oauth2] section with either "
            "token_command, or token_url + client_id + refresh_token (not both)")
    if grant:
        for key in ("token_url", "client_id", "refresh_token"):
            if not getattr(oauth2, key):
                raise ConfigError(f"{where}: [oauth2] {key} is required for the refresh-token "
                                  "flow (or use token_command)")
        if not oauth2.token_url.startswith(("https://", "http://")):
            raise ConfigError(f"{where}: [oauth2] token_url must be an https:// URL")
    return replace(cfg, oauth2=oauth2)


def absolute_sqlite_url(url: str, base: Path) -> str:
    """Make a relative ``sqlite:///file`` URL absolute against ``base``."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith("sqlite:////") and ":memory:" not in url:
        return prefix + str(base / url[len(prefix):])
    return url


def default_config_path() -> Path:
    """``$MAILD_CONFIG``, else ``./config.toml`` (docs/REFERENCE.md, "Command line")."""
    return Path(os.environ.get("MAILD_CONFIG", "config.toml"))


def read_config(path: Path, secrets: bool = True) -> Settings:
    """Read and validate a config file (``secrets``: see ``load_settings``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{path}: config file not found (copy config.example.toml to config.toml, "
            "or pass --config PATH / set MAILD_CONFIG)"
        ) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return load_settings(data, path, secrets)
