"""Helpers for the customer-service field tests: maild in English or Chinese by real mail."""

from __future__ import annotations

from pathlib import Path

from maildenv import Maild, parsed, text_of, write_config
from servers import Dovecot, SmtpSink
from sqlmodel import Session

from maild.db.models import Customer, utcnow

OPERATOR = "callcenter@corp.example"
LI = "li.lei@corp.example"  # Shanghai's engineer; writes Chinese (rules/staff.toml)
HAN = "han.meimei@corp.example"  # Shanghai too
JOHN = "john.smith@corp.example"  # London; writes English
IM = "im@corp.example"


def installation(tmp_path: Path, dovecot: Dovecot, sink: SmtpSink, lang: str) -> Maild:
    """A maild whose default language (operators, customers) is ``lang``."""
    return Maild(write_config(tmp_path, dovecot.imap_port, sink.port, language=lang))


def mail(m: Maild, dovecot: Dovecot, raw: bytes, envelope_from: str) -> None:
    """Deliver one mail to the helpdesk mailbox and let maild handle it and send."""
    dovecot.deliver(raw, mail_from=envelope_from)
    m.run_once()


def to(sink: SmtpSink, addr: str) -> list[bytes]:
    """Every mail the sink received for ``addr``, oldest first."""
    return [x.data for x in sink.messages if addr in x.rcpt_tos]


def subject(raw: bytes) -> str:
    return str(parsed(raw)["Subject"])


def body(raw: bytes) -> str:
    return text_of(raw)


def customer(m: Maild, name: str, *, email: str | None = None, employee_id: str | None = None,
             company: str | None = None, phone: str | None = None) -> None:
    with Session(m.rt.engine) as s:
        s.add(Customer(name=name, email=email, employee_id=employee_id, company=company,
                       phone=phone, created_at=utcnow()))
        s.commit()
