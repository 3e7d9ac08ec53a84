"""Search latency over many cases (SQLite FTS5 with CJK bigrams), with a LIKE baseline.

Generates the cases with ``casegen`` unless ``--db`` already holds them, then
times ``maild.db.search.search`` (the code ``maild search`` and ``#search``
run) for common queries, and the old substring scan (``LIKE '%word%'`` over
subject, description and resolution) in the same run as the baseline.

    .venv/bin/python benchmarks/search.py --cases 1000000 --db /tmp/maild-cases.db
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from casegen import generate
from sqlmodel import Session

from maild.db.search import Filters, search, search_resolved
from maild.db.session import make_engine

QUERIES: list[tuple[str, list[str], Filters]] = [
    ("打印机", ["打印机"], Filters()),
    ("硒鼓", ["硒鼓"], Filters()),
    ("蓝屏", ["蓝屏"], Filters()),
    ("vpn", ["vpn"], Filters()),
    ("password", ["password"], Filters()),
    ("outlook 密码", ["outlook", "密码"], Filters()),
    ("打印机 卡纸 (2 words)", ["打印机", "卡纸"], Filters()),
    ("0x0000007B (rare)", ["0x0000007B"], Filters()),
    ("硒鼓 + engineer", ["硒鼓"], Filters(engineer="eng7@corp.example")),
    ("打印机 + status resolved", ["打印机"], Filters(status=("resolved",))),
    ("鼓 (1 char: scan)", ["鼓"], Filters()),
    ("复印机 (no hits)", ["复印机"], Filters()),
    ("打印机 vpn (no hits)", ["打印机", "vpn"], Filters()),
    ("硒鼓 outlook (no hits)", ["硒鼓", "outlook"], Filters()),
    ("账号 + engineer + 2025-06", ["账号"], Filters(
        engineer="eng7@corp.example", since=datetime(2025, 6, 1, tzinfo=UTC),
        until=datetime(2025, 7, 1, tzinfo=UTC))),
]


def timed(fn: Callable[[], object], runs: int) -> tuple[list[float], object]:
    out: object = None
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times, out


def pct(times: list[float], q: float) -> float:
    return statistics.quantiles(times, n=100, method="inclusive")[int(q) - 1] if len(
        times) > 1 else times[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--db", type=Path, default=Path("/tmp/maild-cases.db"))
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    if not args.db.exists():
        took = generate(args.db, args.cases)
        print(f"generated {args.cases:,} cases in {took:.0f} s")
    raw = sqlite3.connect(args.db)
    total = raw.execute("SELECT count(*) FROM cases").fetchone()[0]
    size = raw.execute("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'case_fts%'").fetchone()[0]
    cases_size = raw.execute("SELECT sum(pgsize) FROM dbstat WHERE name = 'cases'").fetchone()[0]
    print(f"{total:,} cases; database {args.db.stat().st_size / 1e6:.0f} MB; search index "
          f"{size / 1e6:.0f} MB (cases table {cases_size / 1e6:.0f} MB)")
    engine = make_engine(f"sqlite:///{args.db}")
    print(f"\n{'query':<28}{'hits':>8}{'p50 ms':>10}{'p95 ms':>10}{'LIKE p50':>10}{'ratio':>8}")
    p50s = []
    like = ("SELECT id FROM cases WHERE " + " AND ".join(
        ["(subject LIKE ? OR description LIKE ? OR coalesce(resolution, '') LIKE ?)"] * 2)
        + " ORDER BY id DESC LIMIT 50")
    with Session(engine) as s:
        for label, words, filters in QUERIES:
            times, found = timed(lambda w=words, f=filters: search(s, w, f, limit=50),  # type: ignore[misc]
                                 args.runs)
            hits = len(found) if isinstance(found, list) else 0
            p50s.append(pct(times, 50))
            line = f"{label:<28}{hits:>8}{pct(times, 50):>10.1f}{pct(times, 95):>10.1f}"
            if filters == Filters():  # the substring scan the index replaced, same words
                terms = [f"%{w}%" for w in (words * 2)[:2]]
                params = [t for t in terms for _ in range(3)]
                base, _ = timed(lambda p=params: raw.execute(like, p).fetchall(),  # type: ignore[misc]
                                3)
                line += f"{pct(base, 50):>10.1f}{pct(base, 50) / pct(times, 50):>7.1f}x"
            print(line)
        times, _ = timed(lambda: search_resolved(s, ["打印机"]), max(5, args.runs // 3))
        print(f"{'#search 打印机 (KB first)':<28}{10:>8}{pct(times, 50):>10.1f}"
              f"{pct(times, 95):>10.1f}")
    print("\nbaseline (LIKE p50): the same words as a substring scan, newest first, limit 50")
    print(f"median p50 over the queries: {statistics.median(p50s):.1f} ms; "
          f"max p50 {max(p50s):.1f} ms (target: p50 < 50 ms)")


if __name__ == "__main__":
    main()
