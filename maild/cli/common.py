"""What every subcommand shares: options, loading the runtime, printing."""

from __future__ import annotations

import argparse
import gc
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: see maild/cli/main.py
    from maild.config import Settings
    from maild.runtime import Runtime

EX_TEMPFAIL = 75
EX_CONFIG = 78  # sysexits.h: a permanent configuration error (an MTA bounces, never retries)


def common_options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--config", type=Path, default=argparse.SUPPRESS, metavar="PATH",
                   help="config file (default: $MAILD_CONFIG, else ./config.toml)")
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                   help="log progress to stderr")
    return p


def json_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON only, on stdout")


def settings(args: argparse.Namespace) -> Settings:
    """The config named by --config, $MAILD_CONFIG or ./config.toml; a command that only
    reads the database (``args.read_only``, set by main) needs no secrets."""
    from maild.config import default_config_path, read_config

    return read_config(getattr(args, "config", None) or default_config_path(),
                       secrets=not getattr(args, "read_only", False))


def runtime(args: argparse.Namespace, check_schema: bool = True) -> Runtime:
    """Settings, rules, templates and a database at the expected schema."""
    from maild.db import migrate
    from maild.runtime import Runtime, database

    loaded = settings(args)
    engine = database(loaded)
    if check_schema:
        migrate.check(engine)
    rt = Runtime.load(loaded, engine)
    started()
    return rt


def started() -> None:
    """Start-up is over: turn the garbage collector back on if ``entry`` paused it.

    What was imported and loaded so far lives until the process ends, so it is moved
    out of the collector's sight first (``gc.freeze``). Then neither the collections
    that the start-up's many allocations would trigger nor the collection at exit walk
    it: about a fifth of the CPU time of a ``maild ingest``, which an MTA starts once per
    message (docs/PERFORMANCE.md, "Pipe mode"). Commands load through ``runtime``, which
    calls this; a command that does not, and runs for long, calls it itself."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [min(max(len(r[i]) for r in cells), 50) for i in range(len(headers))]
    for r in cells:
        print("  ".join(c[:50].ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


