"""Text messages for P1/P2 dispatches, re-dispatches and escalations, by real mail
(Dovecot in, aiosmtpd out), in English and Chinese."""

from __future__ import annotations

import asyncio
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from fieldmail import IM, JOHN, LI, OPERATOR, mail, to
from maildenv import REPO, Maild, new_mail, parsed, write_config
from servers import Dovecot, SmtpSink

LI_SMS = "13800138001@sms.corp.example"  # rules/staff.toml
JOHN_SMS = "447700900123@sms.corp.example"
IM_SMS = "13900139000@sms.corp.example"


@pytest.fixture
def m(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> Maild:
    """The shipped rules, with the incident manager listed as a manager with a phone."""
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    with (rules / "staff.toml").open("a", encoding="utf-8") as fh:
        fh.write(f'\n[[managers]]\nemail = "{IM}"\nname = "Incident Manager"\n'
                 f'sms = "{IM_SMS}"\n')
    config = write_config(tmp_path, dovecot.imap_port, smtp_sink.port)
    config.write_text(config.read_text().replace(str(REPO / "rules"), str(rules)))
    return Maild(config)


def summary(m: Maild, priority: str, engineer: str) -> bytes:
    text = (f"Name: 王芳\nCompany: 上海分公司\nPriority: {priority}\nEngineer: {engineer}\n"
            "Description: 整个三楼的打印机都卡纸了，财务部月底报表打印不出来，非常着急，"
            "请尽快派工程师过来处理，谢谢\n")
    return new_mail(OPERATOR, "call", text, to=m.personal(OPERATOR))


def staff_command(m: Maild, text: str) -> bytes:
    return new_mail(OPERATOR, "Re: [Case #1] printer", text, to=m.personal(OPERATOR))


def the_text(raw: bytes) -> str:
    """A text message: one plain-text part of at most 70 characters, nothing else."""
    msg = parsed(raw)
    assert msg.get_content_type() == "text/plain"
    assert not msg.is_multipart()
    assert msg["Reply-To"] is None and str(msg["Subject"] or "") == ""
    text = str(msg.get_content()).strip()
    assert "\n" not in text and 0 < len(text) <= 70
    return text


@pytest.mark.parametrize(("engineer", "gateway", "words"), [
    ("Li Lei", LI_SMS, "【派单】"),  # Li Lei reads Chinese
    ("John Smith", JOHN_SMS, "Shanghai"),
])
def test_urgent_dispatch_redispatch_and_escalation_send_texts(
        m: Maild, dovecot: Dovecot, smtp_sink: SmtpSink, engineer: str, gateway: str,
        words: str) -> None:
    """P1: the dispatch goes to the engineer's gateway too; #assign to the other engineer
    and #escalate send theirs; each a plain text of at most 70 characters."""
    mail(m, dovecot, summary(m, "P1", engineer), OPERATOR)
    [text] = [the_text(raw) for raw in to(smtp_sink, gateway)]
    assert text.startswith(words) or words in text
    assert "P1" in text and "#1" in text and "王芳" in text and "打印机" in text
    assert text.endswith("…")  # the subject was longer than the room left
    other, other_gateway = ((JOHN, JOHN_SMS) if gateway == LI_SMS else (LI, LI_SMS))
    mail(m, dovecot, staff_command(m, f"#assign {other}"), OPERATOR)
    [again] = [the_text(raw) for raw in to(smtp_sink, other_gateway)]
    assert "#1" in again
    mail(m, dovecot, staff_command(m, "#escalate the whole floor"), OPERATOR)
    [escalated] = [the_text(raw) for raw in to(smtp_sink, IM_SMS)]
    assert "ESCALATED P1 #1" in escalated
    assert len(to(smtp_sink, gateway)) == 1  # nothing more for the first engineer


def test_no_text_for_a_p3_case(m: Maild, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    mail(m, dovecot, summary(m, "P3", "Li Lei"), OPERATOR)
    assert to(smtp_sink, LI)  # the dispatch mail
    assert not to(smtp_sink, LI_SMS)
    mail(m, dovecot, staff_command(m, "#escalate please"), OPERATOR)
    assert to(smtp_sink, IM) and not to(smtp_sink, IM_SMS)


def test_an_sla_breach_of_a_p1_case_sends_texts(m: Maild, dovecot: Dovecot,
                                                 smtp_sink: SmtpSink) -> None:
    """The sweep's escalation of a breached P1 case: the incident manager and the engineer
    get the breach by mail and, having sms addresses, a text each; exactly once."""
    from datetime import timedelta

    from maild.daemon import Daemon
    from maild.service.sla import sweep

    mail(m, dovecot, summary(m, "P1", "Li Lei"), OPERATOR)
    assert len(to(smtp_sink, LI_SMS)) == 1  # the dispatch's text
    due = datetime.fromisoformat(m.case(1)["sla"]["response_due"])
    assert sweep(m.rt, due + timedelta(minutes=1)) >= 1
    assert sweep(m.rt, due + timedelta(minutes=2)) == 0  # once only
    asyncio.run(Daemon(m.rt, clock=lambda: due + timedelta(minutes=3)).run_once())
    [im_text] = [the_text(raw) for raw in to(smtp_sink, IM_SMS)]
    assert im_text.startswith("SLA BREACH P1 #1")
    texts = [the_text(raw) for raw in to(smtp_sink, LI_SMS)]
    assert len(texts) == 2 and texts[1].startswith("【超时】P1 #1")  # Li Lei reads Chinese
