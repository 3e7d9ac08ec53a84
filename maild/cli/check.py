"""``maild check``: say exactly what is wrong with the config, database, mailbox or SMTP login.

Each check is a small function returning a ``Check`` (name, ok, detail) and
never raising: a sysadmin gets one line per part with the reason, and the
checks after a failed config are reported as skipped rather than hidden.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiosmtplib

from maild.config import ConfigError, Settings, read_config
from maild.db import migrate
from maild.db.private import loose_modes
from maild.edges import imap, smtp
from maild.runtime import ReloadError, database, load_rule_set, load_templates

TIMEOUT = 15.0  # seconds for each network check


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    warning: bool = False  # ok, but something an operator should fix (exit code unchanged)

    def line(self) -> str:
        word = "FAIL" if not self.ok else "warn" if self.warning else "ok  "
        return f"{word}  {self.name:<10} {self.detail}"

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def check_config(path: Path) -> tuple[Check, Settings | None]:
    try:
        settings = read_config(path)
    except ConfigError as exc:
        return Check("config", False, str(exc)), None
    return Check("config", True, f"{path} is valid"), settings


def check_database(settings: Settings) -> Check:
    url = _safe_url(settings.database.url)
    try:
        engine = database(settings)
        with engine.connect() as conn:
            current = migrate.current(conn)
        engine.dispose()
    except Exception as exc:
        return Check("database", False, f"{url}: cannot connect: {_first_line(exc)}")
    expected = migrate.head()
    if current != expected:
        return Check("database", False,
                     f"{url}: schema is at {current or 'nothing (empty database)'}, this maild "
                     f"needs {expected}: run 'maild db upgrade'")
    return Check("database", True, f"{url}: reachable, schema at {current} (head)")


def check_rules(settings: Settings) -> Check:
    try:
        rules = load_rule_set(settings)
        envs = load_templates(settings)
    except ReloadError as exc:
        return Check("rules", False, str(exc))
    templates = sum(len(env.list_templates()) for env in envs.values())
    return Check("rules", True, f"{len(rules.people)} staff, {len(rules.sites)} site(s), "
                                f"{templates} templates in {', '.join(envs)}")


async def check_imap(settings: Settings) -> Check:
    cfg = settings.imap
    if not cfg.host:
        return Check("imap", True, "no mailbox ([imap] host is empty): mail comes by LMTP or "
                     "maild ingest")
    where = f"{cfg.host}:{cfg.port} as {cfg.username}"
    box = imap.Mailbox(cfg, timeout=TIMEOUT)
    try:
        await asyncio.wait_for(box.connect(), TIMEOUT)
        count = len(await box.uids())
        idle = "IDLE" if box.can_idle else "no IDLE: polling"
    except TimeoutError:
        return Check("imap", False, f"{where}: no answer within {TIMEOUT:.0f} s")
    except Exception as exc:
        return Check("imap", False, f"{where}: {type(exc).__name__}: {_first_line(exc)}")
    finally:
        await box.close()
    return Check("imap", True, f"{where}: logged in, folder {cfg.folder!r} selected "
                               f"({count} message(s) waiting, {idle})")


async def check_smtp(settings: Settings) -> Check:
    cfg = settings.smtp
    where = f"{cfg.host}:{cfg.port} ({cfg.security})"
    client = smtp._client(cfg, None)
    try:
        await asyncio.wait_for(client.connect(), TIMEOUT)  # logs in when a username is set
        await client.noop()
    except TimeoutError:
        return Check("smtp", False, f"{where}: no answer within {TIMEOUT:.0f} s")
    except aiosmtplib.SMTPAuthenticationError as exc:
        return Check("smtp", False, f"{where}: login as {cfg.username} refused: "
                                    f"{exc.code} {exc.message}")
    except (OSError, aiosmtplib.SMTPException) as exc:
        return Check("smtp", False, f"{where}: {type(exc).__name__}: {_first_line(exc)}")
    finally:
        if client.is_connected:
            client.close()
    login = f", logged in as {cfg.username}" if cfg.username else " (no login configured)"
    return Check("smtp", True, f"{where}: connected{login}")


def check_trust(settings: Settings) -> Check:
    """Warn when staff must now prove their mail but the server's proof is off (docs/TRUST.md)."""
    try:
        staff = len(load_rule_set(settings).people)
    except ReloadError:
        staff = 0
    if settings.trust.authserv_id:
        return Check("trust", True, f"Authentication-Results of {settings.trust.authserv_id} "
                                    "are believed; personal addresses and case tokens too")
    if not staff:
        return Check("trust", True, "no staff; [trust] authserv_id unset")
    return Check("trust", True, f"{staff} staff but [trust] authserv_id is unset: operators' "
                 "phone summaries, forwards and #search count only when sent to their personal "
                 "address ('maild staff address EMAIL'); see docs/TRUST.md", warning=True)


def check_store(settings: Settings) -> Check:
    """Warn about a store (database, attachments) that others on the host may read."""
    store = settings.paths.store
    url = settings.database.url
    db = Path(url.split("///", 1)[1]) if url.startswith("sqlite:///") else None
    loose = loose_modes(store, (db,) if db and db.exists() else ())
    if loose:
        more = f" (and {len(loose) - 3} more)" if len(loose) > 3 else ""
        return Check("store", True, "readable by others: " + "; ".join(loose[:3]) + more +
                     f": chmod -R go-rwx {store}", warning=True)
    return Check("store", True, f"{store}: owner-only" if store.exists() else
                 f"{store}: not created yet (maild creates it owner-only)")


async def run_checks(path: Path) -> list[Check]:
    """Every check, in order; the ones after a bad config are reported as skipped."""
    config, settings = check_config(path)
    if settings is None:
        skipped = [Check(name, False, "skipped: the config must be fixed first")
                   for name in ("database", "rules", "trust", "store", "imap", "smtp")]
        return [config, *skipped]
    db = await asyncio.to_thread(check_database, settings)
    rules = await asyncio.to_thread(check_rules, settings)
    mailbox, relay = await asyncio.gather(check_imap(settings), check_smtp(settings))
    return [config, db, rules, check_trust(settings), check_store(settings), mailbox, relay]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def _safe_url(url: str) -> str:
    """The database URL without its password."""
    head, sep, tail = url.partition("://")
    if "@" in tail:
        creds, _, host = tail.rpartition("@")
        user = creds.split(":", 1)[0]
        return f"{head}{sep}{user}:***@{host}"
    return url
