"""Reports end to end: cases by real mail, exactly-once sending, the mail's parts, the CLI."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import threading
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from maildenv import Maild, new_mail, parsed, reply_to, write_config
from servers import Dovecot, SmtpSink
from sqlmodel import Session, select
from test_cli import maild_cli
from test_report_parts import png_size

from maild.core.report import month_period
from maild.core.values import Role
from maild.daemon import Daemon
from maild.db.models import Case, ReportRun
from maild.runtime import Runtime
from maild.service.intake import ingest
from maild.service.reports import due_periods, send, send_due

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
    assert "Changes are against 2026-11-19." in html  # 2 opened on the 20th, none the 19th
    assert "+2 <span" in html and "vs 0</span>" in html
    assert "2026-11-20 00:00 UTC+08:00" in html and "2026-11-21 00:00 UTC+08:00" in html
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
    assert {"engineers", "by_speed", "open_at_end", "backlog_by_age", "top_types",
            "team_business", "mean_rating"} <= set(data)  # the keys scripts read stay
    assert data["changes"]["opened"] == {"value": 2, "previous": 0, "delta": 2}
    assert data["days"] == [{"day": "2026-11-20", "opened": 2, "resolved": 1,
                             "business": data["days"][0]["business"]}]
    monthly = maild_cli("report", "monthly", "--month", "2026-11", config=m.config)
    assert monthly.returncode == 0 and b"resolved 1" in monthly.stdout
    page = tmp_path / "r.html"
    assert maild_cli("report", "monthly", "--month", "2026-11", "--html", str(page),
                     config=m.config).returncode == 0
    preview = page.read_text(encoding="utf-8")
    assert "<table" in preview and preview.count('<img src="data:image/png;base64,') == 2
    assert "cid:" not in preview and "Hello," not in preview
    bad = maild_cli("report", "monthly", "--month", "2026-13", config=m.config)
    assert bad.returncode == 2 and b"not a month" in bad.stderr


ENGINEERS = {"li.lei@corp.example": "Li Lei", "han.meimei@corp.example": "Han Meimei",
             "john.smith@corp.example": "John Smith", "wang.qiang@corp.example": "Wang Qiang"}


def add_october(m: Maild) -> None:
    """Three cases John Smith resolved in October (3 business hours each): the period
    before November, which the monthly report compares with."""
    with Session(m.rt.engine) as s:
        for day in (12, 13, 14):
            opened = sh(10, day, 9).astimezone(UTC)
            done = sh(10, day, 12).astimezone(UTC)
            s.add(Case(subject="old", description="old", priority="P3", status="closed",
                       channel="email", engineer_email="john.smith@corp.example",
                       created_at=opened, dispatched_at=opened, resolved_at=done,
                       closed_at=done, rating=4, updated_at=done))
        s.commit()


def report_mails(sink: SmtpSink, to: str, word: str) -> list[EmailMessage]:
    return [msg for msg in (parsed(x.data) for x in sink.messages if to in x.rcpt_tos)
            if word in str(msg["Subject"])]


def html_and_images(msg: EmailMessage) -> tuple[str, dict[str, bytes]]:
    """The HTML part and the images of the multipart/related it sits in, by Content-ID."""
    related = next(p for p in msg.walk() if p.get_content_type() == "multipart/related")
    html_part, *images = related.iter_parts()
    assert html_part.get_content_type() == "text/html"
    return html_part.get_content(), {str(i["Content-ID"]).strip("<>"): i.get_content()
                                     for i in images}


def test_monthly_report_with_changes_charts_names_and_csv(m: Maild, smtp_sink: SmtpSink) -> None:
    add_october(m)
    assert send_due(m.rt, sh(12, 1, 8, 5)) == 2  # the daily for 11-30 and the monthly
    run_at(m, sh(12, 1, 9))
    [msg] = report_mails(smtp_sink, BOSS, "monthly")
    html, images = html_and_images(msg)
    # the headline numbers and their change against October (3 opened and 3 resolved)
    assert "Changes are against 2026-10." in html
    def tile(value: str, color: str, delta: str, previous: str) -> str:
        return (rf'>{value}</div>\s*<div style="[^"]*color:{color};">{delta} '
                rf'<span[^>]*>vs {previous}</span>')

    assert re.search(tile("2", "#6b7280", "\u22121", "3"), html)  # opened: neither good nor bad
    assert re.search(tile("1", "#b91c1c", "\u22122", "3"), html)  # resolved: worse, in red
    assert re.search(tile("5.0 h", "#b91c1c", r"\+2.0 h", "3.0 h"), html)  # slower, in red
    assert "before: 4.0</span>" in html  # no rating in November, 4.0 in October
    assert "2026-11-01 00:00 UTC+08:00" in html and "2026-12-01 00:00 UTC+08:00" in html
    # two charts, each a PNG part the HTML shows by its Content-ID
    cids = re.findall(r'<img src="cid:([^"]+)"', html)
    assert len(cids) == 2 and set(cids) == set(images)
    for png in images.values():
        assert png_size(png) == (1000, 460)
    # names, not addresses; a greeting by name
    for address, name in ENGINEERS.items():
        assert name in html and address not in html
    assert "Hello IT Manager," in html and "Hello," not in html
    text = msg.get_body(preferencelist=("plain",))
    assert text is not None
    assert "change against 2026-10" in text.get_content() and "Hello IT Manager," in \
        text.get_content()
    # the full table, one row per engineer, as the attachment
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_filename() == "maild-monthly-2026-11.csv"
    assert attachment.get_content_type() == "text/csv"
    assert attachment.get_content_charset() == "utf-8"
    rows = list(csv.DictReader(io.StringIO(attachment.get_content().lstrip("\ufeff"))))
    assert {r["engineer"]: r["name"] for r in rows} == ENGINEERS
    assert {p.email for p in m.rt.rules.with_role(Role.ENGINEER)} == set(ENGINEERS)
    assert {r["period"] for r in rows} == {"2026-11"}
    assert sum(int(r["resolved"]) for r in rows) == 1


def test_monthly_report_in_chinese_and_to_someone_not_on_the_staff(
        m: Maild, smtp_sink: SmtpSink) -> None:
    add_october(m)
    auditor = "auditor@corp.example"
    assert send(m.rt, month_period(2026, 11, SH), sh(12, 1, 9),
                recipients=["li.lei@corp.example", auditor])
    run_at(m, sh(12, 1, 9))
    [zh] = report_mails(smtp_sink, "li.lei@corp.example", "月报")
    html, images = html_and_images(zh)
    assert "Li Lei，您好" in html and "变化均与 2026-10 相比" in html
    assert "新建" in html and "上期 3" in html and "\u22122<br><span" in html
    assert set(re.findall(r'src="cid:([^"]+)"', html)) == set(images) and len(images) == 2
    assert "每日工单量" in html and "每日处理时长" in html
    for address, name in ENGINEERS.items():
        assert name in html and address not in html
    text = zh.get_body(preferencelist=("plain",))
    assert text is not None and "与 2026-10 相比" in text.get_content()
    [en] = report_mails(smtp_sink, auditor, "monthly")
    html, _ = html_and_images(en)
    assert "Hello" not in html and auditor not in html  # neutral, not "Hello auditor@..."


def test_monthly_report_goes_without_charts_when_they_cannot_be_drawn(
        m: Maild, smtp_sink: SmtpSink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "shadow" / "matplotlib"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('no matplotlib here')\n")
    monkeypatch.setenv("PYTHONPATH", str(broken.parent))  # the chart process finds this one
    assert send(m.rt, month_period(2026, 11, SH), sh(12, 1, 9))
    run_at(m, sh(12, 1, 9))
    [msg] = report_mails(smtp_sink, BOSS, "monthly")
    html = msg.get_body(preferencelist=("html",))
    assert html is not None and "<img" not in html.get_content()
    assert "Opened" in html.get_content() and len(list(msg.iter_attachments())) == 1
