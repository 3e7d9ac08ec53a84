"""The report's SQL (which cases a period loads, the backlog counted in SQL) agrees with the
pure rules of ``core.report`` on a real database, boundaries included."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from databases import database_url
from sqlmodel import Session

from maild.core.report import (
    CaseFacts,
    backlog_counts,
    build_report,
    month_period,
    open_at,
)
from maild.core.sla import Calendar, Deadlines, breached
from maild.db import migrate
from maild.db.models import Case, LogEntry, SlaEvent
from maild.db.session import make_engine
from maild.service.reports import load_backlog, load_facts

SH = ZoneInfo("Asia/Shanghai")
PERIOD = month_period(2026, 6, SH)
ENGINEERS = ["a@corp.example", "b@corp.example", "c@corp.example"]
STATUSES = ["new", "dispatched", "in_progress", "resolved", "closed", "invalid"]


def _moment(rnd: random.Random) -> datetime:
    """Mostly near the period's edges and the backlog's age limits, to the second."""
    anchor = rnd.choice([PERIOD.start, PERIOD.end])
    edge = rnd.choice([timedelta(0), timedelta(days=1), timedelta(days=3), timedelta(days=7),
                       timedelta(days=20)])
    jitter = timedelta(seconds=rnd.choice([-1, 0, 1, rnd.randint(-90_000, 90_000)]))
    return (anchor - edge + jitter).astimezone(UTC)


def _random_case(rnd: random.Random, case_id: int) -> CaseFacts:
    status = rnd.choice(STATUSES)
    created = _moment(rnd)
    engineer = None if status == "new" and rnd.random() < 0.7 else rnd.choice(ENGINEERS)
    dispatched = (created + timedelta(minutes=rnd.randint(0, 3000))
                  if engineer and rnd.random() < 0.9 else None)
    resolved = closed = None
    if status in ("resolved", "closed") or rnd.random() < 0.15:  # reopened cases keep stamps
        resolved = created + timedelta(seconds=rnd.choice([1, 3600, rnd.randint(1, 40 * 86400)]))
    if status in ("closed", "invalid") and rnd.random() < 0.8:
        closed = (resolved or created) + timedelta(seconds=rnd.randint(0, 5 * 86400))
    return CaseFacts(id=case_id, engineer=engineer, type=rnd.choice(["printer", None]),
                     status=status, created_at=created, dispatched_at=dispatched,
                     resolved_at=resolved, closed_at=closed, rating=None, reopened=0,
                     escalated=False, response_breached=False, resolution_breached=False)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[Session, list[CaseFacts]]]:
    """1,500 random cases in a real database: a SQLite file, or PostgreSQL when
    MAILD_TEST_DATABASE_URL is set (tests/databases.py)."""
    engine = make_engine(database_url(tmp_path))
    migrate.upgrade(engine)
    rnd = random.Random(20261129)
    facts = [_random_case(rnd, i) for i in range(1, 1501)]
    # reopened twice / escalated by #escalate / escalated by an SLA breach alert
    facts = [replace(f, reopened=2 if f.id % 7 == 0 else 0,
                     escalated=f.id % 11 == 0 or f.id % 13 == 0) for f in facts]
    sla: dict[int, tuple[tuple[datetime | None, datetime | None], datetime | None]] = {}
    for i, f in enumerate(facts):  # deadlines on most cases, some met late, judged by core.sla
        if f.id % 4:
            due = Deadlines(f.created_at + timedelta(hours=rnd.choice([1, 4, 48])),
                            f.created_at + timedelta(hours=rnd.choice([8, 72, 400])))
            first = (f.created_at + timedelta(minutes=rnd.randint(1, 600))
                     if rnd.random() < 0.8 else None)
            sla[f.id] = (due, first)
            late = breached(PERIOD.end, due, first, f.resolved_at)
            facts[i] = replace(f, response_breached=late[0], resolution_breached=late[1])
    with Session(engine) as s:
        for f in facts:
            at = f.created_at
            if f.id % 7 == 0:
                s.add_all([LogEntry(case_id=f.id, at=at, author="x", kind="reopen", text="")
                           for _ in range(2)])
            if f.id % 11 == 0:
                s.add(LogEntry(case_id=f.id, at=at, author="x", kind="escalate", text=""))
            s.add(LogEntry(case_id=f.id, at=at, author="x", kind="note", text=""))
            if f.id % 13 == 0:
                s.add(SlaEvent(case_id=f.id, target="resolution", kind="breach", at=at))
            elif f.id % 5 == 0:
                s.add(SlaEvent(case_id=f.id, target="resolution", kind="warn", at=at))
            dues, first = sla.get(f.id, ((None, None), None))
            s.add(Case(id=f.id, subject="s", description="d", type=f.type, priority="P3",
                       status=f.status, channel="email", engineer_email=f.engineer,
                       created_at=f.created_at, dispatched_at=f.dispatched_at,
                       resolved_at=f.resolved_at, closed_at=f.closed_at,
                       first_response_at=first, response_due=dues[0], resolution_due=dues[1],
                       updated_at=f.created_at))
        s.commit()
    with Session(engine) as session:
        yield session, facts
    engine.dispose()


def test_the_cases_cover_every_branch(database: tuple[Session, list[CaseFacts]]) -> None:
    """The random cases hit each part of the backlog rule, so the comparisons below bite."""
    _, facts = database
    end = PERIOD.end
    open_now = [f for f in facts if open_at(f, end)]
    assert any(f.status in ("new", "in_progress") for f in open_now)
    assert any(f.status == "resolved" and f.resolved_at == end for f in facts)
    assert any(f.status == "invalid" and f.resolved_at is None and f.closed_at
               and f.closed_at >= end and f.created_at < end for f in facts)
    assert any(f.status == "in_progress" and f.resolved_at and f.resolved_at < end
               for f in open_now)
    assert len({(f.engineer, f.status) for f in open_now}) >= 10


def test_backlog_in_sql_equals_the_pure_count(
        database: tuple[Session, list[CaseFacts]]) -> None:
    s, facts = database
    for moment in (PERIOD.end, PERIOD.start, PERIOD.end - timedelta(days=3, seconds=1)):
        sql = {(b.engineer, b.bucket): b.count for b in load_backlog(s, moment)}
        pure = {(b.engineer, b.bucket): b.count for b in backlog_counts(facts, moment)}
        assert sql == pure and sum(pure.values()) > 50


def test_period_loads_exactly_the_cases_of_the_period(
        database: tuple[Session, list[CaseFacts]]) -> None:
    s, facts = database
    expected = {f.id for f in facts if any(
        PERIOD.contains(t) for t in (f.created_at, f.dispatched_at, f.resolved_at))}
    loaded = load_facts(s, PERIOD)
    assert {f.id for f in loaded} == expected and len(expected) > 300


def test_report_from_sql_equals_report_from_every_case(
        database: tuple[Session, list[CaseFacts]]) -> None:
    """What ``make_report`` builds (period cases + SQL backlog) is the all-cases report."""
    s, facts = database
    cal = Calendar(SH)
    from_sql = build_report(PERIOD, load_facts(s, PERIOD), ENGINEERS, cal,
                            load_backlog(s, PERIOD.end))
    from_all = build_report(PERIOD, facts, ENGINEERS, cal)
    assert from_sql == from_all
    assert from_all.open_at_end > 50 and from_all.total_resolved > 50
    assert from_all.reopened > 5 and from_all.escalated > 20
    assert sum(r.sla_breached for r in from_all.engineers) > 20
    assert sum(r.sla_met for r in from_all.engineers) > 20
    loaded = {f.id: f for f in load_facts(s, PERIOD)}
    judged = {(f.response_breached, f.resolution_breached) for f in facts if f.id in loaded}
    assert judged == {(False, False), (False, True), (True, False), (True, True)}
    assert all(loaded[f.id] == f for f in facts if f.id in loaded)
