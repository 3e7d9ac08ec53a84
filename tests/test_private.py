"""Files at rest are owner-only whatever the umask: the database and stored attachments."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from maild.db.attachments import blob_path, store_blob
from maild.db.private import loose_modes
from maild.db.session import make_engine


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_attachments_are_stored_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        digest = store_blob(tmp_path / "store", b"payslip.pdf")
    finally:
        os.umask(old)
    path = blob_path(tmp_path / "store", digest)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700 and mode(tmp_path / "store" / "attachments") == 0o700
    assert mode(tmp_path / "store") == 0o700
    assert loose_modes(tmp_path / "store") == []


def test_sqlite_database_is_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "store" / "maild.db"
    old = os.umask(0o022)
    try:
        engine = make_engine(f"sqlite:///{db}")
        with engine.begin() as conn:
            conn.execute(sa.text("create table t (x int)"))
        engine.dispose()
        engine = make_engine(f"sqlite:///{db}")  # a file made loose later is tightened
        db.chmod(0o644)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    finally:
        os.umask(old)
    assert mode(db) == 0o600 and mode(db.parent) == 0o700


def test_the_maild_command_runs_with_an_owner_only_umask(tmp_path: Path) -> None:
    """``python -m maild`` (and the console script) create nothing others can read."""
    code = ("import os, runpy, sys; import maild.cli;\n"
            "m = sys.modules['maild.cli.main'];\n"
            "m.main = lambda argv=None: print(oct(os.umask(0))) or 0;\n"
            "runpy.run_module('maild', run_name='__main__')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False)
    assert out.stdout.strip() == "0o77", out.stderr
