"""The monthly report over many cases: load the facts, count the backlog, compute, time each.

Reuses the search benchmark's database (``casegen``: 1,000,000 cases over two
years, about 41,000 a month). The baseline is the smallest query a report
needs (resolved cases per engineer in the month, one GROUP BY), measured in
the same run. Wall-clock and CPU time are both printed: CPU time is the fairer
number when other work shares the machine (SQLite runs in this process).

    .venv/bin/python benchmarks/report.py --db /tmp/maild-cases.db --month 2026-06
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from casegen import ENGINEERS, generate
from sqlmodel import Session

from maild.core.report import Report, build_report, month_period
from maild.core.sla import Calendar
from maild.db.session import make_engine
from maild.service.reports import load_backlog, load_facts

TZ = ZoneInfo("Asia/Shanghai")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--db", type=Path, default=Path("/tmp/maild-cases.db"))
    ap.add_argument("--month", default="2026-06")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    if not args.db.exists():
        print(f"generated {args.cases:,} cases in {generate(args.db, args.cases):.0f} s")
    year, month = (int(x) for x in args.month.split("-"))
    period = month_period(year, month, TZ)
    engine = make_engine(f"sqlite:///{args.db}")
    from maild.db import migrate

    migrate.upgrade(engine)
    cal = Calendar(TZ)
    load, count, build, cpu = [], [], [], []
    report = None
    for _ in range(args.runs):  # the steps of reporting.make_report, timed one by one
        c0 = time.process_time()
        t0 = time.perf_counter()
        with Session(engine) as s:
            facts = load_facts(s, period)
            t1 = time.perf_counter()
            backlog = load_backlog(s, period.end)
        t2 = time.perf_counter()
        report = build_report(period, facts, ENGINEERS, cal, backlog)
        t3 = time.perf_counter()
        cpu.append(time.process_time() - c0)
        load.append(t1 - t0)
        count.append(t2 - t1)
        build.append(t3 - t2)
    assert report is not None
    raw = sqlite3.connect(args.db)
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    lo, hi = period.start.strftime(fmt), period.end.strftime(fmt)
    base, base_cpu = [], []
    for _ in range(args.runs):
        c0 = time.process_time()
        t0 = time.perf_counter()
        raw.execute("SELECT engineer_email, count(*) FROM cases WHERE resolved_at >= ? AND "
                    "resolved_at < ? GROUP BY engineer_email", (lo, hi)).fetchall()
        base.append(time.perf_counter() - t0)
        base_cpu.append(time.process_time() - c0)
    total = [a + b + c for a, b, c in zip(load, count, build, strict=True)]
    cases = raw.execute("SELECT count(*) FROM cases").fetchone()[0]
    print(f"{cases:,} cases; month {period.label}: {len(facts):,} cases opened, dispatched "
          f"or resolved, {report.total_resolved:,} resolved, {report.open_at_end:,} open at "
          f"the end, {len(report.engineers)} engineers")
    print(f"load facts  p50 {statistics.median(load):.2f} s")
    print(f"backlog SQL p50 {statistics.median(count):.2f} s")
    print(f"compute     p50 {statistics.median(build):.2f} s")
    print(f"total       p50 {statistics.median(total):.2f} s   (target < 2 s); "
          f"CPU time p50 {statistics.median(cpu):.2f} s")
    print(f"baseline GROUP BY p50 {statistics.median(base) * 1000:.0f} ms "
          f"(CPU {statistics.median(base_cpu) * 1000:.0f} ms); "
          f"ratio {statistics.median(total) / statistics.median(base):.0f}x "
          f"(CPU {statistics.median(cpu) / statistics.median(base_cpu):.0f}x)")
    draw = _time_charts(report)
    print(f"charts      {draw[0]:.2f} s the first time (with the matplotlib import), "
          f"{draw[1]:.2f} s after; the mail also loads the month before (load facts and "
          "backlog once more)")
    print(f"load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def _time_charts(report: Report) -> tuple[float, float]:
    """Seconds to draw the monthly mail's two charts: first (importing matplotlib), then again."""
    from maild.service import charts

    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        charts.volume_png(report.days)
        charts.handling_png(report.days)
        times.append(time.perf_counter() - t0)
    return times[0], times[1]


if __name__ == "__main__":
    main()
