"""``#visit <when> [note]``: the words an engineer writes → the window of the visit.

The forms, in the helpdesk's time zone (the day is today unless one is given):

* a start, or a start and an end: ``14:00``, ``14:00-15:00``, ``9:30~11``, ``3pm``,
  ``2:30pm to 4pm``, ``9点``, ``9点半``, ``下午3点``, ``下午3点到5点``, ``14点30分``;
* before it, a day: ``today``/``今天``, ``tomorrow``/``明天``, ``day after
  tomorrow``/``后天``, ``2026-12-02``, ``12-02``, ``12月2日``;
* whatever follows on the line (and the lines after it) is the note.

A start alone means a window of ``DEFAULT_MINUTES`` (one hour): long enough to
arrive through traffic, short enough that "late" still means something; the
engineer who needs more writes the end. An end at or before the start, read on a
12-hour clock (``下午3点到5点``, ``2-4pm``), is taken in the afternoon. Anything
else is not a time: ``parse`` returns None and the refusal lists ``FORMS``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

DEFAULT_MINUTES = 60

FORMS = ("14:00", "14:00-15:00", "3pm", "下午3点", "下午3点到5点", "tomorrow 9:30", "明天 9:30",
         "后天 14:00-16:00", "2026-12-02 14:00", "12月2日 下午2点")


@dataclass(frozen=True)
class Window:
    """When the engineer will be there (aware datetimes), and what else they wrote."""

    start: datetime
    end: datetime
    note: str


_DAY_WORDS = {"today": 0, "今天": 0, "今日": 0, "tomorrow": 1, "明天": 1, "明日": 1,
              "day after tomorrow": 2, "the day after tomorrow": 2, "后天": 2, "後天": 2}
_PERIODS = {"上午": "am", "早上": "am", "早晨": "am", "凌晨": "am", "中午": "noon",
            "下午": "pm", "晚上": "pm", "傍晚": "pm"}


def _time_re(p: str) -> str:
    """One time of day; group names prefixed with ``p`` (the start ``s``, the end ``e``)."""
    return (rf"(?:(?P<{p}cn>上午|早上|早晨|凌晨|中午|下午|晚上|傍晚)\s*)?"
            rf"(?P<{p}h>\d{{1,2}})"
            rf"(?:[:：.](?P<{p}m>\d{{2}})|点(?:(?P<{p}half>半)|(?P<{p}cm>\d{{1,2}})分?)?|时)?"
            rf"(?:\s*(?P<{p}ap>am|pm|a\.m\.|p\.m\.))?")


_DAY = (r"(?P<word>the day after tomorrow|day after tomorrow|tomorrow|today|后天|後天|明天|明日|"
        r"今天|今日)|(?P<iso>(?:\d{4}[-/.])?\d{1,2}[-/.]\d{1,2})|"
        r"(?P<cn>(?:(?P<cny>\d{4})年)?(?P<cnm>\d{1,2})月(?P<cnd>\d{1,2})[日号])")
_RANGE = r"\s*(?:-|–|—|~|～|到|至|to|until)\s*"
_WHEN = re.compile(rf"^\s*(?:(?:{_DAY})[\s,，]*)?{_time_re('s')}(?:{_RANGE}{_time_re('e')})?"
                   r"(?=$|[\s,，。;；]|[:：](?!\d))(?P<note>.*)$", re.IGNORECASE | re.DOTALL)


def _day(m: re.Match[str], today: date) -> date | None:
    """The day the words name; a month and day without a year is the next such day."""
    if m.group("word"):
        return today + timedelta(days=_DAY_WORDS[" ".join(m.group("word").lower().split())])
    if m.group("iso"):
        parts = [int(x) for x in re.split(r"[-/.]", m.group("iso"))]
        year, month, day = parts if len(parts) == 3 else [0, *parts]
    elif m.group("cn"):
        year = int(m.group("cny") or 0)
        month, day = int(m.group("cnm")), int(m.group("cnd"))
    else:
        return today
    try:
        found = date(year or today.year, month, day)
        if not year and found < today:
            found = date(today.year + 1, month, day)  # "01-05" written in December
    except ValueError:
        return None
    return found


def _twelve_hour(m: re.Match[str], p: str) -> str | None:
    """"am", "pm" or "noon" when one side says which half of the day; else None."""
    if m.group(f"{p}cn"):
        return _PERIODS[m.group(f"{p}cn")]
    written = (m.group(f"{p}ap") or "").lower()[:1]
    return {"a": "am", "p": "pm"}.get(written)


def _clock(m: re.Match[str], p: str) -> time | None:
    """The time of day of one side, or None when it is not one."""
    hour = int(m.group(f"{p}h"))
    minute = int(m.group(f"{p}m") or m.group(f"{p}cm") or (30 if m.group(f"{p}half") else 0))
    period = _twelve_hour(m, p)
    if period == "pm" and hour < 12:
        hour += 12
    elif period == "am" and hour == 12:
        hour = 0
    elif period == "noon" and hour < 6:
        hour += 12  # 中午1点 is one in the afternoon
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def parse(text: str, now: datetime) -> Window | None:
    """The window ``text`` names, in ``now``'s time zone; None: not a form we read."""
    first, _, rest = text.strip().partition("\n")
    m = _WHEN.match(first)
    if m is None or not m.group("sh"):
        return None
    day = _day(m, now.date())
    start_time = _clock(m, "s")
    if day is None or start_time is None:
        return None
    tz = now.tzinfo
    start = datetime.combine(day, start_time, tzinfo=tz)
    if m.group("eh"):
        end_time = _clock(m, "e")
        if end_time is None:
            return None
        end = datetime.combine(day, end_time, tzinfo=tz)
        if _twelve_hour(m, "s") is None and _twelve_hour(m, "e") == "pm" \
                and start_time.hour + 12 < end_time.hour:
            start += timedelta(hours=12)  # 2-4pm: the start on the end's clock
        if end <= start and end_time.hour < 12 and end + timedelta(hours=12) > start:
            end += timedelta(hours=12)  # 下午3点到5点, 2-4pm: the end on the same clock
        if end <= start:
            return None
    else:
        end = start + timedelta(minutes=DEFAULT_MINUTES)
    note = (m.group("note").strip(" \t,，。;；:：") + ("\n" + rest if rest else "")).strip()
    return Window(start, end, note)
