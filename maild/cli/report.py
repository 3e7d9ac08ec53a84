"""``maild report daily|monthly``: print, preview (--html), or mail (--send) a report."""

from __future__ import annotations

import argparse
import base64
import dataclasses
import re
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from maild.cli.common import json_flag, print_json, runtime

if TYPE_CHECKING:  # the report code is imported by ``run`` only: see maild/cli/main.py
    from maild.core.report import Period, Report


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from exc


def _month(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d{4})-(\d{2})", text)
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month (YYYY-MM)")
    return int(m.group(1)), int(m.group(2))


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("report", parents=[common], help="daily and monthly reports per engineer")
    rsub = p.add_subparsers(dest="report_kind", required=True, metavar="KIND")
    daily = rsub.add_parser("daily", parents=[common], help="one day (default: yesterday)")
    daily.add_argument("--date", type=_day, help="the day (YYYY-MM-DD, helpdesk time zone)")
    monthly = rsub.add_parser("monthly", parents=[common],
                              help="one month (default: last month)")
    monthly.add_argument("--month", type=_month, help="the month (YYYY-MM)")
    for q in (daily, monthly):
        q.add_argument("--send", action="store_true",
                       help="mail it to [reports] recipients now (even if already sent)")
        q.add_argument("--html", type=Path, metavar="FILE",
                       help="write the HTML mail to FILE to look at in a browser")
        json_flag(q)


def _period(args: argparse.Namespace, tz: Any) -> Period:
    from maild.core.report import day_period, month_period, previous_day, previous_month
    from maild.db.models import utcnow

    now = utcnow()
    if args.report_kind == "daily":
        return day_period(args.date, tz) if args.date else previous_day(now, tz)
    if args.month:
        year, month = args.month
        return month_period(year, month, tz)
    return previous_month(now, tz)


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):  # and datetime
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def report_json(report: Report, previous: Report | None = None) -> dict[str, Any]:
    """The report's fields as JSON; with ``previous``, also its headline numbers
    beside the period before's, under ``changes`` (the older keys stay as they were)."""
    from maild.core.report import compare

    data: dict[str, Any] = _jsonable(dataclasses.asdict(report))
    if previous is not None:
        data["changes"] = {c.key: {"value": c.value, "previous": c.previous, "delta": c.delta}
                           for c in compare(report, previous)}
    return data


def _data_uri(png: bytes) -> str:
    """An image inside the page itself, for the --html preview (a browser knows no cid:)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _hours(seconds: float | None) -> str:
    return f"{seconds / 3600:.1f}" if seconds is not None else "-"


def _print(report: Report, names: dict[str, str]) -> None:
    p = report.period
    print(f"{p.kind} report {p.label}: opened {report.total_opened}, resolved "
          f"{report.total_resolved}, open at end {report.open_at_end}, escalated "
          f"{report.escalated}, reopened {report.reopened}")
    print(f"handling time (business hours): mean {_hours(report.team_business.mean_s)} h, "
          f"median {_hours(report.team_business.median_s)} h, "
          f"p90 {_hours(report.team_business.p90_s)} h; wall-clock mean "
          f"{_hours(report.team_wall.mean_s)} h\n")
    print(f"{'#':>3}  {'engineer':<28}{'resolved':>9}{'disp':>6}{'open':>6}"
          f"{'mean bh':>9}{'p90 bh':>8}{'speed#':>7}{'SLA ok':>8}")
    for r in report.engineers:
        print(f"{r.rank_resolved:>3}  {names.get(r.engineer, r.engineer)[:27]:<28}"
              f"{r.resolved:>9}{r.dispatched:>6}{r.open_at_end:>6}"
              f"{_hours(r.business.mean_s):>9}{_hours(r.business.p90_s):>8}"
              f"{r.rank_speed or '-':>7}{f'{r.sla_met}/{r.sla_met + r.sla_breached}':>8}")
    if report.late_visits:
        print("\nlate visits: " + ", ".join(f"{names.get(k, k)} {v}"
                                            for k, v in report.late_visits.items()))
    print("\nopen by age: " + ", ".join(f"{k} {v}" for k, v in report.backlog_by_age.items()))
    if report.top_types:
        print("top types:   " + ", ".join(f"{k} {v}" for k, v in report.top_types))
    if report.top_problems:
        print("top problems (cases this period/all): " + ", ".join(
            f"P{p.id} {p.title} {p.in_period}/{p.total}" for p in report.top_problems))


def run(args: argparse.Namespace) -> int:
    from maild.core import notify
    from maild.db.models import utcnow
    from maild.service.notices import render
    from maild.service.reports import (
        chart_images,
        make_reports,
        quality_rows,
        report_context,
        send,
    )

    rt = runtime(args)
    period = _period(args, rt.settings.helpdesk.tz)
    report, previous = make_reports(rt, period)
    if args.html:
        charts = {name: _data_uri(png) for name, (_, png) in chart_images(rt, report).items()}
        ctx = report_context(rt, report, previous, charts)
        lang = rt.settings.helpdesk.language
        who = notify.Recipient("preview@localhost", "", lang)
        _, _, html = render(rt.envs, notify.Notice("report", who), ctx)
        args.html.write_text(html, encoding="utf-8")
        print(f"wrote {args.html}", file=sys.stderr)
    if args.send:
        if not rt.settings.reports.recipients:
            print("maild: no [reports] recipients in the config", file=sys.stderr)
            return 1
        send(rt, period, utcnow(), force=True)
        print(f"queued for {', '.join(rt.settings.reports.recipients)}; "
              "'maild outbox flush' sends it now", file=sys.stderr)
    quality = quality_rows(rt, report)
    if args.json:
        data = report_json(report, previous)
        data["quality"] = [{k: q[k] for k in ("engineer", "complaints", "surveys", "answered")}
                           | {"mean_score": q["mean_score"]} for q in quality]
        print_json(data)
    elif not args.html or args.send:
        _print(report, {p.email: p.name for p in rt.rules.people.values()})
        if quality:
            print("\ncomplaints and follow-up surveys: " + "; ".join(
                f"{q['name']}: {q['complaints']} complaint(s), {q['answered']}/{q['surveys']} "
                f"answered, mean score {q['mean']}" for q in quality))
    return 0
