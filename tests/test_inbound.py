"""Inbound rules on a real SQLite database, without mail servers: threading, strangers,
loops, attachments. Each test feeds raw mail to `service.ingest` and reads rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from maildenv import (
    HELPDESK,
    Maild,
    feed,
    new_mail,
    outbox,
    parsed,
    reply_to,
    text_of,
    write_config,
)
from sqlmodel import Session, select

from maild.db.models import AttachmentFile, Case, InboundMessage

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
CUSTOMER = "wang.fang@sh.corp.example"
ENGINEER = "li.lei@corp.example"


@pytest.fixture
def m(tmp_path: Path) -> Maild:
    mm = Maild(write_config(tmp_path, 1, 1))
    mm.add_customer(CUSTOMER, "王芳", company="上海分公司")
    return mm


def test_reply_with_changed_subject_threads_by_headers(m: Maild) -> None:
    feed(m, new_mail(CUSTOMER, "Printer", "It jams."))
    ack = outbox(m, "ack")[0]
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = CUSTOMER, HELPDESK, "another thing"
    msg["Message-ID"] = make_msgid()
    msg["In-Reply-To"] = f"<{ack.message_id}>"
    msg.set_content("Also the scanner.")
    assert feed(m, msg.as_bytes()) == ("reply", 1)


@pytest.mark.parametrize("prefix", ["Re:", "RE:", "Fwd:", "FW:", "AW:", "WG:", "TR:", "回复：",
                                    "答复:", "转发：", "Fw:", "Re: Re[2]:", "返信:", "ＲＥ："])
def test_subject_tag_behind_any_prefix(m: Maild, prefix: str) -> None:
    feed(m, new_mail(CUSTOMER, "Printer", "It jams."))
    subject = f"{prefix} [Case #1] Printer"
    assert feed(m, new_mail(CUSTOMER, subject, "Still jams.")) == ("reply", 1)


def test_staff_from_header_without_token_is_a_customer(m: Maild) -> None:
    """Mail that only claims an engineer's From: applies no command: it is handled as the
    mail of a customer who is not this case's (a case of its own), and the engineer's real
    address is told, once."""
    feed(m, new_mail(CUSTOMER, "Printer", "It jams."))
    forged = new_mail(ENGINEER, "Re: [Case #1] Printer", "#resolve nothing to do")
    assert feed(m, forged) == ("new_case", 2)
    assert m.case(1)["status"] == "dispatched"
    assert any("case #2" in e["text"] for e in m.case(1)["log"])
    assert [o.recipients for o in outbox(m, "staff_unproven")] == [[ENGINEER]]


def test_quoted_tags_never_act(m: Maild) -> None:
    feed(m, new_mail(CUSTOMER, "Printer", "It jams."))
    dispatch = outbox(m, "dispatch")[0].raw
    assert feed(m, reply_to(dispatch, ENGINEER, "looking at it now")) == ("command", 1)
    case = m.case(1)
    assert case["status"] == "dispatched"  # the example #inprogress/#resolve below were quoted
    assert case["log"][-1]["kind"] == "note" and case["log"][-1]["text"] == "looking at it now"


def test_refused_command_changes_nothing_and_explains(m: Maild) -> None:
    feed(m, new_mail(CUSTOMER, "Printer", "It jams."))
    dispatch = outbox(m, "dispatch")[0].raw
    before = m.case(1)
    assert feed(m, reply_to(dispatch, ENGINEER, "#inprogress on it\n#priority P9")) == \
        ("rejected", 1)
    after = m.case(1)
    assert after["status"] == before["status"] and after["log"] == before["log"]
    error = outbox(m, "transcript")[0]
    assert error.recipients == [ENGINEER] and "P9" in text_of(error.raw)


def test_stranger_is_held_then_released_by_confirming(m: Maild) -> None:
    stranger = "new.person@sh.corp.example"
    assert feed(m, new_mail(stranger, "Laptop", "My laptop is slow.")) == ("held", None)
    request = outbox(m, "hold")[0]
    assert request.recipients == [stranger]
    confirm = reply_to(request.raw, stranger, "yes, that was me", quote=False)
    disposition, case_id = feed(m, confirm, NOW + timedelta(hours=1))
    assert disposition == "new_case" and case_id == 1
    case = m.case(1)
    assert case["subject"] == "Laptop" and case["customer"]["email"] == stranger
    assert "laptop is slow" in case["description"]
    # confirming twice does not open a second case
    again = reply_to(request.raw, stranger, "yes", quote=False)
    assert feed(m, again, NOW + timedelta(hours=2)) == ("duplicate", 1)


def test_hold_expires(m: Maild) -> None:
    stranger = "late@sh.corp.example"
    feed(m, new_mail(stranger, "Laptop", "Slow."))
    confirm = reply_to(outbox(m, "hold")[0].raw, stranger, "me", quote=False)
    assert feed(m, confirm, NOW + timedelta(hours=73))[0] == "rejected"


def test_reject_policy(tmp_path: Path) -> None:
    m = Maild(write_config(tmp_path, 1, 1, unknown_senders="reject"))
    assert feed(m, new_mail("who@example.org", "Hi", "Help")) == ("rejected", None)
    assert outbox(m, "rejected_sender")[0].recipients == ["who@example.org"]


def test_open_policy_creates_the_customer(tmp_path: Path) -> None:
    m = Maild(write_config(tmp_path, 1, 1, unknown_senders="open"))
    assert feed(m, new_mail("Who <who@sz.corp.example>", "Hi", "Help")) == ("new_case", 1)
    assert m.case(1)["customer"]["email"] == "who@sz.corp.example"


def test_automatic_answers_are_capped_per_address(m: Maild) -> None:
    """A sender that keeps writing gets at most auto_replies_per_hour answers an hour."""
    for i in range(15):
        feed(m, new_mail(CUSTOMER, f"Robot report {i}", "status ok"), NOW + timedelta(minutes=i))
    acks = outbox(m, "ack")
    assert len(acks) == 10
    assert len(outbox(m, "dispatch")) == 15  # engineers still see every case
    assert m.case(15)["log"][-1]["kind"] == "suppressed"
    feed(m, new_mail(CUSTOMER, "Next hour", "ok"), NOW + timedelta(minutes=75))
    assert len(outbox(m, "ack")) == 11


@pytest.mark.parametrize("header", [
    ("Auto-Submitted", "auto-replied"), ("Precedence", "bulk"), ("X-Autoreply", "yes"),
    ("List-Id", "<it.lists.example>"), ("X-Maild-Loop", HELPDESK),
])
def test_automatic_mail_is_ignored_and_never_answered(m: Maild, header: tuple[str, str]) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = CUSTOMER, HELPDESK, "Out of office"
    msg["Message-ID"] = make_msgid()
    msg[header[0]] = header[1]
    msg.set_content("I am away.")
    assert feed(m, msg.as_bytes())[0] == "ignored"
    assert outbox(m) == []


def test_our_own_mail_coming_back_is_ignored(m: Maild) -> None:
    feed(m, new_mail(CUSTOMER, "Printer", "It jams."))
    ack = outbox(m, "ack")[0].raw
    assert feed(m, ack)[0] == "ignored"


def _with_attachments(*files: tuple[str, bytes]) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = CUSTOMER, HELPDESK, "Screen errors"
    msg["Message-ID"] = make_msgid()
    msg.set_content("See the screenshots.")
    for name, data in files:
        msg.add_attachment(data, maintype="image", subtype="png", filename=name)
    return msg.as_bytes()


def test_attachments_kept_forwarded_and_limited(tmp_path: Path) -> None:
    config = write_config(tmp_path, 1, 1)
    with config.open("a") as fh:
        fh.write("[limits]\nmax_attachment_bytes = 100000\nforward_attachments_bytes = 150000\n")
    m = Maild(config)
    m.add_customer(CUSTOMER, "王芳", company="上海分公司")
    small, medium, big = b"a" * 1000, b"b" * 90_000, b"c" * 200_000
    raw = _with_attachments(("../../etc/passwd", small), ("屏幕.png", medium), ("huge.png", big))
    assert feed(m, raw) == ("new_case", 1)
    case = m.case(1)
    assert [(a["filename"], a["size"]) for a in case["attachments"]] == [
        ("passwd", 1000), ("屏幕.png", 90_000)]
    for a in case["attachments"]:
        assert (tmp_path / "store" / "attachments" / a["sha256"][:2] / a["sha256"]).is_file()
    assert any("refused huge.png" in e["text"] for e in case["log"])
    dispatch = parsed(outbox(m, "dispatch")[0].raw)
    assert [p.get_filename() for p in dispatch.iter_attachments()] == ["passwd", "屏幕.png"]
    assert "huge.png" in text_of(outbox(m, "ack")[0].raw)  # the sender is told
    with Session(m.rt.engine) as s:
        assert len(s.exec(select(AttachmentFile)).all()) == 2


def test_message_without_message_id_deduplicates_by_content(m: Maild) -> None:
    raw = (b"From: wang.fang@sh.corp.example\r\nTo: helpdesk@corp.example\r\n"
           b"Subject: x\r\n\r\nhi\r\n")
    assert feed(m, raw)[0] == "new_case"
    assert feed(m, raw)[0] == "duplicate"
    with Session(m.rt.engine) as s:
        rows = s.exec(select(InboundMessage)).all()
        assert len({r.dedup_key for r in rows}) == 1 and rows[0].dedup_key.startswith("sha256:")
        assert len(s.exec(select(Case)).all()) == 1
