"""Three `maild run` replicas on one PostgreSQL, one mailbox and one SMTP relay; the scheduler
leader is killed with SIGKILL half-way. Every message gets exactly one disposition, every case
exactly one acknowledgement, and another replica takes over the scheduler.

Real processes (``python -m maild run``), real Dovecot (mail delivered over LMTP while the
replicas run), a real SMTP sink. Runs in the PostgreSQL pass of .ci/run.
"""

from __future__ import annotations

import os
import re
import signal
import smtplib
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa
from faults import wait_until
from maildenv import HELPDESK, Maild, write_config
from servers import Dovecot, SmtpSink
from sqlmodel import Session

from maild.db.models import Customer, utcnow
from maild.db.session import make_engine

pytestmark = [pytest.mark.postgres_only, pytest.mark.integration, pytest.mark.timeout(900),
              pytest.mark.long]

MESSAGES = int(os.environ.get("MAILD_REPLICA_MESSAGES", "2000"))  # smaller only to debug
REPLICAS = 3
LEADS = "leader: this replica runs the scheduled jobs"
CASE_RE = re.compile(r"\[Case #(\d+)\]")


def customer(i: int) -> str:
    return f"user{i}@sh.corp.example"


def mails() -> list[bytes]:
    """A new mail from each of MESSAGES known customers, Chinese and English."""
    out = []
    for i in range(MESSAGES):
        msg = EmailMessage()
        msg["From"] = f"用户{i} <{customer(i)}>"
        msg["To"] = HELPDESK
        msg["Subject"] = f"打印机卡纸 {i}" if i % 2 else f"VPN down {i}"
        msg["Message-ID"] = f"<replica-test-{i}@sh.corp.example>"
        msg.set_content("三楼的打印机一直卡纸。" if i % 2 else "The VPN fails with error 809.")
        out.append(msg.as_bytes())
    return out


def deliver_all(dovecot: Dovecot, raws: list[bytes], errors: list[BaseException]) -> None:
    """Over one LMTP connection, as an MTA would; a 4xx is tried again, as an MTA would."""
    try:
        with smtplib.LMTP(dovecot.host, dovecot.lmtp_port, timeout=60) as lmtp:
            for raw in raws:
                for attempt in range(5):
                    try:
                        lmtp.sendmail("mta@corp.example", [HELPDESK], raw)
                        break
                    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError) as exc:
                        # a 4xx at RCPT or DATA (Dovecot says "451 Internal error" when its
                        # maildir is busy under load) is tried again; anything else is not
                        code = getattr(exc, "smtp_code", 400)
                        if attempt == 4 or not 400 <= code < 500:
                            raise
                        time.sleep(0.5)
    except BaseException as exc:
        errors.append(exc)


def start_replica(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as err:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([sys.executable, "-m", "maild", "run", "--config", str(config)],
                                stdout=subprocess.DEVNULL, stderr=err,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_three_replicas_one_killed(tmp_path: Path, dovecot: Dovecot,
                                   smtp_sink: SmtpSink) -> None:
    config = write_config(tmp_path, dovecot.imap_port, smtp_sink.port)
    config.write_text(config.read_text().replace(
        "[database]\n", "[database]\nleader_retry_seconds = 1\n"))
    m = Maild(config)
    with Session(m.rt.engine) as s:
        s.add_all(Customer(email=customer(i), name=f"用户{i}", company="上海分公司",
                           created_at=utcnow()) for i in range(MESSAGES))
        s.commit()
    engine = make_engine(m.settings.database.url)

    def count(sql: str) -> int:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(sql)).scalar_one())

    logs = [tmp_path / f"replica{i}.log" for i in range(REPLICAS)]
    procs = [start_replica(config, logs[0])]
    try:  # replica 0 leads (it starts first); it is the one killed
        wait_until(lambda: LEADS in logs[0].read_text(), 30, "replica 0 to lead")
        procs += [start_replica(config, log) for log in logs[1:]]
        raws = mails()
        started = time.monotonic()
        errors: list[BaseException] = []
        delivery = threading.Thread(target=deliver_all, args=(dovecot, raws, errors), daemon=True)
        delivery.start()
        wait_until(lambda: count("SELECT count(*) FROM messages") >= MESSAGES // 2, 400,
                   "half the messages")
        procs[0].send_signal(signal.SIGKILL)
        killed_at = count("SELECT count(*) FROM messages")
        delivery.join(timeout=120)
        assert not errors, errors
        wait_until(lambda: (
            count("SELECT count(*) FROM messages") >= MESSAGES
            and count("SELECT count(*) FROM outbox WHERE status <> 'sent'") == 0
            and dovecot.count("INBOX") == 0), 600, "every message and mail")
        seconds = time.monotonic() - started
        wait_until(lambda: any(LEADS in log.read_text() for log in logs[1:]), 15,
                   "a new leader")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=30)
    assert [p.returncode for p in procs[1:]] == [0, 0], [log.read_text()[-2000:]
                                                         for log in logs[1:]]

    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT message_id, disposition FROM messages")).all()
        acks = conn.execute(sa.text(
            "SELECT case_id, count(*) FROM outbox WHERE template = 'ack' GROUP BY case_id")).all()
        cases = count("SELECT count(*) FROM cases")
    engine.dispose()
    per_message = Counter(mid for mid, _ in rows)
    duplicates = sum(n - 1 for n in per_message.values())
    assert len(per_message) == MESSAGES and duplicates == 0
    assert Counter(d for _, d in rows) == {"new_case": MESSAGES}
    assert cases == MESSAGES and len(acks) == MESSAGES and {n for _, n in acks} == {1}
    assert dovecot.count("Processed") == MESSAGES and dovecot.count("Failed") == 0

    # what the customers received: one acknowledgement per case (by Message-ID); the only
    # mail that may arrive twice is the one the killed replica was sending when it died
    delivered: dict[int, list[str]] = defaultdict(list)
    for sent in smtp_sink.messages:
        if sent.rcpt_tos[0].startswith("user"):
            msg = sent.message()
            found = CASE_RE.search(str(msg["Subject"]))
            assert found is not None
            delivered[int(found.group(1))].append(str(msg["Message-ID"]))
    assert len(delivered) == MESSAGES
    double_acks = sum(1 for ids in delivered.values() if len(set(ids)) > 1)
    assert double_acks == 0
    resent = sum(len(ids) - 1 for ids in delivered.values())
    assert resent <= 1
    print(f"\nreplicas: {MESSAGES} messages, {REPLICAS} replicas (one SIGKILLed at "
          f"{killed_at} recorded) in {seconds:.1f} s = {MESSAGES / seconds:.0f} msg/s; "
          f"duplicate dispositions {duplicates}, cases with two acknowledgements {double_acks}, "
          f"acknowledgements re-sent by SMTP after the kill {resent}")
