"""``maild customers``: the customer directory from the command line (docs/REFERENCE §7)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from maild.cli.common import json_flag, print_json, runtime, table

if TYPE_CHECKING:  # the database code is imported where used: see maild/cli/main.py
    from maild.runtime import Runtime


def _customer_fields(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument("--email", required=False)
    p.add_argument("--name", required=required)
    p.add_argument("--employee-id", dest="employee_id")
    p.add_argument("--company")
    p.add_argument("--phone")
    p.add_argument("--address")
    p.add_argument("--vip", choices=["yes", "no"])


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    cust = sub.add_parser("customers", parents=[common], help="the customer directory")
    csub = cust.add_subparsers(dest="customers_command", required=True, metavar="ACTION")
    add = csub.add_parser("add", parents=[common], help="add a customer")
    _customer_fields(add, required=True)
    json_flag(add)
    upd = csub.add_parser("update", parents=[common],
                          help="change a customer (by id, email or employee id)")
    upd.add_argument("key", help="customer id, email or employee id")
    _customer_fields(upd, required=False)
    json_flag(upd)
    dele = csub.add_parser("delete", parents=[common], help="delete a customer")
    dele.add_argument("key", help="customer id, email or employee id")
    dele.add_argument("--force", action="store_true",
                      help="delete even with open cases (they keep their history)")
    lst = csub.add_parser("list", parents=[common], help="list customers")
    lst.add_argument("--company")
    lst.add_argument("--vip", action="store_true", default=None, help="only VIPs")
    lst.add_argument("--auto-created", dest="auto_created", action="store_true", default=None,
                     help="only customers created from mail, for operators to complete")
    lst.add_argument("--search", help="text in name, email or employee id")
    json_flag(lst)
    imp = csub.add_parser("import", parents=[common],
                          help="import a CSV (employee_id,name,company,phone,address,email,vip)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--skip-invalid", action="store_true",
                     help="import the good rows even when some are bad")
    exp = csub.add_parser("export", parents=[common], help="export all customers as CSV")
    exp.add_argument("file", type=Path, nargs="?", help="output file (default: stdout)")


def run(args: argparse.Namespace) -> int:
    from maild.db.models import utcnow
    from maild.service import customers as directory

    rt = runtime(args)
    action = args.customers_command
    try:
        if action in ("add", "update"):
            fields = {k: getattr(args, k) for k in
                      ("email", "name", "employee_id", "company", "phone", "address", "vip")
                      if getattr(args, k) is not None}
            customer = (directory.add(rt.engine, fields, utcnow()) if action == "add"
                        else directory.update(rt.engine, args.key, fields))
            if args.json:
                print_json(directory.customer_json(customer))
            else:
                print(f"customer {customer.id}: {customer.name} <{customer.email or '-'}>")
            return 0
        if action == "delete":
            customer = directory.delete(rt.engine, args.key, args.force)
            print(f"deleted customer {customer.id} ({customer.name})")
            return 0
    except directory.DirectoryError as exc:
        print(f"maild customers {action}: {exc}", file=sys.stderr)
        return 1
    return {"list": _customers_list, "import": _customers_import,
            "export": _customers_export}[action](rt, args)


def _customers_list(rt: Runtime, args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from maild.service import customers as directory

    with Session(rt.engine) as s:
        rows = directory.listing(s, args.company, args.vip, args.auto_created, args.search)
    if args.json:
        print_json([directory.customer_json(c) for c in rows])
    else:
        table([(c.id, c.employee_id, c.name, c.company, c.email, "VIP" if c.vip else "",
                 "auto" if c.auto_created else "") for c in rows],
               ("id", "employee", "name", "company", "email", "vip", "created"))
    return 0


def _customers_import(rt: Runtime, args: argparse.Namespace) -> int:
    from maild.db.models import utcnow
    from maild.service import customers as directory

    with args.file.open(encoding="utf-8-sig", newline="") as fh:
        rows, errors = directory.read_csv(fh)
    for err in errors[:50]:
        print(f"{args.file}: {err}", file=sys.stderr)
    if len(errors) > 50:
        print(f"{args.file}: … and {len(errors) - 50} more errors", file=sys.stderr)
    if errors and not args.skip_invalid:
        print(f"nothing imported: {len(errors)} bad row(s); fix them or use --skip-invalid",
              file=sys.stderr)
        return 1

    def progress(done: int, total: int) -> None:
        if total >= 1000:
            print(f"\rimporting {done:,}/{total:,} ({done * 100 // total}%)", end="",
                  file=sys.stderr, flush=True)
            if done == total:
                print(file=sys.stderr)

    created, updated = directory.import_rows(rt.engine, rows, utcnow(), progress)
    skipped = f", {len(errors)} bad row(s) skipped" if errors else ""
    print(f"{created} created, {updated} updated{skipped}")
    return 0


def _customers_export(rt: Runtime, args: argparse.Namespace) -> int:
    import csv

    from sqlmodel import Session

    from maild.core.directory import COLUMNS
    from maild.service import customers as directory

    out = args.file.open("w", encoding="utf-8", newline="") if args.file else sys.stdout
    try:
        writer = csv.DictWriter(out, fieldnames=list(COLUMNS))
        writer.writeheader()
        with Session(rt.engine) as s:
            for row in directory.export_rows(s):
                writer.writerow(row)
    finally:
        if args.file:
            out.close()
    return 0


