"""Latency of one message: LMTP delivery → acknowledgement at the SMTP server, `maild run` idling.

A real Dovecot, the SMTP sink in its own process and ``maild run`` as a
subprocess (IDLE on the inbox). Messages (new cases from known customers,
English and Chinese) are delivered over LMTP at a steady rate; each one
goes to the helpdesk and, in the same LMTP transaction, to a second mailbox
that a plain aioimaplib client watches with IDLE. The baseline is that
client's latency (delivery → the message is seen over IMAP): the floor for
anything that reads mail by IMAP. Usage:

    .venv/bin/python benchmarks/latency.py [--messages 500] [--rate 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import signal
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "benchmarks")]

import aioimaplib  # noqa: E402
from maildenv import HELPDESK, Maild, write_config  # noqa: E402
from mailgen import CUSTOMERS, EN, ZH, _mail  # noqa: E402
from servers import DEFAULT_USERS, Dovecot  # noqa: E402
from sinkproc import SinkProcess  # noqa: E402

from maild.edges.imap import parse_fetch  # noqa: E402

WATCHER = "watcher@corp.example"
_MID = re.compile(rb"<([^>]+)>")


def messages(count: int) -> list[tuple[str, bytes]]:
    """(Message-ID, raw) of ``count`` new-case mails, round robin over the customers."""
    out = []
    for i in range(count):
        sender, name, company = CUSTOMERS[i % len(CUSTOMERS)]
        subject, body = (ZH if company == "上海分公司" else EN)[i % 4]
        raw = _mail(sender, name, subject.format(n=i % 9 + 1), body.format(n=i % 9 + 1),
                    attachment=b"\x89PNG" + bytes(20_000) if i % 10 == 0 else None)
        m = re.search(rb"^Message-ID: <([^>]+)>", raw, re.M | re.I)
        assert m is not None
        out.append((m.group(1).decode(), raw))
    return out


async def _watch(dovecot: Dovecot, seen: dict[str, float], ready: threading.Event,
                 stop: threading.Event) -> None:
    """An IMAP client in IDLE on the watcher's inbox: when is each Message-ID visible?"""
    c = aioimaplib.IMAP4(dovecot.host, dovecot.imap_port, timeout=30)
    await c.wait_hello_from_server()
    await c.login(WATCHER, "secret")
    await c.select("INBOX")
    last = 0
    ready.set()
    while not stop.is_set():
        idle = await c.idle_start(timeout=5)
        with contextlib.suppress(TimeoutError):
            await c.wait_server_push(timeout=1)
        pushed = time.time()
        c.idle_done()
        await asyncio.wait_for(idle, 10)
        res = await c.uid("fetch", f"{last + 1}:*", "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        for uid, header in parse_fetch(res.lines):
            if uid > last:
                last = uid
                m = _MID.search(header)
                if m:
                    seen.setdefault(m.group(1).decode(), pushed)
    await c.logout()


def deliver(lmtp: smtplib.LMTP, raw: bytes) -> None:
    """One LMTP transaction to the helpdesk and the watcher (LMTP answers per recipient)."""
    lmtp.sendmail("sender@example.org", [HELPDESK, WATCHER], raw)
    code, text = lmtp.getreply()  # smtplib reads only the first recipient's answer
    if code != 250:
        raise RuntimeError(f"LMTP refused the watcher's copy: {code} {text!r}")


def quantiles(values: list[float]) -> str:
    if not values:
        return "no data"
    q = statistics.quantiles(values, n=100, method="inclusive")
    return (f"p50 {q[49] * 1000:7.0f} ms  p90 {q[89] * 1000:7.0f} ms  "
            f"p99 {q[98] * 1000:7.0f} ms  max {max(values) * 1000:7.0f} ms")


def acks(sink: SinkProcess) -> dict[str, float]:
    """Message-ID answered → when the answer reached the SMTP server."""
    out: dict[str, float] = {}
    for rec in sink.records():
        m = _MID.search(str(rec["in_reply_to"]).encode())
        if m:
            out.setdefault(m.group(1).decode(), float(str(rec["t"])))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--messages", type=int, default=500)
    ap.add_argument("--rate", type=float, default=10.0, help="messages per second")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # clean up servers on kill
    mails = messages(args.messages + 1)
    users = {**DEFAULT_USERS, WATCHER: "secret"}
    with tempfile.TemporaryDirectory() as tmp, Dovecot(Path(tmp) / "dc", users) as dovecot, \
            SinkProcess(Path(tmp) / "sink.jsonl") as sink:
        maild = Maild(write_config(Path(tmp), dovecot.imap_port, sink.port,
                                   auto_replies_per_hour=1_000_000))
        for email_addr, name, company in CUSTOMERS:
            maild.add_customer(email_addr, name, company)
        log = (Path(tmp) / "maild.log").open("wb")
        proc = subprocess.Popen([sys.executable, "-m", "maild", "run", "--config",
                                 str(maild.config)], stdout=log, stderr=log)
        seen: dict[str, float] = {}
        ready, stop = threading.Event(), threading.Event()
        watcher = threading.Thread(target=lambda: asyncio.run(_watch(dovecot, seen, ready, stop)))
        watcher.start()
        try:
            ready.wait(30)
            with smtplib.LMTP(dovecot.host, dovecot.lmtp_port) as lmtp:
                warm_id, warm = mails[0]
                deliver(lmtp, warm)
                deadline = time.monotonic() + 120
                while warm_id not in acks(sink) and time.monotonic() < deadline:
                    time.sleep(0.2)
                print(f"maild is up (warm-up answered: {warm_id in acks(sink)}); delivering "
                      f"{args.messages} messages at {args.rate}/s")
                delivered: dict[str, float] = {}
                start = time.monotonic()
                for i, (mid, raw) in enumerate(mails[1:]):
                    time.sleep(max(0.0, start + i / args.rate - time.monotonic()))
                    deliver(lmtp, raw)
                    delivered[mid] = time.time()
            deadline = time.monotonic() + 120
            while len(set(delivered) & set(acks(sink))) < len(delivered) and \
                    time.monotonic() < deadline:
                time.sleep(0.5)
        finally:
            stop.set()
            watcher.join(30)
            proc.terminate()
            proc.wait(30)
            log.close()
        answered = acks(sink)
    lat = [answered[m] - t for m, t in delivered.items() if m in answered]
    base = [seen[m] - t for m, t in delivered.items() if m in seen]
    print(f"baseline (IMAP IDLE client sees it): {len(base)}/{len(delivered)}  {quantiles(base)}")
    print(f"maild (acknowledgement at the SMTP server): {len(lat)}/{len(delivered)}  "
          f"{quantiles(lat)}")


if __name__ == "__main__":
    main()
