"""SLA by real mail: deadlines on opening, 80 % warnings and breaches, exactly once.

A case is opened on Monday 2026-11-16 10:00 in Shanghai (business hours
09:00-18:00 Mon-Fri from rules/sla.toml). P3: response 120 business minutes
(due 12:00, warning at 11:36), resolution 1440 (24 business hours: due
Wednesday 16:00). The sweep and the daemon run with explicit clocks; replies come
through the real Dovecot and mails go out through the real SMTP sink.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from maildenv import REPO, Maild, new_mail, outbox, parsed, reply_to, text_of, write_config
from servers import Dovecot, SmtpSink
from sqlmodel import Session, select
from test_cli import maild_cli

from maild.daemon import Daemon
from maild.db.models import SlaEvent
from maild.runtime import Runtime
from maild.service.intake import ingest
from maild.service.sla import sweep

SH = ZoneInfo("Asia/Shanghai")
OPENED = datetime(2026, 11, 16, 10, 0, tzinfo=SH)
CUSTOMER = "wang.fang@sh.corp.example"
IM = "im@corp.example"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SH)


def run_at(maild: Maild, when: datetime) -> None:
    """One daemon pass (mailbox and outbox) with the clock at ``when``."""
    asyncio.run(Daemon(maild.rt, clock=lambda: when).run_once())


def mails(sink: SmtpSink, addr: str, word: str) -> list[bytes]:
    return [m.data for m in sink.messages
            if addr in m.rcpt_tos and word in str(parsed(m.data)["Subject"])]


def test_warning_and_breach_exactly_once(maild: Maild, smtp_sink: SmtpSink) -> None:
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    ingest(maild.rt, new_mail(CUSTOMER, "Monitor flickers", "The second screen flickers."),
           OPENED)
    case = maild.case(1)
    engineer = case["engineer"]["email"]
    assert case["priority"] == "P3"
    assert datetime.fromisoformat(case["sla"]["response_due"]) == at(16, 12)
    assert datetime.fromisoformat(case["sla"]["resolution_due"]) == at(18, 16)
    assert case["sla"]["response_breached"] and case["sla"]["resolution_breached"]  # by now

    assert sweep(maild.rt, at(16, 11, 35)) == 0  # 79 %: nothing yet
    assert sweep(maild.rt, at(16, 11, 37)) == 1  # 80 % of the response target
    assert sweep(maild.rt, at(16, 11, 50)) == 0  # once only
    run_at(maild, at(16, 11, 51))
    warning = mails(smtp_sink, engineer, "SLA")
    assert len(warning) == 1 and "80" in text_of(warning[0])

    # response breached at 12:00: the incident manager and the engineer are told
    assert sweep(maild.rt, at(16, 12, 1)) == 1
    run_at(maild, at(16, 12, 2))
    assert len(mails(smtp_sink, IM, "SLA")) == 1  # breached: told to the incident manager
    assert len(mails(smtp_sink, engineer, "SLA")) == 2  # ... and to the engineer
    # a restart (a new runtime on the same database) sends nothing twice
    again = Runtime.load(maild.settings, maild.rt.engine)
    assert sweep(again, at(16, 12, 30)) == 0
    with Session(maild.rt.engine) as s:
        kinds = sorted((e.target, e.kind) for e in s.exec(select(SlaEvent)))
    assert kinds == [("response", "breach"), ("response", "warn")]
    case = maild.case(1)
    assert any(e["kind"] == "sla" for e in case["log"])


def test_answering_in_time_stops_the_response_clock(maild: Maild, dovecot: Dovecot,
                                                     smtp_sink: SmtpSink) -> None:
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    ingest(maild.rt, new_mail(CUSTOMER, "Printer", "Jams"), OPENED)
    engineer = maild.case(1)["engineer"]["email"]
    run_at(maild, at(16, 10, 1))
    dispatch = [m.data for m in smtp_sink.messages if engineer in m.rcpt_tos][-1]
    dovecot.deliver(reply_to(dispatch, engineer, "#inprogress on my way"), mail_from=engineer)
    run_at(maild, at(16, 10, 30))  # answered after 30 minutes
    case = maild.case(1)
    assert datetime.fromisoformat(case["first_response_at"]) == at(16, 10, 30)
    assert not case["sla"]["response_breached"] and case["sla"]["resolution_breached"]
    assert sweep(maild.rt, at(16, 13)) == 0  # the response target was met
    assert sweep(maild.rt, at(18, 15)) == 1  # 80 % of the resolution target (due Wed 16:00)
    with Session(maild.rt.engine) as s:
        targets = {(e.target, e.kind) for e in s.exec(select(SlaEvent))}
    assert targets == {("resolution", "warn")}


def test_priority_change_moves_the_deadlines(maild: Maild, dovecot: Dovecot,
                                             smtp_sink: SmtpSink) -> None:
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    ingest(maild.rt, new_mail(CUSTOMER, "Laptop", "Slow"), OPENED)
    engineer = maild.case(1)["engineer"]["email"]
    maild.run_once()
    dispatch = [m.data for m in smtp_sink.messages if engineer in m.rcpt_tos][-1]
    dovecot.deliver(reply_to(dispatch, engineer, "#priority P1"), mail_from=engineer)
    maild.run_once()
    case = maild.case(1)
    assert case["priority"] == "P1"
    # P1 runs round the clock: 15 minutes and 4 hours after the opening
    assert datetime.fromisoformat(case["sla"]["response_due"]) == OPENED + timedelta(minutes=15)
    assert datetime.fromisoformat(case["sla"]["resolution_due"]) == OPENED + timedelta(hours=4)


def test_cli_shows_sla(maild: Maild) -> None:
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    ingest(maild.rt, new_mail(CUSTOMER, "Mouse", "Broken"), OPENED)
    out = maild_cli("cases", "show", "1", "--json", config=maild.config)
    data = json.loads(out.stdout)
    assert set(data["sla"]) == {"response_due", "resolution_due", "response_breached",
                                "resolution_breached"}


def test_scheduler_job_sends_alerts_once_with_two_schedulers(maild: Maild,
                                                             smtp_sink: SmtpSink) -> None:
    """The APScheduler jobs of `maild run`, twice at once (two replicas): one alert each."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from maild.edges import scheduler
    from maild.service.scheduled import jobs

    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    ingest(maild.rt, new_mail(CUSTOMER, "Keyboard", "Keys dead"), OPENED)
    late = at(18, 17)  # Wednesday 17:00: both targets breached

    async def main() -> None:
        schedulers = [AsyncIOScheduler(timezone=SH) for _ in range(2)]
        for sched, rt in zip(schedulers, (maild.rt, Runtime.load(maild.settings,
                                                                 maild.rt.engine)), strict=True):
            scheduler.schedule(sched, rt, jobs(rt), lambda: late)
            sched.start()
        for _ in range(100):  # the jobs run at start; wait for their rows
            await asyncio.sleep(0.05)
            with Session(maild.rt.engine) as s:
                if len(s.exec(select(SlaEvent)).all()) == 4:
                    break
        await asyncio.sleep(0.3)
        for sched in schedulers:
            sched.shutdown(wait=False)

    asyncio.run(main())
    with Session(maild.rt.engine) as s:
        events = sorted((e.target, e.kind) for e in s.exec(select(SlaEvent)))
    assert events == [("resolution", "breach"), ("resolution", "warn"),
                      ("response", "breach"), ("response", "warn")]
    run_at(maild, late)
    assert len(mails(smtp_sink, IM, "SLA")) == 2  # one breach mail per target


VENDOR, OPERATOR, WANG = ("support@printco.example", "callcenter@corp.example",
                          "wang.qiang@corp.example")


@pytest.mark.parametrize("owner", [None, "it-manager@corp.example", "cs-lead@corp.example"])
def test_sla_alerts_of_a_case_with_the_vendor_go_to_the_lines_owner(
        tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink, owner: str | None) -> None:
    """A printer case passed to the vendor (line 3): its warning goes to the vendor line's
    owner (rules/lines.toml ``owner``; the incident manager without one), who can chase
    the vendor or take the case back with ``#assign``, as the mail says, by replying to
    it; not to the operators, nor to the vendor. The breach goes to the incident manager
    and the owner."""
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    if owner:
        lines = rules / "lines.toml"
        lines.write_text(lines.read_text("utf-8") + f'owner = "{owner}"\n', "utf-8")
    config = write_config(tmp_path, dovecot.imap_port, smtp_sink.port)
    config.write_text(config.read_text("utf-8").replace(str(REPO / "rules"), str(rules)),
                      "utf-8")
    maild = Maild(config)
    if owner:
        assert maild.rt.rules.lines[-1].owner == owner
    chaser = owner or IM
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    ingest(maild.rt, new_mail(CUSTOMER, "打印机卡纸", "三楼打印机一直卡纸"), OPENED)
    first = maild.case(1)["engineer"]["email"]
    dispatch = [o.raw for o in outbox(maild, "dispatch")][-1]
    ingest(maild.rt, reply_to(dispatch, first, "#log cleaned the rollers\n#escalate fuser"),
           at(16, 10, 5))
    to_wang = [o.raw for o in outbox(maild, "dispatch") if o.to_addr == WANG][-1]
    ingest(maild.rt, reply_to(to_wang, WANG, "#escalate needs PrintCo"), at(16, 10, 10))
    assert maild.case(1)["engineer"]["email"] == VENDOR
    run_at(maild, at(16, 10, 11))
    before = len(smtp_sink.messages)
    # 80 % of the 24 business hours from Monday 10:00: Wednesday 11:12
    assert sweep(maild.rt, at(18, 11, 13)) == 1
    run_at(maild, at(18, 11, 14))
    sla_mail = [m for m in smtp_sink.messages[before:] if "SLA" in str(parsed(m.data)["Subject"])]
    assert [list(m.rcpt_tos) for m in sla_mail] == [[chaser]]
    text = text_of(sla_mail[0].data)
    assert "PrintCo vendor support" in text and "#assign" in text
    assert not mails(smtp_sink, OPERATOR, "SLA") and not mails(smtp_sink, VENDOR, "SLA")
    assert sweep(maild.rt, at(18, 16, 1)) == 1  # the breach
    run_at(maild, at(18, 16, 2))
    assert len(mails(smtp_sink, IM, "SLA")) == (1 if owner else 2)
    assert len(mails(smtp_sink, chaser, "SLA")) == 2
    assert not mails(smtp_sink, OPERATOR, "SLA") and not mails(smtp_sink, VENDOR, "SLA")
    warning = mails(smtp_sink, chaser, "SLA")[0]
    result = ingest(maild.rt, reply_to(warning, chaser, f"#assign {first}\n#log PrintCo slow"),
                    at(18, 16, 5))
    assert result.disposition.value == "command", result.reason
    assert maild.case(1)["engineer"]["email"] == first
