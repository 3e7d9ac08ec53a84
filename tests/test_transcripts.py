"""Engineers always know what their mail did, by real mail (Dovecot + SMTP sink).

Transcripts (done / refused / unknown tag with a suggestion), ``#undo`` inside and
outside its window, staff tags from customers, thanks on a resolved case,
mail on a long-closed case, ``#help`` by role — in English and Chinese, with the
tags written above Gmail, Outlook and Foxmail quotes that carry the previous
transcript (which must not act again).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from maildenv import FED_AT, Maild, feed, new_mail, outbox, parsed, reply_to, text_of, write_config
from servers import Dovecot, SmtpSink

LONDON = "alice@uk.corp.example"  # London Office: John Smith, who reads English
SHENZHEN = "zhang.wei@sz.corp.example"  # Shenzhen Factory: Han Meimei
JOHN, HAN = "john.smith@corp.example", "han.meimei@corp.example"


def last_to(sink: SmtpSink, addr: str) -> bytes:
    return [m.data for m in sink.messages if addr in m.rcpt_tos][-1]


def all_to(sink: SmtpSink, addr: str) -> list[bytes]:
    return [m.data for m in sink.messages if addr in m.rcpt_tos]


def _reply(raw: bytes, sender: str, body: str) -> bytes:
    got = parsed(raw)
    msg = EmailMessage()
    msg["From"], msg["To"] = sender, str(got["Reply-To"] or got["From"])
    msg["Subject"] = "Re: " + str(got["Subject"])
    msg["Message-ID"] = make_msgid(domain=sender.split("@")[1])
    msg["In-Reply-To"] = msg["References"] = got["Message-ID"]
    msg.set_content(body)
    return msg.as_bytes()


def gmail(raw: bytes, sender: str, tags: str) -> bytes:
    return reply_to(raw, sender, tags)


def outlook(raw: bytes, sender: str, tags: str) -> bytes:
    quoted = text_of(raw)
    return _reply(raw, sender, f"{tags}\n\n________________________________\nFrom: IT Helpdesk "
                  f"<helpdesk@corp.example>\nSent: Monday, 23 November 2026 10:00\nTo: {sender}\n"
                  f"Subject: {parsed(raw)['Subject']}\n\n{quoted}\n")


def foxmail(raw: bytes, sender: str, tags: str) -> bytes:
    quoted = text_of(raw)
    return _reply(raw, sender, f"{tags}\n\n------------------ 原始邮件 ------------------\n"
                  f"发件人: \"IT Helpdesk\"<helpdesk@corp.example>;\n发送时间: 2026年11月23日"
                  f"(星期一) 上午10:00\n收件人: <{sender}>;\n主题: {parsed(raw)['Subject']}\n\n"
                  f"{quoted}\n")


CLIENTS: dict[str, Callable[[bytes, str, str], bytes]] = {
    "gmail": gmail, "outlook": outlook, "foxmail": foxmail}


@pytest.fixture
def maild_zh(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> Maild:
    """The same helpdesk writing Chinese to staff who set no language."""
    return Maild(write_config(tmp_path, dovecot.imap_port, smtp_sink.port, language="zh"))


def _open(m: Maild, dovecot: Dovecot, customer: str, subject: str, body: str) -> None:
    m.add_customer(customer, "Alice" if customer == LONDON else "张伟")
    dovecot.deliver(new_mail(customer, subject, body), mail_from=customer)
    m.run_once()


def _send(m: Maild, dovecot: Dovecot, raw: bytes, sender: str) -> None:
    dovecot.deliver(raw, mail_from=sender)
    m.run_once()


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_english_transcript_typo_then_fix(client: str, maild: Maild, dovecot: Dovecot,
                                          smtp_sink: SmtpSink) -> None:
    write = CLIENTS[client]
    _open(maild, dovecot, LONDON, "Printer jams", "Every page jams")
    dispatch = last_to(smtp_sink, JOHN)
    _send(maild, dovecot, write(dispatch, JOHN, "#inprogress\n#resolv new fuser"), JOHN)
    first = last_to(smtp_sink, JOHN)
    text = text_of(first)
    assert "Not applied" in str(parsed(first)["Subject"])
    assert parsed(first)["In-Reply-To"] is not None
    assert "Line 2: #resolv new fuser" in text and "did you mean #resolve?" in text
    assert "not applied (another line was refused)" in text
    assert "Status:       Dispatched" in text and "The customer was told: no." in text
    assert maild.case(1)["status"] == "dispatched"  # all or nothing
    # the fix, written above the quoted transcript: the quote must not act again
    _send(maild, dovecot, write(first, JOHN, "#resolve new fuser\n#log told Alice"), JOHN)
    second = last_to(smtp_sink, JOHN)
    text = text_of(second)
    assert "Done" in str(parsed(second)["Subject"])
    assert "Line 1: #resolve new fuser\n    -> done" in text
    assert "Status:       Resolved" in text and "Engineer:     John Smith" in text
    assert f"to {LONDON} (the customer)" in text and "The customer was told: yes." in text
    assert "#undo" in text
    case = maild.case(1)
    assert case["status"] == "resolved" and case["resolution"] == "new fuser"
    assert not any("#inprogress" in e["text"] for e in case["log"])
    told = [text_of(r) for r in all_to(smtp_sink, LONDON)]
    assert any("new fuser" in t for t in told)  # the resolution is for the customer
    assert not any("told Alice" in t for t in told)  # the #log note is not
    html = parsed(second).get_body(preferencelist=("html",))
    assert html is not None and "new fuser" in str(html.get_content())


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_chinese_transcript_and_undo(client: str, maild_zh: Maild, dovecot: Dovecot,
                                     smtp_sink: SmtpSink) -> None:
    write = CLIENTS[client]
    _open(maild_zh, dovecot, SHENZHEN, "电脑蓝屏", "开机就蓝屏")
    assert maild_zh.case(1)["engineer"]["email"] == HAN
    dispatch = last_to(smtp_sink, HAN)
    _send(maild_zh, dovecot, write(dispatch, HAN, "#priority P2\n#resolve 重装了驱动"), HAN)
    transcript = last_to(smtp_sink, HAN)
    text = text_of(transcript)
    assert "【已执行】" in str(parsed(transcript)["Subject"])
    assert "第 2 行：#resolve 重装了驱动\n    -> 已执行" in text and "已通知客户：是" in text
    resolved_mail = last_to(smtp_sink, SHENZHEN)
    # #undo above the quoted transcript (which quotes "#resolve"): only #undo acts
    _send(maild_zh, dovecot, write(transcript, HAN, "#undo"), HAN)
    case = maild_zh.case(1)
    assert case["status"] == "dispatched" and case["priority"] != "P2"
    assert case["resolution"] is None and case["resolved_at"] is None
    assert any(e["kind"] == "undo" for e in case["log"])
    disregard = last_to(smtp_sink, SHENZHEN)
    assert disregard != resolved_mail and "请忽略" in str(parsed(disregard)["Subject"])
    assert "重装了驱动" in text_of(disregard) or "已解决" in text_of(disregard)
    undo_transcript = text_of(last_to(smtp_sink, HAN))
    assert "#undo\n    -> 已执行" in undo_transcript and "状态：" in undo_transcript
    # a second #undo: nothing left to undo
    _send(maild_zh, dovecot, write(last_to(smtp_sink, HAN), HAN, "#undo"), HAN)
    again = text_of(last_to(smtp_sink, HAN))
    assert "被拒绝：本工单没有可撤销的指令" in again


def test_undo_refused_too_late_and_after_another_command(maild: Maild) -> None:
    """Fed directly with times: outside the window, and after someone else's command."""
    maild.add_customer(LONDON, "Alice")
    feed(maild, new_mail(LONDON, "VPN down", "cannot connect"))
    dispatch = [o.raw for o in outbox(maild, "dispatch")][-1]
    feed(maild, reply_to(dispatch, JOHN, "#inprogress checking"), FED_AT + timedelta(minutes=1))
    late = FED_AT + timedelta(minutes=17)
    disposition, _ = feed(maild, reply_to(dispatch, JOHN, "#undo"), late)
    assert disposition == "rejected" and maild.case(1)["status"] == "in_progress"
    assert "too late" in text_of(outbox(maild, "transcript")[-1].raw)
    # the manager changes the priority; John's earlier command can no longer be undone
    manager = "it-manager@corp.example"
    feed(maild, new_mail(manager, "Re: [Case #1] VPN down", "#priority P1",
                         to=maild.personal(manager)), late)
    assert maild.case(1)["priority"] == "P1"
    feed(maild, reply_to(dispatch, JOHN, "#undo"), late + timedelta(minutes=1))
    assert "another command came after" in text_of(outbox(maild, "transcript")[-1].raw)
    assert maild.case(1)["priority"] == "P1"


def test_forged_undo_does_nothing(maild: Maild) -> None:
    """A staff From: with only a [Case #N] subject (no proof) cannot #undo."""
    maild.add_customer(LONDON, "Alice")
    feed(maild, new_mail(LONDON, "Mouse", "broken"))
    dispatch = [o.raw for o in outbox(maild, "dispatch")][-1]
    feed(maild, reply_to(dispatch, JOHN, "#resolve new mouse"), FED_AT + timedelta(minutes=1))
    assert maild.case(1)["status"] == "resolved"
    forged = new_mail(JOHN, "Re: [Case #1] Mouse", "#undo")
    disposition, _ = feed(maild, forged, FED_AT + timedelta(minutes=2))
    case = maild.case(1)
    assert disposition != "command" and case["status"] == "resolved"
    assert case["resolution"] == "new mouse"
    assert not outbox(maild, "undone")
    assert len(outbox(maild, "transcript")) == 1  # only the real command's
    assert outbox(maild, "staff_unproven")  # John's registered address hears of it


@pytest.mark.parametrize(("customer", "words", "mark"), [
    (LONDON, "#resolve it works now", "Only helpdesk staff"),
    (SHENZHEN, "#close 不用修了", "仅供服务台人员使用"),
])
def test_customer_with_a_staff_tag_gets_an_error(customer: str, words: str, mark: str,
                                                 maild: Maild, dovecot: Dovecot,
                                                 smtp_sink: SmtpSink) -> None:
    _open(maild, dovecot, customer, "Printer", "jams" if customer == LONDON else "卡纸")
    ack = last_to(smtp_sink, customer)
    _send(maild, dovecot, reply_to(ack, customer, words), customer)
    case = maild.case(1)
    assert case["status"] == "dispatched"
    assert any(e["kind"] == "refused" for e in case["log"])
    error = last_to(smtp_sink, customer)
    assert mark in text_of(error) and parsed(error)["In-Reply-To"] is not None


@pytest.mark.parametrize("thanks", ["Thanks a lot!", "谢谢！"])
def test_thanks_on_a_resolved_case_is_logged_only(thanks: str, maild: Maild, dovecot: Dovecot,
                                                  smtp_sink: SmtpSink) -> None:
    _open(maild, dovecot, LONDON, "Laptop slow", "very slow")
    _send(maild, dovecot, reply_to(last_to(smtp_sink, JOHN), JOHN, "#resolve cleaned the fan"),
          JOHN)
    before = len(all_to(smtp_sink, JOHN))
    _send(maild, dovecot, reply_to(last_to(smtp_sink, LONDON), LONDON, thanks), LONDON)
    case = maild.case(1)
    assert case["status"] == "resolved"
    assert [e["text"] for e in case["log"] if e["kind"] == "thanks"] == [thanks]
    assert len(all_to(smtp_sink, JOHN)) == before  # not sent to the engineer as work


def test_mail_on_a_long_closed_case_opens_a_follow_up(maild: Maild) -> None:
    maild.add_customer(LONDON, "Alice")
    feed(maild, new_mail(LONDON, "Printer", "jams"))
    dispatch = [o.raw for o in outbox(maild, "dispatch")][-1]
    feed(maild, reply_to(dispatch, JOHN, "#resolve new fuser\n#close"),
         FED_AT + timedelta(hours=1))
    ack = [o.raw for o in outbox(maild, "ack")][-1]
    later = FED_AT + timedelta(days=8)
    disposition, case_id = feed(maild, reply_to(ack, LONDON, "It jams again"), later)
    assert disposition == "new_case" and case_id == 2
    new = maild.case(2)
    assert new["follows"] == 1 and maild.case(1)["status"] == "closed"
    assert any("follows case #1" in e["text"] for e in new["log"])
    assert any("case #2" in e["text"] for e in maild.case(1)["log"])
    dispatch2 = text_of(outbox(maild, "dispatch")[-1].raw)
    assert "FOLLOWS CASE #1" in dispatch2 and "new fuser" in dispatch2
    assert "case #1" in text_of(outbox(maild, "ack")[-1].raw)
    # late thanks are only logged; within reopen_days the mail stays on the old case
    assert feed(maild, reply_to(ack, LONDON, "Thanks!"), later) == ("reply", 1)
    feed(maild, reply_to(ack, LONDON, "and now it squeaks"), FED_AT + timedelta(days=2))
    assert maild.case(1)["status"] == "closed" and len(outbox(maild, "dispatch")) == 2


@pytest.mark.parametrize(("sender", "has", "lacks"), [
    ("callcenter@corp.example", "#assign", "#resolve <"),
    (JOHN, "#resolve", "YOUR CASES"),
    (LONDON, "YOUR CASES", "#assign"),
])
def test_help_lists_the_senders_tags(sender: str, has: str, lacks: str, maild: Maild) -> None:
    maild.add_customer(LONDON, "Alice")
    feed(maild, new_mail(sender, "help", "#help"))
    answer = text_of(outbox(maild, "help")[-1].raw)
    assert has in answer and lacks not in answer
