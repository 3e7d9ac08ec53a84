"""Look at the managers' reports as people see them: demo-like data → real mails → screenshots.

Makes a helpdesk with six engineers (English and Chinese names) and two
months of cases (October and November 2026, Shanghai time), queues the
monthly and daily reports through ``maild.service.reports.send`` exactly as the
scheduler does, takes the HTML part out of each queued mail, turns its
``cid:`` images into ``data:`` URIs (a browser does not know the mail's
other parts) and, if Debian's ``chromium`` is installed, screenshots each at
a phone's 400 px and a desktop's 1200 px width.

    .venv/bin/python benchmarks/report_preview.py --out /tmp/report-preview [--lang zh]

``demo_runtime`` and ``add_cases`` are reused by tests/test_reports.py.
"""

from __future__ import annotations

import argparse
import base64
import email
import email.policy
import random
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from maild.config import load_settings
from maild.core.report import day_period, month_period
from maild.db import migrate
from maild.db.models import Case, OutboxMail
from maild.resources import shipped_dir
from maild.runtime import Runtime, database
from maild.service.reports import send

SH = ZoneInfo("Asia/Shanghai")
MANAGER = ("it-manager@corp.example", "IT Manager")
ENGINEERS = (
    ("li.lei@corp.example", "Li Lei"), ("han.meimei@corp.example", "Han Meimei"),
    ("john.smith@corp.example", "John Smith"), ("wang.jianguo@corp.example", "王建国"),
    ("chen.jing@corp.example", "陈静"), ("priya.nair@corp.example", "Priya Nair"),
)
TYPES = ("printer", "network", "email", "hardware", "account", None)


def _staff(language: str) -> str:
    """A staff.toml with the engineers above and the manager reading ``language``."""
    out = ['incident_manager = "im@corp.example"\n']
    for addr, name in ENGINEERS:
        out.append(f'[[engineers]]\nemail = "{addr}"\nname = "{name}"\n')
    out.append(f'[[managers]]\nemail = "{MANAGER[0]}"\nname = "{MANAGER[1]}"\n'
               f'language = "{language}"\n')
    return "\n".join(out)


def demo_runtime(workdir: Path, language: str = "en", database_url: str | None = None) -> Runtime:
    """A migrated helpdesk under ``workdir`` with the shipped rules but six engineers."""
    rules = workdir / "rules"
    shutil.copytree(shipped_dir("rules"), rules, dirs_exist_ok=True)
    (rules / "staff.toml").write_text(_staff(language), encoding="utf-8")
    data = {
        "helpdesk": {"address": "helpdesk@corp.example", "name": "IT Helpdesk",
                     "language": "en", "timezone": "Asia/Shanghai", "secret": "0" * 32},
        "database": {"url": database_url or f"sqlite:///{workdir / 'maild.db'}"},
        "imap": {"host": "127.0.0.1", "username": "helpdesk@corp.example", "password": "x"},
        "smtp": {"host": "127.0.0.1"},
        "paths": {"rules": str(rules), "templates": str(shipped_dir("templates")),
                  "store": str(workdir / "store")},
        "reports": {"recipients": [MANAGER[0]]},
    }
    settings = load_settings(data, workdir / "config.toml")
    engine = database(settings)
    migrate.upgrade(engine)
    return Runtime.load(settings, engine)


def add_cases(rt: Runtime, start: datetime, days: int, per_day: int, seed: int = 21) -> int:
    """About ``per_day`` cases a day from ``start``, spread over the engineers unevenly
    (some resolve more and faster than others); returns how many were added."""
    rnd = random.Random(seed)
    weights = [5, 4, 3, 3, 2, 1][:len(ENGINEERS)]
    speed = [3.0, 5.0, 4.0, 8.0, 6.0, 12.0][:len(ENGINEERS)]  # mean hours to resolve
    n = 0
    with Session(rt.engine) as s:
        for day in range(days):
            weekend = (start + timedelta(days=day)).weekday() >= 5
            mean = per_day / 5 if weekend else per_day
            for _ in range(max(0, int(rnd.gauss(mean, mean / 4)))):
                created = start + timedelta(days=day, hours=8 + rnd.random() * 11)
                who = rnd.choices(range(len(ENGINEERS)), weights)[0]
                dispatched = created + timedelta(minutes=rnd.randint(1, 30))
                took = timedelta(hours=rnd.expovariate(1 / speed[who]))
                resolved = dispatched + took if rnd.random() < 0.9 else None
                due = dispatched + timedelta(hours=8)
                s.add(Case(
                    subject="case", description="demo", type=rnd.choice(TYPES), priority="P3",
                    status="closed" if resolved else "in_progress", channel="email",
                    engineer_email=ENGINEERS[who][0], created_at=created.astimezone(UTC),
                    dispatched_at=dispatched.astimezone(UTC),
                    first_response_at=dispatched.astimezone(UTC),
                    resolved_at=resolved.astimezone(UTC) if resolved else None,
                    closed_at=resolved.astimezone(UTC) if resolved else None,
                    rating=rnd.choice((None, 3, 4, 5, 5)) if resolved else None,
                    resolution_due=due.astimezone(UTC), updated_at=created.astimezone(UTC)))
                n += 1
        s.commit()
    return n


def queued_reports(rt: Runtime) -> list[EmailMessage]:
    """The report mails in the outbox, parsed, oldest first."""
    with Session(rt.engine) as s:
        rows = s.exec(select(OutboxMail).where(OutboxMail.template == "report")
                      .order_by(col(OutboxMail.id))).all()
        raws = [r.raw for r in rows]
    return [email.message_from_bytes(raw, policy=email.policy.default)
            for raw in raws]


def browser_html(msg: EmailMessage) -> str:
    """The mail's HTML with each ``cid:`` image swapped for a ``data:`` URI of its bytes."""
    html = ""
    images: dict[str, bytes] = {}
    for part in msg.walk():
        if part.get_content_type() == "text/html":
            html = str(part.get_content())
        elif part["Content-ID"]:
            images[str(part["Content-ID"]).strip("<>")] = part.get_content()
    for cid, png in images.items():
        html = html.replace(f"cid:{cid}",
                            "data:image/png;base64," + base64.b64encode(png).decode("ascii"))
    return html


def screenshot(page: Path, width: int) -> Path | None:
    """``page`` rendered by headless Chromium at ``width`` px; None without chromium."""
    chromium = shutil.which("chromium")
    if chromium is None:
        return None
    out = page.with_name(f"{page.stem}-{width}.png")
    subprocess.run([chromium, "--headless", "--no-sandbox", "--hide-scrollbars",
                    f"--screenshot={out}", f"--window-size={width},2600", page.as_uri()],
                   check=True, capture_output=True, timeout=120)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("/tmp/report-preview"))
    ap.add_argument("--lang", default="en", choices=("en", "zh"))
    args = ap.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    rt = demo_runtime(args.out, args.lang)
    added = add_cases(rt, datetime(2026, 10, 1, tzinfo=SH), 61, 14)
    print(f"{added} cases in October and November 2026", file=sys.stderr)
    now = datetime(2026, 12, 1, 8, 5, tzinfo=SH)
    for period in (month_period(2026, 11, SH), day_period(now.date() - timedelta(days=1), SH)):
        send(rt, period, now)
    for msg in queued_reports(rt):
        kind = "monthly" if "monthly" in str(msg["Subject"]) or "月报" in str(msg["Subject"]) \
            else "daily"
        page = args.out / f"{kind}-{args.lang}.html"
        page.write_text(browser_html(msg), encoding="utf-8")
        print(f"{page}  {len(msg.as_bytes()):,} bytes of mail", file=sys.stderr)
        for width in (400, 1200):
            shot = screenshot(page, width)
            if shot:
                print(f"  {shot}", file=sys.stderr)


if __name__ == "__main__":
    main()
