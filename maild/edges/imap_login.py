"""STARTTLS and the login (password or XOAUTH2) for the IMAP edge.

aioimaplib 2.0 has no STARTTLS: after the server's ``OK Begin TLS`` the
protocol's transport is upgraded in place with ``loop.start_tls`` (the
protocol object stays, so its state and tag counter carry on), and the
capabilities are asked again as RFC 3501 §6.2.1 requires.

Its ``xoauth2()`` also waits for ever when the token is refused: the server
then sends a ``+`` challenge with a JSON error and waits for an empty line.
``_XOAuth2Command`` answers that challenge, so a refusal is a plain ``NO``.
"""

from __future__ import annotations

import asyncio
import ssl

import aioimaplib
from aioimaplib.aioimaplib import AUTH, Command

from maild.config import ImapSettings
from maild.edges import oauth2


class StartTlsError(ConnectionError):
    """The server does not offer STARTTLS or refused it."""


async def starttls(client: aioimaplib.IMAP4, ctx: ssl.SSLContext, host: str,
                   timeout: float) -> None:
    """Upgrade a freshly greeted plain connection to TLS."""
    protocol = client.protocol
    if "STARTTLS" not in protocol.capabilities:
        raise StartTlsError(f"{host} does not offer STARTTLS (security = \"starttls\"); "
                            "use security = \"ssl\" and the IMAPS port (993)")
    cmd = Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
    res = await asyncio.wait_for(protocol.execute(cmd), timeout)
    if res.result != "OK":
        raise StartTlsError(f"{host} refused STARTTLS: {res.lines}")
    loop = asyncio.get_running_loop()
    transport = await asyncio.wait_for(
        loop.start_tls(protocol.transport, protocol, ctx, server_hostname=host), timeout)
    protocol.transport = transport
    await asyncio.wait_for(protocol.capability(), timeout)


class _XOAuth2Command(Command):  # type: ignore[misc]  # aioimaplib is untyped
    """AUTHENTICATE XOAUTH2 with an initial response; answers an error challenge."""

    def __init__(self, protocol: aioimaplib.IMAP4ClientProtocol, sasl: str) -> None:
        super().__init__("AUTHENTICATE", protocol.new_tag(), "XOAUTH2", sasl,
                         loop=protocol.loop)
        self.protocol = protocol

    def append_to_resp(self, line: bytes, result: str = "Pending") -> None:
        if result == "Pending" and bytes(line).startswith(b"+"):
            self.protocol.transport.write(b"\r\n")  # the JSON error follows as NO
        super().append_to_resp(line, result)


async def xoauth2(client: aioimaplib.IMAP4, user: str, token: str,
                  timeout: float) -> aioimaplib.Response:
    """Log in with an OAuth2 access token (SASL XOAUTH2)."""
    protocol = client.protocol
    cmd = _XOAuth2Command(protocol, oauth2.xoauth2_string(user, token))
    async with protocol.state_condition:
        res = await asyncio.wait_for(protocol.execute(cmd, scrub=cmd.args[1]), timeout)
        if res.result == "OK":
            protocol.state = AUTH
        protocol.state_condition.notify_all()
    return res


async def login(client: aioimaplib.IMAP4, cfg: ImapSettings,
                timeout: float) -> aioimaplib.Response:
    """LOGIN with the password, or XOAUTH2 with a token from [oauth2]."""
    if cfg.auth != "xoauth2":
        return await client.login(cfg.username, cfg.password)
    assert cfg.oauth2 is not None  # config.py attaches [oauth2] to an xoauth2 section
    source = oauth2.source_for(cfg.oauth2)
    res = await xoauth2(client, cfg.username, await source.token(), timeout)
    if res.result != "OK":
        source.invalidate()  # revoked or expired early: fetch a new one next time
    return res
