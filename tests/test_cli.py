"""The scripting contract (SPEC §7): JSON shapes, exit codes, readable errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from databases import on_postgres
from maildenv import Maild, new_mail, write_config

CASE_KEYS = {"id", "subject", "status", "priority", "type", "channel", "customer", "engineer",
             "description", "resolution", "rating", "created_at", "dispatched_at",
             "first_response_at", "resolved_at", "closed_at", "handling_seconds", "log",
             "attachments", "sla"}  # SPEC §7 plus issue 4's "sla"
MESSAGE_KEYS = {"id", "message_id", "from", "subject", "disposition", "case_id", "reason",
                "received_at"}


def maild_cli(*args: str, config: Path,
              stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "maild", *args, "--config", str(config)],
                          input=stdin, capture_output=True, timeout=60)


@pytest.fixture
def installed(tmp_path: Path) -> Maild:
    """A maild with a migrated database; SMTP and IMAP point at closed ports (not used)."""
    m = Maild(write_config(tmp_path, 1, 1))
    m.add_customer("wang.fang@sh.corp.example", "王芳", company="上海分公司")
    return m


def test_ingest_then_json_shapes(installed: Maild, tmp_path: Path) -> None:
    """`ingest` from a file and from stdin; `cases` and `messages` print SPEC's keys exactly."""
    mail = tmp_path / "m.eml"
    mail.write_bytes(new_mail("wang.fang@sh.corp.example", "打印机坏了", "打印机不工作"))
    first = maild_cli("ingest", str(mail), "--json", config=installed.config)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["disposition"] == "new_case"
    again = maild_cli("ingest", config=installed.config, stdin=mail.read_bytes())
    assert again.returncode == 0 and again.stdout.decode().startswith("duplicate")

    shown = json.loads(maild_cli("cases", "show", "1", "--json", config=installed.config).stdout)
    assert set(shown) == CASE_KEYS
    assert set(shown["customer"]) == {"email", "name", "employee_id", "company"}
    assert set(shown["engineer"]) == {"email", "name"}
    assert shown["customer"]["name"] == "王芳" and shown["status"] == "dispatched"
    assert set(shown["log"][0]) == {"at", "author", "kind", "text"}

    listed = json.loads(maild_cli("cases", "list", "--json", config=installed.config).stdout)
    assert [c["id"] for c in listed] == [1] and set(listed[0]) == CASE_KEYS - {"log"}
    msgs = json.loads(maild_cli("messages", "list", "--json", config=installed.config).stdout)
    assert [m["disposition"] for m in msgs] == ["new_case", "duplicate"]
    assert all(set(m) == MESSAGE_KEYS for m in msgs)


def test_ingest_exits_75_when_the_database_is_unavailable(tmp_path: Path) -> None:
    """The MTA must retry: a database that cannot be opened is a temporary failure."""
    config = write_config(tmp_path, 1, 1)
    if on_postgres():  # a server that is not there
        text = config.read_text()
        url = text.split('url = "', 1)[1].split('"', 1)[0]
        config.write_text(text.replace(url, "postgresql+psycopg://postgres@127.0.0.1:1/none"))
    else:
        (tmp_path / "maild.db").mkdir()  # a directory where the SQLite file should be
    out = maild_cli("ingest", config=config, stdin=new_mail("a@b.example", "x", "y"))
    assert out.returncode == 75, out.stderr


def test_config_error_names_file_and_key(tmp_path: Path) -> None:
    config = write_config(tmp_path, 1, 1, unknown_senders="maybe")
    out = maild_cli("cases", "list", config=config)
    assert out.returncode == 2
    err = out.stderr.decode()
    assert str(config) in err and "unknown_senders" in err and "open, hold, reject" in err


def test_missing_schema_is_explained(tmp_path: Path) -> None:
    config = write_config(tmp_path, 1, 1, empty_db=True)
    out = maild_cli("cases", "list", config=config)
    assert out.returncode == 2 and "maild db upgrade" in out.stderr.decode()


def test_unknown_case_exits_1(installed: Maild) -> None:
    out = maild_cli("cases", "show", "99", config=installed.config)
    assert out.returncode == 1 and "no case #99" in out.stderr.decode()


@pytest.mark.sqlite_only
def test_ingest_exits_75_while_another_writer_holds_the_lock(tmp_path: Path) -> None:
    """A locked SQLite file: exit 75 after the busy timeout, nothing written; then it works."""
    import sqlite3

    config = write_config(tmp_path, 1, 1)
    config.write_text(config.read_text().replace(
        "[database]\n", "[database]\nbusy_timeout_seconds = 1\n"))
    m = Maild(config)
    m.add_customer("wang.fang@sh.corp.example", "王芳", company="上海分公司")
    mail = new_mail("wang.fang@sh.corp.example", "Printer", "Jams")
    holder = sqlite3.connect(tmp_path / "maild.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        out = maild_cli("ingest", config=config, stdin=mail)
        assert out.returncode == 75, out.stderr
        assert b"try again" in out.stderr
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    msgs = json.loads(maild_cli("messages", "list", "--json", config=config).stdout)
    assert msgs == []  # nothing half-written
    assert maild_cli("ingest", config=config, stdin=mail).returncode == 0
