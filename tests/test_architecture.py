"""The core stays pure: no database, no network, no asyncio (STYLE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "maild" / "core"
FORBIDDEN = ("maild.db", "maild.edges", "maild.service", "maild.handlers", "asyncio", "sqlmodel",
             "sqlalchemy", "aioimaplib", "aiosmtplib", "smtplib", "imaplib", "socket")


def test_core_imports_nothing_impure() -> None:
    offenders = []
    for path in sorted(CORE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names
                          if any(n == f or n.startswith(f + ".") for f in FORBIDDEN)]
    assert offenders == []
