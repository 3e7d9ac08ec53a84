"""Crash test (issue 8): SIGKILL ``maild run`` ten times while it drains 2,000 messages.

What it proves: a disposition is committed with the case and its
notifications in one transaction, the mail is moved only after the commit,
and the outbox resends a mail only with its stored Message-ID. So after any
number of hard kills every message has exactly one disposition and every
case exactly one acknowledgement; the only duplicates allowed are resends
of a mail that was in flight at a kill, and those carry the same Message-ID.
"""

from __future__ import annotations

import os
import random
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from faults import (
    MAILD,
    db_count,
    deliver_many,
    id_counts,
    maild_run,
    tally,
    tune_config,
    wait_until,
)
from maildenv import Maild, new_mail, parsed
from servers import Dovecot, SmtpSink
from sqlmodel import Session

from maild.db.models import Customer, utcnow

pytestmark = pytest.mark.integration

MESSAGES = 2000
CUSTOMERS = 400  # five mails each: under the ten automatic answers per address and hour
KILLS = 10
SUBJECTS = [("Printer jams on floor {n}", "The printer jams on every page. Ticket {n}."),
            ("打印机卡纸 {n}", "三楼的打印机一直卡纸，第 {n} 次了。"),
            ("VPN drops every hour ({n})", "VPN disconnects, please help. {n}"),
            ("邮箱无法登录 {n}", "Outlook 一直提示密码错误。编号 {n}。")]


def _customers(maild: Maild) -> list[str]:
    addrs = [f"user{i:03d}@branch{i % 7}.corp.example" for i in range(CUSTOMERS)]
    with Session(maild.rt.engine) as s:
        for i, addr in enumerate(addrs):
            s.add(Customer(email=addr, name=f"User {i}", created_at=utcnow()))
        s.commit()
    return addrs


def _mails(addrs: list[str]) -> list[tuple[str, bytes, str]]:
    out = []
    for n in range(MESSAGES):
        sender = addrs[n % len(addrs)]
        subject, body = SUBJECTS[n % len(SUBJECTS)]
        raw = new_mail(sender, subject.format(n=n), body.format(n=n))
        out.append((sender, raw, str(parsed(raw)["Message-ID"]).strip("<>")))
    return out


def _recorded(config: Path) -> int:
    return db_count(config, "SELECT count(*) FROM messages")


def _due_pending(config: Path) -> int:
    now = datetime.now(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return db_count(config, "SELECT count(*) FROM outbox WHERE status = 'pending' "
                            "AND next_attempt_at <= ?", now)


@pytest.mark.long
@pytest.mark.timeout(900)
def test_sigkill_ten_times_while_draining(tmp_path: Path, maild: Maild, dovecot: Dovecot,
                                          smtp_sink: SmtpSink) -> None:
    """2,000 new-case mails; ``maild run`` SIGKILLed at ten random moments and restarted.

    End state: each Message-ID has one row with a disposition, INBOX is empty,
    each case has exactly one acknowledgement to its customer and one dispatch
    to its engineer; duplicates only as same-Message-ID resends (counted)."""
    seed = int(os.environ.get("MAILD_FAULT_SEED", random.randrange(1 << 32)))
    print(f"\nMAILD_FAULT_SEED={seed}")
    rng = random.Random(seed)
    tune_config(maild.config, "imap", idle=True)
    addrs = _customers(maild)
    mails = _mails(addrs)
    t0 = time.monotonic()
    deliver_many(dovecot, [(sender, raw) for sender, raw, _ in mails])
    print(f"delivered {MESSAGES} over LMTP in {time.monotonic() - t0:.1f} s")
    log = tmp_path / "maild-run.log"
    config = maild.config
    started = time.monotonic()
    # Ten kill points spread over the drain; each kill lands 0-0.3 s after that many
    # messages are recorded: inside a transaction, before a MOVE, during a send.
    points = sorted(rng.sample(range(20, MESSAGES - 100), KILLS))
    done_at_kill = []
    for point in points:
        target = max(point, _recorded(config) + 1)  # each run makes progress before its kill
        proc = maild_run(config, log)
        try:
            wait_until(lambda n=target, p=proc: _recorded(config) >= n or not p.alive(),
                       600, f"maild run records {point} messages", every=0.05)
            assert proc.alive(), proc.log_tail()
            time.sleep(rng.uniform(0.0, 0.3))
        finally:
            proc.kill9()
        done_at_kill.append(_recorded(config))
    print(f"kill points {points}; messages recorded at each kill: {done_at_kill}")
    assert done_at_kill[-1] < MESSAGES, "every kill must land while mail is still waiting"

    proc = maild_run(config, log)
    try:
        wait_until(lambda: db_count(config, "SELECT count(*) FROM messages") >= MESSAGES
                   and dovecot.count("INBOX") == 0 and _due_pending(config) == 0,
                   600, "the last run drains the mailbox and the outbox", every=0.5)
    finally:
        assert proc.stop() == 0, proc.log_tail()
    print(f"drained with {KILLS} kills in {time.monotonic() - started:.1f} s")
    # Mail claimed by a killed process waits out its lease (5 min); an operator's
    # `maild outbox flush` sends it now. Those are the only candidates for a resend.
    leased = db_count(config, "SELECT count(*) FROM outbox WHERE status = 'pending'")
    flushed = subprocess.run([*MAILD, "outbox", "flush", "--config", str(config)],
                             capture_output=True, text=True, timeout=60)
    assert flushed.returncode == 0, flushed.stderr
    assert db_count(config, "SELECT count(*) FROM outbox WHERE status != 'sent'") == 0

    # Inbound: one row with a disposition per delivered Message-ID, all moved out of INBOX.
    rows = db_count(config, "SELECT count(*) FROM messages")
    assert rows == MESSAGES
    for _, _, msgid in mails[:: MESSAGES // 50]:
        assert db_count(config, "SELECT count(*) FROM messages WHERE message_id = ? AND "
                                "disposition = 'new_case'", msgid) == 1, msgid
    assert db_count(config, "SELECT count(DISTINCT message_id) FROM messages "
                            "WHERE disposition = 'new_case'") == MESSAGES
    assert db_count(config, "SELECT count(*) FROM cases") == MESSAGES
    assert dovecot.count("INBOX") == 0
    assert dovecot.count("Processed") == MESSAGES and dovecot.count("Failed") == 0

    # Outbound: one acknowledgement per case to its customer, one dispatch to an engineer.
    acks = tally(smtp_sink.messages, recipients=set(addrs))
    assert not acks.no_case
    assert sorted(case for case, _ in acks.by_key) == list(range(1, MESSAGES + 1))
    resends = [k for k, ids in acks.by_key.items() if len(ids) > 1]
    for key in resends:  # a twin is a resend of the very same mail, never a second ack
        assert len(set(acks.by_key[key])) == 1, (key, acks.by_key[key])
    counts = id_counts(smtp_sink.messages)
    dup_ids = {mid: n for mid, n in counts.items() if n > 1}
    assert all(n == 2 for n in dup_ids.values()), dup_ids  # at most one resend per kill
    assert len(dup_ids) <= KILLS + 1  # one mail in flight per kill (+ the final SIGTERM)
    assert len(counts) == 2 * MESSAGES  # distinct mails: ack + dispatch per case
    print(f"sink: {len(smtp_sink.messages)} mails, {len(counts)} distinct Message-IDs, "
          f"{sum(dup_ids.values()) - len(dup_ids)} resent with the same Message-ID "
          f"({len(resends)} of them acknowledgements); {leased} leased at a kill, "
          f"sent by 'maild outbox flush'")
