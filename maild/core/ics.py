"""An iCalendar (RFC 5545) invitation for one visit: the customer's calendar shows it.

``METHOD:REQUEST`` with an organizer (the helpdesk) and one attendee (the
customer) is what calendar clients read as an invitation. The times are written
in UTC (``DTSTART:20261202T060000Z``), which every client converts to its own
zone without needing a ``VTIMEZONE``. The ``UID`` is the visit's own and never
changes; a changed visit would be sent again with a higher ``SEQUENCE``. Text
values are escaped and long lines folded at 75 octets, as the RFC requires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

LINE_OCTETS = 75


@dataclass(frozen=True)
class Invitation:
    uid: str
    start: datetime
    end: datetime
    stamp: datetime  # when the invitation was made
    summary: str
    description: str
    organizer: str  # address
    organizer_name: str
    attendee: str | None = None
    attendee_name: str = ""
    location: str = ""
    sequence: int = 0


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def text(value: str) -> str:
    """A TEXT value: backslash, semicolon, comma and line breaks escaped."""
    out = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    out = out.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    return "".join(c for c in out if c.isprintable())


def _param(value: str) -> str:
    """A parameter value (CN=...): quoted, without the characters a quote cannot hold."""
    return '"' + "".join(c for c in value if c.isprintable() and c != '"') + '"'


def fold(line: str) -> str:
    """One content line folded at 75 octets, never inside a UTF-8 character."""
    out: list[str] = []
    current, size = "", 0
    for char in line:
        width = len(char.encode("utf-8"))
        limit = LINE_OCTETS if not out else LINE_OCTETS - 1  # a continuation starts with " "
        if size + width > limit:
            out.append(current)
            current, size = "", 0
        current += char
        size += width
    out.append(current)
    return "\r\n ".join(out)


def build(inv: Invitation) -> bytes:
    """The ``.ics`` file, CRLF line endings, UTF-8."""
    lines = [
        "BEGIN:VCALENDAR", "PRODID:-//maild//visit//EN", "VERSION:2.0", "CALSCALE:GREGORIAN",
        "METHOD:REQUEST", "BEGIN:VEVENT",
        f"UID:{text(inv.uid)}", f"SEQUENCE:{inv.sequence}", f"DTSTAMP:{_utc(inv.stamp)}",
        f"DTSTART:{_utc(inv.start)}", f"DTEND:{_utc(inv.end)}",
        f"SUMMARY:{text(inv.summary)}", f"DESCRIPTION:{text(inv.description)}",
    ]
    if inv.location:
        lines.append(f"LOCATION:{text(inv.location)}")
    lines.append(f"ORGANIZER;CN={_param(inv.organizer_name)}:mailto:{inv.organizer}")
    if inv.attendee:
        lines.append(f"ATTENDEE;CN={_param(inv.attendee_name)};ROLE=REQ-PARTICIPANT;"
                     f"PARTSTAT=NEEDS-ACTION;RSVP=FALSE:mailto:{inv.attendee}")
    lines += ["STATUS:CONFIRMED", "TRANSP:OPAQUE", "END:VEVENT", "END:VCALENDAR"]
    return ("\r\n".join(fold(x) for x in lines) + "\r\n").encode("utf-8")
