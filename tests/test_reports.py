"""Reports end to end: cases by real mail, exactly-once sending, the mail's parts, the CLI."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import threading
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from maildenv import Maild, new_mail, parsed, reply_to, write_config
from servers import Dovecot, SmtpSink
from sqlmodel import Session, select
from test_cli import maild_cli

from maild.daemon import Daemon
from maild.db.models import ReportRun
from maild.runtime import Runtime
from maild.service.intake import ingest
from maild.service.reports import due_periods, send_due

SH = ZoneInfo("Asia/Shanghai")
BOSS = "it-manager@corp.example"
CUSTOMER = "wang.fang@sh.corp.example"


def sh(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


def run_at(m: Maild, when: datetime) -> None:
    asyncio.run(Daemon(m.rt, clock=lambda: when).run_once())


@pytest.fixture
def m(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> Maild:
    config = write_config(tmp_path, dovecot.imap_port, smtp_sink.port)
    with config.open("a", encoding="utf-8") as fh:
        fh.write(f'[reports]\nrecipients = ["{BOSS}"]\ndaily_at = "08:00"\nmonthly_day = 1\n')
    m = Maild(config)
    m.add_customer(CUSTOMER, "王芳", company="上海分公司")
    ingest(m.rt, new_mail(CUSTOMER, "打印机卡纸", "三楼打印机卡纸"), sh(11, 20, 10))
    ingest(m.rt, new_mail(CUSTOMER, "VPN", "连不上"), sh(11, 20, 11))
    run_at(m, sh(11, 20, 11, 1))
    eng = m.case(1)["engineer"]["email"]
    dispatch = next(x.data for x in smtp_sink.messages if eng in x.rcpt_tos)
    dovecot.deliver(reply_to(dispatch, eng, "#resolve 清理了搓纸轮"), mail_from=eng)
    run_at(m, sh(11, 20, 15))  # resolved after 5 hours (business hours too)
    return m


def test_due_periods_and_grace(m: Maild) -> None:
    assert [p.label for p in due_periods(m.rt, sh(11, 21, 7, 59))] == []
    assert [p.label for p in due_periods(m.rt, sh(11, 21, 8))] == ["2026-11-20"]
    assert [p.label for p in due_periods(m.rt, sh(12, 1, 9))] == ["2026-11-30", "2026-11"]
    assert [p.label for p in due_periods(m.rt, sh(12, 2, 21))] == ["2026-12-01"]  # 37 h late


def test_daily_report_once_with_its_parts(m: Maild, smtp_sink: SmtpSink) -> None:
    assert send_due(m.rt, sh(11, 21, 8, 5)) == 1
    assert send_due(m.rt, sh(11, 21, 8, 20)) == 0  # the next run of the job
    assert send_due(Runtime.load(m.settings, m.rt.engine), sh(11, 21, 9)) == 0  # a restart
    run_at(m, sh(11, 21, 9))
    mails = [x.data for x in smtp_sink.messages if BOSS in x.rcpt_tos]
    assert len(mails) == 1
    msg = parsed(mails[0])
    assert "2026-11-20" in str(msg["Subject"])
    parts = {p.get_content_type(): p for p in msg.walk() if not p.is_multipart()}
    assert {"text/plain", "text/html", "text/csv"} <= set(parts)
    html = parts["text/html"].get_content()
    assert "<table" in html and "<img" not in html and "background-color:#1f4e79" in html
    rows = list(csv.DictReader(io.StringIO(parts["text/csv"].get_content().lstrip("\ufeff"))))
    resolved = {r["engineer"]: int(r["resolved"]) for r in rows}
    assert sum(resolved.values()) == 1 and rows[0]["rank_resolved"] == "1"
    assert float(rows[0]["mean_hours_business"]) == pytest.approx(5.0, abs=0.02)


def test_two_schedulers_at_once_send_one_report(m: Maild, smtp_sink: SmtpSink) -> None:
    runtimes = [m.rt, Runtime.load(m.settings, m.rt.engine)]
    results: list[int] = []
    barrier = threading.Barrier(2)

    def job(rt: Runtime) -> None:
        barrier.wait()
        results.append(send_due(rt, sh(12, 1, 8, 1)))

    threads = [threading.Thread(target=job, args=(rt,)) for rt in runtimes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 2  # the daily for 11-30 and the monthly for 2026-11, once each
    with Session(m.rt.engine) as s:
        runs = sorted((r.kind, r.period) for r in s.exec(select(ReportRun)))
    assert runs == [("daily", "2026-11-30"), ("monthly", "2026-11")]


def test_cli(m: Maild, tmp_path: Path) -> None:
    out = maild_cli("report", "daily", "--date", "2026-11-20", "--json", config=m.config)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["total_opened"] == 2 and data["total_resolved"] == 1
    assert data["period"]["label"] == "2026-11-20"
    monthly = maild_cli("report", "monthly", "--month", "2026-11", config=m.config)
    assert monthly.returncode == 0 and b"resolved 1" in monthly.stdout
    page = tmp_path / "r.html"
    assert maild_cli("report", "monthly", "--month", "2026-11", "--html", str(page),
                     config=m.config).returncode == 0
    assert "<table" in page.read_text(encoding="utf-8")
    bad = maild_cli("report", "monthly", "--month", "2026-13", config=m.config)
    assert bad.returncode == 2 and b"not a month" in bad.stderr
