"""LMTP intake: Postfix delivers straight into `maild run` (a real daemon, a real client)."""

from __future__ import annotations

import smtplib
import socket
from pathlib import Path

import pytest
from faults import (
    MaildProcess,
    db_count,
    maild_run,
    sqlite_locked,
    sqlite_path,
    tune_config,
    wait_until,
)
from maildenv import HELPDESK, Maild, new_mail, parsed, reply_to
from servers import SmtpSink, free_port

CUSTOMER = "wang.fang@sh.corp.example"


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _start(maild: Maild, tmp_path: Path, **database: object) -> tuple[MaildProcess, int]:
    port = free_port()
    tune_config(maild.config, "lmtp", listen=f"127.0.0.1:{port}")
    if database:
        tune_config(maild.config, "database", **database)
    proc = maild_run(maild.config, tmp_path / "maild-run.log")
    wait_until(lambda: _listening(port) or not proc.alive(), 30, "the LMTP port listens")
    assert proc.alive(), proc.log_tail()
    return proc, port


def _crlf(raw: bytes) -> bytes:
    """Lines end in CRLF on the wire (smtplib sends bytes as they are)."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _deliver(port: int, raw: bytes, rcpts: list[str]) -> list[tuple[int, bytes]]:
    """One LMTP transaction; the answers to RCPT that were refused, then one per accepted
    recipient after DATA (smtplib reads only the first, so the rest are read here)."""
    raw = _crlf(raw)
    with smtplib.LMTP("127.0.0.1", port) as client:
        client.ehlo_or_helo_if_needed()
        assert client.mail(CUSTOMER)[0] == 250
        answers, accepted = [], 0
        for rcpt in rcpts:
            code, text = client.rcpt(rcpt)
            if code == 250:
                accepted += 1
            else:
                answers.append((code, text))
        if accepted:
            answers.append(client.data(raw))
            answers += [client.getreply() for _ in range(accepted - 1)]
        return answers


def test_lmtp_delivery_opens_a_case_and_answers_per_recipient(
        maild: Maild, smtp_sink: SmtpSink, tmp_path: Path) -> None:
    maild.add_customer(CUSTOMER, "Wang Fang", "Shanghai Branch")
    proc, port = _start(maild, tmp_path)
    try:
        raw = new_mail(f"Wang Fang <{CUSTOMER}>", "Printer jams", "Floor 3 printer jams.")
        answers = _deliver(port, raw, [HELPDESK, "stranger@corp.example",
                                       HELPDESK.replace("@", "+sales@")])
        assert answers[0][0] == 550 and b"not the helpdesk address" in answers[0][1]
        assert [code for code, _ in answers[1:]] == [250, 250]  # one per accepted recipient
        assert b"new_case" in answers[1][1]
        # committed before the answer: the case and its message are there already
        assert db_count(maild.config, "SELECT count(*) FROM cases") == 1
        assert db_count(maild.config, "SELECT count(*) FROM messages") == 1
        smtp_sink.wait_for(2, timeout=30)  # acknowledgement and dispatch, woken at once
        again = _deliver(port, raw, [HELPDESK])  # the MTA's retry of the same message
        assert again[0][0] == 250 and b"duplicate" in again[0][1]
        assert db_count(maild.config, "SELECT count(*) FROM cases") == 1
    finally:
        assert proc.stop() == 0, proc.log_tail()


@pytest.mark.sqlite_only
def test_lmtp_answers_451_while_the_database_is_locked_then_250(
        maild: Maild, smtp_sink: SmtpSink, tmp_path: Path) -> None:
    maild.add_customer(CUSTOMER, "Wang Fang", "Shanghai Branch")
    proc, port = _start(maild, tmp_path, busy_timeout_seconds=1)
    try:
        raw = new_mail(f"Wang Fang <{CUSTOMER}>", "Mouse", "The mouse is dead.")
        with sqlite_locked(sqlite_path(maild.config)):
            answers = _deliver(port, raw, [HELPDESK])
            assert answers[0][0] == 451, answers
        assert db_count(maild.config, "SELECT count(*) FROM messages") == 0
        answers = _deliver(port, raw, [HELPDESK])
        assert answers[0][0] == 250 and b"new_case" in answers[0][1]
        assert db_count(maild.config, "SELECT count(*) FROM cases") == 1
    finally:
        assert proc.stop() == 0, proc.log_tail()


def test_a_reply_token_in_the_envelope_recipient_proves_the_engineer(
        maild: Maild, smtp_sink: SmtpSink, tmp_path: Path) -> None:
    """The token is only in RCPT TO (the To: header names the plain helpdesk address): the
    topmost Delivered-To maild writes carries it, so the engineer's command applies."""
    maild.add_customer(CUSTOMER, "Wang Fang", "Shanghai Branch")
    proc, port = _start(maild, tmp_path)
    try:
        _deliver(port, new_mail(f"Wang Fang <{CUSTOMER}>", "Scanner", "The scanner is off."),
                 [HELPDESK])
        sent = smtp_sink.wait_for(2, timeout=30)
        dispatch = next(m for m in sent if "@sh.corp.example" not in m.rcpt_tos[0])
        engineer = dispatch.rcpt_tos[0]
        token = str(parsed(dispatch.data)["Reply-To"])
        reply = reply_to(dispatch.data, engineer, "#inprogress on my way")
        reply = reply.replace(f"To: {token}".encode(), f"To: {HELPDESK}".encode(), 1)
        with smtplib.LMTP("127.0.0.1", port) as client:
            client.ehlo_or_helo_if_needed()
            client.mail(engineer)
            assert client.rcpt(HELPDESK)[0] == 250 and client.rcpt(token)[0] == 250
            code, text = client.data(_crlf(reply))
            assert code == 250 and b"command" in text, text
            assert client.getreply()[0] == 250
        assert maild.case(1)["status"] == "in_progress"
    finally:
        assert proc.stop() == 0, proc.log_tail()
