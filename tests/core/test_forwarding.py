"""Forwarded customer mail: the original sender, subject, text and files."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from maild.core.forwarding import find_forwarded, looks_forwarded
from maild.core.values import Attachment, Inbound


def inbound(subject: str, text: str, attachments: tuple[Attachment, ...] = ()) -> Inbound:
    return Inbound(message_id=None, dedup_key="x", from_addr="callcenter@corp.example",
                   from_name="", subject=subject, text=text, attachments=attachments)


@pytest.mark.parametrize("text", [
    "FYI\n\n---------- Forwarded message ---------\nFrom: Wang Fang <wang.fang@sh.corp.example>\n"
    "Date: Mon, 23 Nov 2026\nSubject: Printer jams\nTo: callcenter@corp.example\n\n"
    "The printer jams.\nWang",
    "请处理\n\n________________________________\n发件人: 王芳 <wang.fang@sh.corp.example>\n"
    "发送时间: 2026年11月23日 10:00\n收件人: callcenter@corp.example\n主题: Printer jams\n\n"
    "The printer jams.\nWang",
    "------------------ 原始邮件 ------------------\n发件人: \"王芳\"<wang.fang@sh.corp.example>;\n"
    "发送时间: 2026年11月23日(星期一) 上午10:00\n收件人: \"callcenter\"<callcenter@corp.example>;\n"
    "主题: Printer jams\n\nThe printer jams.\nWang",
])
def test_inline_forwards(text: str) -> None:
    msg = inbound("Fwd: Printer jams", text)
    assert looks_forwarded(msg)
    fwd = find_forwarded(msg)
    assert fwd is not None
    assert (fwd.from_addr, fwd.subject, fwd.text) == (
        "wang.fang@sh.corp.example", "Printer jams", "The printer jams.\nWang")


def test_attached_message() -> None:
    inner = EmailMessage()
    inner["From"] = "王芳 <wang.fang@sh.corp.example>"
    inner["Subject"] = "显示器不亮"
    inner.set_content("办公室的显示器不亮了")
    inner.add_attachment(b"png", maintype="image", subtype="png", filename="photo.png")
    msg = inbound("转发：显示器不亮", "请看附件",
                  (Attachment("forwarded.eml", "message/rfc822", inner.as_bytes()),))
    fwd = find_forwarded(msg)
    assert fwd is not None and fwd.from_addr == "wang.fang@sh.corp.example"
    assert fwd.from_name == "王芳" and fwd.subject == "显示器不亮"
    assert fwd.text.strip() == "办公室的显示器不亮了"
    assert [a.filename for a in fwd.attachments] == ["photo.png"]


def test_plain_mail_is_not_a_forward() -> None:
    msg = inbound("Printer", "From: me, to you: the printer jams")
    assert not looks_forwarded(msg) and find_forwarded(msg) is None
