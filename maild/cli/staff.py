"""``maild staff address EMAIL``: a staff member's personal helpdesk address (docs/TRUST.md)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from maild.cli.common import json_flag, print_json, runtime


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("staff", parents=[common], help="staff members' personal addresses")
    ssub = p.add_subparsers(dest="staff_command", required=True, metavar="ACTION")
    a = ssub.add_parser(
        "address", parents=[common], help="the personal helpdesk address of a staff member",
        description="Mail sent to this address from the staff member's own address is known "
                    "to be theirs (phone summaries, forwards, #search). It is signed with "
                    "[helpdesk] secret: it changes when the secret is rotated, and the old "
                    "one keeps working while the old secret is in previous_secrets.")
    a.add_argument("email", help="the staff member's address, as in rules/staff.toml")
    json_flag(a)


def run(args: argparse.Namespace) -> int:
    from maild.service.notices import personal_address

    rt = runtime(args, check_schema=False)
    email = args.email.strip().lower()
    if rt.rules.person(email) is None:
        print(f"maild: {email} is not a staff member (see the rules' staff list)",
              file=sys.stderr)
        return 1
    address = personal_address(rt, email)
    if args.json:
        print_json({"email": email, "address": address})
    else:
        print(address)
    return 0
