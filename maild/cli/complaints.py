"""``maild complaints list [--status S] [--json]``: complaints on cases (docs/REFERENCE.md)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from maild.cli.common import json_flag, print_json, runtime, table


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("complaints", parents=[common], help="complaints on cases")
    csub = p.add_subparsers(dest="complaints_command", required=True, metavar="ACTION")
    ls = csub.add_parser("list", parents=[common], help="complaints, oldest first")
    ls.add_argument("--status", choices=("open", "closed"), help="only open or closed ones")
    json_flag(ls)


def run(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from maild.service.complaints import listed
    from maild.service.views import complaint_json

    rt = runtime(args)
    with Session(rt.engine) as s:
        rows = [complaint_json(c) for c in listed(s, args.status)]
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no complaint found", file=sys.stderr)
        return 1
    table([(str(r["id"]), f"#{r['case_id']}", (r["created_at"] or "")[:10], r["status"],
            r["category"], r["engineer"] or "-", r["text"].splitlines()[0][:50] if r["text"]
            else "") for r in rows],
          ("id", "case", "made", "status", "category", "engineer", "text"))
    return 0
