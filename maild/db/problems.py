"""The reads and writes of problems: a problem, its linked cases, the list, the search."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from maild.core.problems import ProblemStatus, ProblemView
from maild.core.report import ProblemLink
from maild.core.values import OPEN_STATUSES
from maild.db.models import Case, Problem


def get_problem(s: Session, problem_id: int) -> Problem | None:
    """The problem, locked until commit (PostgreSQL: replicas change one problem in turn)."""
    return s.get(Problem, problem_id, with_for_update=True)


def statuses(s: Session, ids: Sequence[int]) -> dict[int, str]:
    """id → status of the problems among ``ids`` that exist (for ``#problem P<n>``)."""
    if not ids:
        return {}
    rows = s.exec(select(Problem.id, Problem.status).where(col(Problem.id).in_(list(ids))))
    return {pid: status for pid, status in rows if pid is not None}


def view_of(problem: Problem) -> ProblemView:
    assert problem.id is not None
    return ProblemView(problem.id, problem.title, ProblemStatus(problem.status),
                       problem.workaround, problem.root_cause, problem.known_error_at,
                       problem.resolved_at)


def store_view(problem: Problem, view: ProblemView, now: datetime) -> None:
    problem.status = view.status.value
    problem.workaround = view.workaround
    problem.root_cause = view.root_cause
    problem.known_error_at = view.known_error_at
    problem.resolved_at = view.resolved_at
    problem.updated_at = now


def linked_cases(s: Session, problem_id: int, open_only: bool = False) -> list[Case]:
    """The problem's cases, lowest number first; ``open_only``: not yet resolved."""
    q = select(Case).where(Case.problem_id == problem_id)
    if open_only:
        q = q.where(col(Case.status).in_([st.value for st in OPEN_STATUSES]))
    return list(s.exec(q.order_by(col(Case.id)).with_for_update()))


def linked_ids(s: Session, problem_ids: Sequence[int]) -> dict[int, list[int]]:
    """problem id → its case numbers, for many problems in one query."""
    out: dict[int, list[int]] = {pid: [] for pid in problem_ids}
    if not problem_ids:
        return out
    rows = s.exec(select(Case.problem_id, Case.id).where(col(Case.problem_id).in_(
        list(problem_ids))).order_by(col(Case.id)))
    for pid, cid in rows:
        if pid is not None and cid is not None:
            out[pid].append(cid)
    return out


def list_problems(s: Session, status: Sequence[str] = ()) -> list[Problem]:
    """Problems, newest first, of the given statuses (all when none)."""
    q = select(Problem)
    if status:
        q = q.where(col(Problem.status).in_(list(status)))
    return list(s.exec(q.order_by(col(Problem.id).desc())))


def search_problems(s: Session, words: Sequence[str], limit: int = 10) -> list[Problem]:
    """Problems whose title, workaround or root cause contain every word (any case), newest
    first. A substring match: problems are few, and a Chinese word has no spaces to split."""
    terms = [w.lower() for w in words if w.strip()]
    if not terms:
        return []
    text = sa.func.lower(Problem.title + " " + func.coalesce(Problem.workaround, "") + " "
                         + func.coalesce(Problem.root_cause, ""))
    q = select(Problem)
    for term in terms:
        q = q.where(text.contains(term, autoescape=True))
    return list(s.exec(q.order_by(col(Problem.id).desc()).limit(limit)))


def report_links(s: Session, start: datetime, end: datetime) -> list[ProblemLink]:
    """Every linked case of the problems that have one opened in ``[start, end)``."""
    busy = select(Case.problem_id).where(col(Case.created_at) >= start,
                                         col(Case.created_at) < end,
                                         col(Case.problem_id).is_not(None))
    rows = s.exec(select(Problem.id, Problem.title, Problem.status, Case.created_at)
                  .join(Case, col(Case.problem_id) == col(Problem.id))
                  .where(col(Problem.id).in_(busy)))
    return [ProblemLink(pid, title, status, created) for pid, title, status, created in rows
            if pid is not None]
