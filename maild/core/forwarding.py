"""A customer's mail forwarded by staff: find the original sender, text and files.

Forwarded as an attachment (``message/rfc822``) or inline, under a header block
as Gmail, Outlook (English and Chinese), Foxmail/QQ and Apple Mail write it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from maild.core.parse import UnparseableMessage, parse
from maild.core.values import Attachment, Inbound

_FWD_SUBJECT = re.compile(
    r"^\s*(?:(?:re|aw|回复|答复)\s*[:：]\s*)*(?:fwd?|fw|wg|tr|转发|轉寄)\s*[:：]", re.IGNORECASE)
_FROM = re.compile(r"^\s*[*>]*\s*(?:from|发件人|寄件者|von|de)\s*[:：]\s*\**\s*(.*)$",
                   re.IGNORECASE)
_SUBJECT = re.compile(r"^\s*[*>]*\s*(?:subject|主题|主旨|betreff|objet)\s*[:：]\s*\**\s*(.*)$",
                      re.IGNORECASE)
_ADDRESS = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_MARKER = re.compile(r"forwarded message|begin forwarded message|original message|原始邮件|"
                     r"转发邮件信息|转发的邮件", re.IGNORECASE)


@dataclass(frozen=True)
class Forwarded:
    from_addr: str
    from_name: str
    subject: str
    text: str
    attachments: tuple[Attachment, ...] = ()


def looks_forwarded(msg: Inbound) -> bool:
    """A Fwd:/转发: subject, a forward marker in the text, or an attached message."""
    return bool(_FWD_SUBJECT.match(msg.subject) or _MARKER.search(msg.text)
                or any(a.content_type == "message/rfc822" for a in msg.attachments))


def find_forwarded(msg: Inbound) -> Forwarded | None:
    """The forwarded original, attached or inline; None when there is none."""
    for att in msg.attachments:
        if att.content_type == "message/rfc822":
            try:
                inner = parse(att.data)
            except UnparseableMessage:
                continue
            if inner.from_addr:
                return Forwarded(inner.from_addr, inner.from_name, inner.subject, inner.text,
                                 inner.attachments)
    return _inline(msg)


def _inline(msg: Inbound) -> Forwarded | None:
    lines = msg.text.splitlines()
    for i, line in enumerate(lines):
        m = _FROM.match(line)
        address = _ADDRESS.search(m.group(1)) if m else None
        if not m or not address:
            continue
        subject, end = _header_block(lines, i + 1)
        if subject is None:
            continue
        name = m.group(1)[: address.start()].strip(" \"'<>*;").strip() or ""
        body = "\n".join(lines[end:]).strip()
        others = tuple(a for a in msg.attachments if a.content_type != "message/rfc822")
        return Forwarded(address.group(0).lower(), name, subject or msg.subject, body, others)
    return None


def _header_block(lines: list[str], start: int) -> tuple[str | None, int]:
    """(subject, first line of the body) for a header block starting at ``start``."""
    subject: str | None = None
    for j in range(start, min(start + 8, len(lines))):
        if not lines[j].strip():
            return subject, j + 1
        m = _SUBJECT.match(lines[j])
        if m:
            subject = m.group(1).strip()
    return subject, min(start + 8, len(lines))
