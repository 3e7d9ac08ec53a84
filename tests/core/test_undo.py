"""The #undo rule and the snapshot that makes a case what it was."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from maild.core.cases import CaseView
from maild.core.undo import (
    NOTHING,
    Step,
    complaints_back,
    records,
    refusal,
    restore,
    snapshot,
    touched,
)
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


OPEN = {"category": "attitude", "text": "rude", "status": "open", "outcome": None,
        "closed_at": None}
CLOSED = OPEN | {"status": "closed", "outcome": "apologised", "closed_at": T0.isoformat()}


def test_touched_keeps_only_the_rows_the_mail_opened_or_changed() -> None:
    other = OPEN | {"text": "another case's words"}
    before, after = touched({1: OPEN, 2: other}, {1: CLOSED, 2: other, 3: OPEN})
    assert before == {"1": OPEN, "3": None} and after == {"1": CLOSED, "3": OPEN}
    assert touched({1: OPEN}, {1: OPEN}) == ({}, {})


def kept_step(before_rows: dict[str, object], after_rows: dict[str, object],
              problems: tuple[int | None, int | None] = (None, None),
              opened: int | None = None, known: list[int] | None = None) -> Step:
    return Step(LI, T0, snapshot(BEFORE) | records(problems[0], before_rows),
                snapshot(AFTER) | records(problems[1], after_rows, opened, known))


def test_a_complaint_and_a_link_are_put_back() -> None:
    step = kept_step({"4": None, "2": OPEN}, {"4": OPEN, "2": CLOSED}, (1, 2))
    assert refusal(step, LI, AFTER, T0, 15, 2, {1: CLOSED, 2: CLOSED, 4: OPEN}) is None
    assert complaints_back(step) == {4: None, 2: OPEN}
    assert restore(AFTER, step.before) == BEFORE  # the records are no case fields


def test_a_complaint_changed_since_is_refused() -> None:
    step = kept_step({"4": None}, {"4": OPEN})
    added = OPEN | {"text": "rude\n\nand late"}
    why = refusal(step, LI, AFTER, T0, 15, None, {4: added})
    assert why is not None and "complaint has changed since" in why[0] and "投诉" in why[1]
    assert refusal(step, LI, AFTER, T0, 15, None, {}) is not None  # gone


def test_a_complaint_made_since_is_refused() -> None:
    """The mail closed complaint 2; the customer complained again (3 opened): putting 2
    back would leave two open complaints on the case. Refused whether the step knew the
    case's rows (``KNOWN``) or was kept before it did."""
    step = kept_step({"2": OPEN}, {"2": CLOSED}, known=[1, 2])
    why = refusal(step, LI, AFTER, T0, 15, None, {1: CLOSED, 2: CLOSED, 3: OPEN})
    assert why is not None and "new complaint" in why[0] and "新的投诉" in why[1]
    why = refusal(step, LI, AFTER, T0, 15, None, {1: CLOSED, 2: CLOSED, 3: CLOSED})
    assert why is not None and "new complaint" in why[0]  # one the step did not know
    assert refusal(step, LI, AFTER, T0, 15, None, {1: CLOSED, 2: CLOSED}) is None
    older = kept_step({"2": OPEN}, {"2": CLOSED})
    why = refusal(older, LI, AFTER, T0, 15, None, {1: CLOSED, 2: CLOSED, 3: OPEN})
    assert why is not None and "more than one complaint open" in why[0] and "未结投诉" in why[1]
    assert refusal(older, LI, AFTER, T0, 15, None, {1: CLOSED, 2: CLOSED}) is None


def test_a_link_changed_since_is_refused() -> None:
    step = kept_step({}, {}, (None, 2))
    why = refusal(step, LI, AFTER, T0, 15, 3)
    assert why is not None and "changed since" in why[0]


def test_a_mail_that_opened_a_problem_is_refused_naming_it() -> None:
    step = kept_step({}, {}, (None, 3), opened=3)
    why = refusal(step, LI, AFTER, T0, 15, 3)
    assert why is not None and "P3" in why[0] and "nothing was undone" in why[0]
    assert "P3" in why[1] and "未撤销" in why[1]


def test_a_step_kept_before_records_existed_is_still_undone() -> None:
    assert refusal(step(), LI, AFTER, T0, 15, 5, {1: OPEN}) is None
    assert complaints_back(step()) == {}
