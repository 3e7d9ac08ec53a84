"""Kinds and support lines by real mail (Dovecot + SMTP sink), with the shipped rules:
a request and an incident on different SLA clocks, an escalation from line 1 to the
line-2 specialist to the printer vendor and back to resolved, a vendor's limits, and the
automatic move up a line on a missed resolution target.

The cases open on Monday 2026-11-16 10:00 in Shanghai (business hours 09:00-18:00).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from maildenv import Maild, new_mail, parsed, reply_to, text_of, write_config
from servers import Dovecot, SmtpSink
from sqlmodel import Session, col, select

from maild.daemon import Daemon
from maild.db.models import LineMove, SlaEvent
from maild.runtime import Runtime
from maild.service.lines import escalate_due

SH = ZoneInfo("Asia/Shanghai")
CUSTOMER = "wang.fang@sh.corp.example"
WANG = "wang.qiang@corp.example"  # line 2 (rules/lines.toml)
VENDOR = "support@printco.example"  # line 3, for printers
IM = "im@corp.example"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SH)


def run_at(maild: Maild, when: datetime) -> None:
    asyncio.run(Daemon(maild.rt, clock=lambda: when).run_once())


def to(sink: SmtpSink, addr: str) -> list[bytes]:
    return [m.data for m in sink.messages if addr in m.rcpt_tos]


def due(case: dict[str, object], key: str) -> datetime:
    sla = case["sla"]
    assert isinstance(sla, dict)
    return datetime.fromisoformat(sla[key])


def test_a_request_and_an_incident_run_on_their_own_clocks(maild: Maild, dovecot: Dovecot,
                                                             smtp_sink: SmtpSink) -> None:
    """password (request): 30 and 120 minutes of its own; printer (incident, P3): the
    priority's 120 minutes and 24 business hours; #kind request moves it onto the
    request clock of [kinds.request] (240 minutes, two business days of 9 hours)."""
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    dovecot.deliver(new_mail(CUSTOMER, "忘记密码了", "请帮我重置密码，谢谢"), mail_from=CUSTOMER)
    dovecot.deliver(new_mail(CUSTOMER, "Printer jams", "Paper jam on floor 3"),
                    mail_from=CUSTOMER)
    run_at(maild, at(16, 10))
    request, incident = maild.case(1), maild.case(2)
    assert (request["type"], request["kind"], request["line"]) == ("password", "request", 1)
    assert (incident["type"], incident["kind"]) == ("printer", "incident")
    assert due(request, "response_due") == at(16, 10, 30)
    assert due(request, "resolution_due") == at(16, 12)
    assert due(incident, "response_due") == at(16, 12)
    assert due(incident, "resolution_due") == at(18, 16)
    engineer = incident["engineer"]["email"]
    dispatch = [m for m in to(smtp_sink, engineer) if "[Case #2]" in str(parsed(m)["Subject"])]
    assert "Incident" in text_of(dispatch[-1]) or "故障" in text_of(dispatch[-1])
    dovecot.deliver(reply_to(dispatch[-1], engineer, "#kind request"), mail_from=engineer)
    run_at(maild, at(16, 10, 5))
    changed = maild.case(2)
    assert changed["kind"] == "request"
    assert due(changed, "response_due") == at(16, 14)
    assert due(changed, "resolution_due") == at(18, 10)  # 18 business hours from Mon 10:00
    assert any(e["kind"] == "kind" and "incident → request" in e["text"]
               for e in changed["log"])


def test_kind_or_escalate_from_a_forged_staff_mail_changes_nothing(maild: Maild, dovecot: Dovecot,
                                                       smtp_sink: SmtpSink) -> None:
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    dovecot.deliver(new_mail(CUSTOMER, "Printer jams", "Paper jam"), mail_from=CUSTOMER)
    run_at(maild, at(16, 10))
    engineer = maild.case(1)["engineer"]["email"]
    forged = new_mail(engineer, "Re: [Case #1] Printer jams", "#kind request\n#escalate")
    dovecot.deliver(forged, mail_from=engineer)
    run_at(maild, at(16, 10, 5))
    case = maild.case(1)
    assert (case["kind"], case["line"], case["engineer"]["email"]) == ("incident", 1, engineer)
    assert not to(smtp_sink, WANG)


def test_escalation_to_line_2_then_to_the_vendor_and_back_to_resolved(
        maild: Maild, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    dovecot.deliver(new_mail(CUSTOMER, "打印机卡纸", "三楼打印机一直卡纸"), mail_from=CUSTOMER)
    run_at(maild, at(16, 10))
    first = maild.case(1)["engineer"]["email"]
    dovecot.deliver(reply_to(to(smtp_sink, first)[-1], first,
                             "#log cleaned the rollers\n#escalate the fuser is broken"),
                    mail_from=first)
    run_at(maild, at(16, 11))
    case = maild.case(1)
    assert (case["line"], case["engineer"]["email"], case["status"]) == (2, WANG, "dispatched")
    assert any(e["kind"] == "escalate" and "line 1 → line 2" in e["text"]
               and "the fuser is broken" in e["text"] for e in case["log"])
    to_wang = text_of(to(smtp_sink, WANG)[-1])
    assert "cleaned the rollers" in to_wang and "the fuser is broken" in to_wang  # earlier line
    assert "第 2 线" in to_wang  # Wang Qiang reads Chinese (rules/staff.toml)
    transcript = text_of(to(smtp_sink, first)[-1])
    assert "line 2" in transcript or "第 2 线" in transcript
    # the line-1 engineer no longer moves the case
    dovecot.deliver(reply_to(to(smtp_sink, first)[-2], first, "#resolve done"),
                    mail_from=first)
    run_at(maild, at(16, 11, 30))
    assert maild.case(1)["status"] == "dispatched"

    dovecot.deliver(reply_to(to(smtp_sink, WANG)[-1], WANG,
                             "#inprogress\n#escalate needs a new fuser unit from PrintCo"),
                    mail_from=WANG)
    run_at(maild, at(16, 12))
    case = maild.case(1)
    assert (case["line"], case["engineer"]["email"]) == (3, VENDOR)
    assert case["engineer"]["name"] == "PrintCo vendor support"
    vendor_mail = to(smtp_sink, VENDOR)[-1]
    assert "+c1-" in str(parsed(vendor_mail)["Reply-To"])  # a case token of its own
    body = text_of(vendor_mail)
    assert "cleaned the rollers" in body and "#resolve" in body
    assert "personal helpdesk address" not in body  # a vendor is not staff

    # the vendor may not assign, reprioritise or close, even through its token
    for bad in ("#assign Li Lei", "#priority P1", "#close done", "#undo"):
        dovecot.deliver(reply_to(vendor_mail, VENDOR, bad), mail_from=VENDOR)
        run_at(maild, at(16, 12, 30))
        answer = text_of(to(smtp_sink, VENDOR)[-1])
        assert "refused: " in answer and "only #log, #reply and #resolve" in answer
        assert "COMMAND TAGS" not in answer  # no staff tag table for a vendor
    case = maild.case(1)
    assert (case["status"], case["priority"], case["engineer"]["email"]) == (
        "dispatched", "P3", VENDOR)
    # a mail that only claims to be the vendor's is not believed
    forged = new_mail(VENDOR, "Re: [Case #1] 打印机卡纸", "#resolve fixed it")
    dovecot.deliver(forged, mail_from=VENDOR)
    run_at(maild, at(16, 12, 40))
    assert maild.case(1)["status"] == "dispatched"

    dovecot.deliver(reply_to(vendor_mail, VENDOR, "#log fuser ordered\n"
                             "#reply Our technician replaces the fuser tomorrow morning."),
                    mail_from=VENDOR)
    run_at(maild, at(16, 13))
    assert "replaces the fuser tomorrow" in text_of(to(smtp_sink, CUSTOMER)[-1])
    dovecot.deliver(reply_to(vendor_mail, VENDOR, "#resolve replaced the fuser unit"),
                    mail_from=VENDOR)
    run_at(maild, at(17, 10))
    case = maild.case(1)
    assert (case["status"], case["resolution"], case["line"]) == (
        "resolved", "replaced the fuser unit", 3)
    asked = to(smtp_sink, CUSTOMER)[-1]
    assert "replaced the fuser unit" in text_of(asked)
    dovecot.deliver(reply_to(asked, CUSTOMER, "确认"), mail_from=CUSTOMER)
    run_at(maild, at(17, 11))
    assert maild.case(1)["status"] == "closed"
    with Session(maild.rt.engine) as s:
        moves = [(m.from_line, m.to_line, m.auto) for m in
                 s.exec(select(LineMove).order_by(col(LineMove.id)))]
    assert moves == [(1, 2, False), (2, 3, False)]


def test_no_line_above_goes_to_the_incident_manager(maild: Maild, dovecot: Dovecot,
                                                    smtp_sink: SmtpSink) -> None:
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    dovecot.deliver(new_mail(CUSTOMER, "Password reset", "Forgot my password"),
                    mail_from=CUSTOMER)
    run_at(maild, at(16, 10))
    first = maild.case(1)["engineer"]["email"]
    dovecot.deliver(reply_to(to(smtp_sink, first)[-1], first, "#escalate AD is down"),
                    mail_from=first)
    run_at(maild, at(16, 11))
    case = maild.case(1)
    assert case["line"] == 1 and case["engineer"]["email"] == first
    assert "AD is down" in text_of(to(smtp_sink, IM)[-1])


def test_undo_takes_an_escalation_back(maild: Maild, dovecot: Dovecot,
                                        smtp_sink: SmtpSink) -> None:
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    dovecot.deliver(new_mail(CUSTOMER, "Network down", "No network on floor 2"),
                    mail_from=CUSTOMER)
    run_at(maild, at(16, 10))
    first = maild.case(1)["engineer"]["email"]
    dovecot.deliver(reply_to(to(smtp_sink, first)[-1], first, "#escalate switch?"),
                    mail_from=first)
    run_at(maild, at(16, 10, 5))
    assert maild.case(1)["line"] == 2
    dovecot.deliver(reply_to(to(smtp_sink, first)[-1], first, "#undo"), mail_from=first)
    run_at(maild, at(16, 10, 10))  # within undo_minutes
    case = maild.case(1)
    assert (case["line"], case["engineer"]["email"]) == (1, first)
    assert "请忽略" in str(parsed(to(smtp_sink, WANG)[-1])["Subject"]) or \
        "disregard" in str(parsed(to(smtp_sink, WANG)[-1])["Subject"]).lower()
    with Session(maild.rt.engine) as s:
        assert s.exec(select(LineMove)).all() == []


def _auto(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> Maild:
    config = write_config(tmp_path, dovecot.imap_port, smtp_sink.port)
    config.write_text(config.read_text("utf-8") + "[sla]\nauto_escalate = true\n", "utf-8")
    return Maild(config)


def test_a_missed_resolution_target_moves_the_case_up_once_per_line(
        tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    maild = _auto(tmp_path, dovecot, smtp_sink)
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    dovecot.deliver(new_mail(CUSTOMER, "Printer jams", "Paper jam"), mail_from=CUSTOMER)
    run_at(maild, at(16, 10))
    first = maild.case(1)["engineer"]["email"]
    replica = Runtime.load(maild.settings, maild.rt.engine)
    assert escalate_due(maild.rt, at(18, 15, 59)) == 0  # resolution due Wednesday 16:00
    assert escalate_due(maild.rt, at(18, 16)) == 1
    assert escalate_due(replica, at(18, 16, 1)) == 0  # a second replica: once only
    case = maild.case(1)
    assert (case["line"], case["engineer"]["email"], case["status"]) == (2, WANG, "dispatched")
    assert any("resolution time of line 1 used up" in e["text"] for e in case["log"])
    run_at(maild, at(18, 16, 2))
    assert "Wang Qiang" in str(parsed(to(smtp_sink, first)[-1])["Subject"])  # it left them
    assert "PrintCo" not in text_of(to(smtp_sink, WANG)[-1])
    assert "resolution time of line 1" in text_of(to(smtp_sink, WANG)[-1])
    # line 2 has 24 business hours of its own from Wednesday 16:00: Monday 13:00
    assert escalate_due(maild.rt, at(23, 12, 59)) == 0
    assert escalate_due(replica, at(23, 13)) == 1
    assert maild.case(1)["engineer"]["email"] == VENDOR
    assert escalate_due(maild.rt, at(30, 16)) == 0  # line 3 is the top
    with Session(maild.rt.engine) as s:
        moves = [(m.from_line, m.to_line, m.auto) for m in s.exec(select(LineMove))]
        claims = sorted(e.kind for e in s.exec(select(SlaEvent))
                        .all() if e.target == "line")
    assert moves == [(1, 2, True), (2, 3, True)] and claims == ["up1", "up2"]
    assert first != WANG


def test_without_auto_escalate_a_breach_moves_nothing(maild: Maild, dovecot: Dovecot,
                                                      smtp_sink: SmtpSink) -> None:
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    dovecot.deliver(new_mail(CUSTOMER, "Printer jams", "Paper jam"), mail_from=CUSTOMER)
    run_at(maild, at(16, 10))
    assert escalate_due(maild.rt, at(30, 16)) == 0
    assert maild.case(1)["line"] == 1


@pytest.mark.parametrize(("subject", "text", "marks"), [
    ("打印机卡纸", "三楼打印机一直卡纸", ("【已转交专业团队】", "第 2 线", "第 3 线")),
    ("Printer jams", "Paper jam on floor 3",
     ("Passed to our specialists", "support line 2", "support line 3")),
])
def test_the_customer_is_told_when_the_case_moves_up_a_line(
        tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink, subject: str, text: str,
        marks: tuple[str, str, str]) -> None:
    """By #escalate and by the automatic move: a short notice in the customer's language
    naming the line, without the engineer's internal note."""
    maild = _auto(tmp_path, dovecot, smtp_sink)
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    dovecot.deliver(new_mail(CUSTOMER, subject, text), mail_from=CUSTOMER)
    run_at(maild, at(16, 10))
    first = maild.case(1)["engineer"]["email"]
    before = len(to(smtp_sink, CUSTOMER))
    dovecot.deliver(reply_to(to(smtp_sink, first)[-1], first,
                             "#escalate the fuser is broken, user keeps pulling paper"),
                    mail_from=first)
    run_at(maild, at(16, 11))
    [notice] = to(smtp_sink, CUSTOMER)[before:]
    title = str(parsed(notice)["Subject"])
    assert "[Case #1]" in title and subject in title and marks[0] in title
    body = text_of(notice)
    assert "Network & Infrastructure" in body and marks[1] in body
    assert "fuser" not in body and "pulling paper" not in body  # the note is internal
    assert "+c1-" in str(parsed(notice)["Reply-To"])  # answered like any case mail
    # the automatic move to the vendor, when line 2's time is up
    assert escalate_due(maild.rt, at(30, 16)) == 1
    run_at(maild, at(30, 16, 1))
    [moved] = to(smtp_sink, CUSTOMER)[before + 1:]
    assert "PrintCo vendor support" in text_of(moved) and marks[2] in text_of(moved)
