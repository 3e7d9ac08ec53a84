"""The case workflow by real mail (Dovecot + SMTP sink): reject, escalate, reassign, reopen."""

from __future__ import annotations

from maildenv import Maild, new_mail, parsed, reply_to, text_of
from servers import Dovecot, SmtpSink

CUSTOMER = "wang.fang@sh.corp.example"
LI, HAN = "li.lei@corp.example", "han.meimei@corp.example"
OPERATOR, IM = "callcenter@corp.example", "im@corp.example"


def last_to(sink: SmtpSink, addr: str) -> bytes:
    return [m.data for m in sink.messages if addr in m.rcpt_tos][-1]


def test_reject_twice_reaches_the_incident_manager(maild: Maild, dovecot: Dovecot,
                                                   smtp_sink: SmtpSink) -> None:
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    dovecot.deliver(new_mail(CUSTOMER, "Printer", "Jams"), mail_from=CUSTOMER)
    maild.run_once()
    first = maild.case(1)["engineer"]["email"]
    dovecot.deliver(reply_to(last_to(smtp_sink, first), first, "#reject not my site"),
                    mail_from=first)
    maild.run_once()
    case = maild.case(1)
    assert case["status"] == "new" and case["engineer"] is None
    assert "not my site" in text_of(last_to(smtp_sink, OPERATOR))
    # the operator assigns it by replying to their notice
    dovecot.deliver(reply_to(last_to(smtp_sink, OPERATOR), OPERATOR, "#assign Han Meimei"),
                    mail_from=OPERATOR)
    maild.run_once()
    assert maild.case(1)["engineer"]["email"] == HAN and maild.case(1)["status"] == "dispatched"
    dovecot.deliver(reply_to(last_to(smtp_sink, HAN), HAN, "#reject on leave this week"),
                    mail_from=HAN)
    maild.run_once()
    escalation = last_to(smtp_sink, IM)
    assert "[Case #1]" in str(parsed(escalation)["Subject"])
    subject = str(parsed(escalation)["Subject"])
    assert "Escalated" in subject or "已升级" in subject
    body = text_of(escalation)
    assert "on leave this week" in body and "not my site" in body  # the history goes along
    # the incident manager takes over by replying: dispatch to Li, then move it on to Han
    dovecot.deliver(reply_to(escalation, IM, "#assign Li Lei"), mail_from=IM)
    maild.run_once()
    assert maild.case(1)["engineer"]["email"] == LI
    dovecot.deliver(reply_to(escalation, IM, "#assign Han Meimei"), mail_from=IM)
    maild.run_once()
    assert maild.case(1)["engineer"]["email"] == HAN
    told_li = parsed(last_to(smtp_sink, LI))
    assert "Reassigned" in str(told_li["Subject"]) or "已改派" in str(told_li["Subject"])


def test_assign_tells_old_and_new_engineer(maild: Maild, dovecot: Dovecot,
                                           smtp_sink: SmtpSink) -> None:
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    dovecot.deliver(new_mail(CUSTOMER, "Laptop", "Slow"), mail_from=CUSTOMER)
    maild.run_once()
    old = maild.case(1)["engineer"]["email"]
    new = HAN if old == LI else LI
    name = "Han Meimei" if new == HAN else "Li Lei"
    dovecot.deliver(reply_to(last_to(smtp_sink, old), old, f"#assign {name}\n#log handing over"),
                    mail_from=old)
    maild.run_once()
    assert maild.case(1)["engineer"]["email"] == new
    assert "[Case #1]" in str(parsed(last_to(smtp_sink, new))["Subject"])
    told_old = [m.data for m in smtp_sink.messages if old in m.rcpt_tos]
    # the old engineer did it: not told of their own act, only sent its transcript
    assert len(told_old) == 2 and "#assign" in text_of(told_old[1])
    assert "Reassigned" not in str(parsed(told_old[1])["Subject"])


def test_customer_reopens_and_engineer_resolves_again(maild: Maild, dovecot: Dovecot,
                                                      smtp_sink: SmtpSink) -> None:
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    dovecot.deliver(new_mail(CUSTOMER, "Mouse", "Broken"), mail_from=CUSTOMER)
    maild.run_once()
    eng = maild.case(1)["engineer"]["email"]
    dispatch = last_to(smtp_sink, eng)
    dovecot.deliver(reply_to(dispatch, eng, "#resolve new mouse"), mail_from=eng)
    maild.run_once()
    dovecot.deliver(reply_to(last_to(smtp_sink, CUSTOMER), CUSTOMER, "重开，还是不行"),
                    mail_from=CUSTOMER)
    maild.run_once()
    assert maild.case(1)["status"] == "in_progress"
    assert "重开" in text_of(last_to(smtp_sink, eng)) or "reopen" in text_of(
        last_to(smtp_sink, eng)).lower()
    dovecot.deliver(reply_to(dispatch, eng, "#resolve replaced the USB hub too"), mail_from=eng)
    maild.run_once()
    dovecot.deliver(reply_to(last_to(smtp_sink, CUSTOMER), CUSTOMER, "5"), mail_from=CUSTOMER)
    maild.run_once()
    case = maild.case(1)
    assert case["status"] == "resolved" and case["rating"] == 5
    assert case["resolution"] == "replaced the USB hub too"


def test_error_reply_names_line_reason_and_tags(maild: Maild, dovecot: Dovecot,
                                                smtp_sink: SmtpSink) -> None:
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    dovecot.deliver(new_mail(CUSTOMER, "Printer", "Jams"), mail_from=CUSTOMER)
    maild.run_once()
    eng = maild.case(1)["engineer"]["email"]
    dovecot.deliver(reply_to(last_to(smtp_sink, eng), eng, "#inprogress\n#frobnicate now"),
                    mail_from=eng)
    maild.run_once()
    error = text_of(last_to(smtp_sink, eng))
    assert "#frobnicate" in error and "#resolve" in error  # the reason and the tag table
    assert maild.case(1)["status"] == "dispatched"  # all or nothing


def _outlook_html_reply(raw: bytes, sender: str, html_new: str) -> bytes:
    """An HTML-only reply as Outlook writes it: new text, then divRplyFwdMsg and the quote."""
    from email.message import EmailMessage
    from email.utils import make_msgid
    from html import escape

    got = parsed(raw)
    msg = EmailMessage()
    msg["From"], msg["To"] = sender, str(got["Reply-To"])
    msg["Subject"] = "答复: " + str(got["Subject"])
    msg["Message-ID"] = make_msgid(domain="corp.example")
    msg["In-Reply-To"] = got["Message-ID"]
    quoted = escape(text_of(raw)).replace("\n", "<br>")
    msg.set_content(
        f"<html><body><div>{html_new}</div><hr style='display:inline-block;width:98%'>"
        f"<div id='divRplyFwdMsg' dir='ltr'><b>发件人:</b> IT Helpdesk<br><b>发送时间:</b> "
        f"2026年11月23日 10:00<br><b>主题:</b> {escape(str(got['Subject']))}</div>"
        f"<div>{quoted}<br>#resolve quoted and must not act</div></body></html>",
        subtype="html")
    return msg.as_bytes()


def test_html_only_reply_acts_on_new_text_only(maild: Maild, dovecot: Dovecot,
                                               smtp_sink: SmtpSink) -> None:
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    dovecot.deliver(new_mail(CUSTOMER, "键盘失灵", "有几个键没反应"), mail_from=CUSTOMER)
    maild.run_once()
    eng = maild.case(1)["engineer"]["email"]
    reply = _outlook_html_reply(last_to(smtp_sink, eng), eng,
                                "#inprogress 正在处理<br>#log 已联系用户")
    dovecot.deliver(reply, mail_from=eng)
    maild.run_once()
    case = maild.case(1)
    assert case["status"] == "in_progress" and case["resolution"] is None
    notes = [e["text"] for e in case["log"]]
    assert "已联系用户" in notes and not any("quoted and must not act" in n for n in notes)


def test_phone_summary_and_search_by_real_mail(maild: Maild, dovecot: Dovecot,
                                               smtp_sink: SmtpSink) -> None:
    """An operator's summary opens a phone case; later an engineer finds it with #search."""
    summary = ("工号：E2001\n姓名：赵六\n公司：上海分公司\n邮箱：zhao.liu@sh.corp.example\n"
               "紧急程度：高\n影响范围：中\n描述：财务部打印机硒鼓没粉了\n")
    dovecot.deliver(new_mail(OPERATOR, "来电记录", summary, to=maild.personal(OPERATOR)),
                    mail_from=OPERATOR)
    maild.run_once()
    case = maild.case(1)
    assert case["channel"] == "phone" and case["priority"] == "P2"
    assert "[Case #1]" in str(parsed(last_to(smtp_sink, "zhao.liu@sh.corp.example"))["Subject"])
    eng = case["engineer"]["email"]
    dovecot.deliver(reply_to(last_to(smtp_sink, eng), eng, "#resolve 更换了硒鼓\n#kb"),
                    mail_from=eng)
    maild.run_once()
    assert maild.case(1)["status"] == "resolved"
    dovecot.deliver(new_mail(HAN, "search", "#search 硒鼓", to=maild.personal(HAN)),
                    mail_from=HAN)
    maild.run_once()
    found = last_to(smtp_sink, HAN)
    assert "硒鼓" in str(parsed(found)["Subject"])
    assert "#1 [KB]" in text_of(found) and "更换了硒鼓" in text_of(found)
