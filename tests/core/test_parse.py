"""parse(): raw bytes → Inbound, never raising on real-world mail."""

from __future__ import annotations

import base64
import contextlib
import csv
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from complexity import assert_linear
from corpus import corpus_dir, corpus_file, is_full
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maild.core.parse import UnparseableMessage, html_whole_text, parse


def message_rows() -> list[dict[str, str]]:
    with (corpus_dir() / "INDEX.tsv").open(encoding="utf-8", newline="") as f:
        return [row for row in csv.DictReader(f, delimiter="\t") if row["kind"] == "message"]


def mail(*headers: bytes | str, body: bytes | str = b"Hello\n") -> bytes:
    """A raw message from header lines and a body; str parts are UTF-8."""
    lines = [h.encode() if isinstance(h, str) else h for h in headers]
    payload = body.encode() if isinstance(body, str) else body
    return b"\r\n".join(lines) + b"\r\n\r\n" + payload


def b64word(text: str, label: str, encoding: str) -> str:
    """An RFC 2047 B-word for `text` encoded with `encoding` but labelled `label`."""
    return f"=?{label}?B?{base64.b64encode(text.encode(encoding)).decode()}?="


# --- charsets -----------------------------------------------------------------

CJK_CASES = [
    # (label, encoding actually used, display name, subject/body text)
    pytest.param("gbk", "gbk", "张三", "打印机卡纸了，请派人来", id="gbk"),
    pytest.param("gb18030", "gb18030", "张三", "服务器㐀报错😀", id="gb18030-4-byte"),
    pytest.param("gb2312", "gbk", "朱镕基", "喆和堃是GBK字", id="gb2312-label-gbk-chars"),
    pytest.param("big5", "big5", "張三", "印表機無法列印，請協助", id="big5"),
]


@pytest.mark.parametrize(("label", "encoding", "name", "text"), CJK_CASES)
def test_cjk_subject_and_body_decode(label: str, encoding: str, name: str, text: str) -> None:
    """RFC 2047 subjects, names and bodies in Chinese charsets decode; GB labels via GB18030."""
    raw = mail(
        f"From: {b64word(name, label, encoding)} <zhang@corp.example>",
        f"Subject: {b64word(text, label, encoding)}",
        f"Content-Type: text/plain; charset={label}",
        "Content-Transfer-Encoding: 8bit",
        body=text.encode(encoding) + b"\r\n",
    )
    msg = parse(raw)
    assert msg.subject == text
    assert msg.text == text + "\n"
    assert msg.from_name == name
    assert msg.from_addr == "zhang@corp.example"


def test_gb2312_label_really_carries_gbk_only_characters() -> None:
    """The fixture is honest: the stdlib gb2312 codec alone would fail on these bytes."""
    with pytest.raises(UnicodeDecodeError):
        "朱镕基喆堃".encode("gbk").decode("gb2312")


# --- identity, addresses, threading ---------------------------------------------


def test_message_id_and_dedup_key() -> None:
    """The dedup key is the Message-ID without brackets."""
    msg = parse(mail("From: a@b.example", "Message-ID:  <abc.123@host.example> "))
    assert msg.message_id == "abc.123@host.example"
    assert msg.dedup_key == "mid:abc.123@host.example"


def test_no_message_id_gives_a_stable_content_hash() -> None:
    """Without Message-ID the key is the SHA-256 of the raw bytes: same bytes, same key."""
    raw = mail("From: a@b.example", "Subject: x")
    first, again, other = parse(raw), parse(bytes(raw)), parse(raw + b"more")
    assert first.message_id is None
    assert first.dedup_key.startswith("sha256:") and len(first.dedup_key) == 7 + 64
    assert first.dedup_key == again.dedup_key != other.dedup_key


@pytest.mark.parametrize(
    ("headers", "addr", "name"),
    [
        (["From: \"Doe, John\" <John.Doe@Corp.Example>"], "john.doe@corp.example", "Doe, John"),
        (["From: =?utf-8?q?Doe,_John?= <j@x.example>"], "j@x.example", "Doe, John"),
        (["From: a@b.example <evil@x.example>"], "evil@x.example", "a@b.example"),
        (["From: jane@x.example (Jane Roe)"], "jane@x.example", "Jane Roe"),
        (["From: MAILER-DAEMON"], "mailer-daemon", ""),
        (["From: MAILER-DAEMON <>"], "mailer-daemon", "MAILER-DAEMON"),
        (["From: Undisclosed Sender", "Sender: Sec <sec@x.example>"], "sec@x.example", "Sec"),
        (["Return-Path: <bounce@x.example>", "Subject: s"], "bounce@x.example", ""),
        (["Subject: no sender at all"], "", ""),
    ],
)
def test_sender(headers: list[str], addr: str, name: str) -> None:
    """From, else Sender, else Return-Path; bare lower-cased address, decoded name."""
    msg = parse(mail(*headers))
    assert (msg.from_addr, msg.from_name) == (addr, name)


def test_recipients_and_threading_headers() -> None:
    """To/Cc/Delivered-To as bare addresses; In-Reply-To/References as id tuples."""
    msg = parse(mail(
        "From: a@b.example",
        "To: Help Desk <HelpDesk+tok123@corp.example>, undisclosed-recipients:;",
        "Cc: x@y.example, \"Z\" <z@y.example>",
        "Delivered-To: helpdesk@corp.example",
        "X-Original-To: helpdesk+tok123@corp.example",
        "In-Reply-To: <m1@corp.example>",
        "References: <m0@corp.example>\r\n <m1@corp.example>",
        "Date: Tue, 2 Jan 2024 10:00:00 +0800",
        "Return-Path: <>",
    ))
    assert msg.to == ("helpdesk+tok123@corp.example",)
    assert msg.cc == ("x@y.example", "z@y.example")
    assert msg.delivered_to == ("helpdesk@corp.example", "helpdesk+tok123@corp.example")
    assert msg.in_reply_to == ("m1@corp.example",)
    assert msg.references == ("m0@corp.example", "m1@corp.example")
    assert msg.date == datetime(2024, 1, 2, 10, tzinfo=timezone(timedelta(hours=8)))
    assert msg.return_path == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Wed, 3 May 2006 00:09:22", datetime(2006, 5, 3, 0, 9, 22, tzinfo=UTC)),
        ("Mon,  2 Apr 101 04:20:10 CST", datetime(2001, 4, 2, 4, 20, 10,
                                                 tzinfo=timezone(timedelta(hours=-6)))),
        ("not a date", None),
        ("Thu, 31 Feb 2024 10:00:00 +0000", None),
    ],
)
def test_dates_are_aware_or_none(value: str, expected: datetime | None) -> None:
    """A missing zone means UTC; an impossible date means None, not an exception."""
    assert parse(mail("From: a@b.example", f"Date: {value}")).date == expected


def test_headers_map_first_occurrence_decoded() -> None:
    """headers: lower-case names, first occurrence, decoded, one line."""
    msg = parse(mail("From: a@b.example", "X-Thing: =?utf-8?B?5L2g5aW9?=", "X-Thing: second",
                     "Received: a\r\n\tb"))
    assert msg.headers["x-thing"] == "你好"
    assert msg.headers["received"] == "a b"
    assert msg.headers["from"] == "a@b.example"


# --- bodies and attachments -------------------------------------------------------

MULTIPART = b"""From: a@b.example\r
MIME-Version: 1.0\r
Content-Type: multipart/mixed; boundary="outer"\r
\r
--outer\r
Content-Type: multipart/alternative; boundary="alt"\r
\r
--alt\r
Content-Type: text/plain; charset=utf-8\r
\r
Line one\r
Line two\r
--alt\r
Content-Type: text/html; charset=utf-8\r
\r
<p>Line one</p>\r
--alt--\r
--outer\r
Content-Type: application/pdf; name="=?utf-8?B?5oql5ZGKLnBkZg==?="\r
Content-Transfer-Encoding: base64\r
\r
JVBERi0x\r
--outer\r
Content-Type: message/rfc822\r
\r
From: inner@x.example\r
Subject: inner\r
\r
inner body\r
--outer\r
Content-Type: text/plain\r
Content-Disposition: attachment\r
\r
log line\r
--outer--\r
"""


def test_multipart_text_html_and_attachments() -> None:
    """First text/plain is the text; files, a forwarded message and attached text are files."""
    msg = parse(MULTIPART)
    assert msg.content_type == "multipart/mixed"
    assert msg.text == "Line one\nLine two"
    assert msg.html == "<p>Line one</p>"
    names = [(a.filename, a.content_type) for a in msg.attachments]
    assert names == [("报告.pdf", "application/pdf"), ("forwarded.eml", "message/rfc822"),
                     ("attachment", "text/plain")]
    assert msg.attachments[0].data == b"%PDF-1"
    assert b"Subject: inner" in msg.attachments[1].data
    assert b"inner body" in msg.attachments[1].data


def test_html_only_is_converted_to_text() -> None:
    """Only HTML: text keeps line breaks for br/p/div/li/tr and drops style/script/head."""
    html = ("<html><head><title>T</title><style>p{color:red}</style></head><body>"
            "<p>Hello&nbsp;team,</p><div>line<br>break</div><ul><li>one</li><li>two</li></ul>"
            "<script>alert(1)</script><table><tr><td>a</td><td>b</td></tr></table>"
            "<blockquote>#resolve old</blockquote></body></html>")
    msg = parse(mail("From: a@b.example", "Content-Type: text/html; charset=utf-8", body=html))
    assert msg.html == html
    assert msg.text == "Hello team,\n\nline\nbreak\n\n- one\n\n- two\n\na b\n\n> #resolve old"


def test_html_to_text_survives_broken_markup() -> None:
    """Unclosed head, stray tags and entities do not lose the body."""
    got = html_whole_text("<head><title>x</title><body>Hi &amp; bye<p>end</i></b>")
    assert got == "Hi & bye\nend"


def test_hostile_html_is_linear() -> None:
    """Unclosed tags and comments, quadratic in Python 3.11's html.parser, cost linear time."""
    assert html_whole_text("<a " * 50_000 + "<!--x>" * 50_000 + "<![CDATA[>" * 50_000) != "x"
    assert html_whole_text("a<!-- unclosed <p>b") == "a"
    for unit in ("<a ", "<!--x>", "<![CDATA[>"):
        assert_linear(html_whole_text, lambda n, u=unit: u * n, 10_000)


def test_line_endings_are_normalised() -> None:
    """CRLF and bare CR in the body become \\n."""
    assert parse(mail("From: a@b.example", body=b"a\r\nb\rc\n")).text == "a\nb\nc\n"


@pytest.mark.parametrize(
    "raw",
    [
        b"\xef\xbb\xbfFrom: a@b.example\r\nSubject: bom\r\n\r\nx",
        b"   \r\n From: a@b.example\r\nSubject: bom\r\n\r\nx",
        b"From  : a@b.example\r\nSubject   : bom\r\n\r\nx",
        b"Fro :broken line\r\nFrom: a@b.example\r\nSubject: bom\r\n\r\nx",
    ],
)
def test_repairs_of_the_header_block(raw: bytes) -> None:
    """A BOM, leading blanks, RFC 5322 obsolete "Name :" and a garbage first line are repaired."""
    msg = parse(raw)
    assert (msg.from_addr, msg.subject) == ("a@b.example", "bom")


# --- not mail at all ---------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\n",
        bytes(range(256)) * 4,
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00",
        b"Hi team,\nthe printer is broken again.\n\nThanks\n",
    ],
)
def test_not_an_email_is_unparseable(raw: bytes) -> None:
    """No header block and no sender: UnparseableMessage (a ValueError) with a reason."""
    with pytest.raises(UnparseableMessage, match="no header block"):
        parse(raw)


def test_headers_without_sender_still_parse() -> None:
    """A header block without any sender parses, with an empty from_addr."""
    assert parse(b"Subject: orphan\n\nbody").from_addr == ""


# --- the corpus ----------------------------------------------------------------------

EXPECTED_UNPARSEABLE = {
    "cpython-test_email/msg_19.txt",  # a digest fragment: body only
    "enmime/mail/erroneous.raw",  # "// Not an RFC-822 Document"
    "request-tracker/emails/lorem-ipsum",  # body only
    "sisimai-set-of-emails/mailbox/size-0",  # 0 bytes
    "sisimai-set-of-emails/mailbox/size-1",  # 1 byte
    "sisimai-set-of-emails/mailbox/size-2",  # 3 bytes
    "spamassassin/spam/bsmtpnull",  # 1 byte
    "spamscope-mail-parser/mail_outlook_1",  # a binary Outlook .msg (OLE), not RFC 5322
    "talon/__init__.py",  # Python source
}


def test_every_corpus_message_parses() -> None:
    """Every `message` row parses; only inputs that are not mail are UnparseableMessage."""
    root = corpus_dir()
    unparseable: set[str] = set()
    started = time.perf_counter()
    rows = message_rows()
    for row in rows:
        try:
            msg = parse((root / row["path"]).read_bytes())
        except UnparseableMessage:
            unparseable.add(row["path"])
            continue
        assert "\r" not in msg.text and "\n" not in msg.subject, row["path"]
        assert msg.date is None or msg.date.tzinfo is not None, row["path"]
    elapsed = time.perf_counter() - started
    print(f"\ncorpus: {len(rows) - len(unparseable)} parsed, {len(unparseable)} unparseable, "
          f"{elapsed:.2f}s")
    assert unparseable == EXPECTED_UNPARSEABLE & {row["path"] for row in rows}
    assert len(rows) > (1000 if is_full() else 200)


@pytest.mark.parametrize(
    ("path", "subject", "snippet"),
    [
        ("request-tracker/emails/new-ticket-from-gb18030", "测试", "测试"),
        ("spamassassin/nice/cjk/gb2312.2", "RE: 装硬碟问题", "假设你的硬碟"),
        ("spamassassin/nice/cjk/big5-base64.1", "[SLAT-talk] 鉅靡6月17日新片又到", "永久網址"),
        ("flufl-bounce/sina_01.txt", "邮件传输失败！", "邮件无法发送"),
        ("stalwart-mail-parser/legacy/010.eml", "Die Hasen und die Frösche", "Frösche"),
    ],
)
def test_corpus_cjk_samples(path: str, subject: str, snippet: str) -> None:
    """Real Chinese mail decodes (8-bit headers, GB2312, Big5) and Latin-1 is not read as GBK."""
    msg = parse(corpus_file(path).read_bytes())
    assert msg.subject.startswith(subject)
    assert snippet in msg.text


# --- never raises ----------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise_anything_else(raw: bytes) -> None:
    """On any bytes, parse returns an Inbound or raises UnparseableMessage."""
    with contextlib.suppress(UnparseableMessage):
        parse(raw)


HEADER_NAMES = st.sampled_from(
    ["From", "To", "Cc", "Subject", "Date", "Message-ID", "References", "In-Reply-To",
     "Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "Return-Path",
     "Delivered-To", "Sender", "X-Junk"]
)
HEADER_VALUES = st.one_of(
    st.binary(max_size=80),
    st.sampled_from([b"=?gb2312?B?", b"=?utf-8?Q?a=E4=?=", b"multipart/mixed; boundary=x",
                     b"text/plain; charset=fakescii", b"<>", b"<a@b>", b"base64", b"\"a, b\" <",
                     b"attachment; filename*=utf-8''%E4%B8%AD", b"group:;", b"=?x?B?***?="]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=12),
    st.binary(max_size=500),
    st.sampled_from([b"\r\n", b"\n", b"\r"]),
)
def test_header_and_body_mutations_never_raise(
    headers: list[tuple[str, bytes]], body: bytes, eol: bytes
) -> None:
    """Random headers (8-bit, broken words, bogus MIME) and bodies still parse."""
    raw = eol.join(name.encode() + b": " + value for name, value in headers) + eol + eol + body
    try:
        msg = parse(raw)
    except UnparseableMessage:
        return
    assert "\n" not in msg.subject
    assert all(isinstance(a.data, bytes) for a in msg.attachments)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_corpus_mutations_never_raise(data: st.DataObject) -> None:
    """Corpus messages with bytes flipped, cut or duplicated still parse or are unparseable."""
    rows = [r for r in message_rows() if int(r["bytes"]) < 50_000]
    row = data.draw(st.sampled_from(rows))
    raw = bytearray((corpus_dir() / row["path"]).read_bytes())
    for _ in range(data.draw(st.integers(0, 8))):
        if not raw:
            break
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos : pos + 1] = data.draw(st.sampled_from([b"", b"\n", b"\xff", b"=?", b":", b"\x00"]))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    with contextlib.suppress(UnparseableMessage):
        parse(bytes(raw))


@pytest.mark.parametrize(("name", "charset"), [
    ("报告.docx".encode(), "utf-8"), ("报告.docx".encode(), "gbk"),
    ("报告.docx".encode("gb18030"), "gbk"), ("报告.docx".encode("gb18030"), None),
    ("Résumé.pdf".encode("latin-1"), "iso-8859-1"),
])
def test_raw_8bit_filenames(name: bytes, charset: str | None) -> None:
    """Raw bytes in filename=: UTF-8 if valid, else the message's charset, else GB18030."""
    raw = (b"From: a@b.example\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
           b"Content-Type: text/plain; charset=" + (charset or "us-ascii").encode() +
           b"\r\n\r\nhello\r\n--XX\r\nContent-Type: application/octet-stream\r\n"
           b'Content-Disposition: attachment; filename="' + name + b'"\r\n'
           b"Content-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--XX--\r\n")
    expected = "Résumé.pdf" if charset == "iso-8859-1" else "报告.docx"
    assert [a.filename for a in parse(raw).attachments] == [expected]
