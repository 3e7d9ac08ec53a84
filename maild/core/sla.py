"""SLA arithmetic: business hours, deadlines, breaches, alerts and the priority matrix.

Why business time: a P3 opened on Friday at 17:30 with two hours to answer is
due on Monday at 10:30, not on Friday night; holidays and the weekend days a
Chinese company works to make up for them move deadlines too. Everything
here is pure: aware datetimes in, aware UTC datetimes out. The calendar
works in the helpdesk's zone, one local day at a time: each day's opening
and closing are built on the local wall clock and converted to UTC, so a
DST change moves the UTC hours but 09:00-18:00 stays nine business hours.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

MAX_IDLE_DAYS = 3660  # ten years without a business day is a configuration error
WARN_AT = 0.8
LEVELS = ("high", "medium", "low")
PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ONE_DAY = timedelta(days=1)
_NOTHING = timedelta()


def _day_names() -> dict[str, int]:
    """Every spelling [business_hours] workdays accepts: mon, monday, 周一, 星期一 → 0."""
    names: dict[str, int] = {"周天": 6, "星期天": 6}
    for i, full in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday",
                              "saturday", "sunday")):
        zh = "一二三四五六日"[i]
        names.update({full: i, full[:3]: i, f"周{zh}": i, f"星期{zh}": i})
    return names


_DAY_NAMES = _day_names()

# Urgency and impact words operators use, English and Chinese.
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
    start: time = time(9, 0)  # local opening
    end: time = time(18, 0)  # local closing, later than start
    workdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday = 0
    holidays: frozenset[date] = frozenset()  # off although a workday
    extra_workdays: frozenset[date] = frozenset()  # make-up days, worked even at weekends
    always: bool = False  # 24x7: business time is wall-clock time

    def __post_init__(self) -> None:
        """Refuse a day that closes before it opens: every sum below would go negative."""
        if not self.always and self.end <= self.start:
            raise ValueError(f"business hours end {self.end} must be later than start "
                             f"{self.start}")

    def is_business_day(self, d: date) -> bool:
        """Make-up days beat weekends; holidays beat workdays; 24x7 works every day."""
        if self.always or d in self.extra_workdays:
            return True
        return d.weekday() in self.workdays and d not in self.holidays

    def hours(self, d: date) -> tuple[datetime, datetime]:
        """Day ``d``'s opening and closing on the local clock, as UTC.

        A local time that a DST jump skips is read with the old offset, which
        can put closing before opening; that day then has no hours at all.
        """
        return _hours(self, d)


@lru_cache(maxsize=4096)
def _hours(cal: Calendar, d: date) -> tuple[datetime, datetime]:
    """Calendar.hours, remembered: a monthly report asks for the same few hundred days
    tens of thousands of times, and zone conversion is the costly part."""
    opens = datetime.combine(d, cal.start, cal.tz).astimezone(UTC)
    closes = datetime.combine(d, cal.end, cal.tz).astimezone(UTC)
    return opens, max(opens, closes)


ALWAYS = Calendar(ZoneInfo("UTC"), always=True)


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive value is taken as UTC, which is what the database stores.
    The common case (already UTC) costs one test: reports call this a million times."""
    if moment.tzinfo is UTC:
        return moment
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _business_days(cal: Calendar, first: date) -> Iterator[tuple[datetime, datetime]]:
    """(opening, closing) in UTC of each business day from ``first`` on.

    Raises ValueError after MAX_IDLE_DAYS in a row without business hours, so
    a calendar that never opens fails loudly instead of hanging the SLA sweep.
    """
    day, idle = first, 0
    while idle < MAX_IDLE_DAYS:
        hours = cal.hours(day) if cal.is_business_day(day) else None
        if hours is not None and hours[1] > hours[0]:
            idle = 0
            yield hours
        else:
            idle += 1
        day += _ONE_DAY
    raise ValueError(f"no business hours in the {MAX_IDLE_DAYS} days before {day.isoformat()}")


def add_business_minutes(cal: Calendar, start: datetime, minutes: int) -> datetime:
    """``start`` plus ``minutes`` of business time, in UTC.

    A start outside hours waits for the next opening; a deadline that uses a
    day up exactly lands on its closing, not on the next opening. Negative
    minutes count as 0. One step per calendar day, whole days subtracted at once.
    """
    start = as_utc(start)
    left = timedelta(minutes=max(minutes, 0))
    if cal.always:
        return start + left
    for opens, closes in _business_days(cal, start.astimezone(cal.tz).date()):
        if closes <= start:
            continue  # the start day is already over
        opens = max(opens, start)
        if left <= closes - opens:
            return opens + left
        left -= closes - opens
    raise AssertionError("unreachable: _business_days raises instead of ending")


def business_seconds(cal: Calendar, start: datetime, end: datetime) -> float:
    """Business time between two moments in seconds (0 when ``end`` is not later).

    The inverse of add_business_minutes; one step per calendar day, where only
    the first and last day need clipping.
    """
    start, end = as_utc(start), as_utc(end)
    if end <= start:
        return 0.0
    if cal.always:
        return (end - start).total_seconds()
    total = _NOTHING  # summed exactly as timedelta; seconds only at the end
    day, last = start.astimezone(cal.tz).date(), end.astimezone(cal.tz).date()
    while day <= last:
        if cal.is_business_day(day):
            opens, closes = cal.hours(day)
            total += max(_NOTHING, min(closes, end) - max(opens, start))
        day += _ONE_DAY
    return total.total_seconds()


class Deadlines(NamedTuple):
    response_due: datetime
    resolution_due: datetime


def deadlines(created_at: datetime, response_minutes: int, resolution_minutes: int,
              cal: Calendar) -> Deadlines:
    """Both due moments (UTC) of a case opened at ``created_at``."""
    return Deadlines(add_business_minutes(cal, created_at, response_minutes),
                     add_business_minutes(cal, created_at, resolution_minutes))


def _late(now: datetime, due: datetime, met_at: datetime | None) -> bool:
    """Met after the deadline, or not met and the deadline is past."""
    return as_utc(met_at) > as_utc(due) if met_at is not None else as_utc(now) > as_utc(due)


def breached(now: datetime, dl: Deadlines, first_response_at: datetime | None,
             resolved_at: datetime | None) -> tuple[bool, bool]:
    """(response breached, resolution breached); meeting a target exactly on time is in time."""
    return (_late(now, dl.response_due, first_response_at),
            _late(now, dl.resolution_due, resolved_at))


@dataclass(frozen=True)
class Alert:
    target: str  # "response" | "resolution"
    kind: str  # "warn" | "breach"
    due: datetime  # the deadline this alert is about


def _target_alerts(now: datetime, created_at: datetime, target: str, due: datetime,
                   cal: Calendar) -> list[Alert]:
    """Warn at WARN_AT of the business time allowed, breach at the deadline itself."""
    out: list[Alert] = []
    budget = business_seconds(cal, created_at, due)
    if business_seconds(cal, created_at, now) >= WARN_AT * budget:
        out.append(Alert(target, "warn", due))
    if as_utc(now) >= as_utc(due):
        out.append(Alert(target, "breach", due))
    return out


def due_alerts(now: datetime, created_at: datetime, dl: Deadlines,
               first_response_at: datetime | None, resolved_at: datetime | None,
               cal: Calendar) -> list[Alert]:
    """Every alert due by ``now`` for the unmet targets; the caller sends each one once."""
    out: list[Alert] = []
    if first_response_at is None:
        out += _target_alerts(now, created_at, "response", dl.response_due, cal)
    if resolved_at is None:
        out += _target_alerts(now, created_at, "resolution", dl.resolution_due, cal)
    return out


def detect_level(text: str) -> str | None:
    """One urgency or impact word (English or Chinese) → high, medium or low.

    Operators type these in phone summaries, so case, a trailing full stop
    and words after the first ("high - whole floor") are forgiven.
    """
    word = text.strip().lower().rstrip(".。")
    if word in _LEVEL_WORDS:
        return _LEVEL_WORDS[word]
    first = word.split(maxsplit=1)
    return _LEVEL_WORDS.get(first[0].rstrip(",;:，；：")) if first else None


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
_YMD = re.compile(r"\d{4}-\d{2}-\d{2}")


def _time(value: Any, key: str, where: str) -> time:
    """"09:00" (or a TOML local time 09:00:00) → time; anything else names the key."""
    if isinstance(value, time) and value.tzinfo is None:
        return value
    m = _HHMM.fullmatch(value.strip()) if isinstance(value, str) else None
    if m is None:
        raise SlaConfigError(f"{where}: [business_hours] {key} must be HH:MM, got {value!r}")
    return time(int(m.group(1)), int(m.group(2)))


def _date(item: Any, key: str, where: str) -> date:
    """"2026-10-01" or a TOML date → date; a datetime or other text names the key."""
    if isinstance(item, date) and not isinstance(item, datetime):
        return item
    if isinstance(item, str) and _YMD.fullmatch(item.strip()):
        try:
            return date.fromisoformat(item.strip())
        except ValueError:
            pass
    raise SlaConfigError(
        f"{where}: [business_hours] {key}: {item!r} is not a date (YYYY-MM-DD)")


def _dates(value: Any, key: str, where: str) -> frozenset[date]:
    if not isinstance(value, list):
        raise SlaConfigError(f"{where}: [business_hours] {key} must be a list of dates")
    return frozenset(_date(item, key, where) for item in value)


def _workdays(value: Any, where: str) -> frozenset[int]:
    """["mon", "tue", ...] (full English names and 周一/星期一 too) → weekday numbers."""
    if not isinstance(value, list) or not value:
        raise SlaConfigError(
            f"{where}: [business_hours] workdays must be a non-empty list like [\"mon\"]")
    days = set()
    for name in value:
        day = _DAY_NAMES.get(name.strip().lower()) if isinstance(name, str) else None
        if day is None:
            raise SlaConfigError(f"{where}: [business_hours] workdays: unknown day {name!r} "
                                 "(use mon, tue, wed, thu, fri, sat, sun)")
        days.add(day)
    return frozenset(days)


_CALENDAR_KEYS = ("start", "end", "workdays", "holidays", "extra_workdays")


def calendar_from_toml(data: Mapping[str, Any], tz: ZoneInfo, where: str) -> Calendar:
    """The [business_hours] table → a Calendar (defaults: Mon-Fri 09:00-18:00).

    Strict, because a typo here silently moves every deadline.
    """
    if not isinstance(data, Mapping):
        raise SlaConfigError(f"{where}: [business_hours] must be a table")
    unknown = sorted(str(k) for k in data if k not in _CALENDAR_KEYS)
    if unknown:
        raise SlaConfigError(f"{where}: [business_hours] unknown key(s): {', '.join(unknown)}"
                             f" (known: {', '.join(_CALENDAR_KEYS)})")
    start = _time(data.get("start", "09:00"), "start", where)
    end = _time(data.get("end", "18:00"), "end", where)
    if end <= start:
        raise SlaConfigError(f"{where}: [business_hours] end must be later than start "
                             f"({end:%H:%M} <= {start:%H:%M})")
    holidays = _dates(data.get("holidays", []), "holidays", where)
    extra = _dates(data.get("extra_workdays", []), "extra_workdays", where)
    both = sorted(holidays & extra)
    if both:
        raise SlaConfigError(f"{where}: [business_hours] {both[0].isoformat()} is in both "
                             "holidays and extra_workdays")
    return Calendar(tz=tz, start=start, end=end,
                    workdays=_workdays(data.get("workdays", list(WEEKDAYS[:5])), where),
                    holidays=holidays, extra_workdays=extra)


def _level_key(name: Any, what: str, where: str, key: str) -> str:
    """A matrix key: high, medium or low, in any case or as 高/中/低."""
    level = detect_level(name) if isinstance(name, str) else None
    if level is None or (isinstance(name, str) and len(name.split()) > 1):
        raise SlaConfigError(
            f"{where}: [matrix] {key}: {what} {name!r} is not one of high, medium, low")
    return level


def matrix_from_toml(data: Mapping[str, Any], where: str) -> dict[tuple[str, str], str]:
    """The [matrix] table (urgency → impact → priority); gaps filled from DEFAULT_MATRIX."""
    if not isinstance(data, Mapping):
        raise SlaConfigError(f"{where}: [matrix] must be a table")
    matrix = dict(DEFAULT_MATRIX)
    for urgency, row in data.items():
        u = _level_key(urgency, "urgency", where, str(urgency))
        if not isinstance(row, Mapping):
            raise SlaConfigError(f"{where}: [matrix] {urgency} must be a table of impacts")
        for impact, prio in row.items():
            key = f"{urgency}.{impact}"
            i = _level_key(impact, "impact", where, key)
            p = prio.strip().upper() if isinstance(prio, str) else None
            if p is None or p not in PRIORITIES:
                raise SlaConfigError(f"{where}: [matrix] {key} must be P1..P5, got {prio!r}")
            matrix[(u, i)] = p
    return matrix
