"""``maild demo``: the whole loop on an embedded mail server, printed as a timeline.

It starts the in-memory IMAP + SMTP server (``maild.mailserver``), a
temporary SQLite database and the shipped ``rules/`` and ``templates/``,
then plays a conversation through the real daemon code: customers write in
(one in Chinese), engineers reply with tags above the quoted dispatch mail
(whose example tags must not act), a customer confirms, and the call centre
takes a call, writing its summary to its personal helpdesk address. A customer
complains (投诉) after her case is closed, the customer-service supervisor closes
the complaint, and the follow-up survey the scheduler sends her is answered. A
printer fault goes up the support lines (rules/lines.toml): the site engineer
escalates it to the line-2 specialist, who escalates it to the printer vendor, who
answers the customer and resolves it through its own case address.
Nothing here is special-cased in maild: the demo only sends mail, calls
``run_once`` and, once, the scheduler's survey job.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from sqlmodel import Session, select

from maild.config import Settings, load_settings
from maild.daemon import Daemon
from maild.db import migrate
from maild.db.models import Case, Complaint, Customer, LogEntry, Survey, utcnow
from maild.mailserver import AUTO_PASSWORD, Delivery, LocalMailServer
from maild.resources import shipped_dir
from maild.runtime import Runtime, database
from maild.service.notices import personal_address

HELPDESK = "helpdesk@corp.example"
HELPDESK_PASSWORD = "helpdesk"
VENDOR = "support@printco.example"  # line 3 for printers (rules/lines.toml)
CUSTOMERS = (
    ("王芳", "wang.fang@sh.corp.example", "上海分公司", "E1001"),
    ("Tom Brown", "tom.brown@uk.corp.example", "London Office", "E2001"),
)


@dataclass(frozen=True)
class Step:
    """One thing a person does: write a new mail, or reply to the last mail they got."""

    who: str
    text: str
    subject: str | None = None  # set: a new mail; None: a reply
    personal: bool = False  # a new mail to the writer's personal helpdesk address (staff)
    job: bool = False  # not a mail: the scheduler's follow-up survey job runs now


SCRIPT = (
    Step("wang.fang@sh.corp.example",
         "您好，三楼的HP打印机一直卡纸，打印任何文件都提示“卡纸”，已经试过重启，还是不行。\n"
         "麻烦尽快派人看一下，谢谢！\n\n王芳\n上海分公司 财务部",
         subject="三楼打印机卡纸，无法打印"),
    Step("tom.brown@uk.corp.example",
         "Hi, my laptop cannot connect to the VPN since this morning (error 809).\n\nTom",
         subject="VPN not connecting"),
    Step("li.lei@corp.example", "#inprogress 已到现场，搓纸轮磨损，等待备件"),
    Step("john.smith@corp.example", "#resolve Reset the VPN profile; connection works again."),
    Step("li.lei@corp.example", "#resolve 更换了搓纸轮，测试打印正常。\n#log 备件来自上海仓库"),
    Step("wang.fang@sh.corp.example", "确认，谢谢！"),
    # she complains on the closed case; the supervisor and the engineer are told
    Step("wang.fang@sh.corp.example", "投诉：工程师第一次上门迟到了两个小时，下午才来。"),
    Step("cs-lead@corp.example", "#log 已电话联系王芳致歉\n"
         "#complaint-close 已致歉；提醒李雷按约定时间上门"),
    # a case with a complaint is always asked in the follow-up survey (回访)
    Step("maild", "follow-up survey", job=True),
    Step("wang.fang@sh.corp.example", "4分 问题解决了，希望下次准时一些"),
    Step("tom.brown@uk.corp.example", "Confirm - works again, thanks."),
    Step("tom.brown@uk.corp.example", "5"),
    # the call centre takes a call; it writes to its personal address, which proves to
    # maild that the summary is the operator's (a From: line alone proves nothing)
    Step("callcenter@corp.example",
         "Employee: E2001\nName: Tom Brown\nPhone: +44 20 7946 0001\n"
         "Description: Outlook asks for the password again and again.\n",
         subject="Phone call: Outlook password prompts", personal=True),
    Step("john.smith@corp.example", "#resolve Cleared the cached credentials."),
    Step("tom.brown@uk.corp.example", "Confirm, thanks."),
    # support lines: site engineer (line 1) → specialist (line 2) → the vendor (line 3)
    Step("wang.fang@sh.corp.example", "五楼的打印机打印出来全是空白页，换了纸也一样。\n\n王芳",
         subject="五楼打印机打印空白页"),
    Step("han.meimei@corp.example",
         "#log Replaced the toner cartridge: still blank pages.\n"
         "#escalate Not the toner; the laser unit may be faulty."),
    Step("wang.qiang@corp.example",
         "#log 远程查看了打印机日志：激光扫描单元报错\n"
         "#escalate 激光扫描单元故障，需要厂商更换"),
    Step(VENDOR, "#log Engineer booked for tomorrow 09:00.\n"
         "#reply Our engineer will replace the laser scanner unit tomorrow at 09:00."),
    Step(VENDOR, "#resolve Replaced the laser scanner unit; test pages print correctly."),
    Step("wang.fang@sh.corp.example", "确认，谢谢！"),
)


def demo_settings(workdir: Path, imap_port: int, smtp_port: int, host: str) -> Settings:
    data = {
        "helpdesk": {"address": HELPDESK, "name": "IT Helpdesk", "language": "en",
                     "timezone": "Asia/Shanghai", "unknown_senders": "hold",
                     "secret": secrets.token_hex(16)},
        "database": {"url": f"sqlite:///{workdir / 'maild.db'}"},
        "imap": {"host": host, "port": imap_port, "security": "none", "username": HELPDESK,
                 "password": HELPDESK_PASSWORD, "poll_seconds": 5},
        "smtp": {"host": host, "port": smtp_port, "security": "none"},
        "paths": {"rules": str(shipped_dir("rules")), "templates": str(shipped_dir("templates")),
                  "store": str(workdir / "store")},
        # no sampling, at once: only the case with a complaint is asked, during the demo
        "survey": {"sample": 0.0, "after_hours": 0},
    }
    return load_settings(data, workdir / "config.toml")


def add_customers(rt: Runtime) -> None:
    with Session(rt.engine) as s:
        for name, email, company, employee_id in CUSTOMERS:
            s.add(Customer(name=name, email=email, company=company, employee_id=employee_id,
                           created_at=utcnow()))
        s.commit()


def _body(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def compose(step: Step, server: LocalMailServer, rt: Runtime) -> EmailMessage:
    """A new mail, or a reply (tags on top, the received mail quoted below)."""
    msg = EmailMessage()
    msg["From"] = step.who
    msg["Message-ID"] = make_msgid(domain=step.who.split("@")[1])
    if step.subject is not None:
        to = personal_address(rt, step.who) if step.personal else HELPDESK
        msg["To"], msg["Subject"] = to, step.subject
        msg.set_content(step.text)
        return msg
    last = next(d for d in reversed(server.deliveries) if step.who in d.rcpt_tos)
    got = message_from_bytes(last.data, policy=policy.default)
    assert isinstance(got, EmailMessage)
    msg["To"] = str(got["Reply-To"] or got["From"])
    msg["Subject"] = "Re: " + str(got["Subject"])
    msg["In-Reply-To"] = got["Message-ID"]
    msg["References"] = got["Message-ID"]
    quoted = "\n".join("> " + line for line in _body(got).splitlines())
    msg.set_content(f"{step.text}\n\nOn {got['Date']}, {got['From']} wrote:\n{quoted}\n")
    return msg


def _subject(d: Delivery) -> str:
    msg = message_from_bytes(d.data, policy=policy.default)
    return str(msg["Subject"] or "")


def timeline(rt: Runtime, server: LocalMailServer, start: datetime) -> list[str]:
    """Mails and status changes in the order they happened."""
    events: list[tuple[datetime, str]] = []
    for d in server.deliveries:
        events.append((d.at, f"mail    {d.mail_from} → {', '.join(d.rcpt_tos)}\n"
                              f"{'':20}“{_subject(d)}”"))
    with Session(rt.engine) as s:
        kinds = ("created", "assign", "status", "resolution", "close", "reopen", "rating",
                 "complaint", "survey", "followup", "escalate")
        for e in s.exec(select(LogEntry).where(LogEntry.kind.in_(kinds))):  # type: ignore[attr-defined]
            events.append((e.at, f"case #{e.case_id} {e.kind}: {e.text.splitlines()[0][:70]}"))
    events.sort(key=lambda x: x[0])
    return [f"  +{(at - start).total_seconds():6.2f}s  {text}" for at, text in events]


async def play(rt: Runtime, server: LocalMailServer, out: list[str]) -> bool:
    """Run the script through the real daemon; True when every case ended closed."""
    import aiosmtplib

    from maild.service import surveys

    daemon = Daemon(rt)
    for step in SCRIPT:
        if step.job:
            asked = await asyncio.to_thread(surveys.send_due, rt, utcnow())
            expected = len(server.deliveries)
            stats = await daemon.run_once()
            await server.wait_for_deliveries(expected + stats.outbox.sent)
            out.append(f"  · the scheduler's survey job asked {asked} case(s)")
            continue
        expected = len(server.deliveries) + 1
        msg = compose(step, server, rt)
        await aiosmtplib.send(msg, hostname="127.0.0.1", port=server.smtp_port)
        await server.wait_for_deliveries(expected)
        stats = await daemon.run_once()
        await server.wait_for_deliveries(expected + stats.outbox.sent)
        out.append(f"  · {step.who} {'wrote' if step.subject else 'replied'}: "
                   f"{step.text.splitlines()[0][:60]} → {stats.drained.by_disposition}")
    with Session(rt.engine) as s:
        statuses = [c.status for c in s.exec(select(Case))]
    return bool(statuses) and all(st == "closed" for st in statuses)


def _complaints_and_survey(s: Session, case_id: int) -> None:
    for c in s.exec(select(Complaint).where(Complaint.case_id == case_id)):
        print(f"  complaint ({c.category}, {c.status}): {c.text}"
              + (f" → {c.outcome}" if c.outcome else ""))
    for v in s.exec(select(Survey).where(Survey.case_id == case_id)):
        print(f"  follow-up survey: score {v.score}, “{v.comment or ''}”")


async def _demo(serve: bool, host: str) -> int:
    with tempfile.TemporaryDirectory(prefix="maild-demo-") as tmp:
        workdir = Path(tmp)
        async with LocalMailServer({HELPDESK: HELPDESK_PASSWORD}, host=host) as server:
            settings = demo_settings(workdir, server.imap_port, server.smtp_port, host)
            engine = database(settings)
            migrate.upgrade(engine)
            rt = Runtime.load(settings, engine)
            rt.sync_directory()
            add_customers(rt)
            start = utcnow()
            print(f"maild demo: embedded IMAP on {host}:{server.imap_port}, "
                  f"SMTP on {host}:{server.smtp_port}, database {settings.database.url}\n")
            steps: list[str] = []
            ok = await play(rt, server, steps)
            print("What people did:")
            print("\n".join(steps))
            print("\nTimeline (mail delivered and case changes):")
            print("\n".join(timeline(rt, server, start)))
            with Session(rt.engine) as s:
                for case in s.exec(select(Case)):
                    print(f"\nCase #{case.id} “{case.subject}”: {case.status}, {case.kind}, "
                          f"line {case.line}, engineer {case.engineer_email}, "
                          f"handling {case.handling_seconds} s, rating {case.rating}")
                    _complaints_and_survey(s, case.id or 0)
            print("\n" + ("All cases resolved and closed." if ok else "Some case is NOT closed."))
            if serve:
                await _serve(rt, server, host, start)
            return 0 if ok else 1


async def _serve(rt: Runtime, server: LocalMailServer, host: str, start: datetime) -> None:
    for user in ("li.lei@corp.example", "han.meimei@corp.example", "john.smith@corp.example",
                 "wang.qiang@corp.example", VENDOR):
        await server.add_user(user, AUTO_PASSWORD)
    logins = "\n".join(f"  {user:<34} {AUTO_PASSWORD}" for user in sorted(server.users)
                       if user != HELPDESK)
    print(f"""
Serving until Ctrl-C. Join in with a mail client (no TLS, plain passwords):
  IMAP  {host}:{server.imap_port}    SMTP  {host}:{server.smtp_port} (no SMTP login)
IMAP logins (user / password):
{logins}
  any other address gets a mailbox, password {AUTO_PASSWORD}, with its first mail
  ({HELPDESK} / {HELPDESK_PASSWORD} is the mailbox maild itself reads: leave it to maild)
Send a new mail to {HELPDESK} from wang.fang@sh.corp.example, e.g.:
  swaks --server {host}:{server.smtp_port} --from wang.fang@sh.corp.example \\
        --to {HELPDESK} --header 'Subject: 显示器不亮' --body '办公室的显示器不亮了'
Engineers work a case by replying to their dispatch mail (its Reply-To is their own
address for the case) with tags such as "#inprogress" or "#resolve replaced the cable".
Support lines (rules/lines.toml): "#escalate <why>" from the engineer of a printer,
network, e-mail or hardware case passes it to Wang Qiang (wang.qiang@corp.example,
line 2); his "#escalate" on a printer case passes it to the vendor {VENDOR}
(line 3), who may answer with #log, #reply and #resolve, nothing else.

What happens from now on, as it happens:""", flush=True)
    daemon = Daemon(rt)
    loop = asyncio.get_running_loop()
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, daemon.stopping.set)
    watcher = asyncio.create_task(_follow(rt, server, start, daemon.stopping))
    try:
        await daemon.run()
    finally:
        watcher.cancel()


async def _follow(rt: Runtime, server: LocalMailServer, start: datetime,
                  stopping: asyncio.Event, every: float = 0.5) -> None:
    """Print each new timeline line (a mail delivered, a case change) as it happens."""
    shown = set(timeline(rt, server, start))
    while not stopping.is_set():
        await asyncio.sleep(every)
        lines = await asyncio.to_thread(timeline, rt, server, start)
        for line in lines:
            if line not in shown:
                shown.add(line)
                print(line, flush=True)


def run_demo(serve: bool = False, host: str = "127.0.0.1") -> int:
    try:
        return asyncio.run(_demo(serve, host))
    except FileNotFoundError as exc:
        print(f"maild demo: {exc}", file=sys.stderr)
        return 2
