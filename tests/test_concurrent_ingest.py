"""Replicas opening cases for the same new sender at the same moment (policy ``open``):
each message still opens its case, and the sender becomes one customer. Runs in the
PostgreSQL pass, where transactions of different processes really run at once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from maildenv import Maild, new_mail, write_config
from sqlmodel import Session, select

from maild.core.values import IngestResult
from maild.db.models import Customer
from maild.db.session import make_engine
from maild.runtime import Runtime
from maild.service.intake import ingest

pytestmark = pytest.mark.postgres_only
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
STRANGER = "new.person@sh.corp.example"
REPLICAS = 6


def test_new_sender_from_several_replicas_at_once_is_one_customer(tmp_path: Path) -> None:
    m = Maild(write_config(tmp_path, 1, 1, unknown_senders="open"))
    runtimes = [Runtime.load(m.settings, make_engine(m.settings.database.url))
                for _ in range(REPLICAS)]
    mails = [new_mail(STRANGER, f"Problem {i}", f"Broken thing {i}.") for i in range(REPLICAS)]
    start = threading.Barrier(REPLICAS)
    results: list[IngestResult] = []

    def one(rt: Runtime, raw: bytes) -> None:
        start.wait()
        results.append(ingest(rt, raw, NOW))

    threads = [threading.Thread(target=one, args=pair) for pair in zip(runtimes, mails,
                                                                        strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(r.disposition.value for r in results) == ["new_case"] * REPLICAS, \
        [r.reason for r in results]
    assert len({r.case_id for r in results}) == REPLICAS
    with Session(m.rt.engine) as s:
        assert len(s.exec(select(Customer).where(Customer.email == STRANGER)).all()) == 1
    for rt in runtimes:
        rt.engine.dispose()
