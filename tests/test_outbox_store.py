"""The outbox store writes an attempt's outcome through a statement compiled once and run
on the DBAPI cursor (``db.outbox._Prepared``); the row must read exactly as the Core
UPDATE it replaced wrote it, on SQLite (the stored text of the times too) and on
PostgreSQL (under the row lock the sender holds there)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from databases import on_postgres
from maildenv import Maild, write_config

from maild.core.backoff import Outcome
from maild.db import outbox
from maild.db.models import OutboxMail

T: sa.Table = OutboxMail.__table__  # type: ignore[attr-defined]
AT = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
LATER = datetime(2031, 1, 1, tzinfo=UTC)

OUTCOMES = [
    Outcome("sent", 1, None, None, sent_at=AT),
    Outcome("failed", 3, "550 5.1.1 no such user", AT + timedelta(seconds=1)),
    Outcome("pending", 2, "451 4.3.0 try again", AT + timedelta(hours=1)),
    Outcome("failed", 9, "gave up after 9 attempts: 王芳 ✓", AT),
]


def _row(mid: str) -> dict[str, object]:
    return dict(recipients=["wang.fang@sh.corp.example"], to_addr="wang.fang@sh.corp.example",
                subject="s", template="ack", message_id=mid, raw=b"Subject: s\r\n\r\nx\r\n",
                status="pending", attempts=0, next_attempt_at=LATER, created_at=AT)


def _core_update(engine: sa.Engine, row_id: int, outcome: Outcome) -> None:
    """What the store ran before: a Core UPDATE of the outcome's columns."""
    with engine.begin() as conn:
        conn.execute(sa.update(T).where(T.c.id == row_id).values(outbox._values(outcome)))


@pytest.mark.parametrize("outcome", OUTCOMES, ids=lambda o: f"{o.status}-{o.attempts}")
def test_an_outcome_reads_as_the_core_update_wrote_it(tmp_path: Path, outcome: Outcome) -> None:
    engine = Maild(write_config(tmp_path, 1, 1)).rt.engine
    with engine.begin() as conn:
        ours = conn.execute(sa.insert(T).values(_row("<ours@x>"))).inserted_primary_key[0]
        core = conn.execute(sa.insert(T).values(_row("<core@x>"))).inserted_primary_key[0]
    store = outbox.store_for(engine)
    claimed = store.claim(AT, ignore_schedule=True)  # on PostgreSQL: locks the older row
    assert [c.id for c in claimed] == [ours] if on_postgres() else claimed
    item = outbox.Claimed(ours, [], b"", 0, AT)
    store.record(item, outcome)
    _core_update(engine, core, outcome)
    cols = [c for c in T.c if c.name not in ("id", "message_id")]
    with engine.connect() as conn:
        got = {r.id: tuple(r[1:]) for r in conn.execute(sa.select(T.c.id, *cols))}
        assert got[ours] == got[core]
        if engine.dialect.name == "sqlite":  # the stored text, not only what it reads as
            stored = {r[0]: tuple(r[1:]) for r in conn.exec_driver_sql(
                "SELECT id, next_attempt_at, sent_at, last_error, attempts, status FROM outbox")}
            assert stored[ours] == stored[core]
    assert got[ours][cols.index(T.c.status)] == outcome.status


def test_a_failed_write_rolls_back_and_gives_the_connection_back(tmp_path: Path) -> None:
    engine = Maild(write_config(tmp_path, 1, 1)).rt.engine
    with engine.begin() as conn:
        row = conn.execute(sa.insert(T).values(_row("<r@x>"))).inserted_primary_key[0]
    store = outbox.store_for(engine)
    assert [c.id for c in store.claim(AT, ignore_schedule=True)] == [row]
    bad = Outcome("x" * 17, 1, None, None, sent_at=AT)  # too long for PostgreSQL's column
    if engine.dialect.name == "sqlite":
        bad = Outcome("sent", 1, None, None, sent_at=AT.replace(tzinfo=None))  # naive: refused
    with pytest.raises((ValueError, engine.dialect.loaded_dbapi.Error)):
        store.record(outbox.Claimed(row, [], b"", 0, AT), bad)
    store.release([outbox.Claimed(row, [], b"", 0, AT)], AT)
    assert [c.id for c in store.claim(AT, ignore_schedule=True)] == [row]  # still pending
    store.record(outbox.Claimed(row, [], b"", 0, AT), OUTCOMES[0])
    with engine.connect() as conn:
        assert conn.execute(sa.select(T.c.status)).scalar_one() == "sent"
