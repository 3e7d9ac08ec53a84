"""Drain a Dovecot backlog of mixed messages with `maild run --once` (in-process).

Reports messages/s for maild and, measured in the same run on the same
mailbox, for a baseline that only fetches (aioimaplib) and parses
(mail-parser) every message. Usage:

    .venv/bin/python benchmarks/backlog.py [--messages 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import smtplib
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "benchmarks")]

import aioimaplib  # noqa: E402
import mailparser  # type: ignore[import-untyped]  # noqa: E402
from maildenv import Maild, write_config  # noqa: E402
from mailgen import CUSTOMERS, mixed  # noqa: E402
from servers import Dovecot  # noqa: E402
from sinkproc import SinkProcess  # noqa: E402
from sqlmodel import Session  # noqa: E402

from maild.daemon import Daemon  # noqa: E402
from maild.db.models import Customer, utcnow  # noqa: E402
from maild.edges.imap import parse_fetch  # noqa: E402


def deliver_all(dovecot: Dovecot, messages: list[bytes]) -> None:
    with smtplib.LMTP(dovecot.host, dovecot.lmtp_port) as lmtp:
        for raw in messages:
            lmtp.sendmail("sender@example.org", ["helpdesk@corp.example"], raw)


async def baseline(dovecot: Dovecot) -> int:
    """Fetch every message by UID and parse it: the floor any IMAP consumer pays."""
    client = aioimaplib.IMAP4(dovecot.host, dovecot.imap_port, timeout=60)
    await client.wait_hello_from_server()
    await client.login("helpdesk@corp.example", "secret")
    await client.select("INBOX")
    res = await client.uid_search("ALL", charset=None)
    uids = [int(x) for line in res.lines[:-1] for x in bytes(line).split() if x.isdigit()]
    done = 0
    for start in range(0, len(uids), 25):
        chunk = ",".join(map(str, uids[start:start + 25]))
        got = await client.uid("fetch", chunk, "(UID BODY.PEEK[])")
        for _uid, raw in parse_fetch(got.lines):
            mailparser.parse_from_bytes(raw)
            done += 1
    await client.logout()
    return done


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--messages", type=int, default=1000)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # clean up servers on kill
    logging.disable(logging.WARNING)  # the per-sender answer limit warns once per message
    messages = list(mixed(args.messages))
    with tempfile.TemporaryDirectory() as tmp, Dovecot(Path(tmp) / "dc") as dovecot, \
            SinkProcess(Path(tmp) / "sink.jsonl") as sink:
        t0 = time.perf_counter()
        deliver_all(dovecot, messages)
        print(f"delivered {len(messages)} messages over LMTP in {time.perf_counter() - t0:.1f} s")
        maild = Maild(write_config(Path(tmp), dovecot.imap_port, sink.port))
        with Session(maild.rt.engine) as s:
            for email, name, company in CUSTOMERS:
                s.add(Customer(email=email, name=name, company=company, created_at=utcnow()))
            s.commit()

        t0, c0 = time.perf_counter(), time.process_time()
        parsed = asyncio.run(baseline(dovecot))
        base_s, base_cpu = time.perf_counter() - t0, time.process_time() - c0

        t0, c0 = time.perf_counter(), time.process_time()
        stats = asyncio.run(Daemon(maild.rt).run_once())
        maild_s, maild_cpu = time.perf_counter() - t0, time.process_time() - c0
        flush_s = stats.outbox_seconds
        arrived = sink.wait_for(stats.outbox.sent, 30)

    base_rate, maild_rate = parsed / base_s, stats.drained.processed / maild_s
    print(f"baseline (fetch + parse):  {parsed} msgs in {base_s:.2f} s = {base_rate:.0f} msg/s")
    print(f"maild run --once:          {stats.drained.processed} msgs in {maild_s:.2f} s = "
          f"{maild_rate:.0f} msg/s (incl. sending {stats.outbox.sent} notifications)")
    print(f"  of which mailbox {maild_s - flush_s:.2f} s "
          f"({stats.drained.processed / (maild_s - flush_s):.0f} msg/s), "
          f"outbox {flush_s:.2f} s ({stats.outbox.sent / flush_s:.0f} mail/s)")
    print(f"dispositions: {stats.drained.by_disposition}; the sink got {arrived} mails")
    print(f"CPU in this process: baseline {base_cpu / parsed * 1000:.2f} ms/msg, "
          f"maild {maild_cpu / stats.drained.processed * 1000:.2f} ms/msg")
    print(f"ratio maild/baseline: {maild_rate / base_rate:.3f} (wall clock), "
          f"{base_cpu / parsed / (maild_cpu / stats.drained.processed):.3f} (CPU)")


if __name__ == "__main__":
    main()
