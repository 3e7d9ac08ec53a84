"""screen(): automatic mail (auto-replies, bounces, lists, our own loop) is ignored."""

from __future__ import annotations

import csv

import pytest
from corpus import corpus_dir, corpus_file

from maild.core.parse import parse
from maild.core.screening import RULES, screen
from maild.core.values import Inbound

OWN = frozenset({"helpdesk@corp.example", "IT@Corp.Example"})



def mail(*headers: str, sender: str = "From: Alice <alice@customer.example>") -> Inbound:
    raw = "\r\n".join([sender, "To: helpdesk@corp.example", "Subject: printer", *headers])
    return parse((raw + "\r\n\r\nThe printer is broken.\r\n").encode())


IGNORED = [
    # (case, extra headers, sender line, reason fragment)
    ("auto-submitted", ["Auto-Submitted: auto-replied"], None, "Auto-Submitted: auto-replied"),
    ("auto-submitted-generated", ["Auto-Submitted: auto-generated (cron)"], None, "auto-generated"),
    ("zimbra-vacation", ["Auto-Submitted: auto-replied (zimbra; vacation)"], None, "auto-replied"),
    ("auto-submitted-case", ["auto-submitted: Auto-Notified"], None, "auto-notified"),
    ("precedence-bulk", ["Precedence: bulk"], None, "Precedence: bulk"),
    ("precedence-junk", ["Precedence: JUNK"], None, "Precedence: junk"),
    ("precedence-list", ["Precedence: list"], None, "Precedence: list"),
    ("precedence-auto-reply", ["Precedence: auto_reply"], None, "Precedence: auto_reply"),
    ("x-autoreply", ["X-Autoreply: yes"], None, "x-autoreply"),
    ("x-autorespond", ["X-Autorespond: 1"], None, "x-autorespond"),
    ("x-autoresponder", ["X-Autoresponder: vacation"], None, "x-autoresponder"),
    ("list-id", ["List-Id: <printers.corp.example>"], None, "list-id"),
    ("list-unsubscribe", ["List-Unsubscribe: <mailto:u@x.example>"], None, "list-unsubscribe"),
    ("report", ["Content-Type: multipart/report; report-type=delivery-status; boundary=x"],
     None, "multipart/report"),
    ("mailer-daemon", [], "From: Mail Delivery System <MAILER-DAEMON@mx.example>", "bounce"),
    ("postmaster", [], "From: postmaster@mx.example", "bounce"),
    ("null-return-path", ["Return-Path: <>"], None, "empty Return-Path"),
    ("own-address", [], "From: Helpdesk <HelpDesk@corp.example>", "own address"),
    ("own-address-plus", [], "From: helpdesk+a1b2c3@corp.example", "own address"),
    ("own-address-mixed-case", [], "From: it@corp.example", "own address"),
    ("loop-header", ["X-Maild-Loop: helpdesk@corp.example"], None, "loop header"),
    ("loop-header-any-value", ["x-maild-loop:"], None, "loop header"),
    ("zh-auto-reply", ["Auto-Submitted: auto-replied", "Subject: 自动回复: 休假中"], None,
     "auto-replied"),
]


@pytest.mark.parametrize(("case", "headers", "sender", "fragment"), IGNORED,
                         ids=[c[0] for c in IGNORED])
def test_automatic_mail_is_ignored(
    case: str, headers: list[str], sender: str | None, fragment: str
) -> None:
    """Each RFC 3834 / bulk / bounce / loop signal gives a readable reason."""
    msg = mail(*headers) if sender is None else mail(*headers, sender=sender)
    reason = screen(msg, OWN)
    assert reason is not None and fragment in reason


HUMAN = [
    ("plain", []),
    ("auto-submitted-no", ["Auto-Submitted: no"]),
    ("auto-submitted-no-comment", ["Auto-Submitted: No (a person wrote this)"]),
    # Outlook/Exchange put this on ordinary mail: it is not a reason by itself.
    ("x-auto-response-suppress", ["X-Auto-Response-Suppress: All"]),
    ("x-autoreply-no", ["X-Autoreply: no"]),
    ("precedence-first-class", ["Precedence: first-class"]),
    ("empty-list-id", ["List-Id: "]),
    ("return-path-set", ["Return-Path: <alice@customer.example>"]),
    ("colleague-same-domain", ["Cc: helpdesk@corp.example"]),
    ("out-of-office-subject-only", ["Subject: Out of office? my laptop is"]),
]


@pytest.mark.parametrize(("case", "headers"), HUMAN, ids=[c[0] for c in HUMAN])
def test_mail_a_person_wrote_is_not_ignored(case: str, headers: list[str]) -> None:
    """Look-alike headers that do not mean "automatic" leave the message alone."""
    assert screen(mail(*headers), OWN) is None


def test_custom_loop_header_and_plus_own_address() -> None:
    """The loop header name is a parameter; own addresses with +tags match their base."""
    msg = mail("X-Other-Loop: 1")
    assert screen(msg, OWN) is None
    assert screen(msg, OWN, loop_header="X-Other-Loop") == "carries our loop header X-Other-Loop"
    plus = mail(sender="From: desk+x@corp.example")
    assert screen(plus, frozenset({"desk+y@corp.example"})) is not None


def test_first_rule_wins() -> None:
    """A bounce that also says Auto-Submitted is reported as the bounce (table order)."""
    msg = mail("Auto-Submitted: auto-replied", sender="From: MAILER-DAEMON@mx.example")
    assert screen(msg, OWN) == "bounce: from mailer-daemon@mx.example"
    assert [name for name, _ in RULES][:3] == ["loop header", "own address", "delivery report"]


def test_inbound_built_directly() -> None:
    """Works on any Inbound, including one whose header names are not lower-case."""
    msg = Inbound(message_id=None, dedup_key="k", from_addr="a@b.example", from_name="",
                  subject="s", headers={"Precedence": "bulk"})
    assert screen(msg, OWN) == "Precedence: bulk"


CORPUS_IGNORED = [
    "bounceparser/autoreply.msg",  # Precedence: bulk, Return-Path <>
    "bounceparser/aol-vacation.msg",  # Auto-Submitted: auto-replied
    "bounceparser/polish-autoreply.msg",  # Precedence: junk
    "bounceparser/non-autoreply.msg",  # a bounce that says Auto-Submitted
    "bounceparser/aol-senderblock.msg",
    "flanker/bounce/gmail-invalid-address.eml",
    "flufl-bounce/sina_01.txt",
    "sisimai-set-of-emails/maildir/bsd/lhost-postfix-01.eml",
    "sisimai-set-of-emails/maildir/bsd/rfc3834-01.eml",
    "mimekit/delivery-status.txt",
]
CORPUS_HUMAN = [
    "talon/standard_replies/iphone.eml",
    "talon/standard_replies/thunderbird.eml",
    "redmine/ticket_reply.eml",
    "request-tracker/emails/new-ticket-from-gb18030",
    "django-helpdesk/quoted_printable.eml",
]


@pytest.mark.parametrize("path", CORPUS_IGNORED)
def test_corpus_automatic_mail_is_ignored(path: str) -> None:
    """Real auto-replies and bounces are ignored."""
    assert screen(parse(corpus_file(path).read_bytes()), OWN) is not None


@pytest.mark.parametrize("path", CORPUS_HUMAN)
def test_corpus_replies_are_not_ignored(path: str) -> None:
    """Real replies from mail clients are not ignored."""
    assert screen(parse(corpus_file(path).read_bytes()), OWN) is None


def test_corpus_bounce_and_autoreply_labels() -> None:
    """Most corpus rows labelled bounce/autoreply are ignored; report the misses."""
    root = corpus_dir()
    with (root / "INDEX.tsv").open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t")
                if r["kind"] == "message" and r["category"] in ("bounce", "autoreply")]
    missed = [r["path"] for r in rows
              if screen(parse((root / r["path"]).read_bytes()), OWN) is None]
    print(f"\nscreening: {len(rows) - len(missed)}/{len(rows)} bounce/autoreply rows ignored")
    assert len(missed) <= len(rows) // 10, missed


def test_x_failed_recipients_marks_a_bounce() -> None:
    from maild.core.parse import parse
    from maild.core.screening import screen

    raw = (b"From: Mail Delivery System <mailer@mx.example>\r\nTo: helpdesk@corp.example\r\n"
           b"X-Failed-Recipients: gone@corp.example\r\nSubject: Undelivered\r\n\r\nsorry\r\n")
    assert screen(parse(raw), frozenset({"helpdesk@corp.example"})) == \
        "bounce: X-Failed-Recipients"
