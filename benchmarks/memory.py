"""Memory of one `maild run` process fed a long stream of mixed messages in batches.

A real Dovecot, the SMTP sink in its own process and ``maild run`` as a
subprocess. Each batch is delivered over LMTP; once the inbox is empty again
the daemon's VmRSS and VmHWM (peak) are read from /proc. The baseline is the
same daemon's RSS idle after start, before the first message. Usage:

    .venv/bin/python benchmarks/memory.py [--messages 100000] [--batch 1000] [--no-trim]

``--no-trim`` runs the same daemon without its ``malloc_trim`` after each
drain (``maild/arenas.py``), to compare.
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "benchmarks")]

from maildenv import HELPDESK, Maild, write_config  # noqa: E402
from mailgen import CUSTOMERS, mixed  # noqa: E402
from servers import Dovecot  # noqa: E402
from sinkproc import SinkProcess  # noqa: E402


def status_mb(pid: int) -> dict[str, float]:
    """The memory lines of ``/proc/PID/status`` (VmRSS, VmHWM, RssAnon, RssFile, ...) in MB."""
    fields = dict(line.split(":", 1) for line in
                  Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {k: int(v.split()[0]) / 1024 for k, v in fields.items()
            if k.startswith(("Vm", "Rss")) and v.strip().endswith("kB")}


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of ``pid`` in MB."""
    fields = status_mb(pid)
    return fields["VmRSS"], fields["VmHWM"]


def split(pid: int, tmp: Path) -> str:
    """Where the RSS is: anonymous memory, file pages mapped (SQLite's WAL index is a
    mapped file), shared memory; and the size of the database's write-ahead log."""
    fields = status_mb(pid)
    wal = sum(f.stat().st_size for f in tmp.rglob("*-wal")) / 2**20
    return (f" {fields['RssAnon']:8.1f} {fields['RssFile']:8.1f} {fields['RssShmem']:8.1f}"
            f" {wal:8.1f}")


def wait_empty(dovecot: Dovecot, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while dovecot.count("INBOX") > 0:
        if proc.poll() is not None:
            raise RuntimeError(f"maild exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError("the inbox did not empty in time")
        time.sleep(0.5)


def traced(pid: int, trace: Path, sig: signal.Signals) -> str:
    """Signal the traced daemon and return what it appended to ``trace``."""
    before = trace.stat().st_size if trace.exists() else 0
    os.kill(pid, sig)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = trace.read_text()[before:] if trace.exists() else ""
        if text.endswith("\n") and (sig != signal.SIGUSR2 or text.endswith("end\n")):
            if sig == signal.SIGUSR1:
                return "".join(f" {float(v):9.2f}" for v in text.split())
            return text.removesuffix("end\n").rstrip()
        time.sleep(0.05)
    raise TimeoutError("the traced daemon did not answer its signal")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--trace", action="store_true",
                    help="run the daemon under tracemalloc (benchmarks/traced.py): also print "
                         "its Python heap, SQLite's memory and glibc malloc's in-use, free-kept "
                         "and mmapped bytes after each batch (about half the speed)")
    ap.add_argument("--counters", action="store_true",
                    help="as --trace but without tracemalloc (full speed): SQLite's memory and "
                         "glibc malloc's counters after each batch, the heap column 0")
    ap.add_argument("--no-trim", action="store_true",
                    help="the daemon without its malloc_trim after each drain, to compare")
    args = ap.parse_args()
    if args.counters:
        args.trace = True
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # clean up servers on kill
    stream = mixed(args.messages)
    with tempfile.TemporaryDirectory(prefix="perf-memory") as tmp, \
            Dovecot(Path(tmp) / "dc") as dovecot, SinkProcess(Path(tmp) / "sink.jsonl") as sink:
        maild = Maild(write_config(Path(tmp), dovecot.imap_port, sink.port))
        for email_addr, name, company in CUSTOMERS:
            maild.add_customer(email_addr, name, company)
        log = (Path(tmp) / "maild.log").open("wb")
        trace = Path(tmp) / "trace.txt"
        entry = [str(ROOT / "benchmarks" / "traced.py")] if args.trace else ["-m", "maild"]
        if args.no_trim:
            entry = ["-c", "import maild.arenas as a; a.trim = lambda: False; "
                           "from maild.cli import entry; raise SystemExit(entry())"]
        env = {**os.environ, "MAILD_TRACE_FILE": str(trace),
               "MAILD_TRACE_HEAP": "0" if args.counters else "1",
               "MAILD_TRACE_WARM": str(max(1, args.messages // 5 // args.batch))}
        proc = subprocess.Popen([sys.executable, *entry, "run", "--config", str(maild.config)],
                                stdout=log, stderr=log, env=env)
        try:
            time.sleep(8)  # started, connected, idling
            idle_rss, _ = memory_mb(proc.pid)
            print(f"baseline: idle daemon after start {idle_rss:.1f} MB RSS", flush=True)
            print(f"{'messages':>9} {'RSS MB':>8} {'peak MB':>8} {'msg/s':>7} {'sent':>7}"
                  f" {'anon MB':>8} {'file MB':>8} {'shmem MB':>8} {'WAL MB':>8}"
                  + (" py heap MB SQLite MB malloc MB  kept MB  mmap MB arenas blocks MB  cached"
                     if args.trace else ""),
                  flush=True)
            samples: list[tuple[int, float, float]] = []
            done, t0 = 0, time.monotonic()
            while batch := list(itertools.islice(stream, args.batch)):
                t1 = time.monotonic()
                with smtplib.LMTP(dovecot.host, dovecot.lmtp_port) as lmtp:
                    for raw in batch:
                        lmtp.sendmail("sender@example.org", [HELPDESK], raw)
                wait_empty(dovecot, proc, 3600)
                done += len(batch)
                rss, hwm = memory_mb(proc.pid)
                samples.append((done, rss, hwm))
                print(f"{done:9d} {rss:8.1f} {hwm:8.1f} "
                      f"{len(batch) / (time.monotonic() - t1):7.1f} {sink.count():7d}"
                      + split(proc.pid, Path(tmp))
                      + (traced(proc.pid, trace, signal.SIGUSR1) if args.trace else ""),
                      flush=True)
            elapsed = time.monotonic() - t0
            if args.trace and not args.counters:
                print("Python heap: source lines that grew most since the 20 % point", flush=True)
                print(traced(proc.pid, trace, signal.SIGUSR2), flush=True)
        finally:
            proc.terminate()  # the daemon finishes the work in hand (bounded at 30 s), then exits
            try:
                proc.wait(90)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
    fifth = next(s for s in samples if s[0] >= args.messages // 5)
    last = samples[-1]
    slope = (last[1] - fifth[1]) / max(last[0] - fifth[0], 1) * 10_000
    print(f"{done} messages in {elapsed / 60:.1f} min; idle baseline {idle_rss:.1f} MB; "
          f"peak {max(s[2] for s in samples):.1f} MB; RSS at {fifth[0]} {fifth[1]:.1f} MB, "
          f"at {last[0]} {last[1]:.1f} MB; growth {slope:+.2f} MB per 10,000 messages")


if __name__ == "__main__":
    main()
