"""Workload by mail: #mine, #queue and the engineers' morning list, by real mail
(Dovecot in, aiosmtpd out), in English and Chinese; forged mail gets no list."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fieldmail import JOHN, LI, OPERATOR, body, installation, mail, subject, to
from maildenv import Maild, new_mail, outbox, reply_to, write_config
from servers import Dovecot, SmtpSink
from sqlmodel import Session, col, select

from maild.db.models import DigestRun, InboundMessage
from maild.runtime import Runtime, database
from maild.service.workload import send_digests

# (engineer, their customer's summary lines, words of their language)
PEOPLE = {
    "zh": (LI, "Name: 王芳\nCompany: 上海分公司\nEngineer: Li Lei\n", "您的未结工单"),
    "en": (JOHN, "Name: Tom Brown\nCompany: London Office\nEngineer: John Smith\n",
           "Your open cases"),
}


def call(m: Maild, dovecot: Dovecot, who: str, what: str) -> None:
    raw = new_mail(OPERATOR, "call", f"{who}Description: {what}\n", to=m.personal(OPERATOR))
    mail(m, dovecot, raw, OPERATOR)


def ask(m: Maild, dovecot: Dovecot, engineer: str, tag: str, proven: bool = True) -> None:
    """``#mine``/``#queue`` to the engineer's personal address (or, forged, to the plain one)."""
    raw = new_mail(engineer, "workload", f"{tag}\n",
                   to=m.personal(engineer) if proven else "helpdesk@corp.example")
    mail(m, dovecot, raw, engineer)


def lists(sink: SmtpSink, engineer: str) -> list[bytes]:
    return [raw for raw in to(sink, engineer) if "open case" in subject(raw)
            or "未结工单" in subject(raw) or "new case" in subject(raw)
            or "新工单" in subject(raw)]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_mine_and_queue(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink,
                        lang: str) -> None:
    """#mine lists the sender's open cases; #queue the new cases of their sites; in the
    engineer's language."""
    engineer, who, words = PEOPLE[lang]
    m = installation(tmp_path, dovecot, smtp_sink, lang)
    call(m, dovecot, who, "printer jams 打印机卡纸")
    call(m, dovecot, who, "VPN down")
    call(m, dovecot, who, "monitor dark")
    # the third goes back to the queue: the engineer rejects it through its token
    [dispatch3] = [r for r in to(smtp_sink, engineer) if "[Case #3]" in subject(r)]
    mail(m, dovecot, reply_to(dispatch3, engineer, "#reject not mine today"), engineer)
    assert m.case(3)["status"] == "new"
    ask(m, dovecot, engineer, "#mine")
    [mine] = lists(smtp_sink, engineer)
    text = body(mine)
    assert words in text
    assert "#1" in text and "#2" in text and "#3" not in text
    assert "printer jams" in text and "P3" in text
    assert ("SLA due" if lang == "en" else "SLA 截止") in text
    ask(m, dovecot, engineer, "#queue")
    queue = lists(smtp_sink, engineer)[-1]
    text = body(queue)
    assert "#3" in text and "monitor dark" in text and "#1 " not in text
    assert ("Shanghai Branch" if lang == "zh" else "London Office") in text
    # an operator's queue is every site's
    ask(m, dovecot, OPERATOR, "#queue")
    assert "#3" in body(to(smtp_sink, OPERATOR)[-1])


@pytest.mark.parametrize("tag", ["#mine", "#queue"])
def test_forged_workload_request_gets_no_list(tmp_path: Path, dovecot: Dovecot,
                                              smtp_sink: SmtpSink, tag: str) -> None:
    """From: an engineer, to the plain helpdesk address, no proof: no list (it is handled
    as that address's own mail), and the engineer is told their address was not believed."""
    m = installation(tmp_path, dovecot, smtp_sink, "en")
    call(m, dovecot, PEOPLE["en"][1], "VPN down")
    ask(m, dovecot, JOHN, tag, proven=False)
    assert not lists(smtp_sink, JOHN)
    assert not outbox(m, "workload")
    assert outbox(m, "staff_unproven")
    with Session(m.rt.engine) as s:
        last = s.exec(select(InboundMessage).order_by(col(InboundMessage.id).desc())).first()
        assert last is not None and last.disposition != "command"


def digest_config(tmp_path: Path, dovecot: Dovecot, sink: SmtpSink) -> Path:
    config = write_config(tmp_path, dovecot.imap_port, sink.port)
    with config.open("a", encoding="utf-8") as fh:
        fh.write('[digest]\nengineers_at = "08:30"\n')
    return config


TUE_0829 = datetime(2026, 12, 1, 0, 29, tzinfo=UTC)  # 08:29 in Shanghai, a Tuesday
TUE_0830 = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
TUE_1500 = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
SAT_0900 = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)
WED_0900 = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)


def test_morning_list_once_per_engineer_and_working_day(tmp_path: Path, dovecot: Dovecot,
                                                        smtp_sink: SmtpSink) -> None:
    """Not before 08:30, not on Saturday; once a day however many replicas and runs."""
    m = Maild(digest_config(tmp_path, dovecot, smtp_sink))
    call(m, dovecot, PEOPLE["zh"][1], "打印机卡纸")
    call(m, dovecot, PEOPLE["en"][1], "VPN down")
    other = Runtime.load(m.settings, database(m.settings))  # a second replica
    assert send_digests(m.rt, TUE_0829) == 0
    assert send_digests(m.rt, TUE_0830) == 2  # Li Lei and John Smith; Han Meimei has none
    assert send_digests(other, TUE_0830) == 0
    assert send_digests(m.rt, TUE_1500) == 0  # the catch-up run later that day
    assert send_digests(m.rt, SAT_0900) == 0  # not a working day
    m.run_once()
    [li] = lists(smtp_sink, LI)
    assert "今日您有 1 个未结工单" in subject(li) and "#1" in body(li)
    [john] = lists(smtp_sink, JOHN)
    assert "this morning" in subject(john) and "#2" in body(john)
    assert send_digests(other, WED_0900) == 2  # the next working day
    with Session(m.rt.engine) as s:
        assert len(s.exec(select(DigestRun)).all()) == 4
