"""The embedded demo mail server, exercised over real SMTP and IMAP sockets."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import aioimaplib
import aiosmtplib
import pytest
import pytest_asyncio
from servers import imap_logout

from maild.mailserver import Delivery, LocalMailServer, mailbox_address

HELPDESK = "helpdesk@corp.example"
ENGINEER = "eng.wang@corp.example"
USERS = {HELPDESK: "hd-secret", ENGINEER: "eng-secret"}

_UID = re.compile(rb"\bUID (\d+)\b")


def raw(subject: str, body: str, to: str = HELPDESK, sender: str = "li.na@corp.example") -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{abs(hash((subject, body)))}@test>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
    ).encode()


async def send(
    ms: LocalMailServer, data: bytes, to: list[str], sender: str = "li.na@corp.example"
) -> None:
    await aiosmtplib.send(
        data, sender=sender, recipients=to, hostname="127.0.0.1", port=ms.smtp_port, timeout=5
    )


async def imap_login(ms: LocalMailServer, user: str, password: str) -> aioimaplib.IMAP4:
    client = aioimaplib.IMAP4(host="127.0.0.1", port=ms.imap_port, timeout=5)
    await client.wait_hello_from_server()
    resp = await client.login(user, password)
    assert resp.result == "OK", resp
    # aioimaplib keeps the pre-login capability list; ask again after LOGIN.
    await client.protocol.capability()
    assert (await client.select("INBOX")).result == "OK"
    return client


async def fetch_all(client: aioimaplib.IMAP4) -> dict[int, bytes]:
    resp = await client.uid("fetch", "1:*", "(UID BODY.PEEK[])")
    assert resp.result == "OK", resp
    # aioimaplib: b"1 FETCH (UID 101 BODY[] {75}", bytearray(literal), b")". pymap puts
    # UID where it was asked for (after the literal if listed after BODY.PEEK[]).
    messages: dict[int, bytes] = {}
    lines: list[Any] = resp.lines
    for head, literal, tail in zip(lines, lines[1:], lines[2:], strict=False):
        if isinstance(literal, bytearray) and (match := _UID.search(bytes(head) + bytes(tail))):
            messages[int(match.group(1))] = bytes(literal)
    return messages


@pytest_asyncio.fixture
async def ms() -> AsyncIterator[LocalMailServer]:
    loop = asyncio.get_running_loop()
    loop_errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: loop_errors.append(context))
    try:
        async with LocalMailServer(USERS) as server:
            yield server
        for _ in range(5):
            await asyncio.sleep(0)
        assert loop_errors == []
    finally:
        loop.set_exception_handler(None)


def test_mailbox_address() -> None:
    assert mailbox_address("Helpdesk+c1-ABC@Corp.Example") == HELPDESK
    assert mailbox_address("<helpdesk@corp.example>") == HELPDESK
    assert mailbox_address("a+b+c@x.example") == "a@x.example"


@pytest.mark.asyncio
async def test_plus_address_delivers_to_base_mailbox(ms: LocalMailServer) -> None:
    sent = raw("Printer broken", "The 3F printer jams.")
    await send(ms, sent, ["helpdesk+c1-abc@corp.example"], sender="li.na@corp.example")

    client = await imap_login(ms, HELPDESK, "hd-secret")
    try:
        messages = await fetch_all(client)
    finally:
        await imap_logout(client)
    assert len(messages) == 1
    (got,) = messages.values()
    assert got == (
        b"Return-Path: <li.na@corp.example>\r\n"
        b"Delivered-To: helpdesk+c1-abc@corp.example\r\n" + sent
    )
    (record,) = ms.deliveries
    assert record.mail_from == "li.na@corp.example"
    assert record.rcpt_tos == ["helpdesk+c1-abc@corp.example"]
    assert record.data == sent
    assert record.mailboxes == {"helpdesk+c1-abc@corp.example": HELPDESK}
    assert record.delivered
    assert record.at.tzinfo is not None


@pytest.mark.asyncio
async def test_each_recipient_gets_own_copy(ms: LocalMailServer) -> None:
    sent = raw("Dispatch #7", "Please visit line 2.", to=f"{ENGINEER}, {HELPDESK}")
    await send(ms, sent, [ENGINEER, "helpdesk+c7-x@corp.example"], sender=HELPDESK)

    for user, password, rcpt in [
        (ENGINEER, "eng-secret", ENGINEER),
        (HELPDESK, "hd-secret", "helpdesk+c7-x@corp.example"),
    ]:
        client = await imap_login(ms, user, password)
        try:
            (got,) = (await fetch_all(client)).values()
        finally:
            await imap_logout(client)
        assert got.startswith(f"Return-Path: <{HELPDESK}>\r\nDelivered-To: {rcpt}\r\n".encode())
        assert got.endswith(sent)
    assert len(ms.deliveries) == 1


@pytest.mark.asyncio
async def test_utf8_message_round_trips_byte_exact(ms: LocalMailServer) -> None:
    sent = raw(
        "=?utf-8?b?5omT5Y2w5py65Z2P5LqG?=",
        "您好，\r\n三楼的打印机坏了，请尽快处理。\r\n.以点开头的一行\r\n\r\n-- \r\n王伟",
    )
    await send(ms, sent, ["helpdesk+c2-zh@corp.example"])

    client = await imap_login(ms, HELPDESK, "hd-secret")
    try:
        (got,) = (await fetch_all(client)).values()
    finally:
        await imap_logout(client)
    prefix = b"Return-Path: <li.na@corp.example>\r\nDelivered-To: helpdesk+c2-zh@corp.example\r\n"
    assert got == prefix + sent
    assert "三楼的打印机坏了".encode() in got


@pytest.mark.asyncio
async def test_idle_gets_exists_push_after_smtp_delivery(ms: LocalMailServer) -> None:
    client = await imap_login(ms, HELPDESK, "hd-secret")
    try:
        assert client.has_capability("IDLE")
        idle = await client.idle_start(timeout=30)
        await send(ms, raw("New while idling", "hello"), [HELPDESK])
        push = await client.wait_server_push(timeout=3)
        assert b"1 EXISTS" in push
        client.idle_done()
        assert (await asyncio.wait_for(idle, 3)).result == "OK"
    finally:
        await imap_logout(client)


@pytest.mark.asyncio
async def test_idle_reports_mail_that_arrived_before_idle(ms: LocalMailServer) -> None:
    client = await imap_login(ms, HELPDESK, "hd-secret")
    try:
        await send(ms, raw("Arrived between SELECT and IDLE", "race"), [HELPDESK])
        idle = await client.idle_start(timeout=30)
        push = await client.wait_server_push(timeout=3)
        assert b"1 EXISTS" in push
        client.idle_done()
        assert (await asyncio.wait_for(idle, 3)).result == "OK"
    finally:
        await imap_logout(client)


@pytest.mark.asyncio
async def test_polling_sees_new_mail_after_noop(ms: LocalMailServer) -> None:
    """pymap answers each command from the view as of the previous one, so a poller
    must NOOP (or IDLE) before UID SEARCH to see mail that arrived in between."""
    client = await imap_login(ms, HELPDESK, "hd-secret")
    try:
        await send(ms, raw("Polled", "x"), [HELPDESK])
        assert (await client.noop()).result == "OK"
        resp = await client.uid_search("UNSEEN")
        assert len(resp.lines[0].split()) == 1
    finally:
        await imap_logout(client)


@pytest.mark.asyncio
async def test_search_move_copy_expunge_into_processed(ms: LocalMailServer) -> None:
    for i in range(3):
        await send(ms, raw(f"Case {i}", f"body {i}"), [f"helpdesk+c{i}@corp.example"])
    client = await imap_login(ms, HELPDESK, "hd-secret")
    try:
        assert client.has_capability("MOVE") and client.has_capability("UIDPLUS")
        assert (await client.create("Processed")).result == "OK"
        resp = await client.uid_search("ALL")
        uids = resp.lines[0].decode().split()
        assert len(uids) == 3

        moved = await client.uid("move", uids[0], "Processed")
        assert moved.result == "OK", moved
        assert any(b"COPYUID" in line for line in moved.lines)

        copied = await client.uid("copy", uids[1], "Processed")
        assert copied.result == "OK", copied
        stored = await client.uid("store", uids[1], "+FLAGS.SILENT", r"(\Deleted)")
        assert stored.result == "OK", stored
        assert (await client.uid("expunge", uids[1])).result == "OK"

        assert sorted(await fetch_all(client)) == [int(uids[2])]
        assert (await client.select("Processed")).result == "OK"
        processed = await fetch_all(client)
        assert len(processed) == 2
        assert all(b"Delivered-To: helpdesk+c" in m for m in processed.values())
        listing = await client.list('""', "*")
        assert any(b'"Processed"' in line or line.endswith(b" Processed") for line in listing.lines)
    finally:
        await imap_logout(client)


@pytest.mark.asyncio
async def test_unknown_recipient_auto_created(ms: LocalMailServer) -> None:
    await send(ms, raw("Ack", "Case #1 opened", to="li.na@corp.example"), ["li.na@corp.example"])
    assert "li.na@corp.example" in ms.users
    client = await imap_login(ms, "li.na@corp.example", "demo")
    try:
        assert len(await fetch_all(client)) == 1
    finally:
        await imap_logout(client)


@pytest.mark.asyncio
async def test_unknown_recipient_logged_only_without_auto_create() -> None:
    async with LocalMailServer(USERS, auto_create=False) as server:
        await send(server, raw("Hi", "x"), ["nobody@else.example", HELPDESK])
        (record,) = await server.wait_for_deliveries(1, timeout=3)
        assert record.rcpt_tos == ["nobody@else.example", HELPDESK]
        assert record.mailboxes == {HELPDESK: HELPDESK}
        assert not record.delivered
        assert "nobody@else.example" not in server.users


@pytest.mark.asyncio
async def test_wait_for_deliveries_and_timeline(ms: LocalMailServer) -> None:
    async def later() -> None:
        for i in range(3):
            await send(ms, raw(f"m{i}", "x"), [HELPDESK])

    task = asyncio.create_task(later())
    records = await ms.wait_for_deliveries(3, timeout=5)
    await task
    assert [r.data.split(b"Subject: ")[1][:2] for r in records] == [b"m0", b"m1", b"m2"]
    assert all(isinstance(r, Delivery) for r in records)
    assert records[0].at <= records[1].at <= records[2].at
    with pytest.raises(TimeoutError):
        await ms.wait_for_deliveries(4, timeout=0.2)


@pytest.mark.asyncio
async def test_add_user_and_bad_password(ms: LocalMailServer) -> None:
    await ms.add_user("Ops@Corp.Example", "ops-pw")
    client = await imap_login(ms, "ops@corp.example", "ops-pw")
    await imap_logout(client)
    client = aioimaplib.IMAP4(host="127.0.0.1", port=ms.imap_port, timeout=5)
    await client.wait_hello_from_server()
    assert (await client.login(HELPDESK, "wrong")).result == "NO"
    await imap_logout(client)


@pytest.mark.asyncio
async def test_exit_with_clients_still_connected(ms: LocalMailServer) -> None:
    """Leaving the context drops idling IMAP and half-done SMTP sessions cleanly."""
    client = await imap_login(ms, HELPDESK, "hd-secret")
    idle = await client.idle_start(timeout=30)
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=ms.smtp_port, timeout=5)
    await smtp.connect()
    await smtp.ehlo()
    await ms.aclose()
    await asyncio.sleep(0.05)
    idle.cancel()  # aioimaplib does not fail pending commands when the server goes away
    await asyncio.gather(idle, return_exceptions=True)
    smtp.close()
    with pytest.raises(RuntimeError):
        _ = ms.imap_port
