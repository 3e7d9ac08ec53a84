"""The #undo rule and the snapshot that makes a case what it was."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from maild.core.cases import CaseView
from maild.core.undo import NOTHING, Step, refusal, restore, snapshot
from maild.core.values import Status

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
LI = "li.lei@corp.example"
BEFORE = CaseView(id=7, status=Status.IN_PROGRESS, engineer=LI, priority="P3",
                  dispatched_at=T0 - timedelta(hours=2), work_started_at=T0 - timedelta(hours=2))
AFTER = replace(BEFORE, status=Status.RESOLVED, resolution="new toner", resolved_at=T0,
                work_started_at=None, handling_seconds=7200)


def step(author: str = LI, at: datetime = T0, undone: bool = False) -> Step:
    return Step(author, at, snapshot(BEFORE), snapshot(AFTER), undone)


def test_snapshot_round_trips() -> None:
    assert restore(AFTER, snapshot(BEFORE)) == BEFORE
    assert restore(BEFORE, snapshot(AFTER)) == AFTER
    assert snapshot(AFTER)["status"] == "resolved"
    assert snapshot(AFTER)["resolved_at"] == T0.isoformat()


def test_the_author_may_undo_within_the_window() -> None:
    assert refusal(step(), LI.upper(), AFTER, T0 + timedelta(minutes=14), 15) is None


def test_too_late() -> None:
    why = refusal(step(), LI, AFTER, T0 + timedelta(minutes=16), 15)
    assert why is not None and why[0].startswith("too late") and "15 minutes" in why[0]
    assert "15 分钟" in why[1]


def test_nothing_to_undo() -> None:
    assert refusal(None, LI, AFTER, T0, 15) == NOTHING
    assert refusal(step(undone=True), LI, BEFORE, T0, 15) == NOTHING
    assert "nothing to undo" in NOTHING[0] and "没有可撤销" in NOTHING[1]


def test_another_command_came_after() -> None:
    why = refusal(step(author="han.meimei@corp.example"), LI, AFTER, T0, 15)
    assert why is not None and "another command came after" in why[0] and "撤销" in why[1]


def test_the_case_changed_since() -> None:
    closed = replace(AFTER, status=Status.CLOSED, closed_at=T0 + timedelta(minutes=1))
    why = refusal(step(), LI, closed, T0 + timedelta(minutes=2), 15)
    assert why is not None and "changed since" in why[0] and "已有变化" in why[1]
