"""Generate many realistic cases straight into a migrated maild database (SQLite).

Used by the search and report benchmarks. Cases are written with plain
sqlite3 in large batches (the ORM would take an hour for a million rows), but
into the schema built by maild's own migrations and with the search index
text from ``maild.core.fts.index_text``, exactly as the flush hook writes it.

    .venv/bin/python benchmarks/casegen.py --cases 1000000 --db /tmp/cases.db
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from maild.core.fts import index_text
from maild.db import migrate
from maild.db.session import make_engine

ENGINEERS = [f"eng{i}@corp.example" for i in range(60)]
TYPES = ["printer", "network", "email", "hardware", "account", None]
PLACES_ZH = ["三楼", "二楼", "财务部", "会议室", "前台", "仓库", "车间", "研发部", "人事部",
             "总经办"]
PLACES_EN = ["floor 3", "floor 2", "finance", "meeting room B", "reception", "warehouse",
             "workshop", "R&D", "HR", "the CEO office"]
PROBLEMS_ZH = [
    ("printer", "{p}的打印机卡纸", "{p}的打印机每页都卡纸，{x}，麻烦尽快处理。"),
    ("printer", "硒鼓没粉了", "{p}打印机的硒鼓没粉了，打印出来很淡，{x}。"),
    ("network", "无线网络连不上", "{p}的无线网络连不上，提示密码错误，{x}。"),
    ("network", "VPN 无法连接", "在家用 VPN 连接公司网络失败，错误 809，{x}。"),
    ("email", "邮箱满了", "我的邮箱提示已满，无法接收邮件，{x}。"),
    ("email", "Outlook 一直要求输入密码", "Outlook 每五分钟要求输入一次密码，{x}。"),
    ("hardware", "电脑蓝屏", "电脑开机后经常蓝屏，错误代码 0x0000007B，{x}。"),
    ("hardware", "显示器闪烁", "{p}的第二个显示器一直闪烁，{x}。"),
    ("hardware", "键盘失灵", "键盘有几个键按了没反应，{x}。"),
    ("account", "账号被锁定", "输错密码后账号被锁定了，无法登录系统，{x}。"),
]
PROBLEMS_EN = [
    ("printer", "Printer jams in {p}", "The printer in {p} jams on every page, {x}."),
    ("printer", "Toner empty", "The toner of the {p} printer is empty, prints are faint, {x}."),
    ("network", "Wi-Fi not connecting", "The Wi-Fi in {p} says wrong password, {x}."),
    ("network", "VPN error 809", "The VPN client fails with error 809 from home, {x}."),
    ("email", "Mailbox full", "My mailbox is full and I cannot receive mail, {x}."),
    ("email", "Outlook keeps asking for password", "Outlook asks for my password, {x}."),
    ("hardware", "Laptop blue screen", "My laptop shows a blue screen on start-up, {x}."),
    ("hardware", "Monitor flickers", "The second monitor in {p} flickers, {x}."),
    ("hardware", "Keyboard keys dead", "Some keys on my keyboard do nothing, {x}."),
    ("account", "Account locked", "My account is locked after a wrong password, {x}."),
]
EXTRA_ZH = ["影响工作", "客户在等", "今天下午要用", "已经重启过", "试过换线", "同事也一样", "很急"]
EXTRA_EN = ["it blocks my work", "a customer is waiting", "needed this afternoon",
            "already restarted", "tried another cable", "colleagues see it too", "urgent"]
RESOLUTIONS = {
    "printer": ["更换了硒鼓", "清理了进纸器", "Replaced the toner", "Cleaned the paper feed"],
    "network": ["重装了 VPN 客户端", "更换了网线", "Reinstalled the VPN client",
                "Replaced the cable"],
    "email": ["扩容邮箱到 10 GB", "重建了 Outlook 配置文件", "Raised the mailbox quota",
              "Rebuilt the Outlook profile"],
    "hardware": ["更新了显卡驱动", "更换了键盘", "Updated the display driver",
                 "Replaced the keyboard"],
    "account": ["重置了密码并解锁账号", "Reset the password and unlocked the account"],
}


def _stamp(moment: datetime) -> str:
    """How SQLAlchemy's DateTime stores a (UTC, naive) value on SQLite."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def cases(count: int, seed: int = 7, start: datetime | None = None,
          days: int = 730) -> Iterator[tuple[object, ...]]:
    """Rows (cases columns..., index text), oldest first, spread over ``days``."""
    rnd = random.Random(seed)
    begin = start or datetime(2025, 1, 1, tzinfo=UTC)
    step = days * 86400 / max(count, 1)
    for i in range(count):
        created = begin + timedelta(seconds=i * step + rnd.random() * step)
        zh = rnd.random() < 0.6
        ctype, subject, body = rnd.choice(PROBLEMS_ZH if zh else PROBLEMS_EN)
        place = rnd.choice(PLACES_ZH if zh else PLACES_EN)
        extra = rnd.choice(EXTRA_ZH if zh else EXTRA_EN)
        subject, body = subject.format(p=place), body.format(p=place, x=extra)
        roll = rnd.random()
        status = ("closed" if roll < 0.75 else "resolved" if roll < 0.85 else
                  "in_progress" if roll < 0.93 else "dispatched" if roll < 0.98 else "new")
        engineer = None if status == "new" else rnd.choice(ENGINEERS)
        dispatched = created + timedelta(minutes=rnd.randint(0, 20)) if engineer else None
        first = dispatched + timedelta(minutes=rnd.randint(1, 240)) if dispatched else None
        resolved = closed = resolution = None
        if status in ("resolved", "closed") and first is not None:
            resolved = first + timedelta(minutes=int(rnd.expovariate(1 / 600)) + 5)
            resolution = rnd.choice(RESOLUTIONS[ctype])
            closed = resolved + timedelta(days=rnd.randint(0, 3)) if status == "closed" else None
        rating = rnd.choice([None, 3, 4, 5, 5]) if resolved else None
        handling = int((resolved - created).total_seconds()) if resolved else None
        yield (subject, body, ctype if rnd.random() < 0.9 else None,
               "P" + rnd.choice("12333345"), status,
               "email" if rnd.random() < 0.8 else "phone",
               "zh" if zh else "en", engineer, resolution, rating,
               int(resolution is not None and rnd.random() < 0.05), 0, _stamp(created),
               _stamp(dispatched) if dispatched else None, _stamp(first) if first else None,
               _stamp(resolved) if resolved else None, _stamp(closed) if closed else None,
               handling, _stamp(closed or resolved or first or created),
               index_text(subject, body, resolution))


COLUMNS = ("subject", "description", "type", "priority", "status", "channel", "language",
           "engineer_email", "resolution", "rating", "kb", "rejections", "created_at",
           "dispatched_at", "first_response_at", "resolved_at", "closed_at",
           "handling_seconds", "updated_at")


def generate(db: Path, count: int, seed: int = 7, quiet: bool = False) -> float:
    """Create (or extend) ``db`` with ``count`` cases; returns seconds taken."""
    t0 = time.perf_counter()
    migrate.upgrade(make_engine(f"sqlite:///{db}"))
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA synchronous=OFF")
    first_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM cases").fetchone()[0]
    insert = (f"INSERT INTO cases (id, {', '.join(COLUMNS)}) "
              f"VALUES (?, {', '.join('?' * len(COLUMNS))})")
    batch: list[tuple[object, ...]] = []
    fts: list[tuple[int, str]] = []
    for n, row in enumerate(cases(count, seed), start=first_id):
        batch.append((n, *row[:-1]))
        fts.append((n, str(row[-1])))
        if len(batch) == 20000:
            _flush(conn, insert, batch, fts)
            if not quiet:
                print(f"\r  {n - first_id + 1:,}/{count:,} cases", end="", file=sys.stderr)
    _flush(conn, insert, batch, fts)
    conn.execute("INSERT INTO case_fts(case_fts) VALUES ('optimize')")
    conn.commit()
    conn.close()
    if not quiet:
        print(file=sys.stderr)
    return time.perf_counter() - t0


def _flush(conn: sqlite3.Connection, insert: str, batch: list[tuple[object, ...]],
           fts: list[tuple[int, str]]) -> None:
    conn.executemany(insert, batch)
    conn.executemany("INSERT INTO case_fts(rowid, body) VALUES (?, ?)", fts)
    conn.commit()
    batch.clear()
    fts.clear()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--db", type=Path, default=Path("/tmp/maild-cases.db"))
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    if args.db.exists():
        sys.exit(f"{args.db} exists; remove it first")
    took = generate(args.db, args.cases, args.seed)
    print(f"{args.cases:,} cases in {took:.1f} s -> {args.db} "
          f"({args.db.stat().st_size / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
