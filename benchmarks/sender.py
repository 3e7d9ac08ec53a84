"""CPU of the outbox sender per mail sent (``edges.smtp.flush``), nothing else in the run.

Ingests N mixed messages (``benchmarks/mailgen.py``) once into a SQLite file,
then flushes the outbox R times over one connection to an SMTP sink in its own
process (``benchmarks/sinkproc.py``: its CPU is not counted), putting the rows
back to pending between flushes. Prints the CPU of this process (event loop and
worker threads) per mail sent for each flush, and the minimum. Usage:

    .venv/bin/python benchmarks/sender.py [--messages 300] [--rounds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "benchmarks")]

import sqlalchemy as sa  # noqa: E402
from maildenv import Maild, write_config  # noqa: E402
from mailgen import CUSTOMERS, mixed  # noqa: E402
from sinkproc import SinkProcess  # noqa: E402

from maild.db.models import utcnow  # noqa: E402
from maild.edges import smtp  # noqa: E402
from maild.service.intake import ingest_batch  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--messages", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=4)
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    messages = list(itertools.islice(mixed(args.messages), args.messages))
    with tempfile.TemporaryDirectory(prefix="perf-sender") as tmp, \
            SinkProcess(Path(tmp) / "sink.jsonl") as sink:
        m = Maild(write_config(Path(tmp), 1, sink.port))
        for email_addr, name, company in CUSTOMERS:
            m.add_customer(email_addr, name, company)
        items = [(raw, f"INBOX/1/{i}") for i, raw in enumerate(messages)]
        for start in range(0, len(items), 25):
            ingest_batch(m.rt, items[start:start + 25], utcnow)
        with m.rt.engine.begin() as conn:
            rows = conn.execute(sa.text(
                "SELECT id, status, attempts, next_attempt_at FROM outbox")).all()
        per_mail = []
        for r in range(args.rounds):
            with m.rt.engine.begin() as conn:  # every row as ingest left it
                conn.execute(sa.text(
                    "UPDATE outbox SET status = :s, attempts = :a, next_attempt_at = :n, "
                    "sent_at = NULL, last_error = NULL WHERE id = :i"),
                    [{"s": s, "a": a, "n": n, "i": i} for i, s, a, n in rows])
            c0 = time.process_time()
            stats = asyncio.run(smtp.flush(m.rt, utcnow))
            cpu = time.process_time() - c0
            per_mail.append(cpu / stats.sent * 1000)
            print(f"flush {r + 1}: {stats.sent} sent, {stats.deferred} deferred, "
                  f"{stats.failed} failed: {per_mail[-1]:.3f} ms CPU a mail", flush=True)
    print(f"sender: {min(per_mail):.3f} ms CPU per mail sent (minimum of {args.rounds})")


if __name__ == "__main__":
    main()
