"""Visits by real mail (Dovecot in, aiosmtpd out), in English and Chinese: #visit tells the
customer with an invitation their calendar reads, #arrived logs the arrival, a missed
window is told once and counted late; forged mail can do neither."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
from fieldmail import JOHN, LI, OPERATOR, body, installation, mail, subject, to
from maildenv import Maild, new_mail, outbox, parsed, reply_to
from servers import Dovecot, SmtpSink

from maild.core.report import day_period
from maild.runtime import Runtime, database
from maild.service.reports import make_report
from maild.service.visits import late

SH = ZoneInfo("Asia/Shanghai")
# (engineer, customer, summary lines, the visit as written, words of the customer's mail)
PEOPLE = {
    "zh": (LI, "wang.fang@sh.corp.example",
           "Name: 王芳\nCompany: 上海分公司\nEmail: wang.fang@sh.corp.example\n"
           "Engineer: Li Lei\nDescription: 打印机卡纸\n", "明天 9:30 请准备好工牌", "工程师"),
    "en": (JOHN, "tom.brown@uk.corp.example",
           "Name: Tom Brown\nCompany: London Office\nEmail: tom.brown@uk.corp.example\n"
           "Engineer: John Smith\nDescription: printer jams\n",
           "tomorrow 9:30 please have your badge ready", "will come to you"),
}


def opened(m: Maild, dovecot: Dovecot, sink: SmtpSink, lang: str) -> bytes:
    """A case by phone for the engineer; their dispatch mail."""
    engineer, _, lines, _, _ = PEOPLE[lang]
    mail(m, dovecot, new_mail(OPERATOR, "call", lines, to=m.personal(OPERATOR)), OPERATOR)
    [dispatch] = [r for r in to(sink, engineer) if "[Case #1]" in subject(r)]
    return dispatch


def invitation(raw: bytes) -> icalendar.Calendar:
    [part] = [p for p in parsed(raw).walk() if p.get_content_type() == "text/calendar"]
    assert part.get_param("method") == "REQUEST"
    assert (part.get_filename() or "").endswith(".ics")
    return icalendar.Calendar.from_ical(part.get_payload(decode=True))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_visit_invitation_and_arrival(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink,
                                      lang: str) -> None:
    engineer, customer, _, when, words = PEOPLE[lang]
    m = installation(tmp_path, dovecot, smtp_sink, lang)
    dispatch = opened(m, dovecot, smtp_sink, lang)
    mail(m, dovecot, reply_to(dispatch, engineer, f"#visit {when}"), engineer)
    tomorrow = datetime.now(SH).date() + timedelta(days=1)
    start = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 9, 30, tzinfo=SH)
    [visit] = [r for r in to(smtp_sink, customer) if "09:30-10:30" in subject(r)]
    assert (words in body(visit) and "badge" in body(visit)) or "工牌" in body(visit)
    cal = invitation(visit)
    [event] = cal.walk("VEVENT")
    assert event.decoded("DTSTART") == start
    assert event.decoded("DTEND") == start + timedelta(hours=1)
    assert str(event["ATTENDEE"]) == f"mailto:{customer}"
    assert "[Case #1]" in str(event["SUMMARY"])
    uid = str(event["UID"])
    case = m.case(1)
    assert case["visits"] == [{"start": start.astimezone(UTC).isoformat(),
                               "end": (start + timedelta(hours=1)).astimezone(UTC).isoformat(),
                               "arrived_at": None}]
    assert any(e["kind"] == "visit" for e in case["log"])
    mail(m, dovecot, reply_to(dispatch, engineer, "#arrived"), engineer)
    case = m.case(1)
    assert case["status"] == "in_progress" and case["visits"][0]["arrived_at"] is not None
    assert any(e["kind"] == "arrived" for e in case["log"])
    assert uid.startswith("maild-visit-") and uid.endswith("@corp.example")


@pytest.mark.parametrize(("lang", "refusal"), [("zh", "无法识别时间"),
                                               ("en", "is not a time I can read")])
def test_unreadable_visit_is_refused_with_the_forms(
        tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink, lang: str, refusal: str) -> None:
    engineer, customer, _, _, _ = PEOPLE[lang]
    m = installation(tmp_path, dovecot, smtp_sink, lang)
    dispatch = opened(m, dovecot, smtp_sink, lang)
    sent = len(to(smtp_sink, customer))
    mail(m, dovecot, reply_to(dispatch, engineer, "#visit after lunch"), engineer)
    answer = body(to(smtp_sink, engineer)[-1])
    assert refusal in answer and "14:00-15:00" in answer and "明天 9:30" in answer
    assert m.case(1)["visits"] == [] and len(to(smtp_sink, customer)) == sent


@pytest.mark.parametrize("tag", ["#visit 明天 9:30", "#arrived"])
def test_forged_visit_or_arrival_changes_nothing(tmp_path: Path, dovecot: Dovecot,
                                                 smtp_sink: SmtpSink, tag: str) -> None:
    """From: the engineer, no token, no personal address, no authentication: not theirs."""
    m = installation(tmp_path, dovecot, smtp_sink, "zh")
    opened(m, dovecot, smtp_sink, "zh")
    if tag == "#arrived":  # a real visit, for the forged arrival to claim
        mail(m, dovecot, reply_to(to(smtp_sink, LI)[0], LI, "#visit 明天 9:30"), LI)
    before = m.case(1)
    forged = new_mail(LI, "Re: [Case #1] 打印机卡纸", f"{tag}\n")
    mail(m, dovecot, forged, "attacker@evil.example")
    after = m.case(1)
    assert after["visits"] == before["visits"] and after["status"] == before["status"]
    assert not any(e["kind"] in ("arrived",) for e in after["log"])
    assert len([e for e in after["log"] if e["kind"] == "visit"]) == \
        len([e for e in before["log"] if e["kind"] == "visit"])
    assert outbox(m, "staff_unproven")


def test_late_visit_is_told_once_and_counted(tmp_path: Path, dovecot: Dovecot,
                                             smtp_sink: SmtpSink) -> None:
    """The window ends without #arrived: the engineer and the operators hear once, however
    many replicas run the job; the daily report counts it late."""
    m = installation(tmp_path, dovecot, smtp_sink, "en")
    dispatch = opened(m, dovecot, smtp_sink, "en")
    mail(m, dovecot, reply_to(dispatch, JOHN, "#visit tomorrow 9:30"), JOHN)
    end = datetime.fromisoformat(m.case(1)["visits"][0]["end"])
    other = Runtime.load(m.settings, database(m.settings))
    assert late(m.rt, end - timedelta(minutes=1)) == 0
    assert late(m.rt, end + timedelta(minutes=1)) == 1
    assert late(other, end + timedelta(minutes=2)) == 0
    assert late(m.rt, end + timedelta(hours=1)) == 0
    # queued for the job's (future) time: read from the outbox rather than the sink
    told = {row.recipients[0]: row.raw for row in outbox(m, "visit_late")}
    assert set(told) == {JOHN, OPERATOR}
    for raw in told.values():
        assert "Late:" in subject(raw) and "#arrived" in body(raw)
    assert any(e["kind"] == "late" for e in m.case(1)["log"])
    report = make_report(m.rt, day_period(end.astimezone(SH).date(), SH))
    assert report.late_visits == {JOHN: 1}


def test_undo_takes_back_a_visit_and_an_arrival(tmp_path: Path) -> None:
    """#undo of a #visit mail removes that visit; of an #arrived mail, the arrival."""
    from maildenv import feed, write_config

    m = Maild(write_config(tmp_path, 1, 1))
    _, _, lines, _, _ = PEOPLE["en"]
    now = datetime.now(UTC)
    feed(m, new_mail(OPERATOR, "call", lines, to=m.personal(OPERATOR)), now)
    [dispatch] = [row.raw for row in outbox(m, "dispatch")]
    feed(m, reply_to(dispatch, JOHN, "#visit tomorrow 9:30"), now + timedelta(minutes=1))
    assert len(m.case(1)["visits"]) == 1
    feed(m, reply_to(dispatch, JOHN, "#undo"), now + timedelta(minutes=2))
    assert m.case(1)["visits"] == []
    feed(m, reply_to(dispatch, JOHN, "#visit tomorrow 10:00"), now + timedelta(minutes=3))
    feed(m, reply_to(dispatch, JOHN, "#arrived"), now + timedelta(minutes=4))
    assert m.case(1)["visits"][0]["arrived_at"] is not None
    feed(m, reply_to(dispatch, JOHN, "#undo"), now + timedelta(minutes=5))
    [visit] = m.case(1)["visits"]
    assert visit["arrived_at"] is None and m.case(1)["status"] == "dispatched"
