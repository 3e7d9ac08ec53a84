"""A new case's first notices use the log as written, not read back (issue 17).

``opening.open_case`` hands ``case_context`` the lines it just wrote, and skips
the complaint and survey look-ups, to save three queries per new case. These
tests check, for every way a new case's log can be written (plain, with a
refused attachment, following a long-closed case), that the context is exactly
what reading the case back from the database gives.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from maildenv import FED_AT, HELPDESK, Maild, feed, new_mail, outbox, reply_to, write_config

from maild.service import notices, opening

CUSTOMER = "alice@uk.corp.example"  # London Office: John Smith
JOHN = "john.smith@corp.example"


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Every context built from a new log, checked against the one read back."""
    seen: list[dict[str, Any]] = []
    real = notices.case_context

    def checked(s: Any, rt: Any, case: Any, new_log: Any = None) -> dict[str, Any]:
        got = real(s, rt, case, new_log)
        if new_log is not None:
            s.flush()
            assert got == real(s, rt, case)
            seen.append(got)
        return got

    monkeypatch.setattr(opening, "case_context", checked)
    yield seen


@pytest.fixture
def m(tmp_path: Path) -> Maild:
    config = write_config(tmp_path, 1, 1)
    with config.open("a") as fh:
        fh.write("[limits]\nmax_attachment_bytes = 100000\n")
    maild = Maild(config)
    maild.add_customer(CUSTOMER, "Alice")
    return maild


def test_plain_new_case(m: Maild, compared: list[dict[str, Any]]) -> None:
    assert feed(m, new_mail(CUSTOMER, "Printer", "It jams on every page."))[0] == "new_case"
    assert len(compared) == 1
    assert [e["kind"] for e in compared[0]["log"]][0] == "created"
    assert compared[0]["complaint"] is None and compared[0]["survey"] is None


def test_new_case_with_a_refused_attachment(m: Maild, compared: list[dict[str, Any]]) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = CUSTOMER, HELPDESK, "Screen errors"
    msg["Message-ID"] = make_msgid()
    msg.set_content("See the screenshot.")
    msg.add_attachment(b"c" * 200_000, maintype="image", subtype="png", filename="huge.png")
    assert feed(m, msg.as_bytes())[0] == "new_case"
    assert len(compared) == 1
    assert any("refused huge.png" in e["text"] for e in compared[0]["log"])


def test_follow_up_of_a_long_closed_case(m: Maild, compared: list[dict[str, Any]]) -> None:
    feed(m, new_mail(CUSTOMER, "Printer", "jams"))
    dispatch = outbox(m, "dispatch")[-1].raw
    feed(m, reply_to(dispatch, JOHN, "#resolve new fuser\n#close"), FED_AT + timedelta(hours=1))
    ack = outbox(m, "ack")[-1].raw
    got = feed(m, reply_to(ack, CUSTOMER, "It jams again"), FED_AT + timedelta(days=8))
    assert got == ("new_case", 2)
    assert len(compared) == 2
    assert any("follows case #1" in e["text"] for e in compared[1]["log"])
    assert compared[1]["follows"]["id"] == 1
