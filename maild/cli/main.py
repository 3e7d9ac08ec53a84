"""The command line (docs/REFERENCE.md, "Command line"): parse arguments, call one use
case, print, exit.

Exit codes: 0 done; 1 not found or nothing done; 2 bad usage or a database not
migrated; 75 (EX_TEMPFAIL) a transient failure the caller should retry (a server
or the database unreachable); 78 (EX_CONFIG) a permanent configuration error
(config.toml, rules/, templates), so an MTA bounces at once instead of retrying.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from maild import __version__
from maild.cli import complaints as complaints_cli
from maild.cli import customers
from maild.cli import problems as problems_cli
from maild.cli import report as report_cli
from maild.cli import search as search_cli
from maild.cli import staff as staff_cli
from maild.cli.common import (
    EX_CONFIG,
    EX_TEMPFAIL,
    common_options,
    json_flag,
    print_json,
    runtime,
    settings,
    started,
    table,
)
from maild.db.private import UMASK

if TYPE_CHECKING:
    from maild.config import Settings

# Each command imports what it needs, in its function: an MTA starts ``maild ingest``
# once per message, and ``maild --help`` should not load a database library
# (tests/test_imports.py holds this).

log = logging.getLogger("maild")


def build_parser() -> argparse.ArgumentParser:
    common = common_options()
    parser = argparse.ArgumentParser(
        prog="maild", parents=[common],
        description="maild: an email-driven IT helpdesk daemon. Customers mail the helpdesk, "
                    "engineers work cases by replying with #tags.",
        epilog="Start with 'maild demo' to see the whole loop on an embedded mail server.")
    parser.add_argument("--version", action="version", version=f"maild {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = sub.add_parser("db", parents=[common], help="database schema")
    dbsub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    dbsub.add_parser("upgrade", parents=[common], help="create or migrate the schema")

    chk = sub.add_parser("check", parents=[common],
                         help="check config, database, rules, IMAP and SMTP login; exit 1 if any "
                              "fails")
    json_flag(chk)

    run = sub.add_parser("run", parents=[common], help="the daemon: IMAP, outbox, scheduler")
    run.add_argument("--once", action="store_true",
                     help="process the mailbox and the outbox once, then exit")

    ing = sub.add_parser("ingest", parents=[common],
                         help="process one message from FILE or stdin (MTA pipe)")
    ing.add_argument("file", nargs="?", type=Path, help="message file (default: stdin)")
    json_flag(ing)

    cases = sub.add_parser("cases", parents=[common], help="list or show cases")
    csub = cases.add_subparsers(dest="cases_command", required=True, metavar="ACTION")
    cl = csub.add_parser("list", parents=[common], help="list cases, newest first")
    cl.add_argument("--status", help="only cases with this status")
    cl.add_argument("--engineer", help="only cases of this engineer (email)")
    json_flag(cl)
    cs = csub.add_parser("show", parents=[common], help="one case with its log")
    cs.add_argument("id", type=int)
    json_flag(cs)

    msgs = sub.add_parser("messages", parents=[common], help="inbound messages")
    msub = msgs.add_subparsers(dest="messages_command", required=True, metavar="ACTION")
    ml = msub.add_parser("list", parents=[common], help="messages with their dispositions")
    ml.add_argument("--disposition", help="only messages with this disposition")
    json_flag(ml)

    out = sub.add_parser("outbox", parents=[common], help="queued notifications")
    osub = out.add_subparsers(dest="outbox_command", required=True, metavar="ACTION")
    ol = osub.add_parser("list", parents=[common], help="queued and sent mail")
    ol.add_argument("--status", choices=["pending", "sent", "failed"])
    json_flag(ol)
    osub.add_parser("flush", parents=[common], help="send all pending mail now")

    customers.add_parser(sub, common)
    search_cli.add_parser(sub, common)
    staff_cli.add_parser(sub, common)
    complaints_cli.add_parser(sub, common)
    report_cli.add_parser(sub, common)
    problems_cli.add_parser(sub, common)

    init = sub.add_parser("init", parents=[common],
                          help="write a starter config.toml, rules/ and customers.csv into DIR")
    init.add_argument("dir", type=Path, help="the directory (created if needed)")

    demo = sub.add_parser("demo", parents=[common],
                          help="the whole loop on an embedded mail server, with a timeline")
    demo.add_argument("--serve", action="store_true",
                      help="keep running afterwards so you can join with a mail client")
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on (--serve)")
    return parser


def cmd_db(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    from maild.db import migrate
    from maild.runtime import database

    loaded = settings(args)
    before, after = migrate.upgrade(database(loaded))
    shown = make_url(loaded.database.url).render_as_string(hide_password=True)  # no secrets
    print(f"database {shown}: {before or 'empty'} → {after}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    import asyncio

    from maild.cli.check import run_checks
    from maild.config import default_config_path

    results = asyncio.run(run_checks(getattr(args, "config", None) or default_config_path()))
    if args.json:
        print_json([c.as_json() for c in results])
    else:
        for c in results:
            print(c.line())
    return 0 if all(c.ok for c in results) else 1


def _smtp_at(loaded: Settings) -> str:
    return f"{loaded.smtp.host}:{loaded.smtp.port}"


def cmd_run(args: argparse.Namespace) -> int:
    import asyncio

    from maild import arenas, logs
    from maild.daemon import Daemon

    arenas.limit_arenas()  # before any thread: see maild/arenas.py
    loaded = settings(args)
    logs.setup(loaded.logging, loaded)
    rt = runtime(args)
    rt.sync_directory()
    daemon = Daemon(rt)
    if args.once:
        stats = asyncio.run(daemon.run_once())
        d, o = stats.drained, stats.outbox
        print(f"mailbox: {d.processed} message(s) {d.by_disposition or {}}; "
              f"outbox: {o.sent} sent, {o.deferred} deferred, {o.failed} failed"
              + (f" (SMTP server {_smtp_at(loaded)} unavailable)" if o.smtp_down else ""))
        return 0

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, daemon.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, daemon.request_reload)
        await daemon.run()

    asyncio.run(main())
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from maild.config import ConfigError
    from maild.core.values import TransientError
    from maild.db.models import utcnow
    from maild.rules import RulesError
    from maild.service.intake import ingest

    try:
        rt = runtime(args)
    except Exception as exc:  # the database is down or locked: let the MTA retry
        if isinstance(exc, ConfigError | RulesError):
            raise
        print(f"maild ingest: temporary failure: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    raw = args.file.read_bytes() if args.file else sys.stdin.buffer.read()
    try:
        result = ingest(rt, raw, utcnow())
    except TransientError as exc:
        print(f"maild ingest: temporary failure, try again later: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    if args.json:
        print_json({"id": result.message_row_id, "disposition": result.disposition.value,
                     "case_id": result.case_id, "reason": result.reason})
    else:
        case = f" case #{result.case_id}" if result.case_id else ""
        print(f"{result.disposition.value}{case}: {result.reason or ''}".rstrip(": "))
    return 0


def cmd_cases(args: argparse.Namespace) -> int:
    from sqlmodel import Session, col, select

    from maild.db.models import Case
    from maild.service.views import case_json

    rt = runtime(args)
    with Session(rt.engine) as s:
        if args.cases_command == "show":
            case = s.get(Case, args.id)
            if case is None:
                print(f"maild: no case #{args.id}", file=sys.stderr)
                return 1
            data = case_json(s, rt.rules, case)
            if args.json:
                print_json(data)
            else:
                _print_case(data, rt.settings.helpdesk.tz)
            return 0
        q = select(Case).order_by(col(Case.id).desc())
        if args.status:
            q = q.where(Case.status == args.status)
        if args.engineer:
            q = q.where(Case.engineer_email == args.engineer.lower())
        rows = [case_json(s, rt.rules, c, with_log=False) for c in s.exec(q)]
    if args.json:
        print_json(rows)
    else:
        table([(f"#{r['id']}", r["status"], r["priority"], r["type"],
                 (r["engineer"] or {}).get("email"), r["subject"]) for r in rows],
               ("case", "status", "prio", "type", "engineer", "subject"))
    return 0


def _shown(iso: str | None, tz: Any) -> str:
    """An ISO time from the JSON shape as people read it: helpdesk zone, with offset."""
    from maild.core.when import human

    return human(datetime.fromisoformat(iso), tz) if iso else ""


def _print_case(d: dict[str, Any], tz: Any) -> None:
    print(f"Case #{d['id']}: {d['subject']}")
    print(f"  status {d['status']}, priority {d['priority']}, type {d['type']} "
          f"({d['kind']}), line {d['line']}, channel {d['channel']}")
    c = d["customer"]
    print(f"  customer {c['name']} <{c['email']}>  engineer "
          f"{(d['engineer'] or {}).get('name', '-')}")
    if d.get("problem"):
        print(f"  linked to problem P{d['problem']} (maild problems show P{d['problem']})")
    for key in ("created_at", "dispatched_at", "first_response_at", "resolved_at", "closed_at"):
        if d[key]:
            print(f"  {key:<18} {_shown(d[key], tz)}")
    if d["handling_seconds"] is not None:
        print(f"  handling time      {d['handling_seconds']} s")
    for v in d.get("visits", ()):
        arrived = f"arrived {_shown(v['arrived_at'], tz)}" if v["arrived_at"] else "not arrived"
        print(f"  visit              {_shown(v['start'], tz)} - {_shown(v['end'], tz)}, "
              f"{arrived}")
    print("\n" + d["description"])
    if d["resolution"]:
        print(f"\nResolution: {d['resolution']}")
    print("\nLog:")
    for e in d["log"]:
        print(f"  {_shown(e['at'], tz)}  {e['author']:<28} {e['kind']:<10} {e['text'][:200]}")
    for a in d["attachments"]:
        print(f"  attachment {a['filename']} ({a['size']} bytes)")


def cmd_messages(args: argparse.Namespace) -> int:
    from sqlmodel import Session, col, select

    from maild.db.models import InboundMessage
    from maild.service.views import message_json

    rt = runtime(args)
    with Session(rt.engine) as s:
        q = select(InboundMessage).order_by(col(InboundMessage.id))
        if args.disposition:
            q = q.where(InboundMessage.disposition == args.disposition)
        rows = [message_json(m) for m in s.exec(q)]
    if args.json:
        print_json(rows)
    else:
        tz = rt.settings.helpdesk.tz
        table([(r["id"], _shown(r["received_at"], tz), r["disposition"], r["case_id"], r["from"],
                 r["subject"]) for r in rows],
               ("id", "received", "disposition", "case", "from", "subject"))
    return 0


def cmd_outbox(args: argparse.Namespace) -> int:
    from sqlmodel import Session, col, select

    from maild.db.models import OutboxMail, utcnow
    from maild.service.views import outbox_json

    rt = runtime(args)
    if args.outbox_command == "flush":
        import asyncio

        from maild.edges import smtp
        from maild.service.undelivered import tell_operators

        stats = asyncio.run(smtp.flush(rt, utcnow, ignore_schedule=True,
                                      after=tell_operators))
        print(f"{stats.sent} sent, {stats.deferred} deferred, {stats.failed} failed"
              + (f" (SMTP server {_smtp_at(rt.settings)} unavailable)" if stats.smtp_down
                 else ""))
        if stats.failed:  # 1: some mail will never go ('maild outbox list --status failed')
            print("maild: some mail failed for good: maild outbox list --status failed",
                  file=sys.stderr)
            return 1
        return EX_TEMPFAIL if stats.smtp_down else 0
    with Session(rt.engine) as s:
        q = select(OutboxMail).order_by(col(OutboxMail.id))
        if args.status:
            q = q.where(OutboxMail.status == args.status)
        rows = [outbox_json(o) for o in s.exec(q)]
    if args.json:
        print_json(rows)
    else:
        table([(r["id"], r["status"], r["attempts"], r["template"], ",".join(r["to"]),
                 r["subject"]) for r in rows],
               ("id", "status", "tries", "template", "to", "subject"))
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from maild.cli.starter import init

    for path, written in init(args.dir):
        print(f"{'wrote' if written else 'kept '} {path}")
    config = args.dir / "config.toml"
    print(f"""
Next:
  1. edit {config}: [helpdesk] address and timezone, [imap], [smtp], [reports]
  2. edit {args.dir / "rules"}/staff.toml and sites.toml: your engineers and sites
  3. export MAILD_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
     export MAILD_IMAP_PASSWORD=...
  4. maild db upgrade --config {config}
  5. maild customers import {args.dir / "customers.csv"} --config {config}
  6. maild check --config {config}, then maild run --config {config}""")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from maild.demo import run_demo

    started()  # runs for long without ``runtime``
    return run_demo(serve=args.serve, host=args.host)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "db": cmd_db, "check": cmd_check, "run": cmd_run, "ingest": cmd_ingest, "cases": cmd_cases,
    "messages": cmd_messages, "outbox": cmd_outbox, "customers": customers.run,
    "search": search_cli.run, "staff": staff_cli.run, "report": report_cli.run,
    "problems": problems_cli.run,
    "demo": cmd_demo, "init": cmd_init, "complaints": complaints_cli.run,
}


def entry() -> int:
    """The ``maild`` command: ``main`` with an owner-only umask, so that whatever maild
    creates (store, database, attachments, token cache) is private (tests call ``main``),
    and the garbage collector paused while the command starts (``common.started``)."""
    os.umask(UMASK)
    gc.disable()
    return main()


def read_only(args: argparse.Namespace) -> bool:
    """Commands that only read the database (or write the schema) need no secrets."""
    sub = {"cases": "cases_command", "messages": "messages_command", "outbox": "outbox_command",
           "customers": "customers_command"}.get(args.command)
    action = getattr(args, sub, None) if sub else None
    return (args.command in ("db", "cases", "messages", "search", "problems", "complaints")
            or (args.command == "outbox" and action == "list")
            or (args.command == "customers" and action in ("list", "export"))
            or (args.command == "report" and not getattr(args, "send", False)))


def _stdout_closed() -> int:
    """The reader of our output went away (``maild … | head``): stop quietly, as a
    SIGPIPE-killed tool would, without a traceback at interpreter exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 128 + signal.SIGPIPE


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.read_only = read_only(args)
    verbose = getattr(args, "verbose", False)
    logging.basicConfig(level=logging.INFO if verbose or args.command == "run" else
                        logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%Y-%m-%d %H:%M:%S %z")  # a time people read carries its zone
    try:
        code = COMMANDS[args.command](args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:
        return _stdout_closed()
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        failed = _failed(exc)
        if failed is None:
            raise
        return failed


def _raised(exc: BaseException, module: str, name: str) -> bool:
    """``isinstance(exc, module.name)`` without importing ``module``: one that no command
    imported cannot have raised it (so ``maild --help`` loads no database library)."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(exc, getattr(loaded, name))


def _failed(exc: Exception) -> int | None:
    """Say what went wrong and return the exit code (see the module's docstring); None
    for an unexpected error, which keeps its traceback."""
    if _raised(exc, "maild.config", "ConfigError") or _raised(exc, "maild.rules", "RulesError"):
        print(f"maild: {exc}", file=sys.stderr)
        return EX_CONFIG
    if _raised(exc, "maild.db.migrate", "SchemaError"):
        print(f"maild: {exc}", file=sys.stderr)
        return 2
    if _raised(exc, "maild.edges.imap", "ImapError"):
        print(f"maild: IMAP: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    if _raised(exc, "sqlalchemy.exc", "OperationalError"):
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"maild: database unavailable: {reason}", file=sys.stderr)
        return EX_TEMPFAIL
    return None
