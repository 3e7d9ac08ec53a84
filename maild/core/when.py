"""The one way a time is shown to people: ``2026-11-22 16:00 +08:00``.

Every time a person reads (mail, the terminal) carries its UTC offset, so a
reader in another zone, or a log read next to it, is never off by hours. The
offset is written out (``+08:00``) rather than a zone abbreviation, because
abbreviations are ambiguous (CST is China, Cuba and US Central). JSON keeps
ISO 8601 (``2026-11-22T08:00:00+00:00``).
"""

from __future__ import annotations

from datetime import datetime, tzinfo


def human(value: datetime, tz: tzinfo | None = None) -> str:
    """``YYYY-MM-DD HH:MM +HH:MM`` in ``tz`` (default: the value's own zone)."""
    if tz is not None and value.tzinfo is not None:
        value = value.astimezone(tz)
    text = value.strftime("%Y-%m-%d %H:%M")
    offset = value.utcoffset()
    if offset is None:
        return text
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{text} {sign}{hours:02d}:{mins:02d}"


def age(seconds: float) -> str:
    """A duration as people read a case's age: ``3d 4h``, ``2h 5m``, ``45m`` (``0m`` at most
    a minute; days and hours above a day, hours and minutes below)."""
    minutes = max(int(seconds), 0) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins}m"
    return f"{mins}m"
