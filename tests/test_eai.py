"""Internationalised addresses end to end (Dovecot + aiosmtpd), and no mail blocks the outbox.

Two relays: the usual sink (offers SMTPUTF8) and an ASCII-only one. The first
test is the reported outage: a confirmation request to josé@ queued ahead of a
customer's case used to stop every mail behind it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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
    assert done.stdout.startswith("3 sent, 0 deferred, 1 failed"), done.stdout
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


def raw_reply(got: bytes, sender: str, text: str, n: int) -> bytes:
    """A reply to a received notice (to its Reply-To, threaded), written by an EAI client."""
    msg = parsed(got)
    return (f"From: {sender}\r\nTo: {msg['Reply-To']}\r\nSubject: Re: {msg['Subject']}\r\n"
            f"Message-ID: <r{n}@example.org>\r\nIn-Reply-To: {msg['Message-ID']}\r\n"
            f"References: {msg['Message-ID']}\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
            f"\r\n{text}\r\n").encode()


def confirm_and_open(m: Maild, dovecot: Dovecot, sink: SmtpSink, writes_as: str,
                     replies_as: str, delivered_to: str) -> None:
    """A stranger writes, gets the confirmation request, confirms by reply: a case opens
    and its acknowledgement reaches them; a later reply threads into the case."""
    dovecot.deliver(raw_mail(f"用户 <{writes_as}>", "打印机卡纸", "每页都卡", "1@example.org"))
    m.run_once()
    [request] = sink.to(delivered_to)
    assert request.rcpt_tos == (delivered_to,)
    assert parsed(request.data)["To"] == delivered_to
    dovecot.deliver(raw_reply(request.data, replies_as, "是我", 2))
    m.run_once()
    case = m.case(1)
    assert case["customer"]["email"] == writes_as and case["subject"] == "打印机卡纸"
    ack = sink.to(delivered_to)[-1]
    assert "[Case #1]" in str(parsed(ack.data)["Subject"])
    dovecot.deliver(raw_reply(ack.data, replies_as, "还是卡", 3))
    m.run_once()
    assert m.case(1)["log"][-1]["text"] == "还是卡"
    assert all(o.status == "sent" for o in outbox(m))


def test_chinese_address_through_an_smtputf8_relay(maild: Maild, dovecot: Dovecot,
                                                   smtp_sink: SmtpSink) -> None:
    user = "用户@例子.广告"
    confirm_and_open(maild, dovecot, smtp_sink, user, user, user)
    raw = smtp_sink.to(user)[0].data
    assert "To: 用户@例子.广告\r\n".encode() in raw  # RFC 6532: UTF-8, not an encoded word


def test_idn_domain_through_an_ascii_relay(tmp_path: Path, dovecot: Dovecot,
                                           ascii_sink: SmtpSink) -> None:
    m = Maild(write_config(tmp_path, dovecot.imap_port, ascii_sink.port))
    # the reply comes from the A-label spelling of the same address: still the same person
    confirm_and_open(m, dovecot, ascii_sink, "zhang@例子.广告", "zhang@xn--fsqu00a.xn--4rr70v",
                     "zhang@xn--fsqu00a.xn--4rr70v")
    from maild.db.search import Filters, search

    with Session(m.rt.engine) as s:  # found by either spelling of the address
        for spelling in ("zhang@例子.广告", "ZHANG@XN--FSQU00A.XN--4RR70V"):
            assert [c.id for c in search(s, [], Filters(customer=spelling))] == [1]


def test_chinese_local_part_through_an_ascii_relay_fails_clearly(tmp_path: Path,
                                                                  dovecot: Dovecot,
                                                                  ascii_sink: SmtpSink) -> None:
    m = Maild(write_config(tmp_path, dovecot.imap_port, ascii_sink.port))
    dovecot.deliver(raw_mail("用户 <用户@例子.广告>", "打印机卡纸", "每页都卡", "1@example.org"))
    m.run_once()
    rows = {o.template: o for o in outbox(m)}
    assert rows["hold"].status == "failed"
    assert "has no ASCII form" in (rows["hold"].last_error or "")
    assert rows["outbox_failed"].status == "sent"
    assert [r.rcpt_tos for r in ascii_sink.messages] == [(OPERATOR,)]


# --- no item blocks the queue, whatever it holds ----------------------------------------

STRANGE = st.sampled_from([
    "", "@", "no-at-sign", "a@b@c.example", '"quoted local"@corp.example',
    '"a\\"b"@corp.example', "用户@例子.广告", "josé@sh.corp.example", "a" * 1000 + "@x.example",
    "x@" + "例" * 300 + ".广告", "evil@x.example\r\nBcc: all@corp.example", "a@-bad-.example",
    "zhang@xn--fsqu00a.xn--4rr70v", "\ud800@x.example", "tab\t@x.example",
])
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=40) | \
    st.sampled_from(["", "\x00\x07\x1b", "\ud83d", "名" * 1000, "a\r\nBcc: x@y.example"])
RANDOM_ADDRESS = STRANGE | ANY_TEXT | st.builds("{}@{}".format, ANY_TEXT, ANY_TEXT)
ITEM = st.tuples(RANDOM_ADDRESS, ANY_TEXT, ANY_TEXT)  # (recipient, display name, subject)


class Queue:
    """Notices queued into one maild's outbox, then flushed through its relay."""

    def __init__(self, m: Maild, sink: SmtpSink) -> None:
        self.m, self.sink = m, sink
        self.now = datetime(2026, 12, 1, tzinfo=UTC)
        self._arrived: list[str] = []  # Message-IDs of sink.messages[:len(_arrived)]

    def queue(self, items: list[tuple[str, str, str]]) -> tuple[list[int], list[int]]:
        """Each random item between two good ones; returns (good ids, random ids)."""
        from maild.core import notify
        from maild.db.session import transaction
        from maild.service.notices import base_context, enqueue

        self.now += timedelta(hours=2)  # a new hour: the operators may be told again
        good: list[int] = []
        other: list[int] = []
        with transaction(self.m.rt.engine) as s:
            for n, (to, name, subject) in enumerate([(CUSTOMER, "王芳", "ok"), *items]):
                for addr, who, title, ids in ((to, name, subject, other),
                                              (CUSTOMER, "王芳", "ok", good)):
                    ctx = base_context(self.m.rt, None)
                    ctx["failed"] = {"message_id": f"<{n}@x>", "from": addr, "subject": title,
                                     "reason": "test"}
                    row = enqueue(s, self.m.rt, notify.Notice(
                        "failed_alert", notify.Recipient(addr, who, "zh")), ctx, self.now)
                    assert row is not None
                    s.flush()
                    ids.append(row.id or 0)
        return good, other[1:]

    def arrived(self) -> set[str]:
        """The Message-ID of every mail the relay has received so far. Each is parsed
        once: the sink keeps the mail of every earlier example, and parsing them all again
        after each flush made the test quadratic (most of its minute went there)."""
        for m in self.sink.messages[len(self._arrived):]:
            self._arrived.append(str(parsed(m.data)["Message-ID"]).strip("<>"))
        return set(self._arrived)

    def flush(self) -> None:
        import asyncio

        from maild.edges import smtp
        from maild.service.undelivered import tell_operators

        asyncio.run(smtp.flush(self.m.rt, lambda: self.now, ignore_schedule=True,
                               after=tell_operators))


@pytest.fixture
def queues(tmp_path: Path, smtp_sink: SmtpSink, ascii_sink: SmtpSink) -> list[Queue]:
    out = []
    for name, sink in (("utf8", smtp_sink), ("ascii", ascii_sink)):
        (tmp_path / name).mkdir()
        out.append(Queue(Maild(write_config(tmp_path / name, 1, sink.port)), sink))
    return out


@pytest.mark.long
@pytest.mark.timeout(900)  # 30 examples, two real relays: minutes on a loaded machine
@settings(max_examples=30, deadline=None, report_multiple_bugs=False,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(items=st.lists(ITEM, min_size=1, max_size=4))
def test_no_item_blocks_the_outbox(queues: list[Queue], items: list[tuple[str, str, str]]) -> None:
    for q in queues:
        good, other = q.queue(items)
        q.flush()
        with Session(q.m.rt.engine) as s:
            rows = {o.id: o for o in s.exec(select(OutboxMail))}
        arrived = q.arrived()
        for i in good:
            assert rows[i].status == "sent" and rows[i].message_id in arrived, rows[i]
        for i in other:
            row = rows[i]
            assert row.status in ("sent", "failed"), row
            if row.status == "failed":
                assert row.last_error, row
            else:
                assert row.message_id in arrived
        assert all(o.status != "pending" for o in rows.values())
