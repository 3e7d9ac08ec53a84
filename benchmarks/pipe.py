"""Pipe mode (issue 17): what one ``maild ingest`` process costs, against the floor.

An MTA such as Postfix runs one ``maild ingest`` per message, so each message pays
the start of a Python process. This compares, in one run and interleaved round by
round (so that load on the machine falls on every command alike):

- **floor**: ``python -c "import sqlmodel, jinja2, email.parser"``, the libraries
  maild is built on, imported and nothing done;
- ``maild --help``;
- ``maild ingest FILE`` of one new-case message from a known customer, on a
  migrated SQLite store (a fresh message each round, so none is a duplicate);

and prints the median and 90th percentile of each, and the ratio ingest / floor
(target: at most 1.5), in wall-clock time and in CPU time (user + system of the
process: what load from other work on the machine disturbs least). Each message
comes from a different known customer, so none meets the per-sender cap. Usage:

    .venv/bin/python benchmarks/pipe.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests")]
os.environ.pop("MAILD_TEST_DATABASE_URL", None)  # the store of this benchmark is SQLite

from maildenv import Maild, new_mail, write_config  # noqa: E402

FLOOR = "import sqlmodel, jinja2, email.parser"


def maild_command() -> list[str]:
    """The ``maild`` script beside this Python (what an MTA runs), else ``python -m maild``."""
    script = Path(sys.executable).parent / "maild"
    return [str(script)] if script.exists() else [sys.executable, "-m", "maild"]


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def timed(argv: list[str], expect: str = "") -> tuple[float, float]:
    """Wall and CPU seconds of one process; its output must start with ``expect``."""
    cpu, start = _cpu(), time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    took = time.perf_counter() - start
    if out.returncode != 0 or not out.stdout.startswith(expect):
        raise SystemExit(f"{' '.join(argv)} failed ({out.returncode}):\n{out.stdout}{out.stderr}")
    return took, _cpu() - cpu


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20, help="rounds (default 20)")
    args = ap.parse_args()
    maild = maild_command()
    with tempfile.TemporaryDirectory(prefix="maild-pipe-") as tmp:
        directory = Path(tmp)
        config = write_config(directory, 1, 1)  # IMAP and SMTP are not used by ingest
        installed = Maild(config)  # migrates
        runs: dict[str, list[tuple[float, float]]] = {
            "floor": [], "maild --help": [], "maild ingest": []}
        for i in range(args.runs + 1):  # round 0 warms the disk cache and is not counted
            customer = f"user{i}@sh.corp.example"
            installed.add_customer(customer, f"User {i}", company="上海分公司")
            mail = directory / f"mail-{i}.eml"
            mail.write_bytes(new_mail(customer, f"printer {i} jams", "Paper jam on floor 3."))
            got = {
                "floor": timed([sys.executable, "-c", FLOOR]),
                "maild --help": timed([*maild, "--help"], "usage:"),
                "maild ingest": timed([*maild, "ingest", str(mail), "--config", str(config)],
                                      "new_case case #"),
            }
            if i:
                for name, took in got.items():
                    runs[name].append(took)
    print(f"{args.runs} runs each, interleaved; {' '.join(maild)}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'command':<14} {'wall median s':>13} {'p90 s':>6} {'× floor':>8}"
          f" {'CPU median s':>13} {'p90 s':>6} {'× floor':>8}")
    floor = [statistics.median(t[k] for t in runs["floor"]) for k in (0, 1)]
    for name, values in runs.items():
        cells = []
        for k in (0, 1):
            series = [t[k] for t in values]
            med = statistics.median(series)
            cells.append(f"{med:>13.3f} {p90(series):>6.3f} {med / floor[k]:>8.2f}")
        print(f"{name:<14} {' '.join(cells)}")
    ingest = [statistics.median(t[k] for t in runs["maild ingest"]) for k in (0, 1)]
    ratio = ingest[0] / floor[0]
    print(f"ratio ingest / floor (medians): wall {ratio:.2f}, CPU {ingest[1] / floor[1]:.2f}"
          f" (target ≤ 1.5 on wall time: {'met' if ratio <= 1.5 else 'missed'})")


if __name__ == "__main__":
    main()
