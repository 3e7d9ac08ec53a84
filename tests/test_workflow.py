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
    told_old = [m for m in smtp_sink.messages if old in m.rcpt_tos]
    assert len(told_old) == 1  # the old engineer did it: not told of their own act


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
