"""The sender's own SMTP transaction (``edges.smtp._sendmail``) against aiosmtplib's
``sendmail``: the same envelope, options and bytes at a real aiosmtpd server, and the
same exceptions for refusals, whatever the mail's line ends or leading dots.

``_sendmail`` exists to spend less CPU per mail (addresses parsed once per flush,
the mail's bytes checked instead of rewritten); these tests pin that it is the same
transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from servers import free_port

from maild.edges import smtp

SENDER = "helpdesk@corp.example"
MAILS = [
    b"Subject: crlf\r\n\r\nline one\r\nline two\r\n",
    b"Subject: lf\n\nline one\nline two\n",
    b"Subject: lone cr\r\n\r\none\rtwo\r\n",
    b"Subject: no end\r\n\r\nlast line without its end",
    b"Subject: dots\r\n\r\n.starts with a dot\r\n..two\r\n.\r\nend\r\n",
    b".Subject: first line a dot\r\n\r\nbody\r\n",
    b"Subject: mixed\r\n\r\na\nb\r\n.c\nd\r",
]


class _Recorder:
    """Keeps each transaction's envelope; refuses RCPT to nobody@, and DATA once when told."""

    def __init__(self) -> None:
        self.got: list[tuple[str, list[str], list[str], list[str], bytes]] = []
        self.fail_data = ""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.fail_data:
            reply, self.fail_data = self.fail_data, ""
            return reply
        self.got.append((envelope.mail_from, list(envelope.mail_options),
                         list(envelope.rcpt_tos), list(envelope.rcpt_options),
                         bytes(envelope.original_content)))
        return "250 OK"


@pytest.fixture
def relay() -> Iterator[tuple[_Recorder, int]]:
    handler = _Recorder()
    port = free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=port, server_hostname="sink.test",
                     enable_SMTPUTF8=True)
    ctl.start()
    try:
        yield handler, port
    finally:
        ctl.stop()


Send = Callable[[aiosmtplib.SMTP, list[str], bytes, list[str]], Awaitable[object]]


async def _library(client: aiosmtplib.SMTP, rcpts: list[str], raw: bytes,
                   options: list[str]) -> object:
    return await client.sendmail(SENDER, rcpts, raw, mail_options=options)


async def _ours(client: aiosmtplib.SMTP, rcpts: list[str], raw: bytes,
                options: list[str]) -> object:
    return await smtp._sendmail(client, SENDER, rcpts, raw, options)


def _run(port: int, send: Send, rcpts: list[str], raws: list[bytes],
         options: list[str] | None = None, then: list[str] | None = None) -> list[str]:
    """Send each mail over one connection (to ``then`` after the first, when given);
    the name of what each raised ('' when sent)."""

    async def go() -> list[str]:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=5)
        await client.connect()
        outcomes = []
        try:
            for i, raw in enumerate(raws):
                try:
                    if i and then:
                        rcpts[:] = then
                    await send(client, rcpts, raw, options or [])
                    outcomes.append("")
                except aiosmtplib.SMTPResponseException as exc:
                    outcomes.append(f"{type(exc).__name__} {exc.code}")
                except aiosmtplib.SMTPRecipientsRefused as exc:
                    outcomes.append(
                        f"{type(exc).__name__} {[e.code for e in exc.recipients]}")
            await client.quit()
        finally:  # a raising test leaves no open socket behind
            if client.is_connected:
                client.close()
        return outcomes

    return asyncio.run(go())


@pytest.mark.parametrize("rcpts,options", [
    (["wang.fang@sh.corp.example"], []),
    (["a@corp.example", "b@corp.example"], []),
    (["王芳@例子.公司", "a@corp.example"], ["SMTPUTF8"]),
])
def test_the_same_bytes_and_envelope_as_aiosmtplib(relay: tuple[_Recorder, int],
                                                   rcpts: list[str], options: list[str]) -> None:
    handler, port = relay
    assert _run(port, _library, rcpts, MAILS, options) == [""] * len(MAILS)
    theirs, handler.got = handler.got, []
    assert _run(port, _ours, rcpts, MAILS, options) == [""] * len(MAILS)
    assert handler.got == theirs
    assert any(any(o.startswith("SIZE=") for o in got[1]) for got in theirs)  # SIZE was used


def test_refusals_raise_as_aiosmtplib_and_the_next_mail_goes(
        relay: tuple[_Recorder, int]) -> None:
    handler, port = relay
    mail = MAILS[0]
    cases: list[tuple[list[str], str]] = [
        (["nobody@corp.example", "a@corp.example"], ""),  # one refused, the other takes it
        (["nobody@corp.example"], "SMTPRecipientsRefused [550]"),
        (["a@corp.example"], "SMTPDataError 451"),
        (["a@corp.example"], "SMTPDataError 554"),
    ]
    for send in (_library, _ours):
        for rcpts, expected in cases:
            handler.fail_data = expected.split()[-1] + " no" if "DataError" in expected else ""
            assert _run(port, send, list(rcpts), [mail, mail], then=["b@corp.example"]) \
                == [expected, ""]
    assert len(handler.got) == 2 * 5  # every mail but the refused ones arrived


def test_an_address_aiosmtplib_will_not_send_is_refused_before_any_command(
        relay: tuple[_Recorder, int]) -> None:
    handler, port = relay
    for send in (_library, _ours):
        with pytest.raises(ValueError):
            _run(port, send, ["wang fang@corp.example"], [MAILS[0]])
    assert handler.got == []


def test_the_wire_form_matches_aiosmtplib() -> None:
    from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings
    for raw in [*MAILS, b"", b"\r\n", b".", b"\n.", b"a\r\r\nb"]:
        text = normalize_message_line_endings(raw)
        assert smtp._wire(raw) == (PERIOD_REGEX.sub(b"..", text) + b".\r\n", len(text))
