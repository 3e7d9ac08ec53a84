"""SLA arithmetic: business hours, deadlines, breaches, alerts and the priority matrix.

Why business time: a P3 opened on Friday at 17:30 with two hours to answer is
due on Monday at 10:30, not on Friday night; holidays and the weekend days a
Chinese company works to make up for them move deadlines too. Everything
here is pure: aware datetimes in, aware UTC datetimes out; the calendar
works in the helpdesk's zone, day by day, so DST changes are handled by
building each day's opening and closing in local time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

MAX_DAYS = 3660  # a calendar with no business day in ten years is a configuration error
WARN_AT = 0.8
LEVELS = ("high", "medium", "low")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_LEVEL_WORDS = {
    "high": "high", "h": "high", "urgent": "high", "critical": "high", "高": "high",
    "紧急": "high", "严重": "high", "medium": "medium", "med": "medium", "m": "medium",
    "normal": "medium", "中": "medium", "一般": "medium", "普通": "medium", "low": "low",
    "l": "low", "minor": "low", "低": "low", "不急": "low", "轻微": "low",
}


class SlaConfigError(ValueError):
    """A wrong [business_hours] or [matrix] in sla.toml; the message names file and key."""


@dataclass(frozen=True)
class Calendar:
    """When the SLA clock runs: working days and hours in one time zone."""

    tz: ZoneInfo
    start: time = time(9, 0)
    end: time = time(18, 0)
    workdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday = 0
    holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()  # make-up working days
    always: bool = False  # 24x7: business time is wall-clock time

    def is_business_day(self, d: date) -> bool:
        if d in self.extra_workdays:
            return True
        return d.weekday() in self.workdays and d not in self.holidays

    def hours(self, d: date) -> tuple[datetime, datetime]:
        """That day's opening and closing, in UTC."""
        return (datetime.combine(d, self.start, self.tz).astimezone(UTC),
                datetime.combine(d, self.end, self.tz).astimezone(UTC))


ALWAYS = Calendar(ZoneInfo("UTC"), always=True)


def _days_from(cal: Calendar, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Business intervals (UTC) from ``moment`` on, the first one clipped to start there."""
    day = moment.astimezone(cal.tz).date()
    for _ in range(MAX_DAYS):
        if cal.is_business_day(day):
            opens, closes = cal.hours(day)
            if closes > moment:
                yield max(opens, moment), closes
        day += timedelta(days=1)
    raise ValueError(f"no business hours within {MAX_DAYS} days of {moment.isoformat()}")


def add_business_minutes(cal: Calendar, start: datetime, minutes: int) -> datetime:
    """``start`` plus ``minutes`` of business time (a start outside hours waits for opening)."""
    start = start.astimezone(UTC)
    if cal.always:
        return start + timedelta(minutes=minutes)
    left = timedelta(minutes=max(minutes, 0))
    for opens, closes in _days_from(cal, start):
        if opens + left <= closes:
            return opens + left
        left -= closes - opens
    raise AssertionError("unreachable: _days_from raises first")


def business_seconds(cal: Calendar, start: datetime, end: datetime) -> float:
    """Business time between two moments, in seconds (0 when ``end`` is not later)."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return 0.0
    if cal.always:
        return (end - start).total_seconds()
    total = timedelta()  # summed exactly; seconds only at the end
    day = start.astimezone(cal.tz).date()
    last = end.astimezone(cal.tz).date()
    while day <= last:
        if cal.is_business_day(day):
            opens, closes = cal.hours(day)
            lo, hi = max(opens, start), min(closes, end)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return total.total_seconds()


class Deadlines(NamedTuple):
    response_due: datetime
    resolution_due: datetime


def deadlines(created_at: datetime, response_minutes: int, resolution_minutes: int,
              cal: Calendar) -> Deadlines:
    """Both due moments of a case opened at ``created_at``."""
    return Deadlines(add_business_minutes(cal, created_at, response_minutes),
                     add_business_minutes(cal, created_at, resolution_minutes))


def _late(now: datetime, due: datetime, met_at: datetime | None) -> bool:
    return met_at > due if met_at is not None else now > due


def breached(now: datetime, dl: Deadlines, first_response_at: datetime | None,
             resolved_at: datetime | None) -> tuple[bool, bool]:
    """(response breached, resolution breached): met late, or unmet and past due."""
    return (_late(now, dl.response_due, first_response_at),
            _late(now, dl.resolution_due, resolved_at))


@dataclass(frozen=True)
class Alert:
    target: str  # "response" | "resolution"
    kind: str  # "warn" | "breach"
    due: datetime


def due_alerts(now: datetime, created_at: datetime, dl: Deadlines,
               first_response_at: datetime | None, resolved_at: datetime | None,
               cal: Calendar) -> list[Alert]:
    """The alerts that are due now for the targets still unmet (the caller sends each once)."""
    out: list[Alert] = []
    for target, due, met in (("response", dl.response_due, first_response_at),
                             ("resolution", dl.resolution_due, resolved_at)):
        if met is not None:
            continue
        budget = business_seconds(cal, created_at, due)
        if business_seconds(cal, created_at, now) >= WARN_AT * budget:
            out.append(Alert(target, "warn", due))
        if now >= due:
            out.append(Alert(target, "breach", due))
    return out


def detect_level(text: str) -> str | None:
    """One urgency or impact word (English or Chinese) → high, medium or low."""
    word = text.strip().lower().rstrip(".。")
    return _LEVEL_WORDS.get(word) or _LEVEL_WORDS.get(word.split()[0] if word.split() else "")


DEFAULT_MATRIX: Mapping[tuple[str, str], str] = {
    ("high", "high"): "P1", ("high", "medium"): "P2", ("high", "low"): "P3",
    ("medium", "high"): "P2", ("medium", "medium"): "P3", ("medium", "low"): "P4",
    ("low", "high"): "P3", ("low", "medium"): "P4", ("low", "low"): "P5",
}


def matrix_priority(urgency: str, impact: str,
                    matrix: Mapping[tuple[str, str], str]) -> str | None:
    """Urgency × impact → P1..P5 (ITIL's priority matrix); None for unknown words."""
    u, i = detect_level(urgency), detect_level(impact)
    if u is None or i is None:
        return None
    return matrix.get((u, i))


_HHMM = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def _time(value: Any, key: str, where: str) -> time:
    m = _HHMM.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        raise SlaConfigError(f"{where}: [business_hours] {key} must be HH:MM, got {value!r}")
    return time(int(m.group(1)), int(m.group(2)))


def _dates(value: Any, key: str, where: str) -> frozenset[date]:
    if not isinstance(value, list):
        raise SlaConfigError(f"{where}: [business_hours] {key} must be a list of dates")
    out = set()
    for item in value:
        if isinstance(item, date) and not isinstance(item, datetime):
            out.add(item)
            continue
        try:
            out.add(date.fromisoformat(str(item)))
        except ValueError as exc:
            raise SlaConfigError(
                f"{where}: [business_hours] {key}: {item!r} is not a date (YYYY-MM-DD)") from exc
    return frozenset(out)


def calendar_from_toml(data: Mapping[str, Any], tz: ZoneInfo, where: str) -> Calendar:
    """The [business_hours] table → a Calendar (defaults: Mon-Fri 09:00-18:00)."""
    if not isinstance(data, Mapping):
        raise SlaConfigError(f"{where}: [business_hours] must be a table")
    unknown = set(data) - {"start", "end", "workdays", "holidays", "extra_workdays"}
    if unknown:
        raise SlaConfigError(
            f"{where}: [business_hours] unknown key(s): {', '.join(sorted(unknown))}")
    start = _time(data.get("start", "09:00"), "start", where)
    end = _time(data.get("end", "18:00"), "end", where)
    if end <= start:
        raise SlaConfigError(f"{where}: [business_hours] end must be later than start")
    names = data.get("workdays", ["mon", "tue", "wed", "thu", "fri"])
    if not isinstance(names, list):
        raise SlaConfigError(f"{where}: [business_hours] workdays must be a list like [\"mon\"]")
    days = set()
    for name in names:
        key = str(name).strip().lower()[:3]
        if key not in WEEKDAYS:
            raise SlaConfigError(f"{where}: [business_hours] workdays: unknown day {name!r} "
                                 "(use mon, tue, wed, thu, fri, sat, sun)")
        days.add(WEEKDAYS.index(key))
    return Calendar(tz=tz, start=start, end=end, workdays=frozenset(days),
                    holidays=_dates(data.get("holidays", []), "holidays", where),
                    extra_workdays=_dates(data.get("extra_workdays", []), "extra_workdays",
                                          where))


def matrix_from_toml(data: Mapping[str, Any], where: str) -> dict[tuple[str, str], str]:
    """The [matrix] table (urgency → impact → priority); gaps filled from DEFAULT_MATRIX."""
    matrix = dict(DEFAULT_MATRIX)
    if not isinstance(data, Mapping):
        raise SlaConfigError(f"{where}: [matrix] must be a table")
    for urgency, row in data.items():
        if urgency not in LEVELS:
            raise SlaConfigError(f"{where}: [matrix] {urgency!r} is not one of high, medium, low")
        if not isinstance(row, Mapping):
            raise SlaConfigError(f"{where}: [matrix] {urgency} must be a table of impacts")
        for impact, prio in row.items():
            if impact not in LEVELS:
                raise SlaConfigError(
                    f"{where}: [matrix] {urgency}.{impact}: impact must be high, medium or low")
            if prio not in ("P1", "P2", "P3", "P4", "P5"):
                raise SlaConfigError(
                    f"{where}: [matrix] {urgency}.{impact} must be P1..P5, got {prio!r}")
            matrix[(urgency, impact)] = prio
    return matrix

