"""Does ingest keep Python objects? tracemalloc over a long run of `service.ingest`.

`memory.py` watches a daemon's RSS, which also holds what Python does not
track: SQLite's page cache (up to 2 MB per pooled connection, filling as the
database grows) and the allocator's free lists. This script asks the narrower
question: after a warm-up, does maild's *Python heap* grow with the number of
messages? Beside it, SQLite's own count of the memory it holds
(``sqlite3_memory_used``, mostly page caches) shows where the rest goes.
The mixed stream is generated before tracing starts (the generator keeps
every message for its duplicate deliveries, which would look like a leak);
then every message goes through ``service.ingest`` on a SQLite file,
and the traced heap is printed every ``--every`` messages, with the source
lines that grew most between the end of the warm-up and the end. Usage:

    .venv/bin/python benchmarks/heap.py [--messages 10000] [--warmup 2000]
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "benchmarks")]

from maildenv import Maild, write_config  # noqa: E402
from mailgen import CUSTOMERS, mixed  # noqa: E402
from sqlmodel import Session  # noqa: E402
from traced import sqlite_memory_mb  # noqa: E402

from maild.db.models import Customer, utcnow  # noqa: E402
from maild.service import intake as service  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--warmup", type=int, default=2000)
    ap.add_argument("--every", type=int, default=1000)
    args = ap.parse_args()
    logging.disable(logging.WARNING)  # the per-sender answer limit logs once per message
    messages = list(mixed(args.messages))
    with tempfile.TemporaryDirectory() as tmp:
        maild = Maild(write_config(Path(tmp), 1, 1))  # SMTP is not used: ingest only
        with Session(maild.rt.engine) as s:
            for email, name, company in CUSTOMERS:
                s.add(Customer(email=email, name=name, company=company, created_at=utcnow()))
            s.commit()
        tracemalloc.start(1)
        started, warm, rows = time.perf_counter(), None, []
        print(f"{'messages':>9} {'python heap MB':>15} {'SQLite MB':>10} {'RSS MB':>7} {'s':>6}")
        for i, raw in enumerate(messages, 1):
            service.ingest(maild.rt, raw, utcnow(), source=f"bench:{i}")
            messages[i - 1] = b""  # the caller's copy goes; only maild's objects remain
            if i % args.every == 0:
                gc.collect()
                heap = tracemalloc.get_traced_memory()[0] / 2**20
                rows.append((i, heap))
                print(f"{i:9d} {heap:15.2f} {sqlite_memory_mb():10.2f} {rss_mb():7.1f} "
                      f"{time.perf_counter() - started:6.0f}", flush=True)
            if i == args.warmup:
                gc.collect()
                warm = tracemalloc.take_snapshot()
        gc.collect()
        end = tracemalloc.take_snapshot()
    after = [(i, h) for i, h in rows if i >= args.warmup]
    if warm is None or len(after) < 2:
        sys.exit("run more messages than --warmup")
    (i0, h0), (i1, h1) = after[0], after[-1]
    print(f"\npython heap from message {i0:,} to {i1:,}: {h0:.2f} -> {h1:.2f} MB "
          f"({(h1 - h0) * 2**20 / (i1 - i0):+.0f} bytes per message)")
    print("source lines that grew most over that stretch:")
    for stat in end.compare_to(warm, "lineno")[:8]:
        print(f"  {stat}")


if __name__ == "__main__":
    main()
