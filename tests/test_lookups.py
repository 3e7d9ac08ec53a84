"""The column look-ups of every message (``queries._core``) see the session's unflushed
rows of the table they read.

They run on the session's connection without the ORM's autoflush, so each
flushes first what its answer depends on (``queries.flush_pending``). Today the
intake flushes a message's row before handling it, so nothing is pending on the
usual paths; these tests hold the look-ups to their own promise, whatever a
later caller does. On SQLite, and on PostgreSQL when ``MAILD_TEST_DATABASE_URL``
is set.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from databases import database_url
from sqlalchemy.engine import Engine
from sqlmodel import Session

from maild.db import queries
from maild.db.migrate import upgrade
from maild.db.models import Case, Customer, InboundMessage, MessageRef, OutboxMail
from maild.db.rows import new_row
from maild.db.session import make_engine

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    e = make_engine(database_url(tmp_path))
    upgrade(e)
    return e


def _case(s: Session, engineer: str, status: str = "new") -> Case:
    customer = new_row(Customer, email=f"c-{engineer}", name="C", created_at=NOW)
    s.add(customer)
    s.flush()
    case = new_row(Case, subject="s", description="d", priority="P3", status=status,
                   channel="email", customer_id=customer.id, engineer_email=engineer,
                   created_at=NOW, updated_at=NOW, dispatched_at=NOW)
    s.add(case)
    return case


def test_engineer_loads_count_an_unflushed_case(engine: Engine) -> None:
    with Session(engine) as s:
        _case(s, "eng@corp.example")
        assert any(isinstance(o, Case) for o in s.new)  # pending, not flushed
        loads, last = queries.engineer_loads(s, ["eng@corp.example", "other@corp.example"])
    assert loads == {"eng@corp.example": 1}
    assert last == {"eng@corp.example": NOW}


def test_engineer_loads_see_an_unflushed_status_change(engine: Engine) -> None:
    with Session(engine) as s:
        case = _case(s, "eng@corp.example")
        s.flush()
        case.status = "closed"
        assert case in s.dirty
        loads, _last = queries.engineer_loads(s, ["eng@corp.example"])
    assert loads == {}


def _inbound(key: str, source: str | None, disposition: str) -> InboundMessage:
    return new_row(InboundMessage, dedup_key=key, source=source, disposition=disposition,
                   from_addr="a@example.org", received_at=NOW, sha256="0" * 64, raw=b"x")


def test_seen_before_finds_an_unflushed_message(engine: Engine) -> None:
    with Session(engine) as s:
        s.add(_inbound("sha256:k", None, "new_case"))
        found = queries.seen_before(s, "sha256:k")
    assert found is not None and found.disposition == "new_case"


def test_recorded_sources_find_an_unflushed_message(engine: Engine) -> None:
    with Session(engine) as s:
        s.add(_inbound("sha256:k", "INBOX:7:42", "held"))
        found = queries.recorded_sources(s, ["INBOX:7:42", "INBOX:7:43"])
    assert set(found) == {"INBOX:7:42"} and found["INBOX:7:42"].disposition == "held"


def test_case_by_references_finds_an_unflushed_ref(engine: Engine) -> None:
    with Session(engine) as s:
        case = _case(s, "eng@corp.example")
        s.flush()
        assert case.id is not None
        s.add(new_row(MessageRef, message_id="<m1@example.org>", case_id=case.id))
        found = queries.case_by_references(s, ["<other@example.org>", "<m1@example.org>"])
        assert found == case.id


def test_the_caps_count_unflushed_rows(engine: Engine) -> None:
    with Session(engine) as s:
        s.add(_inbound("sha256:a", None, "held"))
        s.add(new_row(OutboxMail, recipients=["a@example.org"], to_addr="a@example.org",
                      subject="s", template="hold", message_id="<o1@corp.example>", raw=b"",
                      next_attempt_at=NOW, created_at=NOW))
        since = NOW - timedelta(hours=1)
        assert queries.messages_since(s, "a@example.org", since, ["held"], other_than=-1) == 1
        assert queries.responses_since(s, "a@example.org", frozenset({"hold"}), since) == 1
