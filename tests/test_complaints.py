"""Complaints, supervisors and the follow-up survey by real mail (Dovecot + SMTP sink), in
English and Chinese, with forged mail shown to change nothing."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from maildenv import Maild, new_mail, outbox, parsed, reply_to, text_of, write_config
from servers import Dovecot, SmtpSink
from sqlmodel import Session, select
from test_trust_mail import maild_cli

from maild.db.models import Complaint, ReportRun, Survey, utcnow
from maild.service import summary, surveys
from maild.service.reports import quality_rows

CUSTOMER = "wang.fang@sh.corp.example"
ZH_CUSTOMER = "zhang.wei@sh.corp.example"
LI, HAN = "li.lei@corp.example", "han.meimei@corp.example"
SUPERVISOR, OPERATOR, MANAGER = ("cs-lead@corp.example", "callcenter@corp.example",
                                 "it-manager@corp.example")


def last_to(sink: SmtpSink, addr: str) -> bytes:
    return [m.data for m in sink.messages if addr in m.rcpt_tos][-1]


def all_to(sink: SmtpSink, addr: str) -> list[bytes]:
    return [m.data for m in sink.messages if addr in m.rcpt_tos]


def subject(raw: bytes) -> str:
    return str(parsed(raw)["Subject"])


def gb18030_reply(raw: bytes, sender: str, text: str) -> bytes:
    """A reply as a Chinese mail client sends it: GB18030, the survey quoted QQ-style."""
    got = parsed(raw)
    msg = EmailMessage()
    msg["From"], msg["To"] = sender, str(got["Reply-To"])
    msg["Subject"] = "回复：" + str(got["Subject"])
    msg["Message-ID"] = make_msgid(domain=sender.split("@")[1])
    msg["In-Reply-To"] = msg["References"] = got["Message-ID"]
    msg.set_content(f"{text}\n\n------------------ 原始邮件 ------------------\n"
                    f"发件人: \"IT Helpdesk\"<helpdesk@corp.example>;\n"
                    f"主题: {got['Subject']}\n\n{text_of(raw)}", charset="gb18030")
    return msg.as_bytes()


def surveyed(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink, sample: float = 1.0) -> Maild:
    """maild whose surveys ask every closed case at once (after_hours = 0)."""
    config = write_config(tmp_path, dovecot.imap_port, smtp_sink.port)
    with config.open("a", encoding="utf-8") as fh:
        fh.write(f"[survey]\nsample = {sample}\nafter_hours = 0\n")
    return Maild(config)


class Desk:
    """One installation and the mail going to and fro."""

    def __init__(self, m: Maild, dovecot: Dovecot, sink: SmtpSink) -> None:
        self.m, self.dovecot, self.sink = m, dovecot, sink

    def mail(self, raw: bytes, envelope_from: str) -> None:
        self.dovecot.deliver(raw, mail_from=envelope_from)
        self.m.run_once()

    def answer(self, addr: str, text: str, *, template: str | None = None) -> None:
        """``addr`` replies to the last mail they got (of ``template``, if named)."""
        got = self.last(addr, template)
        self.mail(reply_to(got, addr, text), addr)

    def last(self, addr: str, template: str | None = None) -> bytes:
        if template is None:
            return last_to(self.sink, addr)
        ids = {o.message_id for o in outbox(self.m, template)}
        mine = [d for d in all_to(self.sink, addr)
                if str(parsed(d)["Message-ID"]).strip("<>") in ids]
        assert mine, f"no {template} mail to {addr}"
        return mine[-1]

    def open_case(self, customer: str, subject: str, text: str) -> tuple[int, str]:
        self.mail(new_mail(customer, subject, text), customer)
        case_id = max(o.case_id or 0 for o in outbox(self.m))
        return case_id, self.m.case(case_id)["engineer"]["email"]

    def close(self, case_id: int, customer: str, engineer: str) -> None:
        self.answer(engineer, "#resolve replaced the fuser", template="dispatch")
        self.answer(customer, "confirm", template="resolved")
        assert self.m.case(case_id)["status"] == "closed"


def test_customer_complaint_supervisor_reassigns_and_closes(maild: Maild, dovecot: Dovecot,
                                                            smtp_sink: SmtpSink) -> None:
    desk = Desk(maild, dovecot, smtp_sink)
    maild.add_customer(CUSTOMER, "Wang Fang", company="上海分公司")
    case_id, first = desk.open_case(CUSTOMER, "Printer jams", "It jams on every page")
    other = HAN if first == LI else LI
    desk.answer(CUSTOMER, "Complaint: the engineer was rude and hung up on me", template="ack")
    case = maild.case(case_id)
    assert [(c["category"], c["status"], c["engineer"]) for c in case["complaints"]] == [
        ("attitude", "open", first)]
    assert case["complaints"][0]["text"] == "the engineer was rude and hung up on me"
    assert any(e["kind"] == "complaint" for e in case["log"])
    told = desk.last(SUPERVISOR, "complaint")
    assert "[Case #1]" in subject(told) and "投诉" in subject(told)  # the supervisor reads zh
    assert "hung up on me" in text_of(told) and "#complaint-close" in text_of(told)
    assert "hung up on me" in text_of(desk.last(first, "complaint"))
    assert "complaint" in text_of(desk.last(CUSTOMER, "complaint_ack")).lower()
    assert not [o for o in outbox(maild, "complaint") if o.to_addr == MANAGER]  # supervisors
    # the supervisor answers the complaint mail: another engineer, a better category, closed
    desk.answer(SUPERVISOR, "#assign " + ("Han Meimei" if other == HAN else "Li Lei")
                + "\n#category quality", template="complaint")
    case = maild.case(case_id)
    assert case["engineer"]["email"] == other and case["status"] == "dispatched"
    assert any(e["kind"] == "void" and first in e["text"] for e in case["log"])
    assert "Reassigned" in subject(desk.last(first, "reassigned")) or \
        "改派" in subject(desk.last(first, "reassigned"))
    assert desk.last(other, "dispatch")
    assert case["complaints"][0]["category"] == "quality"
    desk.answer(SUPERVISOR, "#complaint-close apologised; fixed the same day",
                template="complaint")
    closed = maild.case(case_id)["complaints"][0]
    assert closed["status"] == "closed" and closed["outcome"] == "apologised; fixed the same day"
    assert closed["closed_at"] is not None
    assert desk.last(other, "complaint_closed")  # the case's engineer now
    out = maild_cli("complaints", "list", "--status", "closed", "--json", config=maild.config)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [set(r) for r in rows] == [{"id", "case_id", "engineer", "category", "text",
                                       "status", "outcome", "created_at", "closed_at"}]
    assert rows[0]["case_id"] == case_id and rows[0]["engineer"] == first
    out = maild_cli("complaints", "list", "--status", "open", "--json", config=maild.config)
    assert json.loads(out.stdout) == []
    out = maild_cli("complaints", "list", config=maild.config)
    assert out.returncode == 0 and "quality" in out.stdout.decode()
    assert maild_cli("complaints", "list", "--status", "open",
                     config=maild.config).returncode == 1  # none found


def test_chinese_complaint_and_an_operators_phone_complaint(maild: Maild, dovecot: Dovecot,
                                                            smtp_sink: SmtpSink) -> None:
    desk = Desk(maild, dovecot, smtp_sink)
    maild.add_customer(ZH_CUSTOMER, "张伟", company="上海分公司")
    case_id, engineer = desk.open_case(ZH_CUSTOMER, "电脑蓝屏", "开机就蓝屏")
    desk.close(case_id, ZH_CUSTOMER, engineer)
    desk.answer(ZH_CUSTOMER, "投诉：工程师迟到了两个小时，下午才来", template="closed")
    complaint = maild.case(case_id)["complaints"][0]
    assert complaint["category"] == "timeliness" and complaint["text"].startswith("工程师迟到")
    assert "超时迟到" in text_of(desk.last(SUPERVISOR, "complaint"))
    assert "投诉" in text_of(desk.last(ZH_CUSTOMER, "complaint_ack"))
    # an operator takes a second call on it: a summary with 投诉:, the case named by its tag,
    # to the operator's personal address
    ops = Desk(maild, dovecot, smtp_sink)
    raw = new_mail(OPERATOR, f"[Case #{case_id}] 来电投诉", "投诉: 电话里态度很差\n姓名: 张伟",
                   to=maild.personal(OPERATOR))
    ops.mail(raw, OPERATOR)
    case = maild.case(case_id)
    assert len(case["complaints"]) == 1  # one open complaint; the call adds to it
    assert "电话里态度很差" in case["complaints"][0]["text"]
    # a summary with a complaint and no case is refused, naming what is missing
    ops.mail(new_mail(OPERATOR, "来电投诉", "投诉: 工程师没来\n姓名: 张伟",
                      to=maild.personal(OPERATOR)), OPERATOR)
    assert "[Case #N]" in text_of(last_to(smtp_sink, OPERATOR))


def test_forged_mail_cannot_complain_or_act_as_a_supervisor(maild: Maild, dovecot: Dovecot,
                                                            smtp_sink: SmtpSink) -> None:
    desk = Desk(maild, dovecot, smtp_sink)
    maild.add_customer(CUSTOMER, "Wang Fang", company="上海分公司")
    case_id, first = desk.open_case(CUSTOMER, "Printer jams", "It jams on every page")
    # the customer's address, but not an answer to our mail: logged and forwarded only
    desk.mail(new_mail(CUSTOMER, f"Re: [Case #{case_id}] Printer jams",
                       "complaint: the engineer was rude"), "attacker@evil.example")
    case = maild.case(case_id)
    assert case["complaints"] == []
    assert any(e["kind"] == "unproven" for e in case["log"])
    assert desk.last(CUSTOMER, "reply_to_case_mail")
    assert not outbox(maild, "complaint")
    # a real complaint, then forged supervisor and operator mail by subject tag
    desk.answer(CUSTOMER, "#complaint the engineer was rude", template="ack")
    assert maild.case(case_id)["complaints"][0]["status"] == "open"
    for who, text in ((SUPERVISOR, "#complaint-close nothing to see"),
                      (SUPERVISOR, "#assign " + ("Li Lei" if first == HAN else "Han Meimei")),
                      (SUPERVISOR, "#category other"),
                      (OPERATOR, "#complaint another one"),
                      (OPERATOR, "投诉: 又一个投诉")):
        desk.mail(new_mail(who, f"Re: [Case #{case_id}] Printer jams", text),
                  "attacker@evil.example")
        case = maild.case(case_id)
        assert [(c["status"], c["category"]) for c in case["complaints"]] == [
            ("open", "attitude")], text
        assert case["engineer"]["email"] == first, text
        assert len(case["complaints"][0]["text"].split("\n\n")) == 1, text
    assert maild.personal(SUPERVISOR) in text_of(last_to(smtp_sink, SUPERVISOR))  # told
    # the same supervisor mail to their personal address does act
    desk.mail(new_mail(SUPERVISOR, f"Re: [Case #{case_id}] Printer jams",
                       "#complaint-close called the customer", to=maild.personal(SUPERVISOR)),
              SUPERVISOR)
    assert maild.case(case_id)["complaints"][0]["status"] == "closed"


def test_survey_once_answered_in_chinese_low_score_alerts(tmp_path: Path, dovecot: Dovecot,
                                                          smtp_sink: SmtpSink) -> None:
    m = surveyed(tmp_path, dovecot, smtp_sink)
    desk = Desk(m, dovecot, smtp_sink)
    m.add_customer(ZH_CUSTOMER, "张伟", company="上海分公司")
    case_id, engineer = desk.open_case(ZH_CUSTOMER, "电脑蓝屏", "开机就蓝屏")
    desk.close(case_id, ZH_CUSTOMER, engineer)
    now = utcnow()
    assert surveys.send_due(m.rt, now) == 1
    assert surveys.send_due(m.rt, now + timedelta(minutes=15)) == 0  # once per case
    m.run_once()
    asked = desk.last(ZH_CUSTOMER, "survey")
    assert "服务回访" in subject(asked) and "1 到 5 分" in text_of(asked)
    assert "+" in str(parsed(asked)["Reply-To"])  # answered through the case token
    survey = m.case(case_id)["survey"]
    assert survey is not None and survey["sent_at"] and survey["score"] is None
    # a forged answer (the customer's address, no proof) changes nothing
    desk.mail(new_mail(ZH_CUSTOMER, f"Re: [Case #{case_id}] 服务回访", "5分 非常满意"),
              "attacker@evil.example")
    assert m.case(case_id)["survey"]["score"] is None
    raw = gb18030_reply(desk.last(ZH_CUSTOMER, "survey"), ZH_CUSTOMER, "2分，太慢了，等了一上午")
    assert b"charset=\"gb18030\"" in raw
    desk.mail(raw, ZH_CUSTOMER)
    case = m.case(case_id)
    assert case["survey"]["score"] == 2 and case["survey"]["comment"] == "太慢了，等了一上午"
    assert case["survey"]["answered_at"] is not None
    assert [e["kind"] for e in case["log"]][-2:] == ["survey", "followup"]
    low = desk.last(SUPERVISOR, "survey_low")
    assert "2分" in subject(low) and "等了一上午" in text_of(low)
    assert case["status"] == "closed"  # an answer is no reopening


def test_survey_in_english_sampling_vip_and_complaints(tmp_path: Path, dovecot: Dovecot,
                                                       smtp_sink: SmtpSink) -> None:
    m = surveyed(tmp_path, dovecot, smtp_sink, sample=0.0)
    desk = Desk(m, dovecot, smtp_sink)
    m.add_customer(CUSTOMER, "Wang Fang", company="上海分公司")
    m.add_customer("vip@sh.corp.example", "Liu Yang", company="上海分公司", vip=True)
    plain, eng1 = desk.open_case(CUSTOMER, "Mouse", "broken")
    desk.close(plain, CUSTOMER, eng1)
    vip, eng2 = desk.open_case("vip@sh.corp.example", "Laptop", "slow")
    desk.close(vip, "vip@sh.corp.example", eng2)
    angry, eng3 = desk.open_case(CUSTOMER, "VPN", "down")
    desk.close(angry, CUSTOMER, eng3)
    desk.answer(CUSTOMER, "complaint: he came three hours late", template="closed")
    assert surveys.send_due(m.rt, utcnow()) == 2
    m.run_once()
    asked = {o.case_id for o in outbox(m, "survey")}
    assert asked == {vip, angry}  # sample 0: the VIP and the complaint only
    assert m.case(plain)["survey"] is None
    desk.answer("vip@sh.corp.example", "4 - quick fix, but noisy fan", template="survey")
    survey = m.case(vip)["survey"]
    assert (survey["score"], survey["comment"]) == (4, "quick fix, but noisy fan")
    assert not outbox(m, "survey_low")
    rows = {r["engineer"]: r for r in quality_rows(
        m.rt, summary_report(m))}
    assert rows[eng2]["answered"] >= 1
    assert sum(r["complaints"] for r in rows.values()) == 1


def summary_report(m: Maild) -> object:
    from maild.core.report import day_period
    from maild.service.reports import make_report

    tz = m.rt.settings.helpdesk.tz
    return make_report(m.rt, day_period(utcnow().astimezone(tz).date(), tz))


def test_survey_exactly_once_across_replicas(tmp_path: Path, dovecot: Dovecot,
                                             smtp_sink: SmtpSink) -> None:
    m = surveyed(tmp_path, dovecot, smtp_sink)
    other = Maild(m.config)  # a second replica on the same database
    desk = Desk(m, dovecot, smtp_sink)
    m.add_customer(CUSTOMER, "Wang Fang", company="上海分公司")
    for n in range(3):
        case_id, engineer = desk.open_case(CUSTOMER, f"Case {n}", "broken")
        desk.close(case_id, CUSTOMER, engineer)
    now = utcnow()
    counts: list[int] = []
    threads = [threading.Thread(target=lambda rt=rt: counts.append(surveys.send_due(rt, now)))
               for rt in (m.rt, other.rt, m.rt, other.rt)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with Session(m.rt.engine) as s:
        rows = list(s.exec(select(Survey)))
    assert sum(counts) == 3 and len(rows) == 3
    assert len(outbox(m, "survey")) == 3
    # a restart asks nobody again
    assert surveys.send_due(Maild(m.config).rt, now + timedelta(hours=1)) == 0


def test_supervisors_monthly_summary_once(maild: Maild, dovecot: Dovecot,
                                          smtp_sink: SmtpSink) -> None:
    desk = Desk(maild, dovecot, smtp_sink)
    maild.add_customer(CUSTOMER, "Wang Fang", company="上海分公司")
    case_id, engineer = desk.open_case(CUSTOMER, "Printer jams", "It jams")
    tz = maild.rt.settings.helpdesk.tz
    month = summary.month_of(utcnow(), tz)
    assert not summary.send(maild.rt, month, utcnow())  # nothing to tell: no mail, no claim
    desk.answer(CUSTOMER, "complaint: nobody came all day", template="ack")
    assert summary.send(maild.rt, month, utcnow())
    assert not summary.send(maild.rt, month, utcnow())  # claimed: once per month
    with Session(maild.rt.engine) as s:
        assert len(list(s.exec(select(ReportRun).where(ReportRun.kind == "summary")))) == 1
        assert len(list(s.exec(select(Complaint)))) == 1
    maild.run_once()
    mail = desk.last(SUPERVISOR, "complaint_summary")
    text = text_of(mail)
    assert month.label in subject(mail)
    assert "超时迟到" in text and f"#{case_id}" in text and "nobody came" in text
    html = parsed(mail).get_body(preferencelist=("html",))
    assert html is not None and "nobody came" in str(html.get_content())
    assert not [o for o in outbox(maild, "complaint_summary") if o.to_addr != SUPERVISOR]
    # the managers' report of the month counts the complaint against the engineer
    out = maild_cli("report", "monthly", "--month", month.label, "--json", config=maild.config)
    assert out.returncode == 0, out.stderr
    quality = json.loads(out.stdout)["quality"]
    assert [(q["engineer"], q["complaints"], q["surveys"], q["mean_score"]) for q in quality] == [
        (engineer, 1, 0, None)]
