"""``maild search``: full-text search over cases with filters (docs/REFERENCE.md)."""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, time, timedelta
from typing import Any

from maild.cli.common import json_flag, print_json, runtime, table
from maild.core.values import Status


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from exc


MAX_LIMIT = 10_000


def _limit(text: str) -> int:
    """A whole number 1..MAX_LIMIT (a huge one would overflow the database's integer)."""
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from exc
    if not 1 <= value <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"must be 1..{MAX_LIMIT}, got {text}")
    return value


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "search", parents=[common], help="search cases by words and filters",
        description="Find cases whose subject, description, log or resolution contain every "
                    "word (Chinese too: 打印机 finds 三楼打印机卡纸; English words match as "
                    "prefixes: print finds printer). Newest first.")
    p.add_argument("words", nargs="*", help="words to find (none: filters only)")
    p.add_argument("--customer", help="customer name, email or employee id")
    p.add_argument("--engineer", help="engineer email")
    p.add_argument("--status", action="append", choices=[s.value for s in Status],
                   help="only this status (repeat for several)")
    p.add_argument("--type", help="only this case type")
    p.add_argument("--since", type=_day, help="opened on or after this day (YYYY-MM-DD)")
    p.add_argument("--until", type=_day, help="opened on or before this day (YYYY-MM-DD)")
    p.add_argument("--limit", type=_limit, default=50,
                   help=f"at most this many, 1..{MAX_LIMIT} (default 50)")
    json_flag(p)


def run(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from maild.db.problems import search_problems
    from maild.db.search import Filters, search
    from maild.service.views import case_json

    rt = runtime(args)
    tz = rt.settings.helpdesk.tz
    since = datetime.combine(args.since, time(), tz) if args.since else None
    until = datetime.combine(args.until + timedelta(days=1), time(), tz) if args.until else None
    if since and until and until <= since:
        print("maild: --until is before --since", file=sys.stderr)
        return 2
    filters = Filters(customer=args.customer, engineer=args.engineer,
                      status=tuple(args.status or ()), type=args.type, since=since, until=until)
    with Session(rt.engine) as s:
        found = search(s, args.words, filters, limit=args.limit)
        rows = [case_json(s, rt.rules, c, with_log=False) for c in found]
        # problems have no customer, engineer or case status: only a search by words alone
        only_words = filters == Filters() and args.words
        problems = search_problems(s, args.words, args.limit) if only_words else []
    if args.json:  # the case array of docs/REFERENCE §8; problems: maild problems list WORDS
        print_json(rows)
        return 0
    if not rows and not problems:
        print("no case found", file=sys.stderr)
        return 1
    if rows:
        table([(f"#{r['id']}", r["created_at"][:10], r["status"],
                (r["engineer"] or {}).get("email"), r["subject"]) for r in rows],
              ("case", "opened", "status", "engineer", "subject"))
    if problems:
        print()
        table([(f"P{p.id}", p.created_at.date().isoformat(), p.status, p.title)
               for p in problems], ("problem", "opened", "status", "title"))
    return 0
