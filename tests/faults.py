"""Helpers for the fault tests: real ``maild`` processes, bulk LMTP delivery, sink tallies.

Why subprocesses: a crash test must kill a real ``maild run`` (SIGKILL, no
clean-up), and a memory bound must be read from a process of its own
(``VmHWM`` in /proc/PID/status is the peak resident set of that process).
"""

from __future__ import annotations

import email.policy
import os
import re
import signal
import smtplib
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from pathlib import Path

from servers import Dovecot, SinkMessage

from maild.config import read_config

MAILD = [sys.executable, "-m", "maild"]
_CASE = re.compile(r"\[Case #(\d+)\]")


def tune_config(config: Path, section: str, **keys: object) -> None:
    """Add keys to one [section] of a config written by maildenv.write_config."""
    text = config.read_text(encoding="utf-8")
    lines = "".join(f"\n{k} = {v!r}".replace("'", '"').replace("True", "true")
                    .replace("False", "false") for k, v in keys.items())
    header = f"[{section}]"
    if header in text:
        text = text.replace(header, header + lines, 1)
    else:
        text += f"{header}{lines}\n"
    config.write_text(text, encoding="utf-8")


def deliver_many(dovecot: Dovecot, mails: Iterable[tuple[str, bytes]]) -> int:
    """Deliver (sender, raw) pairs over one LMTP session, as a busy MTA would."""
    n = 0
    with smtplib.LMTP(dovecot.host, dovecot.lmtp_port, timeout=30) as lmtp:
        for sender, raw in mails:
            lmtp.sendmail(sender, [dovecot.default_user], raw)
            n += 1
    return n


@dataclass
class MaildProcess:
    """One ``maild`` subprocess with its stderr kept in a file (read after it ends)."""

    config: Path
    args: list[str]
    log: Path
    proc: subprocess.Popen[bytes] = field(init=False)

    def __post_init__(self) -> None:
        with open(self.log, "ab") as err:
            self.proc = subprocess.Popen(
                [*MAILD, *self.args, "--config", str(self.config)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill9(self) -> None:
        """SIGKILL: no handler runs, no transaction is finished, no socket closed politely."""
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM and wait; SIGKILL only if it hangs (then the test sees the return code)."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def maild_run(config: Path, log: Path) -> MaildProcess:
    return MaildProcess(config, ["run"], log)


def sqlite_path(config: Path) -> Path:
    return config.parent / "maild.db"


def db_count(config: Path, sql: str, *params: object) -> int:
    """One number from the maild database, read with a plain connection of its own (as
    another process would): sqlite3 on the SQLite file, or psycopg on the PostgreSQL
    database the config names (the PostgreSQL pass). ``?`` marks parameters."""
    url = read_config(config).database.url
    if url.startswith("sqlite"):
        con = sqlite3.connect(sqlite_path(config), timeout=30)
        try:
            return int(con.execute(sql, params).fetchone()[0])
        finally:
            con.close()
    import psycopg
    from sqlalchemy.engine import make_url

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as pg:
        query = sql.replace("%", "%%").replace("?", "%s")
        row = pg.execute(query, params).fetchone()  # type: ignore[arg-type]
        assert row is not None
        return int(row[0])


def wait_until(check: Callable[[], object], timeout: float, what: str,
               every: float = 0.1) -> None:
    """Poll ``check()`` until it is true; TimeoutError naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not reached within {timeout:.0f} s")
        time.sleep(every)


def _headers(rec: SinkMessage) -> tuple[str, str]:
    """(Subject, Message-ID), from the header block only: thousands of mails stay quick."""
    head = BytesHeaderParser(policy=email.policy.compat32).parsebytes(
        rec.data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0])
    subject = str(make_header(decode_header(str(head["Subject"] or ""))))
    return subject, str(head["Message-ID"] or "").strip()


def case_of(subject: str) -> int | None:
    m = _CASE.search(subject)
    return int(m.group(1)) if m else None


@dataclass
class Tally:
    """Sink messages grouped by (case, recipient), with the Message-IDs seen for each."""

    by_key: dict[tuple[int, str], list[str]]
    no_case: list[SinkMessage]


def tally(messages: Iterable[SinkMessage], recipients: set[str] | None = None) -> Tally:
    """Group what the sink received; ``recipients`` limits it to those addresses."""
    by_key: dict[tuple[int, str], list[str]] = defaultdict(list)
    no_case: list[SinkMessage] = []
    for rec in messages:
        subject, message_id = _headers(rec)
        case = case_of(subject)
        for rcpt in rec.rcpt_tos:
            rcpt = rcpt.lower()
            if recipients is not None and rcpt not in recipients:
                continue
            if case is None:
                no_case.append(rec)
                continue
            by_key[(case, rcpt)].append(message_id)
    return Tally(dict(by_key), no_case)


def id_counts(messages: Iterable[SinkMessage]) -> Counter[str]:
    return Counter(_headers(m)[1] for m in messages)


def _hwm_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # gone
        return 0
    return next((int(line.split()[1]) for line in status.splitlines()
                 if line.startswith("VmHWM:")), 0)


def run_measured(cmd: list[str], timeout: float) -> tuple[int, float, str, str]:
    """Run cmd; return (exit code, peak RSS in MiB, stdout, stderr).

    The peak is the child's VmHWM (the kernel's high-water mark of its resident
    set), read from /proc every 20 ms while it runs. Not wait4's ru_maxrss: after
    a fork that starts at the parent's size, and pytest's own can be hundreds of
    MiB. Being a high-water mark, only growth in the last 20 ms before exit
    could go unseen."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = 0

    def watch() -> None:
        nonlocal peak
        while proc.poll() is None:
            peak = max(peak, _hwm_kib(proc.pid))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        watcher.join()
    return (proc.returncode, peak / 1024, out.decode(errors="replace"),
            err.decode(errors="replace"))


@contextmanager
def sqlite_locked(db: Path) -> Iterator[None]:
    """Another process's view: a connection holding SQLite's write lock (BEGIN EXCLUSIVE)."""
    con = sqlite3.connect(db, isolation_level=None, timeout=30)
    try:
        con.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        con.execute("ROLLBACK")
        con.close()
