"""A maild wired to real test servers: config file, migrated database, rules and templates.

The database is a SQLite file in the test's directory, or a PostgreSQL database of
its own when ``MAILD_TEST_DATABASE_URL`` is set (tests/databases.py).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from databases import database_url
from sqlmodel import Session, col, select

from maild.config import Settings, read_config
from maild.daemon import Daemon, RunStats
from maild.db import migrate
from maild.db.models import Case, Customer, OutboxMail, utcnow
from maild.runtime import Runtime, database
from maild.service.intake import ingest
from maild.service.notices import personal_address
from maild.service.views import case_json

REPO = Path(__file__).resolve().parent.parent
HELPDESK = "helpdesk@corp.example"
SECRET = "test-secret-0123456789abcdef"


def write_config(directory: Path, imap_port: int, smtp_port: int, *, empty_db: bool = False,
                 **helpdesk: Any) -> Path:
    """A config.toml for the test servers; ``helpdesk`` overrides [helpdesk] keys.

    ``empty_db``: a PostgreSQL test database starts without the schema too (a
    SQLite file always does; PostgreSQL ones are copied from a migrated template)."""
    hd = {"address": HELPDESK, "timezone": "Asia/Shanghai", "unknown_senders": "hold",
          "secret": SECRET, **helpdesk}
    lines = ["[helpdesk]"] + [f"{k} = {v!r}".replace("'", '"') for k, v in hd.items()]
    lines += [
        "[database]", f'url = "{database_url(directory, empty=empty_db)}"',
        "[imap]", 'host = "127.0.0.1"', f"port = {imap_port}", 'security = "none"',
        f'username = "{HELPDESK}"', 'password = "secret"', "poll_seconds = 1",
        "[smtp]", 'host = "127.0.0.1"', f"port = {smtp_port}", 'security = "none"',
        "timeout_seconds = 5",
        "[paths]", f'rules = "{REPO / "rules"}"', f'templates = "{REPO / "templates"}"',
        f'store = "{directory / "store"}"',
    ]
    path = directory / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Maild:
    """One maild installation under test."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.settings: Settings = read_config(config)
        engine = database(self.settings)
        migrate.upgrade(engine)
        self.rt = Runtime.load(self.settings, engine)
        self.rt.sync_directory()

    def run_once(self) -> RunStats:
        return asyncio.run(Daemon(self.rt).run_once())

    def add_customer(self, email_addr: str, name: str, company: str | None = None,
                     vip: bool = False) -> None:
        with Session(self.rt.engine) as s:
            s.add(Customer(email=email_addr, name=name, company=company, vip=vip,
                           created_at=utcnow()))
            s.commit()

    def personal(self, staff_email: str) -> str:
        """The staff member's personal helpdesk address (docs/TRUST.md, proof 2)."""
        return personal_address(self.rt, staff_email)

    def case(self, case_id: int) -> dict[str, Any]:
        with Session(self.rt.engine) as s:
            case = s.get(Case, case_id)
            assert case is not None, f"no case #{case_id}"
            return case_json(s, self.rt.rules, case)


FED_AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # when ``feed`` says a mail arrived


def outbox(m: Maild, template: str | None = None) -> list[OutboxMail]:
    """The installation's outbox in order, or only the mail of one template."""
    with Session(m.rt.engine) as s:
        q = select(OutboxMail).order_by(col(OutboxMail.id))
        if template:
            q = q.where(OutboxMail.template == template)
        return list(s.exec(q))


def feed(m: Maild, raw: bytes, when: datetime = FED_AT) -> tuple[str, int | None]:
    """Ingest one raw mail as the daemon does: (disposition, case id)."""
    result = ingest(m.rt, raw, when)
    return result.disposition.value, result.case_id


def new_mail(sender: str, subject: str, body: str, to: str = HELPDESK,
             charset: str = "utf-8") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain=sender.split("@")[1])
    msg.set_content(body, charset=charset)
    return msg.as_bytes()


def parsed(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def text_of(raw: bytes) -> str:
    part = parsed(raw).get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def reply_to(raw: bytes, sender: str, text: str, quote: bool = True) -> bytes:
    """A reply as a mail client writes it: to Reply-To, Re: subject, threading headers,
    new text on top and the received mail quoted below."""
    got = parsed(raw)
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = str(got["Reply-To"] or got["From"])
    msg["Subject"] = "Re: " + str(got["Subject"])
    msg["Message-ID"] = make_msgid(domain=sender.split("@")[1])
    msg["In-Reply-To"] = got["Message-ID"]
    msg["References"] = got["Message-ID"]
    body = text
    if quote:
        quoted = "\n".join("> " + line for line in text_of(raw).splitlines())
        body += f"\n\nOn Mon, 23 Nov 2026 at 10:00, IT Helpdesk <{HELPDESK}> wrote:\n{quoted}\n"
    msg.set_content(body)
    return msg.as_bytes()
