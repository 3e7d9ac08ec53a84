"""``maild problems list|show``: problems and their linked cases (docs/REFERENCE.md)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from maild.cli.common import json_flag, print_json, runtime, table
from maild.core.problems import ProblemStatus


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("problems", parents=[common], help="problems and their linked cases")
    psub = p.add_subparsers(dest="problems_command", required=True)
    pl = psub.add_parser("list", parents=[common], help="problems, newest first")
    pl.add_argument("--status", action="append", choices=[s.value for s in ProblemStatus],
                    help="only this status (repeat for several)")
    pl.add_argument("words", nargs="*",
                    help="only problems whose title, workaround or root cause has every word")
    json_flag(pl)
    ps = psub.add_parser("show", parents=[common], help="one problem with its cases")
    ps.add_argument("id", help="the problem number: 3 or P3")
    json_flag(ps)


def _number(text: str) -> int | None:
    digits = text.strip().upper().removeprefix("P")
    return int(digits) if digits.isdigit() and len(digits) <= 12 else None


def run(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from maild.db import problems as stored
    from maild.db.models import Problem
    from maild.service.views import problem_json

    rt = runtime(args)
    with Session(rt.engine) as s:
        if args.problems_command == "show":
            number = _number(args.id)
            problem = s.get(Problem, number) if number is not None else None
            if problem is None:
                print(f"maild: no problem {args.id}", file=sys.stderr)
                return 1
            data = problem_json(s, problem)
            if args.json:
                print_json(data)
            else:
                _print(data, rt.settings.helpdesk.tz)
            return 0
        found = (stored.search_problems(s, args.words, limit=10_000) if args.words
                 else stored.list_problems(s))
        wanted = set(args.status or ())
        rows = [problem_json(s, p) for p in found if not wanted or p.status in wanted]
    if args.json:
        print_json(rows)
        return 0
    table([(f"P{r['id']}", r["status"], len(r["cases"]), r["created_at"][:10], r["title"])
           for r in rows], ("problem", "status", "cases", "opened", "title"))
    return 0


def _print(d: dict[str, Any], tz: Any) -> None:
    from datetime import datetime

    from maild.core.when import human

    def shown(iso: str) -> str:
        return human(datetime.fromisoformat(iso), tz)

    print(f"Problem P{d['id']}: {d['title']}")
    print(f"  status {d['status']}, opened {shown(d['created_at'])}"
          + (f", resolved {shown(d['resolved_at'])}" if d["resolved_at"] else ""))
    if d["workaround"]:
        print(f"\nWorkaround: {d['workaround']}")
    if d["root_cause"]:
        print(f"\nRoot cause: {d['root_cause']}")
    print("\nCases: " + (", ".join(f"#{n}" for n in d["cases"]) or "(none)"))
