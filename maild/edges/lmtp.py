"""The LMTP edge: the MTA delivers straight into the running daemon (RFC 2033).

As GNU Mailman 3 takes mail from Postfix, no process starts per message:
aiosmtpd's LMTP server hands each message to the service's ``ingest`` (passed
in by the daemon) in a worker thread, one message at a time, and answers only
after the message's transaction has committed:

- ``RCPT``: the helpdesk address and its ``+`` sub-addresses (reply tokens,
  personal addresses) are accepted; anything else is refused with 550, so a
  wrong ``transport`` line fails loudly instead of filing strangers' mail;
- after ``DATA``, one answer per accepted recipient (LMTP's rule): 250 once the
  message has its disposition (whatever it is: a failed message is kept and
  recorded, as over IMAP), 451 when the database is unavailable, so the MTA
  keeps the message and tries again.

Each accepted envelope recipient is written on top of the message as
``Delivered-To``, as a local delivery agent does, a ``+`` address (a reply token
or personal address) topmost, so a token in ``RCPT TO`` is seen just as it would
be in the mailbox. The message is ingested once however many of
its recipients are ours.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from aiosmtpd.lmtp import LMTP

from maild.core.values import IngestResult, TransientError

log = logging.getLogger("maild.lmtp")

Ingest = Callable[[bytes, datetime], IngestResult]


class Handler:
    """aiosmtpd hooks: which recipients are ours, and what a delivered message becomes."""

    def __init__(self, helpdesk: str, ingest: Ingest, clock: Callable[[], datetime],
                 on_ingested: Callable[[], None] | None = None) -> None:
        local, _, domain = helpdesk.rpartition("@")
        self.local, self.domain = local.lower(), domain.lower()
        self.ingest = ingest
        self.clock = clock
        self.on_ingested = on_ingested
        self.lock = asyncio.Lock()  # one message at a time: SQLite sees one writer

    def ours(self, address: str) -> bool:
        """The helpdesk address itself, or a ``+`` sub-address of it."""
        local, _, domain = address.rpartition("@")
        base = local.split("+", 1)[0].lower()
        return base == self.local and domain.lower().rstrip(".") == self.domain

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if not self.ours(address):
            return f"550 5.1.1 <{address}>: not the helpdesk address"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        rcpts = list(envelope.rcpt_tos)
        # a "+" address first: only the topmost Delivered-To is believed (docs/TRUST.md)
        ordered = sorted(rcpts, key=lambda r: "+" not in r.rpartition("@")[0])
        raw = b"".join(f"Delivered-To: {r}\r\n".encode("utf-8", "surrogateescape")
                       for r in ordered) + bytes(envelope.original_content)
        try:
            async with self.lock:
                result = await asyncio.to_thread(self.ingest, raw, self.clock())
        except TransientError as exc:
            log.warning("LMTP delivery deferred: %s", exc)
            return "\r\n".join(["451 4.3.0 try again later: the database is unavailable"]
                               * len(rcpts))
        if self.on_ingested:
            self.on_ingested()
        log.info("LMTP delivery: message %s %s", result.message_row_id, result.disposition)
        return "\r\n".join([f"250 2.0.0 message {result.message_row_id} "
                            f"{result.disposition}"] * len(rcpts))


def _protocol(handler: Handler) -> Callable[[], LMTP]:
    return lambda: LMTP(handler, enable_SMTPUTF8=True, decode_data=False,
                        data_size_limit=None, ident="maild LMTP")


async def serve(listen: str, handler: Handler) -> asyncio.Server:
    """Listen on ``host:port`` or ``unix:/path`` (a socket only its owner and group may use)."""
    loop = asyncio.get_running_loop()
    if listen.startswith("unix:"):
        path = Path(listen.removeprefix("unix:"))
        if path.is_socket():
            path.unlink()  # left by a daemon that was killed
        server = await loop.create_unix_server(_protocol(handler), str(path))
        os.chmod(path, 0o660)
    else:
        host, _, port = listen.rpartition(":")
        server = await loop.create_server(_protocol(handler), host.strip("[]"), int(port))
    log.info("LMTP intake listening on %s", listen, extra={"event": "lmtp_listening"})
    return server
