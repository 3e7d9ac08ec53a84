"""Hostile sizes (issue 8): a 50 MB message, 5,000 MIME parts, a 1 MB header line.

Each ends with a case opened (or ``failed`` with a reason), in a process whose
peak resident memory stays under ``120 MiB + 10 x the message size``.

Why that bound: an idle ``maild`` (Python, SQLAlchemy, Jinja2, the rules)
takes about 80 MiB. The stdlib parser is the big spender: for a 50 MB mail it
peaks at about 8.5 copies of the message (the bytes, the surrogate-escaped
text, its list of lines while parsing, the joined payload, the decoded
attachment), measured at 452 MiB for parsing alone and 510-530 MiB for the
whole ``maild ingest``. Ten copies plus the base leaves room for the row
insert without letting a second accidental copy of the message pass.

``[limits] max_message_bytes`` (default 50 MiB) is inclusive: a message of
exactly that size still has its attachments kept (each up to
``max_attachment_bytes``); one byte more and the case is opened with every
attachment refused and listed as too large. The raw bytes are kept either way.
"""

from __future__ import annotations

import json
import os
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from faults import MAILD, db_count, run_measured
from maildenv import Maild
from servers import Dovecot, SmtpSink

pytestmark = pytest.mark.integration

CUSTOMER = "wang.fang@sh.corp.example"
MIB = 1024 * 1024
LIMIT = 50 * MIB  # the default [limits] max_message_bytes


def _bound_mib(size: int) -> float:
    return 120 + 10 * size / MIB


def _mail(subject: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = CUSTOMER
    msg["To"] = "helpdesk@corp.example"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="sh.corp.example")
    return msg


def fifty_mb(size: int) -> bytes:
    """Exactly ``size`` bytes: a 10 MiB log (under max_attachment_bytes) and a big dump."""
    msg = _mail("Crash dump attached")
    msg.set_content("The server crashed; the log and the dump are attached.")
    msg.add_attachment(os.urandom(10 * MIB), maintype="application",
                       subtype="octet-stream", filename="server.log")
    msg.add_attachment(os.urandom(26 * MIB), maintype="application",
                       subtype="octet-stream", filename="memory.dmp")
    raw = msg.as_bytes()
    assert len(raw) < size, len(raw)
    pad = size - len(raw)  # in the epilogue, after the last boundary: no part changes
    return raw + b"x" * (pad - 2) + b"\n\n" if pad >= 2 else raw + b"\n" * pad


def many_parts(n: int) -> bytes:
    msg = _mail("5000 parts")
    msg.set_content("Many small files.")
    for i in range(n):
        msg.add_attachment(f"part {i}\n".encode(), maintype="text", subtype="plain",
                           filename=f"p{i:04d}.txt")
    return msg.as_bytes()


def long_header(n: int) -> bytes:
    return (f"From: {CUSTOMER}\r\nTo: helpdesk@corp.example\r\nSubject: Long header\r\n"
            f"Message-ID: {make_msgid(domain='sh.corp.example')}\r\n").encode() + \
        b"X-Tracking: " + b"a" * n + b"\r\n\r\nThe header above is one line of 1 MB.\r\n"


def _ingest(maild: Maild, path: Path) -> tuple[dict[str, object], float]:
    code, peak, out, err = run_measured(
        [*MAILD, "ingest", "--json", "--config", str(maild.config), str(path)], timeout=300)
    assert code == 0, err[-2000:]
    size = path.stat().st_size
    print(f"\n{path.name}: {size / MIB:.1f} MiB, peak RSS {peak:.0f} MiB "
          f"(bound {_bound_mib(size):.0f})")
    assert peak < _bound_mib(size)
    result: dict[str, object] = json.loads(out)
    return result, peak


@pytest.mark.timeout(300)
@pytest.mark.parametrize("extra", [0, 1], ids=["exactly-50MiB", "50MiB-plus-1"])
def test_fifty_megabyte_message(maild: Maild, tmp_path: Path, extra: int) -> None:
    """At the limit the small attachment is kept; one byte over, every attachment is refused."""
    maild.add_customer(CUSTOMER, "王芳")
    path = tmp_path / "big.eml"
    path.write_bytes(fifty_mb(LIMIT + extra))
    assert path.stat().st_size == LIMIT + extra
    result, _ = _ingest(maild, path)
    assert result["disposition"] == "new_case" and result["case_id"] == 1
    case = maild.case(1)
    assert db_count(maild.config, "SELECT size FROM messages WHERE id = ?", result["id"]) \
        == LIMIT + extra  # the raw message is kept whole either way
    names = [a["filename"] for a in case["attachments"]]
    assert names == (["server.log"] if extra == 0 else [])
    kept = maild.settings.paths.store / "attachments"
    assert len([p for p in kept.rglob("*") if p.is_file()]) == (1 if extra == 0 else 0)


@pytest.mark.timeout(300)
def test_many_parts_and_a_long_header_through_the_mailbox(
        maild: Maild, dovecot: Dovecot, smtp_sink: SmtpSink, tmp_path: Path) -> None:
    """5,000 MIME parts and a 1 MB header line, delivered over LMTP and fetched over IMAP
    by `maild run --once`: both open a case; the daemon's peak memory stays bounded."""
    maild.add_customer(CUSTOMER, "王芳")
    parts, header = many_parts(5000), long_header(MIB)
    dovecot.deliver(parts, mail_from=CUSTOMER)
    dovecot.deliver(header, mail_from=CUSTOMER)
    code, peak, out, err = run_measured(
        [*MAILD, "run", "--once", "--config", str(maild.config)], timeout=280)
    assert code == 0, err[-2000:]
    size = len(parts) + len(header)
    print(f"\nrun --once over {size / MIB:.1f} MiB: peak RSS {peak:.0f} MiB "
          f"(bound {_bound_mib(size):.0f}); {out.strip()}")
    assert peak < _bound_mib(size)
    assert "'new_case': 2" in out
    assert dovecot.count("INBOX") == 0 and dovecot.count("Processed") == 2
    cases = {maild.case(n)["subject"]: maild.case(n) for n in (1, 2)}
    assert len(cases["5000 parts"]["attachments"]) == 5000
    assert "one line of 1 MB" in cases["Long header"]["description"]
    assert len(smtp_sink.messages) == 4  # an acknowledgement and a dispatch for each
