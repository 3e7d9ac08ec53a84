"""Proof that the real-server helpers in tests/servers.py work.

If these fail, every maild test built on them is meaningless, so they pin down
the facts the maild tests rely on: LMTP delivery, plus-addressing, restarts,
capabilities, and an SMTP sink that can go down and come back on its port.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import imaplib
import os
import smtplib
import socket
from email.message import EmailMessage
from pathlib import Path

import aioimaplib
import aiosmtplib
import pytest
import servers
from servers import Dovecot, SmtpSink, free_port, imap_logout, require_dovecot

HELPDESK = "helpdesk@corp.example"


def make_mail(subject: str, to: str = HELPDESK, body: str = "hello") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Alice <alice@example.org>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{abs(hash((subject, to)))}@example.org>"
    msg.set_content(body)
    return msg.as_bytes(policy=email.policy.SMTP)


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------- Dovecot


@pytest.mark.integration
def test_deliver_three_and_count(dovecot: Dovecot) -> None:
    assert dovecot.count("INBOX") == 0
    for i in range(3):
        dovecot.deliver(make_mail(f"message {i}"))
    assert dovecot.count("INBOX") == 3
    subjects = [
        email.message_from_bytes(raw, policy=email.policy.default)["Subject"]
        for raw in dovecot.fetch_all("INBOX")
    ]
    assert subjects == ["message 0", "message 1", "message 2"]


@pytest.mark.integration
def test_plus_address_lands_in_inbox_with_delivered_to(dovecot: Dovecot) -> None:
    """With recipient_delimiter = + and lmtp_save_to_detail_mailbox = no, mail
    for helpdesk+c12-abc@corp.example goes to helpdesk@corp.example's INBOX.

    What Dovecot 2.3 writes (lmtp_hdr_delivery_address = final, the default):
    it prepends ``Return-Path: <envelope sender>``, then
    ``Delivered-To: helpdesk+c12-abc@corp.example`` (the RCPT TO address
    exactly, +detail kept), then a ``Received: ... for
    <helpdesk+c12-abc@corp.example>`` header.  It never adds X-Original-To
    (that is Postfix's header).  So the reply token is found in Delivered-To,
    even when the visible To: header names someone else.
    """
    rcpt = "helpdesk+c12-abc@corp.example"
    dovecot.deliver(make_mail("Re: printer", to="someone@corp.example"), rcpt=rcpt)
    assert dovecot.count("INBOX") == 1
    assert dovecot.count("c12-abc") == 0  # no detail mailbox was made
    (raw,) = dovecot.fetch_all("INBOX")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg.get_all("Delivered-To") == [rcpt]
    assert msg["X-Original-To"] is None
    assert msg["Return-Path"] == "<sender@example.org>"
    assert f"for <{rcpt}>" in " ".join(str(msg["Received"]).split())
    assert msg["To"] == "someone@corp.example"  # the original headers are untouched
    # Dovecot's headers come first, before the message's own ones
    assert raw.startswith(b"Return-Path: <sender@example.org>\r\nDelivered-To: " + rcpt.encode())


@pytest.mark.integration
def test_unknown_recipient_is_refused(dovecot: Dovecot) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        dovecot.deliver(make_mail("x"), rcpt="nobody@corp.example")
    assert dovecot.count("INBOX") == 0


@pytest.mark.integration
def test_restart_keeps_mail_and_ports(dovecot: Dovecot) -> None:
    dovecot.deliver(make_mail("before restart"))
    ports = (dovecot.imap_port, dovecot.lmtp_port)
    dovecot.stop()
    assert not dovecot.running
    assert not port_open(dovecot.imap_port)
    assert not port_open(dovecot.lmtp_port)
    dovecot.start()
    assert (dovecot.imap_port, dovecot.lmtp_port) == ports
    dovecot.deliver(make_mail("after restart"))
    assert dovecot.count("INBOX") == 2
    dovecot.restart()
    assert dovecot.count("INBOX") == 2


def _idling_client(dc: Dovecot) -> socket.socket:
    """A raw IMAP connection, logged in and in IDLE on INBOX."""
    sock = socket.create_connection((dc.host, dc.imap_port), timeout=5)
    f = sock.makefile("rb")
    f.readline()
    for tag, cmd in ((b"a", b"LOGIN helpdesk@corp.example secret"), (b"b", b"SELECT INBOX")):
        sock.sendall(tag + b" " + cmd + b"\r\n")
        while not f.readline().startswith(tag + b" OK"):
            pass
    sock.sendall(b"c IDLE\r\n")
    assert f.readline().startswith(b"+ ")
    return sock


def _read_to_eof(sock: socket.socket) -> bytes:
    data = b""
    with sock:
        while chunk := sock.recv(4096):
            data += chunk
    return data


@pytest.mark.integration
def test_stop_says_bye_and_kill_does_not(dovecot: Dovecot) -> None:
    """stop(): an IDLE client gets ``* BYE`` then EOF at once; kill(): EOF only."""
    sock = _idling_client(dovecot)
    dovecot.stop()
    assert _read_to_eof(sock).startswith(b"* BYE")
    dovecot.start()
    sock = _idling_client(dovecot)
    dovecot.kill()
    with contextlib.suppress(ConnectionResetError):
        assert b"BYE" not in _read_to_eof(sock)
    dovecot.start()
    assert dovecot.count() == 0


@pytest.mark.integration
def test_capabilities_after_login(dovecot: Dovecot) -> None:
    """Before login Dovecot lists only a few capabilities; after LOGIN the
    full set, which must include IDLE, MOVE and UIDPLUS."""
    with dovecot.imap() as conn:
        typ, data = conn.capability()
        assert typ == "OK"
        caps = set(data[0].decode().upper().split())
    assert {"IDLE", "MOVE", "UIDPLUS", "IMAP4REV1"} <= caps


@pytest.mark.integration
def test_missing_folder_and_uid_move(dovecot: Dovecot) -> None:
    assert dovecot.count("Processed") == 0
    assert dovecot.fetch_all("Processed") == []
    dovecot.deliver(make_mail("to be moved"))
    with dovecot.imap() as conn:
        assert conn.create("Processed")[0] == "OK"
        conn.select("INBOX")
        typ, data = conn.uid("MOVE", "1:*", "Processed")
        assert typ == "OK", data
    assert dovecot.count("INBOX") == 0
    assert dovecot.count("Processed") == 1
    assert "Processed" in dovecot.folders()


@pytest.mark.integration
def test_unicode_folder_names(dovecot: Dovecot) -> None:
    """count/fetch_all/folders take and give folder names as plain str
    (the helpers do IMAP's modified UTF-7 both ways)."""
    dovecot.deliver(make_mail("中文"))
    with dovecot.imap() as conn:
        assert conn.create(servers._imap_quote("已处理"))[0] == "OK"
        conn.select("INBOX")
        assert conn.uid("MOVE", "1:*", servers._imap_quote("已处理"))[0] == "OK"
    assert "已处理" in dovecot.folders()
    assert dovecot.count("已处理") == 1
    assert len(dovecot.fetch_all("已处理")) == 1


@pytest.mark.integration
async def test_idle_sees_new_mail(dovecot: Dovecot) -> None:
    """A real IDLE round trip with aioimaplib: a delivery wakes the idler."""
    client = aioimaplib.IMAP4(host=dovecot.host, port=dovecot.imap_port, timeout=10)
    await client.wait_hello_from_server()
    assert (await client.login(HELPDESK, "secret")).result == "OK"
    assert (await client.select("INBOX")).result == "OK"
    idle = await client.idle_start(timeout=10)
    await asyncio.to_thread(dovecot.deliver, make_mail("wake up"))
    pushed = await asyncio.wait_for(client.wait_server_push(), timeout=10)
    client.idle_done()
    await asyncio.wait_for(idle, timeout=5)
    assert any(b"EXISTS" in (line if isinstance(line, bytes) else b"") for line in pushed) or any(
        "EXISTS" in str(line) for line in pushed
    )
    await imap_logout(client)


@pytest.mark.integration
def test_context_manager_leaves_nothing_running(tmp_path: Path) -> None:
    require_dovecot()
    with Dovecot(tmp_path / "dc", users={"a@corp.example": "pw-a", "b@corp.example": "pw-b"}) as dc:
        pid = dc._proc.pid if dc._proc else 0
        dc.deliver(make_mail("for b"), rcpt="b@corp.example")
        assert dc.count(user="b@corp.example") == 1
        assert dc.count(user="a@corp.example") == 0
        with imaplib.IMAP4(dc.host, dc.imap_port) as conn, pytest.raises(imaplib.IMAP4.error):
            conn.login("a@corp.example", "wrong")
        port = dc.imap_port
    assert not servers._group_alive(pid)
    assert not port_open(port)


def test_require_dovecot_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing Dovecot skips on a developer machine but FAILS under CI=true."""
    monkeypatch.setattr(servers, "_dovecot_binary", lambda: None)
    assert not servers.dovecot_available()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="not installed"):
        require_dovecot()
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception):
        require_dovecot()


def test_missing_vmail_user_is_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(servers, "_dovecot_binary", lambda: "/usr/sbin/dovecot")
    monkeypatch.setattr(servers, "_libexec_dir", lambda: Path("/usr/lib/dovecot"))
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(servers, "MAIL_OWNER", "no-such-user-maild")
    with pytest.raises(RuntimeError, match="'no-such-user-maild' does not exist"):
        Dovecot(tmp_path).start()


# --------------------------------------------------------------------------- SMTP sink


def test_sink_receives_and_survives_restart_on_same_port(smtp_sink: SmtpSink) -> None:
    port = smtp_sink.port
    with smtplib.SMTP(smtp_sink.host, port, timeout=5) as s:
        s.sendmail("helpdesk@corp.example", ["alice@example.org"], make_mail("one"))
    (rec,) = smtp_sink.wait_for(1)
    assert rec.mail_from == "helpdesk@corp.example"
    assert rec.rcpt_tos == ("alice@example.org",)
    assert rec.received_at > 0
    assert smtp_sink.parsed()[0]["Subject"] == "one"

    smtp_sink.stop()
    with pytest.raises(OSError):
        smtplib.SMTP(smtp_sink.host, port, timeout=2)
    smtp_sink.start()
    assert smtp_sink.port == port
    with smtplib.SMTP(smtp_sink.host, port, timeout=5) as s:
        s.sendmail(
            "helpdesk@corp.example", ["bob@example.org", "ALICE@example.org"], make_mail("two")
        )
    smtp_sink.wait_for(2)
    assert [m.message()["Subject"] for m in smtp_sink.to("alice@example.org")] == ["one", "two"]
    assert len(smtp_sink.to("bob@example.org")) == 1


def test_sink_temporary_failure_then_success(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_next(1)
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=5) as s:
        with pytest.raises(smtplib.SMTPDataError) as exc:
            s.sendmail("helpdesk@corp.example", ["alice@example.org"], make_mail("retry me"))
        assert exc.value.smtp_code == 451
        s.sendmail("helpdesk@corp.example", ["alice@example.org"], make_mail("retry me"))
    assert len(smtp_sink.wait_for(1)) == 1
    assert len(smtp_sink.refused) == 1


async def test_sink_with_aiosmtplib_and_auth() -> None:
    """maild sends with aiosmtplib; the sink can also demand AUTH (no TLS)."""
    with SmtpSink(auth=("relay", "pw")) as sink:
        await aiosmtplib.send(
            make_mail("async"),
            sender="helpdesk@corp.example",
            recipients=["carol@example.org"],
            hostname=sink.host,
            port=sink.port,
            username="relay",
            password="pw",
            start_tls=False,
            use_tls=False,
        )
        (rec,) = await sink.wait_for_async(1, timeout=5)
        assert rec.login == "relay"
        with pytest.raises(aiosmtplib.SMTPAuthenticationError):
            await aiosmtplib.send(
                make_mail("bad"),
                sender="x@corp.example",
                recipients=["carol@example.org"],
                hostname=sink.host,
                port=sink.port,
                username="relay",
                password="wrong",
                start_tls=False,
                use_tls=False,
            )


def test_wait_for_times_out_with_a_useful_message() -> None:
    with SmtpSink() as sink, pytest.raises(TimeoutError, match="expected >= 1"):
        sink.wait_for(1, timeout=0.1)


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
