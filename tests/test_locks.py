"""Advisory locks between replicas, on a real PostgreSQL: a mailbox slot has one winner, the
scheduler one leader, and a dead leader's lock passes on. Runs in the PostgreSQL pass."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from faults import wait_until
from maildenv import Maild, new_mail, write_config

from maild.core.values import IngestResult
from maild.db import locks
from maild.db.session import make_engine
from maild.edges.claims import SlotClaims
from maild.edges.leader import LeaderLock
from maild.runtime import Runtime
from maild.service.intake import ingest

pytestmark = pytest.mark.postgres_only
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
SOURCE = "imap:helpdesk@127.0.0.1/INBOX;UIDVALIDITY=1;UID=7"


@pytest.fixture
def m(tmp_path: Path) -> Maild:
    m = Maild(write_config(tmp_path, 1, 1))
    m.add_customer("wang.fang@sh.corp.example", "王芳", company="上海分公司")
    return m


def replica(m: Maild) -> Runtime:
    """Another process's view: its own engine (own connections) on the same database."""
    return Runtime.load(m.settings, make_engine(m.settings.database.url))


def test_two_replicas_racing_on_one_slot_record_it_once(m: Maild) -> None:
    """Both try the same mailbox slot at the same moment: one records it, the other skips
    it (or, coming after the commit, finds it recorded); never two rows."""
    raw = new_mail("wang.fang@sh.corp.example", "打印机卡纸", "三楼打印机卡纸")
    rts = [m.rt, replica(m)]
    barrier = threading.Barrier(2)
    results: list[IngestResult | None] = []

    def race(rt: Runtime) -> None:
        claims = SlotClaims(rt, ingest)
        barrier.wait()
        results.append(claims.ingest(raw, NOW, SOURCE))
        claims.close()

    threads = [threading.Thread(target=race, args=(rt,)) for rt in rts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rts[1].engine.dispose()
    recorded = [r for r in results if r is not None and not r.already_recorded]
    assert len(recorded) == 1
    with m.rt.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM messages")).scalar_one() == 1
        assert conn.execute(sa.text("SELECT count(*) FROM cases")).scalar_one() == 1


def test_a_held_slot_is_skipped_until_released(m: Maild) -> None:
    """While one replica holds a slot the other gets None (skip, do not move); afterwards
    it finds the slot recorded."""
    raw = new_mail("wang.fang@sh.corp.example", "VPN", "VPN down")
    holder = locks.SessionLocks(m.rt.engine)
    other = SlotClaims(replica(m), ingest)
    try:
        assert holder.try_take(locks.SLOT, locks.key32(SOURCE))
        assert other.ingest(raw, NOW, SOURCE) is None
        first = ingest(m.rt, raw, NOW, SOURCE)  # the holder records it under its claim
        assert first.disposition.value == "new_case"
        holder.release(locks.SLOT, locks.key32(SOURCE))
        again = other.ingest(raw, NOW, SOURCE)
        assert again is not None and again.already_recorded and again.case_id == first.case_id
    finally:
        holder.close()
        other.close()
        other.rt.engine.dispose()


def test_two_leader_candidates_never_both_lead_and_a_dead_leaders_lock_passes(m: Maild) -> None:
    """Many rounds of two candidates: exactly one leads each time; when the leader's
    connection dies (the process was killed) the other takes over on its next try."""
    other = replica(m)
    b_engine = other.engine
    a, b = LeaderLock(m.rt), LeaderLock(other)
    try:
        for _ in range(20):
            assert [a.hold(), b.hold()].count(True) == 1
        leader, follower = (a, b) if a.held else (b, a)
        # The leader's connection dies, as on SIGKILL. Only in this test's database: the
        # other test workers run leaders of their own. pg_terminate_backend only signals
        # the backend; its lock goes when it has exited, so wait for that first.
        this_db = ("AND database = (SELECT oid FROM pg_database "
                   "WHERE datname = current_database())")
        with m.rt.engine.connect() as admin:
            admin.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                f"AND classid = :k AND granted {this_db}"), {"k": locks.LEADER})
            admin.commit()
            wait_until(lambda: admin.execute(sa.text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                f"AND classid = :k {this_db}"), {"k": locks.LEADER}).scalar() == 0, 10,
                "the killed leader's lock to go")
        assert follower.hold()
        assert not leader.hold()
        assert [a.hold(), b.hold()].count(True) == 1
    finally:
        a.release()
        b.release()
        b_engine.dispose()


def test_a_batch_leaves_a_message_being_decided_elsewhere_until_it_has_committed(
        m: Maild) -> None:
    """``ingest_batch`` does not wait inside its transaction for another one deciding the
    same Message-ID (two batches could wait for each other): that message is ingested
    alone after the batch has committed, and finds the other's copy (a duplicate)."""
    from maild.db.models import utcnow
    from maild.service.intake import ingest_batch

    raws = [new_mail("wang.fang@sh.corp.example", f"mail {i}", "x") for i in range(3)]
    other = replica(m)
    key = locks.key32(new_mail_id(raws[1]))
    holding = threading.Event()
    release = threading.Event()

    first = ingest(other, raws[1], NOW, "elsewhere")  # the other copy, already in
    assert first.disposition.value == "new_case"

    def decide_elsewhere() -> None:  # another replica's transaction on the same Message-ID
        with other.engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k, :t)"),
                         {"k": locks.DEDUP, "t": key})
            holding.set()
            release.wait(30)
            conn.commit()

    thread = threading.Thread(target=decide_elsewhere)
    thread.start()
    assert holding.wait(30)
    threading.Timer(1.0, release.set).start()
    items = [(raw, f"slot{i}") for i, raw in enumerate(raws)]
    results = ingest_batch(m.rt, items, utcnow)
    thread.join()
    other.engine.dispose()
    assert [r.disposition.value if r else None for r in results] == [
        "new_case", "duplicate", "new_case"]
    ids = [r.message_row_id or 0 for r in results if r]
    assert ids[1] > ids[2]  # recorded after the batch's commit, not waited for inside it
    with m.rt.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM messages")).scalar_one() == 4


def new_mail_id(raw: bytes) -> str:
    """The dedup key ``core.parse`` gives a message with a Message-ID."""
    from maild.core.parse import parse

    return parse(raw).dedup_key
