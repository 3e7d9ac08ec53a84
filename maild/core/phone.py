"""An operator's phone summary: ``Key: value`` lines at the top of the new text (docs/REFERENCE §6).

Keys are English or Chinese, any case, with ASCII or full-width colons;
``Description``/``描述`` may run over several lines (until the next key).
``phone_key`` is the form in which two ways of writing one phone number compare
equal (the caller lookup, docs/REFERENCE §10).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, fields

KEYS: dict[str, tuple[str, ...]] = {
    "employee": ("employee", "employee id", "employee no", "工号", "员工号", "员工编号"),
    "name": ("name", "caller", "姓名", "名字", "来电人"),
    "company": ("company", "公司", "单位"),
    "phone": ("phone", "tel", "telephone", "mobile", "电话", "手机", "联系电话"),
    "email": ("email", "e-mail", "mail", "邮箱", "电子邮件", "邮件地址"),
    "type": ("type", "类型", "问题类型"),
    "priority": ("priority", "优先级"),
    "urgency": ("urgency", "紧急程度", "紧急度", "紧迫性"),
    "impact": ("impact", "影响", "影响范围", "影响程度"),
    "engineer": ("engineer", "工程师", "指派工程师"),
    "description": ("description", "problem", "issue", "描述", "问题描述", "问题"),
    "complaint": ("complaint", "投诉", "投诉内容"),
}
_LOOKUP = {alias: field for field, aliases in KEYS.items() for alias in aliases}
_LINE = re.compile(r"^\s*([^:：\n]{1,24}?)\s*[:：]\s*(.*)$")


@dataclass(frozen=True)
class PhoneFields:
    employee: str | None = None
    name: str | None = None
    company: str | None = None
    phone: str | None = None
    email: str | None = None
    type: str | None = None
    priority: str | None = None
    urgency: str | None = None
    impact: str | None = None
    engineer: str | None = None
    description: str | None = None
    complaint: str | None = None  # on a case: the caller complains (docs/REFERENCE.md)


def _key(line: str) -> tuple[str, str] | None:
    """(field, value) when the line is ``Key: value`` with a known key."""
    m = _LINE.match(line)
    if not m:
        return None
    field = _LOOKUP.get(unicodedata.normalize("NFKC", m.group(1)).strip().lower())
    return (field, m.group(2).strip()) if field else None


def parse_summary(new_text: str) -> PhoneFields | None:
    """The summary at the top of ``new_text``; None when it does not start with known keys."""
    found: dict[str, str] = {}
    current: str | None = None
    for line in new_text.strip().splitlines():
        hit = _key(line)
        if hit:
            current, value = hit
            found.setdefault(current, value)
        elif current in ("description", "complaint"):
            found[current] = (found[current] + "\n" + line).strip("\n")
        elif line.strip() and not found:
            return None  # prose before any key: not a summary
        elif line.strip():
            break  # the summary is over; what follows is not ours
    if not found:
        return None
    clean = {k: v.strip() or None for k, v in found.items()}
    return PhoneFields(**clean)


def missing(f: PhoneFields) -> list[str]:
    """What the summary still needs to open a case, in words an operator recognises."""
    out = []
    if not f.description:
        out.append("Description / 描述")
    if not (f.employee or f.name or phone_key(f.phone)):
        out.append("Employee / 工号, Phone / 电话 or Name / 姓名")
    return out


FIELD_NAMES = tuple(f.name for f in fields(PhoneFields))


# China's country code; numbers with it are compared in their national form.
COUNTRY = "86"
# Fewer digits than this identify nobody (an extension, a typo): no lookup by them.
MIN_DIGITS = 6
_SEPARATORS = frozenset(" -.()/\u00a0\u3000")


def phone_key(text: str | None) -> str | None:
    """Digits of a phone number as the directory compares them; None when not a number.

    Spaces, dashes, dots, slashes and parentheses are ignored (full-width forms too);
    ``+86`` and ``0086`` (China's country code, international or dialled from abroad)
    and then a trunk ``0`` are dropped, so ``+86 (21) 5555-0101``, ``0086 21 55550101``
    and ``021-5555 0101`` are all ``2155550101``. Another country's number keeps its
    code after a ``+`` (``0044 20…`` → ``+4420…``). A number with letters, or with fewer
    than six digits, has no key."""
    if not text:
        return None
    raw = "".join(c for c in unicodedata.normalize("NFKC", text).strip()
                  if c not in _SEPARATORS)
    plus = raw.startswith("+")
    digits = raw[1:] if plus else raw
    if not digits.isdigit() or not digits.isascii():
        return None
    if not plus and digits.startswith("00"):
        plus, digits = True, digits[2:]
    if plus and digits.startswith(COUNTRY):
        plus, digits = False, digits[len(COUNTRY):]
    if not plus:
        digits = digits.removeprefix("0")
    if len(digits) < MIN_DIGITS:
        return None
    return f"+{digits}" if plus else digits
