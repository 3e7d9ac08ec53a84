"""OutgoingMail → RFC 5322 bytes, with the headers that keep threads together and loops away."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

LOOP_HEADER = "X-Maild-Loop"


@dataclass(frozen=True)
class OutgoingMail:
    from_name: str
    from_addr: str
    to: tuple[str, ...]
    subject: str
    text: str
    html: str
    message_id: str  # without angle brackets
    date: datetime
    reply_to: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    auto_submitted: str = "auto-replied"
    attachments: tuple[tuple[str, str, bytes], ...] = ()  # (filename, content type, data)


def one_line(text: str, limit: int = 200) -> str:
    """No header injection: collapse CR/LF and control characters, cap the length."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(cleaned.split())[:limit]


def build(mail: OutgoingMail) -> bytes:
    """A multipart/alternative (text + HTML) message, UTF-8, SMTP line endings."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = Address(one_line(mail.from_name), addr_spec=mail.from_addr)
    msg["To"] = ", ".join(mail.to)
    if mail.reply_to:
        msg["Reply-To"] = Address(one_line(mail.from_name), addr_spec=mail.reply_to)
    msg["Subject"] = one_line(mail.subject, 400)
    msg["Date"] = format_datetime(mail.date)
    msg["Message-ID"] = f"<{mail.message_id}>"
    if mail.in_reply_to:
        msg["In-Reply-To"] = f"<{mail.in_reply_to}>"
    refs = [r for r in dict.fromkeys(mail.references) if r]
    if refs:
        msg["References"] = " ".join(f"<{r}>" for r in refs)
    msg["Auto-Submitted"] = mail.auto_submitted
    msg["X-Auto-Response-Suppress"] = "All"
    msg[LOOP_HEADER] = mail.from_addr
    msg.set_content(mail.text, subtype="plain", charset="utf-8")
    msg.add_alternative(mail.html, subtype="html", charset="utf-8")
    for filename, content_type, data in mail.attachments:
        maintype, _, subtype = content_type.partition("/")
        msg.add_attachment(data, maintype=maintype or "application",
                           subtype=subtype or "octet-stream", filename=filename)
    return msg.as_bytes()
