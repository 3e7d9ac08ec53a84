"""Complaints and follow-up survey figures per engineer, for the reports and the summary.

Pure: the database adapter (``maild.service.summary``) loads the complaints
made and the surveys sent in a period; this counts them. A complaint counts
against the engineer the case had when it was made; a survey against the one
it had when it was sent. The response rate is answered / sent over the
surveys sent in the period, the mean score over those answered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class ComplaintFacts:
    engineer: str | None
    category: str
    created_at: datetime


@dataclass(frozen=True)
class SurveyFacts:
    engineer: str | None
    sent_at: datetime
    score: int | None  # None: not answered


@dataclass
class Quality:
    """One engineer's complaints and surveys in a period."""

    complaints: int = 0
    surveys: int = 0
    answered: int = 0
    scores: list[int] = field(default_factory=list)

    @property
    def mean_score(self) -> float | None:
        return sum(self.scores) / len(self.scores) if self.scores else None

    @property
    def response_rate(self) -> float | None:
        """Answered / sent, 0..1; None when none was sent."""
        return self.answered / self.surveys if self.surveys else None


def per_engineer(complaints: Iterable[ComplaintFacts],
                 surveys: Iterable[SurveyFacts]) -> dict[str, Quality]:
    """Engineer → figures; cases without an engineer are left out."""
    out: dict[str, Quality] = {}
    for c in complaints:
        if c.engineer:
            out.setdefault(c.engineer, Quality()).complaints += 1
    for v in surveys:
        if not v.engineer:
            continue
        q = out.setdefault(v.engineer, Quality())
        q.surveys += 1
        if v.score is not None:
            q.answered += 1
            q.scores.append(v.score)
    return out
