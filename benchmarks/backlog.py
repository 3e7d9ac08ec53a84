"""Drain a Dovecot backlog of mixed messages with `maild run --once` (in-process).

Reports messages/s for maild and, measured in the same run on the same
mailbox, for a baseline that only fetches (aioimaplib) and parses
(mail-parser) every message. maild's run ends when every notification is
sent. It also prints maild's CPU per message by stage (fetch, parse,
classify, DB write, render, send). With ``--lmtp`` the same messages are
delivered over LMTP straight to maild's intake (``[lmtp] listen``) by a
client in another process, then the outbox is flushed. With ``--postgres
URL`` maild's store is a throwaway PostgreSQL database made on that server
(dropped at the end), and ``--replicas`` processes (``maild run --once``, 3 by
default) drain the one mailbox together; it reports their aggregate rate and
checks that no message was handled twice (one row per mailbox slot, one
disposition other than ``duplicate`` per Message-ID, one acknowledgement per
case, and as many mails at the sink as outbox rows sent). Usage:

    .venv/bin/python benchmarks/backlog.py [--messages 1000] [--lmtp]
    .venv/bin/python benchmarks/backlog.py --messages 1000 \
        --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test [--replicas 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "benchmarks")]

import aioimaplib  # noqa: E402
import mailparser  # type: ignore[import-untyped]  # noqa: E402
from maildenv import Maild, write_config  # noqa: E402
from mailgen import CUSTOMERS, mixed  # noqa: E402
from servers import Dovecot  # noqa: E402
from sinkproc import SinkProcess  # noqa: E402
from sqlmodel import Session  # noqa: E402

import maild.core.mime  # noqa: E402
from maild import daemon  # noqa: E402
from maild.daemon import Daemon  # noqa: E402
from maild.db.models import Customer, utcnow  # noqa: E402
from maild.edges import lmtp, smtp  # noqa: E402
from maild.edges.imap import parse_fetch  # noqa: E402
from maild.service import intake, notices  # noqa: E402

STAGES = ("fetch", "parse", "classify", "DB write", "render", "send")


class Stages:
    """CPU seconds by stage: the synchronous stages timed with ``thread_time`` in the
    thread that runs them (ingest's worker thread); "DB write" is the rest of ingest
    (reading the facts is "classify"), "send" the outbox phase and "fetch" what is
    left of the process's CPU (IMAP or LMTP, the event loop, moving messages)."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)
        self.lock = threading.Lock()

    def timed(self, stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                with self.lock:
                    self.cpu[stage] += time.thread_time() - t0
        return wrapper

    def install(self) -> None:
        """Wrap the functions of each stage where the code under test looks them up."""
        intake.parse = self.timed("parse", intake.parse)  # type: ignore[assignment]
        intake.read = self.timed("classify", intake.read)  # type: ignore[assignment]
        intake.classify = self.timed("classify", intake.classify)  # type: ignore[assignment]
        notices.render = self.timed("render", notices.render)  # type: ignore[assignment]
        maild.core.mime.build = self.timed("render", maild.core.mime.build)  # type: ignore[assignment]
        daemon.ingest = self.timed("ingest", daemon.ingest)  # type: ignore[assignment]
        daemon.ingest_batch = self.timed("ingest", daemon.ingest_batch)  # type: ignore[assignment]

    def table(self, total_cpu: float, send_cpu: float, messages: int) -> str:
        ingest = self.cpu["ingest"]
        by = {"parse": self.cpu["parse"], "classify": self.cpu["classify"],
              "render": self.cpu["render"], "send": send_cpu,
              "fetch": total_cpu - ingest - send_cpu}
        by["DB write"] = ingest - by["parse"] - by["classify"] - by["render"]
        return "  ".join(f"{k} {by[k] / messages * 1000:.2f}" for k in STAGES)


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


LMTP_CLIENT = """
import smtplib, sys
host, port, paths = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
refused = 0
with smtplib.LMTP(host, port) as lmtp:
    for path in paths:
        with open(path, "rb") as fh:  # on the wire in CRLF lines, as an MTA sends it
            data = fh.read().replace(b"\\r\\n", b"\\n").replace(b"\\n", b"\\r\\n")
            try:
                lmtp.sendmail("sender@example.org", ["helpdesk@corp.example"], data)
            except smtplib.SMTPDataError as exc:
                refused += 1
                print(path, exc, file=sys.stderr)
                lmtp.rset()
print(refused)
"""


async def over_lmtp(maild: Maild, messages: list[bytes],
                    tmp: Path) -> tuple[int, float, int]:
    """Deliver every message to maild's LMTP intake from another process, then flush
    the outbox; (notifications sent, CPU seconds of the flush, messages refused)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from servers import free_port

    port = free_port()
    paths = []
    for i, raw in enumerate(messages):
        path = tmp / f"m{i}.eml"
        path.write_bytes(raw)
        paths.append(str(path))
    rt = maild.rt
    handler = lmtp.Handler(rt.settings.helpdesk.address,
                           lambda raw, now: daemon.ingest(rt, raw, now, None), utcnow)
    server = await lmtp.serve(f"127.0.0.1:{port}", handler)
    client = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LMTP_CLIENT, "127.0.0.1", str(port), *paths,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    out, _ = await client.communicate()
    if client.returncode != 0:
        raise RuntimeError("the LMTP client failed")
    server.close()
    await server.wait_closed()
    c0 = time.process_time()
    sent = await smtp.flush(rt, utcnow, after=daemon.tell_operators)
    return sent.sent, time.process_time() - c0, int(out)


REPLICA_CHECKS = {
    "mailbox slots with more than one row":
        "SELECT count(*) FROM (SELECT source FROM messages GROUP BY source "
        "HAVING count(*) > 1) x",
    "Message-IDs with two dispositions other than duplicate":
        "SELECT count(*) FROM (SELECT message_id FROM messages WHERE disposition "
        "<> 'duplicate' AND message_id IS NOT NULL GROUP BY message_id "
        "HAVING count(*) > 1) x",
    "cases with two acknowledgements":
        "SELECT count(*) FROM (SELECT case_id FROM outbox WHERE template = 'ack' "
        "GROUP BY case_id HAVING count(*) > 1) x",
    "cases with two dispatch mails":
        "SELECT count(*) FROM (SELECT case_id FROM outbox WHERE template = 'dispatch' "
        "GROUP BY case_id HAVING count(*) > 1) x",
}


def replicas(maild: Maild, count: int, sink: SinkProcess, messages: int) -> None:
    """``count`` processes of ``maild run --once`` draining the one mailbox at once."""
    import sqlalchemy as sa

    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH") or str(ROOT)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "maild", "run", "--once", "--config",
                               str(maild.config)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True) for _ in range(count)]
    outs = [p.communicate()[0].strip() for p in procs]
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if any(p.returncode for p in procs):
        raise RuntimeError(f"a replica failed: {outs}")
    left = subprocess.run([sys.executable, "-m", "maild", "outbox", "flush", "--config",
                           str(maild.config)], env=env, capture_output=True, text=True)
    with maild.rt.engine.connect() as conn:
        def one(sql: str) -> int:
            return int(conn.execute(sa.text(sql)).scalar_one())
        rows, sent = one("SELECT count(*) FROM messages"), one(
            "SELECT count(*) FROM outbox WHERE status = 'sent'")
        checks = {name: one(sql) for name, sql in REPLICA_CHECKS.items()}
        by = {d: n for d, n in conn.execute(sa.text(
            "SELECT disposition, count(*) FROM messages GROUP BY disposition"))}
    arrived = sink.wait_for(sent, 60)
    for i, out in enumerate(outs):  # counts include messages another replica recorded
        print(f"  replica {i + 1}: {out}")
    print(f"  after the replicas, `maild outbox flush`: {left.stdout.strip() or 'nothing'}")
    print(f"{count} replicas on PostgreSQL: {rows} msgs in {wall:.2f} s = {rows / wall:.0f} "
          f"msg/s aggregate (incl. sending); CPU of the replicas {cpu / rows * 1000:.2f} "
          f"ms/msg (their start-up included)")
    print(f"  dispositions: {by}")
    print(f"  outbox rows sent {sent}, mails at the sink {arrived} "
          f"({arrived - sent} sent twice)")
    for name, n in checks.items():
        print(f"  {name}: {n}")
    ok = rows == messages and not any(checks.values()) and arrived == sent
    print("no message handled twice: " + ("yes" if ok else "NO"))


def main_postgres(args: argparse.Namespace) -> None:
    """Three replicas (or ``--replicas``) draining one mailbox against PostgreSQL."""
    import databases  # tests/databases.py: a throwaway database, dropped at the end

    os.environ[databases.ENV] = args.postgres
    messages = list(mixed(args.messages))
    with tempfile.TemporaryDirectory() as tmp, Dovecot(Path(tmp) / "dc") as dovecot, \
            SinkProcess(Path(tmp) / "sink.jsonl") as sink:
        try:
            deliver_all(dovecot, messages)
            maild = Maild(write_config(Path(tmp), dovecot.imap_port, sink.port))
            with Session(maild.rt.engine) as s:
                for email, name, company in CUSTOMERS:
                    s.add(Customer(email=email, name=name, company=company,
                                   created_at=utcnow()))
                s.commit()
            t0, c0 = time.perf_counter(), time.process_time()
            parsed = asyncio.run(baseline(dovecot))
            base_s, base_cpu = time.perf_counter() - t0, time.process_time() - c0
            print(f"baseline (fetch + parse):  {parsed} msgs in {base_s:.2f} s = "
                  f"{parsed / base_s:.0f} msg/s; CPU {base_cpu / parsed * 1000:.2f} ms/msg")
            replicas(maild, args.replicas, sink, len(messages))
            maild.rt.engine.dispose()
        finally:
            databases.drop_created()
            databases.drop_template()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--lmtp", action="store_true",
                    help="deliver over LMTP to maild instead of draining the mailbox")
    ap.add_argument("--postgres", metavar="URL",
                    help="a PostgreSQL server (its database is used only to make and drop "
                         "a throwaway one), drained by --replicas processes")
    ap.add_argument("--replicas", type=int, default=3)
    args = ap.parse_args()
    if args.postgres:
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        logging.disable(logging.WARNING)
        main_postgres(args)
        return
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

        stages = Stages()
        stages.install()
        if args.lmtp:
            t0, c0 = time.perf_counter(), time.process_time()
            sent, send_cpu, refused = asyncio.run(over_lmtp(maild, messages, Path(tmp)))
            maild_s, maild_cpu = time.perf_counter() - t0, time.process_time() - c0
            handled, label = len(messages) - refused, "maild over LMTP"
            detail = f"notifications sent: {sent}; refused by the LMTP server: {refused}"
        else:
            t0, c0 = time.perf_counter(), time.process_time()
            stats, send_cpu = asyncio.run(drain_once(maild))
            maild_s, maild_cpu = time.perf_counter() - t0, time.process_time() - c0
            sent, handled, label = stats.outbox.sent, stats.drained.processed, "maild run --once"
            flush_s = stats.outbox_seconds
            detail = (f"of which mailbox {maild_s - flush_s:.2f} s "
                      f"({handled / (maild_s - flush_s):.0f} msg/s), outbox {flush_s:.2f} s "
                      f"({sent / flush_s:.0f} mail/s); "
                      f"dispositions: {stats.drained.by_disposition}")
        arrived = sink.wait_for(sent, 30)
        render_cpu = stages.cpu["render"]
        store_cpu, stored = store_floor(maild, Path(tmp))
        resend_cpu, resent = asyncio.run(send_floor(maild, sink.port))

    base_rate, maild_rate = parsed / base_s, handled / maild_s
    print(f"baseline (fetch + parse):  {parsed} msgs in {base_s:.2f} s = {base_rate:.0f} msg/s")
    print(f"{label + ':':26} {handled} msgs in {maild_s:.2f} s = "
          f"{maild_rate:.0f} msg/s (incl. sending {sent} notifications; the sink got {arrived})")
    print(f"  {detail}")
    print(f"CPU in this process: baseline {base_cpu / parsed * 1000:.2f} ms/msg, "
          f"maild {maild_cpu / handled * 1000:.2f} ms/msg")
    print(f"  maild by stage, ms/msg: {stages.table(maild_cpu, send_cpu, handled)}")
    print(f"ratio maild/baseline: {maild_rate / base_rate:.3f} (wall clock), "
          f"{base_cpu / parsed / (maild_cpu / handled):.3f} (CPU)")
    base_ms = base_cpu / parsed * 1000
    parts = {"fetch + parse (the baseline)": base_ms,
             "render (maild's own stage: Jinja, MIME)": render_cpu / handled * 1000,
             f"store {stored} messages' rows, ORM, no query": store_cpu / handled * 1000,
             f"send {resent} mails again, aiosmtplib": resend_cpu / handled * 1000}
    floor_ms = sum(parts.values())
    print("floor of the stack, CPU ms per message (the least any code on these libraries "
          "does for this mix):")
    for name, ms in parts.items():
        print(f"  {name:50} {ms:6.2f}")
    print(f"  {'floor':50} {floor_ms:6.2f}  -> best CPU ratio on this stack "
          f"{base_ms / floor_ms:.3f}; maild at {maild_cpu / handled * 1000 / floor_ms:.2f}x "
          f"the floor")


def store_floor(maild: Maild, tmp: Path) -> tuple[float, int]:
    """CPU seconds to write, with the ORM of our stack (SQLModel on SQLite, batches of 25
    in one transaction, no query at all, no search index), the rows "nothing lost" asks for: every
    message with its raw bytes, every case, every case log line and every outbox row
    of the run, copied from maild's database into a fresh one built by its migrations.
    The rows are built as maild builds them (``db.rows.new_row``, without SQLModel's
    per-field ``__setattr__``). Returns (CPU seconds, messages)."""
    from sqlalchemy.orm import Session as PlainSession  # none of maild's session hooks
    from sqlmodel import select

    from maild.db import migrate
    from maild.db.models import Case, InboundMessage, LogEntry, OutboxMail
    from maild.db.rows import new_row
    from maild.db.session import make_engine

    engine = make_engine(f"sqlite:///{tmp / 'floor.db'}")
    migrate.upgrade(engine)
    with Session(maild.rt.engine) as s:
        def plain(model: type, exclude: tuple[str, ...] = ()) -> list[dict[str, Any]]:
            return [r.model_dump(exclude={"id", *exclude}) for r in s.exec(select(model))]
        messages = plain(InboundMessage, ("case_id",))
        cases, log = plain(Case, ("follows_id", "problem_id")), plain(LogEntry, ("case_id",))
        outbox = plain(OutboxMail, ("case_id",))
        customers = [r.model_dump() for r in s.exec(select(Customer))]
    with PlainSession(engine) as s:  # the customers are there before, as in maild's run
        s.add_all(Customer(**c) for c in customers)
        s.commit()
    total = len(messages)

    def share(rows: list[dict[str, Any]], start: int, end: int) -> list[dict[str, Any]]:
        """The rows that go with messages ``start:end`` (each table spread evenly)."""
        return rows[len(rows) * start // total:len(rows) * end // total]

    c0 = time.process_time()
    some_case: int | None = None
    for start in range(0, total, 25):
        end = min(start + 25, total)
        with PlainSession(engine) as s:
            s.add_all(new_row(InboundMessage, **row) for row in share(messages, start, end))
            new_cases = [new_row(Case, **row) for row in share(cases, start, end)]
            s.add_all(new_cases)
            s.flush()
            some_case = new_cases[0].id if new_cases else some_case
            s.add_all(new_row(LogEntry, case_id=some_case, **row)
                      for row in share(log, start, end))
            s.add_all(new_row(OutboxMail, **row) for row in share(outbox, start, end))
            s.commit()
    cpu = time.process_time() - c0
    engine.dispose()
    return cpu, len(messages)


async def send_floor(maild: Maild, sink_port: int) -> tuple[float, int]:
    """CPU seconds to send every mail of the run again with aiosmtplib over one
    connection, nothing read or written around it (the sink is another process)."""
    import aiosmtplib
    import sqlalchemy as sa

    with maild.rt.engine.connect() as conn:
        mails = [(json.loads(r) if isinstance(r, str) else list(r), raw)
                 for r, raw in conn.execute(sa.text(
            "SELECT recipients, raw FROM outbox WHERE status = 'sent'"))]
    c0 = time.process_time()
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=sink_port) as client:
        for recipients, raw in mails:
            await client.sendmail(maild.rt.settings.helpdesk.address, recipients, raw)
    return time.process_time() - c0, len(mails)


async def drain_once(maild: Maild) -> tuple[daemon.RunStats, float]:
    """``maild run --once``, and the CPU seconds of its outbox phase."""
    spent = [0.0]
    flush = smtp.flush

    async def timed_flush(*args: Any, **kwargs: Any) -> smtp.FlushStats:
        c0 = time.process_time()
        try:
            return await flush(*args, **kwargs)
        finally:
            spent[0] += time.process_time() - c0

    daemon.smtp.flush = timed_flush  # type: ignore[method-assign]
    try:
        return await Daemon(maild.rt).run_once(), spent[0]
    finally:
        daemon.smtp.flush = flush  # type: ignore[method-assign]


if __name__ == "__main__":
    main()
