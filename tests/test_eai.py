"""Internationalised addresses end to end (Dovecot + aiosmtpd), and no mail blocks the outbox.

Two relays: the usual sink (offers SMTPUTF8) and an ASCII-only one. The first
test is the reported outage: a confirmation request to josé@ queued ahead of a
customer's case used to stop every mail behind it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from maildenv import HELPDESK, Maild, parsed, text_of, write_config
from servers import Dovecot, SmtpSink
from sqlmodel import Session, col, select

from maild.db.models import OutboxMail

CUSTOMER = "wang.fang@sh.corp.example"
OPERATOR = "callcenter@corp.example"


def raw_mail(sender: str, subject: str, body: str, msg_id: str) -> bytes:
    """A mail as an EAI-capable client writes it: UTF-8 straight in the headers (RFC 6532)."""
    return (f"From: {sender}\r\nTo: {HELPDESK}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{msg_id}>\r\nDate: Tue, 01 Dec 2026 10:00:00 +0800\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n").encode()


@pytest.fixture
def ascii_sink() -> Iterator[SmtpSink]:
    """A relay that does not offer SMTPUTF8."""
    with SmtpSink(smtputf8=False) as sink:
        yield sink


def outbox(m: Maild) -> list[OutboxMail]:
    with Session(m.rt.engine) as s:
        return list(s.exec(select(OutboxMail).order_by(col(OutboxMail.id))))


def flush_cli(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "maild", "outbox", "flush", "--config",
                           str(config)], capture_output=True, text=True, timeout=60)


def test_one_unsendable_mail_does_not_stop_the_others(tmp_path: Path, dovecot: Dovecot,
                                                      ascii_sink: SmtpSink) -> None:
    m = Maild(write_config(tmp_path, dovecot.imap_port, ascii_sink.port))
    m.add_customer(CUSTOMER, "王芳", company="上海分公司")
    dovecot.deliver(raw_mail("José <josé@sh.corp.example>", "Impresora", "No imprime",
                             "1@sh.corp.example"))
    dovecot.deliver(raw_mail(CUSTOMER, "Printer", "It jams", "2@sh.corp.example"))
    ascii_sink.stop()  # the relay is down while the mail is read: everything waits
    m.run_once()
    ascii_sink.start()
    held = [o for o in outbox(m) if o.template == "hold"]
    assert [o.recipients for o in held] == [["josé@sh.corp.example"]]

    done = flush_cli(m.config)
    assert done.returncode == 1, done
    assert "1 failed" in done.stdout
    rows = {o.template: o for o in outbox(m)}
    assert rows["hold"].status == "failed"
    assert "SMTPUTF8" in (rows["hold"].last_error or "")
    assert rows["ack"].status == rows["dispatch"].status == "sent"
    assert ascii_sink.to(CUSTOMER), "the customer's acknowledgement went out"
    engineer = m.case(1)["engineer"]["email"]
    assert ascii_sink.to(engineer), "the engineer's dispatch went out"
    # the operators are told, through the outbox, in the same flush; once an hour at most
    told = ascii_sink.to(OPERATOR)
    assert [str(parsed(t.data)["Subject"]).startswith(("Outgoing mail failed", "【外发"))
            for t in told] == [True]
    notice = text_of(told[0].data)
    assert "josé@sh.corp.example" in notice and "SMTPUTF8" in notice
    assert rows["outbox_failed"].status == "sent"
    again = flush_cli(m.config)
    assert again.returncode == 0, again
    assert len(ascii_sink.to(OPERATOR)) == 1
