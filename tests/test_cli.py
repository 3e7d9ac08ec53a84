"""The scripting contract (docs/REFERENCE.md): JSON shapes, exit codes, readable errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from databases import on_postgres
from maildenv import REPO, Maild, new_mail, write_config
from sqlalchemy import func
from sqlmodel import Session, select

from maild.db.models import InboundMessage, utcnow
from maild.service.intake import ingest

CASE_KEYS = {"id", "subject", "status", "priority", "type", "channel", "customer", "engineer",
             "description", "resolution", "rating", "created_at", "dispatched_at",
             "first_response_at", "resolved_at", "closed_at", "handling_seconds", "log",
             "attachments", "sla", "follows", "visits", "complaints", "survey", "kind",
             "line", "problem"}  # docs/REFERENCE.md, "Case JSON"
MESSAGE_KEYS = {"id", "message_id", "from", "subject", "disposition", "case_id", "reason",
                "received_at"}


def maild_cli(*args: str, config: Path, stdin: bytes | None = None,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "maild", *args, "--config", str(config)],
                          input=stdin, capture_output=True, timeout=60, env=env)


@pytest.fixture
def installed(tmp_path: Path) -> Maild:
    """A maild with a migrated database; SMTP and IMAP point at closed ports (not used)."""
    m = Maild(write_config(tmp_path, 1, 1))
    m.add_customer("wang.fang@sh.corp.example", "王芳", company="上海分公司")
    return m


def test_ingest_then_json_shapes(installed: Maild, tmp_path: Path) -> None:
    """`ingest` from a file and from stdin; `cases` and `messages` print the documented keys."""
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
    assert out.returncode == 78  # EX_CONFIG
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


def _secret_from_env(config: Path) -> dict[str, str]:
    """The config reads its secret and IMAP password from variables that are not set."""
    text = config.read_text()
    secret = text.split('secret = "', 1)[1].split('"', 1)[0]
    config.write_text(text.replace(f'secret = "{secret}"', 'secret = "env:MAILD_TEST_SECRET"')
                      .replace('password = "secret"', 'password = "env:MAILD_TEST_IMAP"'))
    return {k: v for k, v in os.environ.items() if k not in ("MAILD_TEST_SECRET",
                                                             "MAILD_TEST_IMAP")}


def test_read_only_commands_need_no_secrets(installed: Maild) -> None:
    """Reading the database needs only [database]; mail handling still needs the secret."""
    ingest(installed.rt, new_mail("wang.fang@sh.corp.example", "printer", "jams"), utcnow())
    env = _secret_from_env(installed.config)
    for command in (["cases", "list"], ["messages", "list", "--json"], ["outbox", "list"],
                    ["search", "printer"], ["customers", "list"], ["report", "daily"]):
        out = maild_cli(*command, config=installed.config, env=env)
        assert out.returncode == 0, (command, out.stderr)
    out = maild_cli("ingest", config=installed.config, env=env,
                    stdin=new_mail("wang.fang@sh.corp.example", "x", "y"))
    assert out.returncode == 78, out.stderr
    assert out.stderr.decode().count("\n") == 1 and "MAILD_TEST_SECRET" in out.stderr.decode()


@pytest.mark.parametrize("change", ["unknown_key", "templates", "rules", "mysql"])
def test_ingest_config_errors_are_permanent(tmp_path: Path, change: str) -> None:
    """A configuration error is exit 78 (EX_CONFIG: the MTA bounces, never retries for
    days), one line naming the file; nothing is written."""
    config = write_config(tmp_path, 1, 1)
    m = Maild(config)  # a migrated database: only the configuration is wrong
    text = config.read_text()
    text = {
        "unknown_key": text.replace("[imap]\n", "[imap]\nhots = 'x'\n"),
        "templates": text.replace(f'templates = "{REPO / "templates"}"',
                                  f'templates = "{tmp_path / "nowhere"}"'),
        "rules": text.replace(f'rules = "{REPO / "rules"}"', f'rules = "{tmp_path / "none"}"'),
        "mysql": text.replace(text.split('url = "', 1)[1].split('"', 1)[0],
                              "mysql://maild@127.0.0.1/maild"),
    }[change]
    config.write_text(text)
    out = maild_cli("ingest", config=config, stdin=new_mail("a@b.example", "x", "y"))
    err = out.stderr.decode()
    assert out.returncode == 78, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert {"unknown_key": "hots", "templates": "nowhere", "rules": "none",
            "mysql": "sqlite:///"}[change] in err
    with Session(m.rt.engine) as s:
        assert s.exec(select(func.count()).select_from(InboundMessage)).one() == 0


def test_search_limit_is_checked(installed: Maild) -> None:
    out = maild_cli("search", "x", "--limit", "99999999999999999999", config=installed.config)
    assert out.returncode == 2 and b"--limit: must be 1..10000" in out.stderr
    assert b"Traceback" not in out.stderr


def test_output_into_a_closed_pipe_is_quiet(installed: Maild, tmp_path: Path) -> None:
    """`maild cases list --json | head -c 1`: no BrokenPipeError traceback. The output
    (over 100 KB) is larger than a pipe holds, so the write meets the closed pipe."""
    for i in range(25):
        ingest(installed.rt, new_mail("wang.fang@sh.corp.example", f"printer {i}",
                                      f"line {i} " * 600), utcnow())
    cmd = (f"{sys.executable} -m maild cases list --json --config {installed.config}"
           " | head -c 1 >/dev/null")
    out = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True,
                         timeout=60)
    assert b"Traceback" not in out.stderr and b"BrokenPipe" not in out.stderr, out.stderr
    assert out.returncode in (0, 141)


def test_run_once_without_an_imap_server_is_one_line(installed: Maild) -> None:
    """Nothing listens on the IMAP port: one line with host and port, exit 75 (try again)."""
    out = maild_cli("run", "--once", config=installed.config)
    err = out.stderr.decode()
    assert out.returncode == 75, err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if "maild: IMAP: cannot connect to 127.0.0.1:1"]
