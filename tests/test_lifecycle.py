"""`maild run` as a real process: SIGTERM finishes the message in hand, SIGHUP reloads rules."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from daemonproc import DaemonProcess, add_sections
from maildenv import REPO, SECRET, Maild, new_mail
from servers import Dovecot, SmtpSink
from sqlmodel import Session, col, select

from maild.db.models import Case, InboundMessage

CUSTOMER = "wang.fang@sh.corp.example"


@pytest.mark.sqlite_only  # holds the database with a SQLite file lock
def test_sigterm_finishes_and_moves_the_message_in_hand(maild: Maild, dovecot: Dovecot,
                                                        smtp_sink: SmtpSink,
                                                        tmp_path: Path) -> None:
    """SIGTERM while a message is being ingested (held up by a database lock): the daemon
    waits for it, records it, moves it to Processed, leaves the next one in INBOX, exits 0."""
    maild.add_customer(CUSTOMER, "王芳", company="上海分公司")
    add_sections(maild.config, '[logging]\nformat = "json"\nlevel = "debug"')
    daemon = DaemonProcess(maild.config, tmp_path / "maild.log")
    lock = sqlite3.connect(tmp_path / "maild.db", isolation_level=None, timeout=10)
    try:
        daemon.wait_running()
        lock.execute("BEGIN IMMEDIATE")  # the daemon's write will wait for this lock
        dovecot.deliver(new_mail(CUSTOMER, "Printer", "Jammed."), mail_from=CUSTOMER)
        daemon.wait_for(lambda e: e.get("event") == "fetched" and e.get("uids") == [1])
        dovecot.deliver(new_mail(CUSTOMER, "Mouse", "Broken."), mail_from=CUSTOMER)
        time.sleep(0.3)  # the ingest thread is now blocked on the lock
        daemon.signal(signal.SIGTERM)
        daemon.wait_for(lambda e: e.get("event") == "stopping")
        time.sleep(0.5)
        assert daemon.proc.poll() is None, "exited with a message in hand"
        lock.execute("ROLLBACK")
        assert daemon.proc.wait(timeout=20) == 0
    finally:
        lock.close()
        daemon.stop()
    with Session(maild.rt.engine) as s:
        rows = s.exec(select(InboundMessage)).all()
        assert [(r.subject, r.disposition) for r in rows] == [("Printer", "new_case")]
    assert dovecot.count("Processed") == 1
    assert dovecot.count("INBOX") == 1  # the next message waits for the next start
    assert any(e.get("event") == "stopped" for e in daemon.events())


def _engineer_of_latest_case(maild: Maild) -> str | None:
    with Session(maild.rt.engine) as s:
        case = s.exec(select(Case).order_by(col(Case.id).desc())).first()
        assert case is not None
        return case.engineer_email


def test_sighup_reloads_rules_and_refuses_a_bad_file(maild: Maild, dovecot: Dovecot,
                                                     smtp_sink: SmtpSink,
                                                     tmp_path: Path) -> None:
    """A changed sites.toml is used for the next case after SIGHUP; a broken staff.toml is
    refused with its file and key logged, the daemon stays up and keeps the old rules."""
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    text = maild.config.read_text().replace(f'rules = "{REPO / "rules"}"', f'rules = "{rules}"')
    maild.config.write_text(text + '[logging]\nformat = "json"\n')
    london = "tom@uk.corp.example"
    maild.add_customer(london, "Tom", company="London Office")
    daemon = DaemonProcess(maild.config, tmp_path / "maild.log")

    def case_from(subject: str, n: int) -> str | None:
        dovecot.deliver(new_mail(london, subject, "Help."), mail_from=london)
        dovecot.wait_for_count("Processed", n, timeout=20)
        return _engineer_of_latest_case(maild)

    try:
        daemon.wait_running()
        assert case_from("Laptop", 1) == "john.smith@corp.example"

        sites = rules / "sites.toml"
        sites.write_text(sites.read_text().replace(
            'engineers = ["john.smith@corp.example"]', 'engineers = ["han.meimei@corp.example"]'))
        mark = len(daemon.events())
        daemon.signal(signal.SIGHUP)
        daemon.wait_for(lambda e: e.get("event") == "reloaded", after=mark)
        assert case_from("Dock", 2) == "han.meimei@corp.example"

        staff = rules / "staff.toml"
        staff.write_text(staff.read_text().replace('email = "han.meimei@corp.example"',
                                                   'mail = "han.meimei@corp.example"'))
        mark = len(daemon.events())
        daemon.signal(signal.SIGHUP)
        refused = daemon.wait_for(lambda e: e.get("event") == "reload_failed", after=mark)
        assert refused["level"] == "error"
        assert str(staff) in refused["msg"] and "email" in refused["msg"]
        assert daemon.proc.poll() is None
        assert case_from("Screen", 3) == "han.meimei@corp.example"  # the old (good) rules
    finally:
        daemon.stop()
    text = daemon.log_path.read_text()
    assert all(json.loads(line)["ts"] for line in text.splitlines())  # one JSON event per line
    assert SECRET not in text and 'password = "secret"' not in text
