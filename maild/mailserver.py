"""An embedded, in-memory IMAP + SMTP server for ``maild demo`` and tests.

``maild demo`` has to show the whole loop on a fresh machine that has no mail
system, so this module runs, inside the caller's asyncio event loop (no
threads, no subprocesses):

* a pymap IMAP server (in-memory ``dict`` backend, plaintext, IDLE), and
* an aiosmtpd SMTP server that accepts mail from anyone for anyone and
  delivers a copy into the INBOX of each recipient's mailbox
  (``local+tag@domain`` lands in ``local@domain``), prepending
  ``Return-Path`` and ``Delivered-To`` as a real MTA does.

It is a development/demo tool, NOT a production MTA: no TLS, no SMTP auth,
no relaying, no queue, no bounces, no persistence (everything is gone when the
context exits), and every address on the internet is "local".
"""

from __future__ import annotations

import asyncio
import weakref
from argparse import ArgumentParser, Namespace
from collections.abc import Callable, Iterable, Mapping
from contextlib import AsyncExitStack, closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from uuid import uuid4

from aiosmtpd.smtp import SMTP, Envelope, Session
from proxyprotocol.result import ProxyResultLocal
from proxyprotocol.sock import SocketInfo
from pymap.backend.dict import Config, DictBackend, Identity, Login
from pymap.concurrent import Event, Subsystem
from pymap.context import connection_exit
from pymap.imap import IMAPConnection, IMAPService
from pymap.imap.state import ConnectionState
from pymap.parsing.command.select import IdleCommand
from pymap.parsing.message import AppendMessage
from pymap.parsing.response import UntaggedResponse
from pymap.user import Passwords, UserMetadata
from pysasl.hashing import BuiltinHash

__all__ = ["Delivery", "LocalMailServer", "mailbox_address"]

AUTO_PASSWORD = "demo"


@dataclass
class Delivery:
    """One message accepted over SMTP, as received (before any header is prepended)."""

    at: datetime
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    #: recipient (as given in RCPT TO) -> login of the mailbox whose INBOX got a copy
    mailboxes: dict[str, str] = field(default_factory=dict)

    @property
    def delivered(self) -> bool:
        """True if every recipient got a copy in a local mailbox."""
        return all(rcpt in self.mailboxes for rcpt in self.rcpt_tos)


def mailbox_address(address: str) -> str:
    """The mailbox an address delivers to: lower-cased, ``+tag`` removed."""
    local, at, domain = address.strip().strip("<>").lower().rpartition("@")
    if not at:
        local, domain = domain, ""
    return f"{local.split('+', 1)[0]}{at}{domain}"


class _Config(Config):
    @property
    def greeting(self) -> bytes:  # pymap's default calls socket.getfqdn() per connection
        return b"maild demo IMAP server ready"


class _ConnectionState(ConnectionState):
    """pymap's IDLE waits for the *next* mailbox change only, so mail that arrived
    between the client's last command and IDLE stayed unreported until more mail
    came. Report such pending changes as soon as IDLE starts, as Dovecot does."""

    _idle_cmd: IdleCommand | None = None

    async def receive_updates(self, cmd: IdleCommand, done: Event) -> Iterable[UntaggedResponse]:
        if self._idle_cmd is not cmd:
            self._idle_cmd = cmd
            selected = await self.session.check_mailbox(self.selected)
            self._selected, untagged = selected.fork(cmd)
            if pending := list(untagged):
                return pending
        return await super().receive_updates(cmd, done)


def _pymap_args(host: str, port: int) -> Namespace:
    """Parse a command line with the same parser layout as ``pymap.main.main()``."""
    parser = ArgumentParser(add_help=False)
    parser.add_argument("--debug", action="store_true")
    sub = parser.add_subparsers(dest="backend", required=True)
    DictBackend.add_subparser("dict", sub).set_defaults(backend_type=DictBackend)
    IMAPService.add_arguments(parser)
    parser.set_defaults(skip_services=[], passlib_cfg=None)
    return parser.parse_args(["--host", host, "--port", str(port), "--no-tls", "dict"])


class _SMTPHandler:
    def __init__(self, server: LocalMailServer) -> None:
        self._server = server

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        await self._server.deliver(envelope.mail_from or "", list(envelope.rcpt_tos), data)
        return "250 Message accepted for delivery"


class LocalMailServer:
    """IMAP (pymap, in memory) + SMTP (aiosmtpd) on ``host``, in the running loop.

    ``users`` maps an email address (the IMAP login, lower-cased) to its password.
    With ``auto_create`` a recipient without a mailbox gets one on first mail
    (password ``auto_password``); otherwise the mail is accepted and only logged.
    """

    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        *,
        host: str = "127.0.0.1",
        imap_port: int = 0,
        smtp_port: int = 0,
        auto_create: bool = True,
        auto_password: str = AUTO_PASSWORD,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.host = host
        self.auto_create = auto_create
        self.auto_password = auto_password
        self.deliveries: list[Delivery] = []
        self._initial_users = dict(users or {})
        self._ports = (imap_port, smtp_port)
        self._clock = clock
        self._config = _Config.from_args(
            _pymap_args(host, imap_port),
            hash_context=BuiltinHash(rounds=1000),  # demo passwords; keep the loop responsive
            cpu_subsystem=Subsystem.for_asyncio(),  # no worker threads
        )
        self._login = Login(self._config)
        self._commands = self._config.commands
        self._changed = asyncio.Condition()
        self._imap: asyncio.Server | None = None
        self._smtp: asyncio.Server | None = None
        self._imap_tasks: set[asyncio.Task[Any]] = set()
        self._smtp_protos: weakref.WeakSet[SMTP] = weakref.WeakSet()

    @property
    def users(self) -> list[str]:
        """Logins of all mailboxes, including auto-created ones."""
        return sorted(self._login.users_dict)

    @property
    def imap_port(self) -> int:
        return self._port_of(self._imap)

    @property
    def smtp_port(self) -> int:
        return self._port_of(self._smtp)

    @staticmethod
    def _port_of(server: asyncio.Server | None) -> int:
        if server is None:
            raise RuntimeError("LocalMailServer is not running")
        port: int = server.sockets[0].getsockname()[1]
        return port

    async def __aenter__(self) -> LocalMailServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        for email, password in self._initial_users.items():
            await self.add_user(email, password)
        loop = asyncio.get_running_loop()
        imap_port, smtp_port = self._ports
        try:
            self._imap = await asyncio.start_server(self._imap_connection, self.host, imap_port)
            self._smtp = await loop.create_server(self._smtp_protocol, self.host, smtp_port)
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        """Stop listening, drop every open connection, wait for their tasks."""
        servers = [s for s in (self._imap, self._smtp) if s is not None]
        for server in servers:
            server.close()
        tasks = list(self._imap_tasks)
        for task in tasks:
            task.cancel()  # pymap answers "* BYE" and closes the socket
        for proto in list(self._smtp_protos):
            if proto.transport is not None:
                proto.transport.close()  # connection_lost() cancels the handler task
            if proto._handler_coroutine is not None:  # private, but the only handle on it
                tasks.append(proto._handler_coroutine)
        await asyncio.gather(*tasks, return_exceptions=True)
        for server in servers:
            await server.wait_closed()
        for _ in range(3):  # let pymap's IDLE helper tasks and transports finish closing
            await asyncio.sleep(0)
        self._imap = self._smtp = None

    async def add_user(self, email: str, password: str) -> None:
        """Create (or replace the password of) the mailbox ``email``."""
        name = email.strip().lower()
        hashed = await Passwords(self._config).hash_password(password)
        user = UserMetadata(
            self._config,
            name,
            password=hashed,
            previous_entity_tag=UserMetadata.REPLACE_ANY,
        )
        await Identity(name, self._login, None, frozenset()).set(user)

    async def wait_for_deliveries(self, n: int, timeout: float = 10.0) -> list[Delivery]:
        """Wait until at least ``n`` messages were accepted (TimeoutError otherwise)."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.deliveries) >= n)
        return list(self.deliveries)

    async def deliver(self, mail_from: str, rcpt_tos: list[str], data: bytes) -> Delivery:
        """Deliver ``data`` as if received over SMTP (also used by the SMTP handler)."""
        record = Delivery(self._clock(), mail_from, list(rcpt_tos), data)
        for rcpt in dict.fromkeys(rcpt_tos):  # one copy per distinct RCPT TO
            mailbox = await self._mailbox_for(rcpt)
            if mailbox is None:
                continue
            headers = f"Return-Path: <{mail_from}>\r\nDelivered-To: {rcpt}\r\n"
            await self._append(mailbox, headers.encode("utf-8") + data, record.at)
            record.mailboxes[rcpt] = mailbox
        async with self._changed:
            self.deliveries.append(record)
            self._changed.notify_all()
        return record

    async def _mailbox_for(self, rcpt: str) -> str | None:
        exact = rcpt.strip().strip("<>").lower()
        if exact in self._login.users_dict:
            return exact
        name = mailbox_address(rcpt)
        if name not in self._login.users_dict:
            if not self.auto_create or "@" not in name:
                return None
            await self.add_user(name, self.auto_password)
        return name

    async def _append(self, name: str, data: bytes, when: datetime) -> None:
        # Same path as pymap's own admin "append" (pymap/admin/handlers/mailbox.py):
        # the session appends to the mailbox object, whose update event wakes IDLE.
        identity = Identity(name, self._login, None, frozenset())
        async with identity.new_session() as session:
            await session.append_messages("INBOX", [AppendMessage(data, when, frozenset())])

    async def _imap_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._imap_tasks.add(task)
        sock_info = SocketInfo.get(writer, ProxyResultLocal(), unique_id=uuid4().bytes)
        conn = IMAPConnection(self._commands, self._config, reader, writer, sock_info)
        try:  # as pymap.imap.IMAPServer.__call__, with our connection state
            async with AsyncExitStack() as stack:
                connection_exit.set(stack)
                stack.enter_context(closing(conn))
                await conn.run(_ConnectionState(self._login, self._config))
        finally:
            self._imap_tasks.discard(task)

    def _smtp_protocol(self) -> SMTP:
        proto = SMTP(
            _SMTPHandler(self),
            hostname="localhost",
            ident="maild demo SMTP",
            enable_SMTPUTF8=True,
            loop=asyncio.get_running_loop(),
        )
        self._smtp_protos.add(proto)
        return proto
