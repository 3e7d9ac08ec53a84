"""TLS and XOAUTH2 against real servers: Dovecot with IMAPS, STARTTLS and its oauth2
passdb asking a local identity provider; aiosmtpd with STARTTLS, SMTPS and XOAUTH2.
The CA and the server certificate are made by the test (tests/tlscerts.py)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from idp import IdentityProvider
from maildenv import HELPDESK, Maild, new_mail, write_config
from servers import Dovecot, SmtpSink, require_dovecot
from tlscerts import Pki, make_pki

from maild.db.models import utcnow
from maild.edges import imap, smtp
from maild.edges.oauth2 import OAuth2Error

CUSTOMER = "li.na@corp.example"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    server = IdentityProvider(HELPDESK).start()
    yield server
    server.stop()


@pytest.fixture
def tls_dovecot(tmp_path: Path, pki: Pki, idp: IdentityProvider) -> Iterator[Dovecot]:
    require_dovecot()
    with Dovecot(tmp_path / "dovecot", tls=(pki.cert, pki.key),
                 oauth2_introspection_url=idp.url + "/introspect") as server:
        yield server


def configure(path: Path, section: str, **values: object) -> None:
    """Set keys of one section in a config.toml written by maildenv.write_config."""
    text = path.read_text()
    head, _, rest = text.partition(f"[{section}]\n")
    body, nxt, tail = rest.partition("\n[")
    lines = [ln for ln in body.splitlines() if ln.split(" = ")[0] not in values]
    for key, value in values.items():
        lines.append(f"{key} = " + (str(value).lower() if isinstance(value, bool)
                                    else str(value) if isinstance(value, int)
                                    else f'"{value}"'))
    path.write_text(head + f"[{section}]\n" + "\n".join(lines) + nxt + tail)


def maild_for(tmp_path: Path, dovecot: Dovecot, sink: SmtpSink | None, *,
              imap_keys: dict[str, object], smtp_keys: dict[str, object] | None = None,
              extra: str = "") -> Maild:
    config = write_config(tmp_path, dovecot.imap_port, sink.port if sink else 1)
    configure(config, "imap", **imap_keys)
    if smtp_keys:
        configure(config, "smtp", **smtp_keys)
    config.write_text(config.read_text() + extra)
    return Maild(config)


def _tls_logins(dovecot: Dovecot, method: str = "PLAIN") -> int:
    """maild's logins over TLS, as Dovecot logged them (the test's own are plain).
    Dovecot's log process writes a moment later: wait up to 5 s for the first one."""
    pattern = re.compile(rf"imap-login: Info: Login: user=<{HELPDESK}>, method={method},"
                         r"[^\n]* TLS,")
    deadline = time.monotonic() + 5
    while not (found := pattern.findall(dovecot.log_tail(500))) and time.monotonic() < deadline:
        time.sleep(0.05)
    return len(found)


def deliver_and_drain(dovecot: Dovecot, m: Maild) -> None:
    dovecot.deliver(new_mail(CUSTOMER, "Printer jam", "The printer on floor 3 jams."))
    stats = m.run_once()
    assert stats.drained.processed == 1
    assert dovecot.count("INBOX") == 0 and dovecot.count("Processed") == 1


# ------------------------------------------------------------------ IMAP


def test_imaps_with_ca_file_drains_the_mailbox(tmp_path: Path, tls_dovecot: Dovecot,
                                               pki: Pki) -> None:
    m = maild_for(tmp_path, tls_dovecot, None, imap_keys={
        "security": "ssl", "port": tls_dovecot.imaps_port, "ca_file": str(pki.ca)})
    deliver_and_drain(tls_dovecot, m)
    assert _tls_logins(tls_dovecot) == 1  # Dovecot logged maild's session as TLS


def test_imap_starttls_drains_the_mailbox(tmp_path: Path, tls_dovecot: Dovecot,
                                          pki: Pki) -> None:
    m = maild_for(tmp_path, tls_dovecot, None, imap_keys={
        "security": "starttls", "ca_file": str(pki.ca)})
    deliver_and_drain(tls_dovecot, m)
    assert _tls_logins(tls_dovecot) == 1


@pytest.mark.parametrize("security", ["ssl", "starttls"])
@pytest.mark.parametrize("trust", ["system", "other_ca"])
async def test_imap_refuses_a_server_certificate_it_does_not_trust(
        tmp_path: Path, tls_dovecot: Dovecot, pki: Pki, security: str, trust: str) -> None:
    port = tls_dovecot.imaps_port if security == "ssl" else tls_dovecot.imap_port
    ca = str(pki.other_ca) if trust == "other_ca" else ""
    m = maild_for(tmp_path, tls_dovecot, None, imap_keys={
        "security": security, "port": port, "ca_file": ca})
    box = imap.Mailbox(m.settings.imap, timeout=5)
    with pytest.raises(imap.ImapError) as err:
        try:
            await box.connect()
        finally:
            await box.close()
    assert "certificate of the server not trusted" in str(err.value)
    assert "[imap] ca_file" in str(err.value)


async def test_verify_false_connects_but_warns(tmp_path: Path, tls_dovecot: Dovecot,
                                               caplog: pytest.LogCaptureFixture) -> None:
    m = maild_for(tmp_path, tls_dovecot, None, imap_keys={
        "security": "ssl", "port": tls_dovecot.imaps_port, "verify": False})
    box = imap.Mailbox(m.settings.imap, timeout=5)
    with caplog.at_level(logging.WARNING):
        await box.connect()
    await box.close()
    assert "[imap] verify = false: the server's TLS certificate is NOT checked" in caplog.text


def test_imap_xoauth2_login_checked_by_dovecot_oauth2_passdb(
        tmp_path: Path, tls_dovecot: Dovecot, pki: Pki, idp: IdentityProvider) -> None:
    m = maild_for(tmp_path, tls_dovecot, None, imap_keys={
        "security": "starttls", "ca_file": str(pki.ca), "auth": "xoauth2", "password": ""},
        extra=_oauth2_table(idp, "rt-initial"))
    deliver_and_drain(tls_dovecot, m)
    assert _tls_logins(tls_dovecot, "XOAUTH2") == 1
    assert idp.issued == ["at-1"]
    assert ("/introspect", {"token": "at-1"}) in idp.requests  # Dovecot checked that token


async def test_imap_xoauth2_refused_token_is_a_login_error(
        tmp_path: Path, tls_dovecot: Dovecot, pki: Pki, idp: IdentityProvider) -> None:
    script = tmp_path / "token.sh"
    script.write_text("#!/bin/sh\necho revoked-token\n")
    script.chmod(0o755)
    m = maild_for(tmp_path, tls_dovecot, None, imap_keys={
        "security": "ssl", "port": tls_dovecot.imaps_port, "ca_file": str(pki.ca),
        "auth": "xoauth2"}, extra=f'[oauth2]\ntoken_command = "{script}"\n')
    box = imap.Mailbox(m.settings.imap, timeout=5)
    with pytest.raises(imap.ImapError, match=r"login as helpdesk@corp\.example refused"):
        try:
            await box.connect()
        finally:
            await box.close()
    assert ("/introspect", {"token": "revoked-token"}) in idp.requests


async def test_imap_xoauth2_without_a_token_says_why(tmp_path: Path, tls_dovecot: Dovecot,
                                                     pki: Pki, idp: IdentityProvider) -> None:
    m = maild_for(tmp_path, tls_dovecot, None, imap_keys={
        "security": "starttls", "ca_file": str(pki.ca), "auth": "xoauth2"},
        extra=_oauth2_table(idp, "rt-revoked"))
    box = imap.Mailbox(m.settings.imap, timeout=5)
    with pytest.raises(imap.ImapError, match=r"no OAuth2 token .*invalid_grant") as err:
        try:
            await box.connect()
        finally:
            await box.close()
    assert isinstance(err.value.__cause__, OAuth2Error)


# ------------------------------------------------------------------ SMTP


def _notify(tmp_path: Path, dovecot: Dovecot, sink: SmtpSink, smtp_keys: dict[str, object],
            extra: str = "") -> Maild:
    """A maild whose first drained mail queues an acknowledgement to CUSTOMER."""
    m = maild_for(tmp_path, dovecot, sink, imap_keys={}, smtp_keys=smtp_keys, extra=extra)
    m.add_customer(CUSTOMER, "Li Na")
    return m


@pytest.fixture
def plain_dovecot(tmp_path: Path) -> Iterator[Dovecot]:
    require_dovecot()
    with Dovecot(tmp_path / "dovecot") as server:
        yield server


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_outbox_over_starttls_and_smtps(tmp_path: Path, plain_dovecot: Dovecot, pki: Pki,
                                        security: str) -> None:
    with SmtpSink(tls_context=pki.server_context(), implicit_tls=security == "ssl") as sink:
        m = _notify(tmp_path, plain_dovecot, sink, {"security": security,
                                                    "ca_file": str(pki.ca)})
        plain_dovecot.deliver(new_mail(CUSTOMER, "VPN down", "VPN refuses me."))
        stats = m.run_once()
        assert stats.outbox.sent >= 1 and not stats.outbox.smtp_down
        assert len(sink.to(CUSTOMER)) == 1


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_outbox_refuses_an_untrusted_smtp_certificate(
        tmp_path: Path, plain_dovecot: Dovecot, pki: Pki, security: str,
        caplog: pytest.LogCaptureFixture) -> None:
    with SmtpSink(tls_context=pki.server_context(), implicit_tls=security == "ssl") as sink:
        m = _notify(tmp_path, plain_dovecot, sink, {"security": security})
        plain_dovecot.deliver(new_mail(CUSTOMER, "VPN down", "VPN refuses me."))
        with caplog.at_level(logging.WARNING):
            stats = m.run_once()
        assert stats.outbox.sent == 0 and stats.outbox.smtp_down
        assert sink.messages == []
        assert "certificate" in caplog.text and "[smtp] ca_file" in caplog.text


def _oauth2_table(idp: IdentityProvider, refresh_token: str = "rt-initial") -> str:
    """An [oauth2] refresh-token table for the test IdP."""
    return (f'[oauth2]\ntoken_url = "{idp.url}/token"\nclient_id = "{idp.client_id}"\n'
            f'client_secret = "{idp.client_secret}"\nrefresh_token = "{refresh_token}"\n')


def test_outbox_over_starttls_with_xoauth2(tmp_path: Path, plain_dovecot: Dovecot, pki: Pki,
                                           idp: IdentityProvider) -> None:
    with SmtpSink(tls_context=pki.server_context(),
                  xoauth2_tokens={HELPDESK: "at-1"}) as sink:
        extra = _oauth2_table(idp)
        m = _notify(tmp_path, plain_dovecot, sink, {
            "security": "starttls", "ca_file": str(pki.ca), "auth": "xoauth2",
            "username": HELPDESK}, extra=extra)
        plain_dovecot.deliver(new_mail(CUSTOMER, "VPN down", "VPN refuses me."))
        stats = m.run_once()
        assert stats.outbox.sent >= 1 and len(sink.to(CUSTOMER)) == 1
        assert sink.xoauth2_seen == [(HELPDESK, "at-1")]  # one login, one token fetch
        assert {msg.login for msg in sink.messages} == {HELPDESK}


def test_outbox_xoauth2_refused_token_waits_and_is_fetched_anew(
        tmp_path: Path, plain_dovecot: Dovecot, pki: Pki, idp: IdentityProvider) -> None:
    with SmtpSink(tls_context=pki.server_context(),
                  xoauth2_tokens={HELPDESK: "at-2"}) as sink:  # at-1 counts as revoked
        extra = _oauth2_table(idp)
        m = _notify(tmp_path, plain_dovecot, sink, {
            "security": "starttls", "ca_file": str(pki.ca), "auth": "xoauth2",
            "username": HELPDESK}, extra=extra)
        plain_dovecot.deliver(new_mail(CUSTOMER, "VPN down", "VPN refuses me."))
        stats = m.run_once()
        assert stats.outbox.sent == 0 and stats.outbox.deferred >= 1
        assert sink.xoauth2_seen == [(HELPDESK, "at-1")] and sink.messages == []
        # the refused token was dropped: the retry fetches at-2 although at-1 has not expired
        again = asyncio.run(smtp.flush(m.rt, utcnow, ignore_schedule=True))
        assert again.sent == stats.outbox.deferred and len(sink.to(CUSTOMER)) == 1
        assert sink.xoauth2_seen[1:] == [(HELPDESK, "at-2")] and idp.issued == ["at-1", "at-2"]


async def test_imap_starttls_never_falls_back_to_plaintext(tmp_path: Path,
                                                           plain_dovecot: Dovecot) -> None:
    """A server (or a man in the middle) that does not offer STARTTLS gets no password."""
    m = maild_for(tmp_path, plain_dovecot, None, imap_keys={"security": "starttls"})
    box = imap.Mailbox(m.settings.imap, timeout=5)
    with pytest.raises(imap.ImapError, match='does not offer STARTTLS'):
        try:
            await box.connect()
        finally:
            await box.close()
    assert "Login:" not in plain_dovecot.log_tail(500)
