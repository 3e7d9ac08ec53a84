"""Which of maild's modules one email passes through: a call trace of ``ingest``.

Answers "how many rooms does a reader visit to follow one mail?" by counting,
while one message is ingested, every call of a function defined in a ``maild``
module (``sys.setprofile``):

- **modules**: the distinct ``maild.*`` modules whose functions ran;
- **switches**: the calls from a function of one ``maild`` module into a
  function of another (a reader following the code jumps file there).

Library code (SQLAlchemy, Jinja, the stdlib) is not counted, nor are calls
that stay inside one module. Two mails are traced on a fresh SQLite file: a
known customer's new case, then the assigned engineer's ``#resolve`` reply
through the case token of the dispatch mail. Usage:

    .venv/bin/python benchmarks/trace_path.py [--list]
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests")]

from maildenv import Maild, new_mail, parsed, reply_to, write_config  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from maild.db.models import OutboxMail, utcnow  # noqa: E402

PACKAGE = str(ROOT / "maild")


def _ingest() -> Callable[..., Any]:
    """The single entry point for inbound mail, wherever the layout of the day keeps it."""
    for name in ("maild.service.intake", "maild.service"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "ingest"):
            return module.ingest  # type: ignore[no-any-return]
    raise SystemExit("no maild ingest function found")


def _module(frame: FrameType) -> str | None:
    path = frame.f_code.co_filename
    if not path.startswith(PACKAGE):
        return None
    rel = Path(path).relative_to(ROOT).with_suffix("")
    return ".".join(rel.parts).removesuffix(".__init__")


def trace(call: Callable[[], Any]) -> tuple[list[str], int]:
    """Modules in order of first entry, and the number of cross-module calls."""
    seen: dict[str, None] = {}
    switches = 0

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal switches
        if event != "call":
            return
        here = _module(frame)
        if here is None:
            return
        seen.setdefault(here, None)
        caller = frame.f_back
        while caller is not None and _module(caller) is None:
            caller = caller.f_back  # through library frames (e.g. a Jinja filter of ours)
        if caller is not None and _module(caller) != here:
            switches += 1

    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
    return list(seen), switches


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--list", action="store_true", help="print the modules in order")
    args = ap.parse_args()
    ingest = _ingest()
    with tempfile.TemporaryDirectory() as tmp:
        maild = Maild(write_config(Path(tmp), 1, 1))  # SMTP is not used: ingest only
        maild.add_customer("wang.fang@sh.corp.example", "Wang Fang", "Shanghai Branch")
        first = new_mail("Wang Fang <wang.fang@sh.corp.example>", "Printer jams",
                         "The printer on floor 3 jams on every page.")
        ingest(maild.rt, first, utcnow())  # warm-up: imports and caches are not the path
        rows: list[tuple[str, list[str], int]] = []
        second = new_mail("Wang Fang <wang.fang@sh.corp.example>", "Monitor flickers",
                          "My monitor flickers since this morning.")
        mods, switches = trace(lambda: ingest(maild.rt, second, utcnow()))
        rows.append(("new case (known customer)", mods, switches))
        with Session(maild.rt.engine) as s:
            dispatch = s.exec(select(OutboxMail).where(OutboxMail.template == "dispatch")
                              .order_by(OutboxMail.id.desc())).first()  # type: ignore[union-attr]
        assert dispatch is not None, "no dispatch mail was queued"
        engineer = str(parsed(dispatch.raw)["To"])
        reply = reply_to(dispatch.raw, engineer, "#resolve replaced the cable")
        mods, switches = trace(lambda: ingest(maild.rt, reply, utcnow()))
        rows.append(("#resolve reply (engineer)", mods, switches))
    for label, mods, switches in rows:
        print(f"{label:28} {len(mods):3d} modules {switches:5d} switches")
        if args.list:
            tops = Counter(m.split(".")[1] for m in mods)
            print("    by room: " + ", ".join(f"{k} {v}" for k, v in sorted(tops.items())))
            for m in mods:
                print(f"    {m}")


if __name__ == "__main__":
    main()
