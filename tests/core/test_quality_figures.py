"""Complaints and survey figures per engineer."""

from __future__ import annotations

from datetime import UTC, datetime

from maild.core.quality import ComplaintFacts, SurveyFacts, per_engineer

AT = datetime(2026, 11, 5, tzinfo=UTC)


def test_per_engineer() -> None:
    table = per_engineer(
        [ComplaintFacts("li@x", "attitude", AT), ComplaintFacts("li@x", "quality", AT),
         ComplaintFacts(None, "other", AT)],
        [SurveyFacts("li@x", AT, 2), SurveyFacts("li@x", AT, None), SurveyFacts("han@x", AT, 5),
         SurveyFacts("han@x", AT, 4), SurveyFacts(None, AT, 1)])
    assert set(table) == {"li@x", "han@x"}
    li, han = table["li@x"], table["han@x"]
    assert (li.complaints, li.surveys, li.answered, li.mean_score, li.response_rate) == (
        2, 2, 1, 2.0, 0.5)
    assert (han.complaints, han.mean_score, han.response_rate) == (0, 4.5, 1.0)
    assert per_engineer([], []) == {}
