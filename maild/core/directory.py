"""Customer directory rows: CSV validation, all rows checked before anything is written.

The CSV columns are docs/REFERENCE §7's: employee_id,name,company,phone,address,email,vip.
Every error names the line (the header is line 1) so that an operator can fix
the file in a spreadsheet and import it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from maild.core import addresses

COLUMNS = ("employee_id", "name", "company", "phone", "address", "email", "vip")
_TRUE = frozenset({"1", "true", "yes", "y", "vip", "是", "真"})
_FALSE = frozenset({"", "0", "false", "no", "n", "否", "假"})


@dataclass(frozen=True)
class CustomerRow:
    """One validated customer, as it will be stored."""

    employee_id: str | None
    name: str
    company: str | None
    phone: str | None
    address: str | None
    email: str | None
    vip: bool


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def valid_email(value: str) -> bool:
    """An address mail can be sent to: ASCII or internationalised (``addresses.check``)."""
    try:
        addresses.check(value)
    except addresses.AddressError:
        return False
    return True


def parse_vip(value: str) -> bool | None:
    """true/false in the usual spellings (also 是/否); None when it is neither."""
    v = value.strip().lower()
    return True if v in _TRUE else False if v in _FALSE else None


def check_header(header: Iterable[str]) -> str | None:
    """An error message when the CSV header lacks a required column."""
    names = [h.strip().lower() for h in header]
    missing = [c for c in ("name",) if c not in names]
    unknown = [n for n in names if n and n not in COLUMNS]
    if missing:
        return f"line 1: missing column(s): {', '.join(missing)} (expected {','.join(COLUMNS)})"
    if unknown:
        return f"line 1: unknown column(s): {', '.join(unknown)} (expected {','.join(COLUMNS)})"
    return None


def validate_row(raw: Mapping[str, str | None], line: int) -> CustomerRow | RowError:
    """One CSV row (keys lower-cased) → a customer, or the first problem with it."""
    get = {k: (v or "").strip() for k, v in raw.items() if k}
    if not get.get("name"):
        return RowError(line, "name is empty")
    email = addresses.key(get.get("email", ""))
    if email and not valid_email(email):
        return RowError(line, f"email {email!r} is not an email address")
    vip = parse_vip(get.get("vip", ""))
    if vip is None:
        return RowError(line, f"vip {get.get('vip')!r} must be yes/no, true/false, 1/0 or 是/否")
    if not email and not get.get("employee_id"):
        return RowError(line, "needs an email or an employee_id to be found again")
    return CustomerRow(
        employee_id=get.get("employee_id") or None, name=get["name"],
        company=get.get("company") or None, phone=get.get("phone") or None,
        address=get.get("address") or None, email=email or None, vip=vip,
    )


def validate_rows(rows: Iterable[Mapping[str, str | None]]) -> tuple[list[CustomerRow],
                                                                      list[RowError]]:
    """All rows checked; duplicate employee ids or emails within the file are errors too."""
    good: list[CustomerRow] = []
    errors: list[RowError] = []
    seen_ids: dict[str, int] = {}
    seen_emails: dict[str, int] = {}
    for line, raw in enumerate(rows, start=2):
        result = validate_row({(k or "").strip().lower(): v for k, v in raw.items()}, line)
        if isinstance(result, RowError):
            errors.append(result)
            continue
        dup = _duplicate(result, line, seen_ids, seen_emails)
        if dup:
            errors.append(dup)
            continue
        good.append(result)
    return good, errors


def _duplicate(row: CustomerRow, line: int, ids: dict[str, int],
               emails: dict[str, int]) -> RowError | None:
    if row.employee_id and row.employee_id in ids:
        first = ids[row.employee_id]
        return RowError(line, f"employee_id {row.employee_id} already on line {first}")
    if row.email and row.email in emails:
        return RowError(line, f"email {row.email} already on line {emails[row.email]}")
    if row.employee_id:
        ids[row.employee_id] = line
    if row.email:
        emails[row.email] = line
    return None


@dataclass(frozen=True)
class Caller:
    """A directory entry as the phone-summary lookup compares it."""

    id: int
    name: str
    employee_id: str | None = None
    company: str | None = None
    phone: str | None = None
    email: str | None = None


def _same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and " ".join(str(a).split()).casefold() == \
        " ".join(str(b).split()).casefold()


def narrow(candidates: Iterable[Caller], *, employee: str | None = None,
           name: str | None = None, company: str | None = None,
           email: str | None = None) -> list[Caller]:
    """The candidates the summary's other details point to.

    A candidate with another employee id than the summary's is another person and
    goes. Then each detail the summary gives (name, company, email), in turn, keeps
    the candidates that have it, when any does: a detail that fits none of them
    (a name written in the other language, an old company) decides nothing, so one
    caller found by phone stays found — except the name of a caller with an employee
    id the directory does not have yet: someone else at that phone is not them.
    More than one left: the summary must name one."""
    left = [c for c in candidates
            if not (employee and c.employee_id and c.employee_id != employee)]
    for wanted, field in ((name, "name"), (company, "company"), (email, "email")):
        if not wanted:
            continue
        kept = [c for c in left if _same(getattr(c, field), wanted)]
        if kept or (employee and field == "name"):
            left = kept
    return left
