"""`maild check` against real Dovecot and a real SMTP server: one line per part, exact reasons."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from maildenv import Maild, write_config
from servers import Dovecot, SmtpSink, free_port

from maild.cli.main import main
from maild.db import migrate


def check(config: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["check", "--config", str(config), *extra])
    return code, capsys.readouterr().out


def lines(out: str) -> dict[str, str]:
    """check name → its line."""
    return {line.split()[1]: line for line in out.splitlines()}


def test_all_ok(maild: Maild, capsys: pytest.CaptureFixture[str]) -> None:
    """A working installation: ok lines (a warning at most) and exit 0."""
    code, out = check(maild.config, capsys)
    assert code == 0, out
    got = lines(out)
    assert list(got) == ["config", "database", "rules", "trust", "store", "imap", "smtp"]
    assert all(line.startswith(("ok", "warn")) for line in got.values()), out
    assert "logged in, folder 'INBOX' selected" in got["imap"]
    assert f"schema at {migrate.head()} (head)" in got["database"]


def test_json_output(maild: Maild, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = check(maild.config, capsys, "--json")
    data = json.loads(out)
    assert code == 0 and [c["name"] for c in data] == ["config", "database", "rules", "trust",
                                                        "store", "imap", "smtp"]
    assert all(c["ok"] is True and c["detail"] for c in data)


def test_staff_without_authserv_id_is_a_warning(maild: Maild,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """Existing installs keep working, but learn that operators need personal addresses."""
    code, out = check(maild.config, capsys)
    assert code == 0
    assert lines(out)["trust"].startswith("warn") and "maild staff address" in out
    with maild.config.open("a") as fh:
        fh.write('[trust]\nauthserv_id = "mx.corp.example"\n')
    code, out = check(maild.config, capsys)
    assert code == 0 and lines(out)["trust"].startswith("ok")


def test_store_readable_by_others_is_a_warning(maild: Maild,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    store = maild.settings.paths.store
    store.mkdir(mode=0o700, exist_ok=True)
    store.chmod(0o700)
    code, out = check(maild.config, capsys)
    assert code == 0 and lines(out)["store"].startswith("ok"), out
    (store / "leak.eml").write_bytes(b"x")
    (store / "leak.eml").chmod(0o644)
    code, out = check(maild.config, capsys)
    assert code == 0 and lines(out)["store"].startswith("warn")
    assert "leak.eml is 0644" in lines(out)["store"]


def test_wrong_imap_password_is_named(maild: Maild, capsys: pytest.CaptureFixture[str]) -> None:
    maild.config.write_text(maild.config.read_text().replace('password = "secret"',
                                                             'password = "wrong-pass"'))
    code, out = check(maild.config, capsys)
    got = lines(out)
    assert code == 1
    assert got["imap"].startswith("FAIL")
    assert "login as helpdesk@corp.example refused" in got["imap"]
    assert "wrong-pass" not in out
    assert got["smtp"].startswith("ok") and got["database"].startswith("ok")


def test_closed_smtp_port_is_named(maild: Maild, dovecot: Dovecot,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    text = maild.config.read_text()
    head, _, tail = text.partition("[smtp]")
    tail = tail.replace(f"port = {maild.settings.smtp.port}", f"port = {port}", 1)
    maild.config.write_text(head + "[smtp]" + tail)
    code, out = check(maild.config, capsys)
    got = lines(out)
    assert code == 1 and got["imap"].startswith("ok")
    assert got["smtp"].startswith("FAIL") and f"127.0.0.1:{port}" in got["smtp"]
    assert "SMTPConnectError" in got["smtp"] or "refused" in got["smtp"].lower()


@pytest.fixture
def auth_sink() -> Iterator[SmtpSink]:
    with SmtpSink(auth=("relay-user", "relay-pass")) as sink:
        yield sink


def test_smtp_login(maild: Maild, auth_sink: SmtpSink, capsys: pytest.CaptureFixture[str]) -> None:
    """With [smtp] username set, the login itself is checked: good, then refused."""
    text = maild.config.read_text()
    base = text.replace(f"port = {maild.settings.smtp.port}", f"port = {auth_sink.port}")
    for password, ok in (("relay-pass", True), ("bad-pass", False)):
        maild.config.write_text(base.replace(
            "timeout_seconds = 5", f'timeout_seconds = 5\nusername = "relay-user"\n'
                                   f'password = "{password}"'))
        code, out = check(maild.config, capsys)
        got = lines(out)["smtp"]
        if ok:
            assert code == 0 and "logged in as relay-user" in got, out
        else:
            assert code == 1 and got.startswith("FAIL") and "login as relay-user refused" in got
            assert "bad-pass" not in out


def test_unmigrated_database_says_what_to_run(dovecot: Dovecot, smtp_sink: SmtpSink,
                                              tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, dovecot.imap_port, smtp_sink.port, empty_db=True)
    code, out = check(config, capsys)
    got = lines(out)
    assert code == 1
    assert got["database"].startswith("FAIL")
    assert "schema is at nothing (empty database)" in got["database"]
    assert "run 'maild db upgrade'" in got["database"]


def test_bad_config_skips_the_rest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, 1, 1)
    config.write_text(config.read_text().replace("poll_seconds = 1", "poll_seconds = 1\nidel = 1"))
    code, out = check(config, capsys)
    got = lines(out)
    assert code == 1
    assert got["config"].startswith("FAIL") and "unknown key(s) in [imap]: idel" in got["config"]
    assert all("skipped: the config must be fixed first" in got[n]
               for n in ("database", "rules", "imap", "smtp"))


def test_broken_rules_file_is_named(maild: Maild, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    for name in ("staff.toml", "sites.toml", "sla.toml"):
        (rules / name).write_text((Path(maild.settings.paths.rules) / name).read_text())
    (rules / "sla.toml").write_text("this is = = not toml\n")
    maild.config.write_text(maild.config.read_text().replace(
        f'rules = "{maild.settings.paths.rules}"', f'rules = "{rules}"'))
    code, out = check(maild.config, capsys)
    got = lines(out)
    assert code == 1 and got["rules"].startswith("FAIL")
    assert f"{rules / 'sla.toml'}: not valid TOML" in got["rules"]
