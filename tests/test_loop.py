"""The whole loop on real servers: Dovecot (IMAP + LMTP), an SMTP sink and SQLite."""

from __future__ import annotations

import json
import subprocess
import sys

from maildenv import Maild, new_mail, parsed, reply_to, text_of
from servers import Dovecot, SmtpSink
from sqlmodel import Session, select

from maild.db.models import InboundMessage, OutboxMail

CUSTOMER = "wang.fang@sh.corp.example"
ENGINEER = "li.lei@corp.example"


def _mail_to(sink: SmtpSink, addr: str) -> list[bytes]:
    return [m.data for m in sink.messages if addr in m.rcpt_tos]


def test_full_loop(maild: Maild, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    """Customer writes; engineer works by reply; the customer confirms; every mail threads."""
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    dovecot.deliver(new_mail(CUSTOMER, "Printer on floor 3 jams",
                             "The HP printer jams on every page.\nWang"), mail_from=CUSTOMER)
    stats = maild.run_once()
    assert stats.drained.by_disposition == {"new_case": 1}
    assert stats.outbox.sent == 2
    ack = _mail_to(smtp_sink, CUSTOMER)[-1]
    assert "[Case #1]" in str(parsed(ack)["Subject"])
    dispatch = _mail_to(smtp_sink, ENGINEER)[-1]
    head = parsed(dispatch)
    reply_addr = head["Reply-To"].addresses[0].addr_spec
    assert reply_addr.startswith("helpdesk+c1-") and reply_addr.endswith("@corp.example")
    assert head["Auto-Submitted"] == "auto-replied" and head["X-Auto-Response-Suppress"] == "All"
    assert "jams on every page" in text_of(dispatch)

    # The dispatch mail quotes example tags (#resolve …) below: they must not act.
    dovecot.deliver(reply_to(dispatch, ENGINEER, "#inprogress waiting for a pickup roller"),
                    mail_from=ENGINEER)
    assert maild.run_once().drained.by_disposition == {"command": 1}
    assert maild.case(1)["status"] == "in_progress"
    status_mail = _mail_to(smtp_sink, CUSTOMER)[-1]
    # the customer hears of the status; the note is internal (only #reply text reaches them)
    assert "In progress" in text_of(status_mail)
    assert "waiting for a pickup roller" not in text_of(status_mail)
    assert "waiting for a pickup roller" in text_of(_mail_to(smtp_sink, ENGINEER)[-1])

    fix = "#resolve replaced the roller\n#log spare from stock"
    dovecot.deliver(reply_to(dispatch, ENGINEER, fix), mail_from=ENGINEER)
    maild.run_once()
    case = maild.case(1)
    assert case["status"] == "resolved" and case["resolution"] == "replaced the roller"
    resolved_mail = _mail_to(smtp_sink, CUSTOMER)[-1]
    assert "replaced the roller" in text_of(resolved_mail)

    dovecot.deliver(reply_to(resolved_mail, CUSTOMER, "confirm, thanks"), mail_from=CUSTOMER)
    maild.run_once()
    case = maild.case(1)
    assert case["status"] == "closed" and case["closed_at"] is not None
    assert case["handling_seconds"] is not None and case["handling_seconds"] >= 0
    kinds = [e["kind"] for e in case["log"]]
    assert kinds[:2] == ["created", "assign"] and "resolution" in kinds and "close" in kinds
    assert dovecot.count("INBOX") == 0 and dovecot.count("Processed") == 4
    # every mail we sent threads to the customer's first message
    first_id = str(parsed(dovecot.fetch_all("Processed")[0])["Message-ID"]).strip("<>")
    for raw in _mail_to(smtp_sink, CUSTOMER):
        assert first_id in str(parsed(raw)["References"])


def test_chinese_gbk_mail(maild: Maild, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    """A GBK-encoded mail opens a case with readable Chinese and a Chinese acknowledgement."""
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    raw = new_mail(CUSTOMER, "打印机卡纸，急！", "三楼的打印机一直卡纸，硒鼓也快没了。",
                   charset="gbk")
    assert b"charset=\"gbk\"" in raw or b"charset=gbk" in raw
    dovecot.deliver(raw, mail_from=CUSTOMER)
    maild.run_once()
    case = maild.case(1)
    assert case["subject"] == "打印机卡纸，急！"
    assert "硒鼓也快没了" in case["description"]
    assert case["type"] == "printer"
    ack = _mail_to(smtp_sink, CUSTOMER)[-1]
    assert "工单" in text_of(ack) or "工单" in str(parsed(ack)["Subject"])


def test_duplicate_delivery(maild: Maild, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    """The same Message-ID delivered twice opens one case and sends one acknowledgement."""
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    raw = new_mail(CUSTOMER, "Monitor dead", "No picture.")
    dovecot.deliver(raw, mail_from=CUSTOMER)
    dovecot.deliver(raw, mail_from=CUSTOMER)
    stats = maild.run_once()
    assert stats.drained.by_disposition == {"new_case": 1, "duplicate": 1}
    assert len(_mail_to(smtp_sink, CUSTOMER)) == 1
    assert dovecot.count("Processed") == 2


def test_unprocessable_message_is_kept_and_the_next_goes_on(
        maild: Maild, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    """A message with no sender ends `failed`, raw kept, in Failed; the next one is handled."""
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    garbage = b"\x00\x01binary garbage\xff\xfe with no headers at all\r\n" * 20
    dovecot.deliver(garbage, mail_from="")
    dovecot.deliver(new_mail(CUSTOMER, "Keyboard broken", "Keys stick."), mail_from=CUSTOMER)
    stats = maild.run_once()
    assert stats.drained.by_disposition == {"failed": 1, "new_case": 1}
    assert dovecot.count("Failed") == 1 and dovecot.count("Processed") == 1
    with Session(maild.rt.engine) as s:
        failed = s.exec(select(InboundMessage).where(InboundMessage.disposition == "failed")).one()
        # byte for byte what the mailbox holds (Dovecot itself turns NUL into 0x80)
        assert failed.raw == dovecot.fetch_all("Failed")[0] and b"binary garbage" in failed.raw
        assert failed.reason and "no From" in failed.reason
        alerts = s.exec(select(OutboxMail).where(OutboxMail.template == "failed_alert")).all()
        assert len(alerts) == 1  # operators told once


def test_smtp_down_then_up(maild: Maild, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    """Notifications wait in the outbox while SMTP is down and go out once, when it is back."""
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    smtp_sink.stop()
    dovecot.deliver(new_mail(CUSTOMER, "Mouse gone", "Lost my mouse."), mail_from=CUSTOMER)
    stats = maild.run_once()
    assert stats.outbox.smtp_down and stats.outbox.sent == 0 and stats.outbox.deferred == 2
    smtp_sink.start()
    out = subprocess.run([sys.executable, "-m", "maild", "outbox", "flush",
                          "--config", str(maild.config)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert len(smtp_sink.messages) == 2
    maild.run_once()  # nothing left to send: no duplicates
    assert len(smtp_sink.messages) == 2
    listing = subprocess.run([sys.executable, "-m", "maild", "outbox", "list", "--json",
                              "--config", str(maild.config)], capture_output=True, text=True)
    rows = json.loads(listing.stdout)
    assert [r["status"] for r in rows] == ["sent", "sent"]
    assert set(rows[0]) == {"id", "to", "subject", "template", "case_id", "status", "attempts"}
