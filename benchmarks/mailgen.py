"""Realistic mixed helpdesk mail for benchmarks: English and Chinese, GBK, attachments,
replies to earlier cases, auto-replies, strangers and duplicate deliveries."""

from __future__ import annotations

import random
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid

CUSTOMERS = [(f"user{i}@sh.corp.example", f"用户{i}", "上海分公司") for i in range(40)] + \
            [(f"user{i}@uk.corp.example", f"User {i}", "London Office") for i in range(40)]
EN = [("Printer jams on floor {n}", "The printer on floor {n} jams on every page. Please help."),
      ("VPN not connecting", "Since this morning the VPN fails with error 809 on my laptop."),
      ("Outlook keeps asking for password", "Outlook asks for my password every 5 minutes."),
      ("Monitor flickers", "My second monitor flickers when I move the window.")]
ZH = [("打印机卡纸 {n}楼", "{n}楼的打印机一直卡纸，硒鼓也快没了，麻烦尽快处理。"),
      ("电脑蓝屏", "电脑开机后经常蓝屏，错误代码 0x0000007B，影响工作。"),
      ("无法连接无线网络", "会议室的无线网络连不上，提示密码错误。"),
      ("邮箱满了", "我的邮箱提示已满，无法接收邮件。")]


def _mail(sender: str, name: str, subject: str, body: str, charset: str = "utf-8",
          attachment: bytes | None = None, extra: dict[str, str] | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"{name} <{sender}>"
    msg["To"] = "helpdesk@corp.example"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain=sender.split("@")[1])
    for key, value in (extra or {}).items():
        msg[key] = value
    msg.set_content(body, charset=charset)
    if attachment is not None:
        msg.add_attachment(attachment, maintype="image", subtype="png", filename="screenshot.png")
    return msg.as_bytes()


def mixed(count: int, seed: int = 1) -> Iterator[bytes]:
    """``count`` messages; replies refer to cases opened earlier in the same stream."""
    rnd = random.Random(seed)
    opened = 0
    previous: list[bytes] = []
    for i in range(count):
        sender, name, company = rnd.choice(CUSTOMERS)
        roll = rnd.random()
        n = rnd.randint(1, 9)
        if roll < 0.10 and previous:
            raw = rnd.choice(previous)  # duplicate delivery
        elif roll < 0.20:
            raw = _mail(sender, name, "Automatic reply: out of office", "I am away until Monday.",
                        extra={"Auto-Submitted": "auto-replied"})
        elif roll < 0.30:
            raw = _mail(f"stranger{i}@example.org", "Stranger", "Hello", "Can you help me?")
        elif roll < 0.45 and opened:
            case = rnd.randint(1, opened)
            raw = _mail(sender, name, f"Re: [Case #{case}] update", "Any news? 还是不行。\n\n> old")
        else:
            subject, body = rnd.choice(ZH if company == "上海分公司" else EN)
            charset = "gbk" if company == "上海分公司" and rnd.random() < 0.5 else "utf-8"
            attachment = rnd.randbytes(50_000) if rnd.random() < 0.1 else None
            raw = _mail(sender, name, subject.format(n=n), body.format(n=n), charset, attachment)
            opened += 1
        previous.append(raw)
        yield raw
