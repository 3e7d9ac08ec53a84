"""Problems by real mail (Dovecot + SMTP sink): three incidents, one cause, one workaround,
one resolution that resolves them all; and the tokens and forged mail that must not act."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

from maildenv import Maild, new_mail, parsed, reply_to, text_of
from servers import Dovecot, SmtpSink
from sqlmodel import Session

from maild.db.models import Problem

CUSTOMERS = ("wang.fang@sh.corp.example", "zhao.lei@sh.corp.example", "chen.jie@sz.corp.example")
IM = "im@corp.example"
HAN = "han.meimei@corp.example"


def to(sink: SmtpSink, addr: str) -> list[bytes]:
    return [m.data for m in sink.messages if addr in m.rcpt_tos]


def last_to(sink: SmtpSink, addr: str) -> bytes:
    return to(sink, addr)[-1]


def subject(raw: bytes) -> str:
    return str(parsed(raw)["Subject"])


def problem_row(m: Maild, number: int) -> Problem:
    with Session(m.rt.engine) as s:
        row = s.get(Problem, number)
        assert row is not None
        return row


def three_cases(maild: Maild, dovecot: Dovecot) -> list[str]:
    """Three customers' VPN incidents, dispatched; returns their engineers."""
    for n, customer in enumerate(CUSTOMERS, 1):
        maild.add_customer(customer, f"Customer {n}",
                           company="深圳工厂" if "sz." in customer else "上海分公司")
        dovecot.deliver(new_mail(customer, f"VPN drops {n}", "VPN disconnects every hour"),
                        mail_from=customer)
    maild.run_once()
    return [maild.case(n)["engineer"]["email"] for n in (1, 2, 3)]


def deliver(maild: Maild, dovecot: Dovecot, raw: bytes, sender: str) -> None:
    dovecot.deliver(raw, mail_from=sender)
    maild.run_once()


def dispatch_of(sink: SmtpSink, engineer: str, case_id: int) -> bytes:
    return next(raw for raw in to(sink, engineer) if f"[Case #{case_id}]" in subject(raw))


def test_three_incidents_one_problem_workaround_and_resolve_linked(
        maild: Maild, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    """The issue's scenario, end to end by mail."""
    engineers = three_cases(maild, dovecot)
    first = engineers[0]
    deliver(maild, dovecot, reply_to(dispatch_of(smtp_sink, first, 1), first,
                                     "#problem VPN drops every hour\n#inprogress"), first)
    assert maild.case(1)["status"] == "in_progress"
    opened = last_to(smtp_sink, IM)
    assert subject(opened).startswith("[Problem P1]")
    reply = str(parsed(opened)["Reply-To"])
    assert "<helpdesk+p1-" in reply  # a problem token, not a case token
    # the opener got it too: the mail they will answer through
    mine = next(raw for raw in to(smtp_sink, first) if subject(raw).startswith("[Problem P1]"))
    # the other two by #problem P1 from their own case mail
    for n in (2, 3):
        eng = engineers[n - 1]
        deliver(maild, dovecot, reply_to(dispatch_of(smtp_sink, eng, n), eng, "#problem P1"), eng)
    assert [maild.case(n)["problem"] for n in (1, 2, 3)] == [1, 1, 1]
    # the opener shares a workaround through the problem mail
    before = len(smtp_sink.messages)
    deliver(maild, dovecot, reply_to(mine, first, "#workaround reconnect with the backup "
                                     "gateway vpn2.corp.example"), first)
    assert problem_row(maild, 1).status == "known_error"
    new = smtp_sink.messages[before:]
    told = {r for m in new if "Workaround" in subject(m.data) or "临时解决方案" in subject(m.data)
            for r in m.rcpt_tos}
    assert set(engineers) - {first} <= told and IM in told
    for n, eng in enumerate(engineers, 1):
        if eng != first:  # each told of the workaround, their own case named
            assert "vpn2.corp.example" in text_of(last_to(smtp_sink, eng))
            body = text_of(last_to(smtp_sink, eng))
            mine = next(line for line in body.splitlines()
                        if "applies to your case" in line or "适用于您的工单" in line)
            assert f"#{n}" in mine
            assert "\n\nWORKAROUND\n" in body or "\n\n【临时解决方案】\n" in body
    # the incident manager resolves it, and the linked cases with it
    deliver(maild, dovecot, reply_to(opened, IM, "#resolve the gateway certificate had "
                                     "expired; renewed\n#resolve-linked"), IM)
    row = problem_row(maild, 1)
    assert row.status == "resolved" and row.root_cause is not None
    for n, customer in enumerate(CUSTOMERS, 1):
        case = maild.case(n)
        assert case["status"] == "resolved"
        assert case["resolution"] == "the gateway certificate had expired; renewed"
        asked = last_to(smtp_sink, customer)
        assert f"[Case #{n}]" in subject(asked)
        assert "confirm" in text_of(asked).lower() or "确认" in text_of(asked)
    # a customer confirms as after any resolution
    deliver(maild, dovecot, reply_to(last_to(smtp_sink, CUSTOMERS[0]), CUSTOMERS[0],
                                     "confirm"), CUSTOMERS[0])
    assert maild.case(1)["status"] == "closed"


def test_case_token_does_not_act_on_a_problem_nor_a_problem_token_on_a_case(
        maild: Maild, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    """A case mail's Reply-To names the case; a problem mail's names the problem: a mail to
    the one with the other's subject tag acts on what its token names, never the other."""
    engineers = three_cases(maild, dovecot)
    eng = engineers[0]
    dispatch = dispatch_of(smtp_sink, eng, 1)
    deliver(maild, dovecot, reply_to(dispatch, eng, "#problem VPN"), eng)
    problem_mail = next(raw for raw in to(smtp_sink, eng)
                        if subject(raw).startswith("[Problem P1]"))
    # the case token with a [Problem P1] subject: a case command, #workaround is not one
    msg = reply_to(dispatch, eng, "#workaround reconnect")
    msg = msg.replace(b"Subject: Re: ", b"Subject: [Problem P1] Re: ", 1)
    deliver(maild, dovecot, msg, eng)
    assert problem_row(maild, 1).status == "open"
    assert "#workaround" in text_of(last_to(smtp_sink, eng))  # refused on the case
    # the problem token with a [Case #1] subject: #inprogress is not a problem command
    msg = reply_to(problem_mail, eng, "#inprogress")
    msg = msg.replace(b"Subject: Re: ", b"Subject: [Case #1] Re: ", 1)
    deliver(maild, dovecot, msg, eng)
    assert maild.case(1)["status"] == "dispatched"
    assert problem_row(maild, 1).status == "open"
    # a token of the problem kind, but for another problem number, is not valid
    other = str(parsed(problem_mail)["Reply-To"]).replace("+p1-", "+p2-")
    forged = EmailMessage()
    forged["From"], forged["To"], forged["Subject"] = eng, other, "Re: P2"
    forged["Message-ID"] = make_msgid(domain="corp.example")
    forged.set_content("#workaround nothing")
    deliver(maild, dovecot, forged.as_bytes(), eng)
    assert problem_row(maild, 1).workaround is None


def forged(sender: str, text: str, subject_line: str) -> bytes:
    """Mail claiming a staff From, to the plain helpdesk address: no proof at all."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "helpdesk@corp.example", subject_line
    msg["Message-ID"] = make_msgid(domain="evil.example")
    msg.set_content(text)
    return msg.as_bytes()


def test_forged_staff_mail_cannot_act_on_a_problem(maild: Maild, dovecot: Dovecot,
                                                   smtp_sink: SmtpSink) -> None:
    """From: staff and [Problem P1] in the subject, no token, no personal address: none of
    the problem tags act, and #problem on a case by subject tag does nothing either."""
    engineers = three_cases(maild, dovecot)
    eng = engineers[0]
    deliver(maild, dovecot, reply_to(dispatch_of(smtp_sink, eng, 1), eng, "#problem VPN"), eng)
    for text in ("#workaround reconnect", "#link 2", "#resolve cert\n#resolve-linked"):
        deliver(maild, dovecot, forged(IM, text, "Re: [Problem P1] VPN"), "attacker@evil.example")
    row = problem_row(maild, 1)
    assert (row.status, row.workaround, row.root_cause) == ("open", None, None)
    assert maild.case(2)["problem"] is None
    assert [maild.case(n)["status"] for n in (1, 2, 3)] == ["dispatched"] * 3
    deliver(maild, dovecot, forged(eng, "#problem P1", "Re: [Case #2] VPN"),
            "attacker@evil.example")
    deliver(maild, dovecot, forged(eng, "#problem New one", "Re: [Case #3] VPN"),
            "attacker@evil.example")
    assert maild.case(2)["problem"] is None and maild.case(3)["problem"] is None
    with Session(maild.rt.engine) as s:
        assert s.get(Problem, 2) is None
    # the incident manager's own address hears that a mail in their name was not taken
    notice = next(raw for raw in reversed(to(smtp_sink, IM)) if "problem P1" in text_of(raw))
    assert maild.personal(IM) in text_of(notice)
    # the same from the incident manager's personal address does act
    deliver(maild, dovecot, forged(IM, "#link 2\n#workaround reconnect",
                                   "Re: [Problem P1] VPN").replace(
        b"To: helpdesk@corp.example", f"To: {maild.personal(IM)}".encode(), 1), IM)
    assert problem_row(maild, 1).status == "known_error"
    assert maild.case(2)["problem"] == 1


def test_refused_problem_mail_changes_nothing_and_says_why(maild: Maild, dovecot: Dovecot,
                                                          smtp_sink: SmtpSink) -> None:
    engineers = three_cases(maild, dovecot)
    eng = engineers[0]
    deliver(maild, dovecot, reply_to(dispatch_of(smtp_sink, eng, 1), eng, "#problem VPN"), eng)
    opened = last_to(smtp_sink, IM)
    deliver(maild, dovecot, reply_to(opened, IM, "#workaround reconnect\n#link 99"), IM)
    assert problem_row(maild, 1).status == "open"
    answer = last_to(smtp_sink, IM)
    assert "#99" in text_of(answer) and subject(answer).startswith("[Problem P1]")
    deliver(maild, dovecot, reply_to(opened, IM, "#resolve-linked"), IM)
    assert problem_row(maild, 1).status == "open"
    assert "#resolve" in text_of(last_to(smtp_sink, IM))
    # #problem P<n> naming no problem refuses the whole case mail
    deliver(maild, dovecot, reply_to(dispatch_of(smtp_sink, engineers[1], 2), engineers[1],
                                     "#inprogress\n#problem P7"), engineers[1])
    assert maild.case(2)["status"] == "dispatched" and maild.case(2)["problem"] is None
