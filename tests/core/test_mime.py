"""Outgoing MIME: what a mail client reads back from ``mime.build``."""

from __future__ import annotations

import email
import email.policy
import hashlib
from base64 import encodebytes
from datetime import UTC, datetime
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maild.core.addresses import header_form
from maild.core.mime import (
    LOOP_HEADER,
    SMTP_COMPAT,
    OutgoingMail,
    Utf8Header,
    _base64,
    _subject,
    build,
    one_line,
)

STOCK = compat32.clone(linesep="\r\n")


def _mail(**kw: object) -> OutgoingMail:
    fields: dict[str, object] = dict(
        from_name="IT 服务台", from_addr="helpdesk@corp.example",
        to=("wang.fang@corp.example",), subject="[Case #42] 打印机卡纸 printer jam",
        text="您好，\n工单已受理。\nCase received.", html="<p>工单已受理</p>",
        message_id="case-42.abc@corp.example", date=datetime(2026, 11, 29, 6, 30, tzinfo=UTC),
        reply_to="helpdesk+42@corp.example", in_reply_to="orig@mail.example",
        references=("orig@mail.example", "", "orig@mail.example"))
    fields.update(kw)
    return OutgoingMail(**fields)  # type: ignore[arg-type]


def _read(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def test_a_client_reads_back_headers_and_both_bodies() -> None:
    raw = build(_mail())
    msg = _read(raw)
    assert str(msg["Subject"]) == "[Case #42] 打印机卡纸 printer jam"
    assert msg["From"].addresses[0].display_name == "IT 服务台"
    assert msg["From"].addresses[0].addr_spec == "helpdesk@corp.example"
    assert msg["Reply-To"].addresses[0].addr_spec == "helpdesk+42@corp.example"
    assert msg["Message-ID"] == "<case-42.abc@corp.example>"
    assert msg["In-Reply-To"] == "<orig@mail.example>"
    assert msg["References"] == "<orig@mail.example>"  # de-duplicated, blanks dropped
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg[LOOP_HEADER] == "helpdesk@corp.example"
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content() == "您好，\n工单已受理。\nCase received."
    assert html.get_content() == "<p>工单已受理</p>"


def test_wire_format_is_crlf_ascii_and_lines_stay_short() -> None:
    raw = build(_mail(subject="x" * 300 + " 长主题" * 40))
    assert raw.isascii()
    lines = raw.split(b"\r\n")
    assert b"\n" not in b"".join(lines)  # no bare LF anywhere
    assert max(map(len, lines)) <= 998
    assert str(_read(raw)["Subject"]) == ("x" * 300 + " 长主题" * 40)[:400]  # capped at 400


def test_no_header_injection_from_subject_or_name() -> None:
    raw = build(_mail(subject="hi\r\nBcc: victim@example.org", from_name="a\nBcc: x@y"))
    msg = _read(raw)
    assert msg["Bcc"] is None
    assert str(msg["Subject"]) == "hi Bcc: victim@example.org"


def test_attachments_come_back_byte_for_byte() -> None:
    data = bytes(range(256)) * 10
    raw = build(_mail(attachments=(("报告 report.pdf", "application/pdf", data),
                                   ("photo.png", "image/png", b"\x89PNG..."))))
    msg = _read(raw)
    assert msg.get_content_type() == "multipart/mixed"
    files = {p.get_filename(): (p.get_content_type(), p.get_content())
             for p in msg.iter_attachments()}
    assert files == {"报告 report.pdf": ("application/pdf", data),
                     "photo.png": ("image/png", b"\x89PNG...")}


def test_inline_images_are_related_to_the_html_by_content_id() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    raw = build(_mail(html='<p><img src="cid:volume@maild"></p>',
                      inline=(("volume@maild", "image/png", png),),
                      attachments=(("r.csv", "text/csv", b"a,b\r\n"),)))
    msg = _read(raw)
    assert msg.get_content_type() == "multipart/mixed"
    alternative = msg.get_payload()[0]
    assert [p.get_content_type() for p in alternative.get_payload()] == [
        "text/plain", "multipart/related"]
    related = alternative.get_payload()[1]
    html, image = related.get_payload()
    assert related.get_param("type") == "text/html"
    assert 'src="cid:volume@maild"' in html.get_content()
    assert image["Content-ID"] == "<volume@maild>" and image.get_content() == png
    assert image.get_content_disposition() == "inline"
    assert [p.get_filename() for p in msg.iter_attachments()] == ["r.csv"]


def test_without_inline_images_the_html_stays_a_plain_part() -> None:
    msg = _read(build(_mail()))
    assert [p.get_content_type() for p in msg.get_payload()] == ["text/plain", "text/html"]


header_names = st.sampled_from(["Subject", "To", "Message-ID", "X-Auto-Response-Suppress",
                                "Content-Type"])
ascii_values = st.text(st.characters(min_codepoint=0, max_codepoint=127), max_size=120)
any_values = st.text(max_size=90)


def _fold(policy: object, name: str, value: str) -> bytes | str:
    try:
        return policy.fold_binary(name, value)  # type: ignore[attr-defined, no-any-return]
    except Exception as exc:  # an embedded header: both must refuse it alike
        return type(exc).__name__


@given(header_names, ascii_values)
def test_fast_header_path_writes_what_compat32_writes(name: str, value: str) -> None:
    assert _fold(SMTP_COMPAT, name, value) == _fold(STOCK, name, value)


@given(header_names, any_values)
def test_non_ascii_headers_take_the_stock_path(name: str, value: str) -> None:
    assert _fold(SMTP_COMPAT, name, value) == _fold(STOCK, name, value)


@given(st.text(max_size=300), st.text(max_size=300), st.binary(max_size=400))
def test_bodies_come_back_exactly(text: str, html: str, data: bytes) -> None:
    """Whatever a body or a subject holds (even text shaped like the placeholders an
    earlier version put in for the bodies), every part reads back."""
    subject = "MAILDBODY" + text[:40]
    raw = build(_mail(text=text, html=html, subject=subject,
                      attachments=(("a.bin", "application/octet-stream", data),)))
    assert b"MAILDBODY" not in raw.split(b"\r\n\r\n", 1)[1]  # every placeholder filled
    msg = _read(raw)
    plain, rich = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None and rich is not None
    assert plain.get_payload(decode=True) == text.encode("utf-8")
    assert rich.get_payload(decode=True) == html.encode("utf-8")
    assert [p.get_payload(decode=True) for p in msg.iter_attachments()] == [data]


# ------------------------------------------------- the same bytes as the email package


def _reference(mail: OutgoingMail) -> bytes:
    """``build`` as it was written with the compat32 ``email.mime`` classes and
    ``email.generator`` (maild 0.x, issue 17): ``build`` writes the parts itself now
    and must give exactly these bytes."""
    seed = hashlib.sha256(mail.message_id.encode("utf-8", "surrogateescape")).hexdigest()

    def text_part(text: str, subtype: str) -> MIMEText:
        part = MIMEText("", subtype, "utf-8")
        part.replace_header("Content-Transfer-Encoding", "base64")
        part.set_payload(b64(text.encode("utf-8")))
        return part

    def b64(data: bytes) -> str:
        return encodebytes(data).decode("ascii")

    body: MIMEMultipart | MIMEText
    if mail.plain:
        body = text_part(mail.text, "plain")
    else:
        body = MIMEMultipart("alternative", boundary=f"=_{seed[:24]}_1")
        body.attach(text_part(mail.text, "plain"))
        html: MIMEText | MIMEMultipart = text_part(mail.html, "html")
        if mail.inline:
            related = MIMEMultipart("related", boundary=f"=_{seed[:24]}_2", type="text/html")
            related.attach(html)
            for cid, content_type, data in mail.inline:
                image = MIMEImage(b"", _subtype=content_type.partition("/")[2] or "png")
                image.set_payload(b64(data))
                image.add_header("Content-ID", f"<{one_line(cid, 120)}>")
                image.add_header("Content-Disposition", "inline")
                related.attach(image)
            html = related
        body.attach(html)
    msg: MIMEMultipart | MIMEText = body
    if mail.attachments:
        msg = MIMEMultipart("mixed", boundary=f"=_{seed[:24]}_0")
        msg.attach(body)
        for filename, content_type, data in mail.attachments:
            maintype, _, subtype = content_type.partition("/")
            part = MIMEApplication(b"", _subtype=subtype or "octet-stream")
            part.set_payload(b64(data))
            if maintype and maintype != "application":
                part.replace_header("Content-Type", f"{maintype}/{subtype or 'octet-stream'}")
            part.add_header("Content-Disposition", "attachment",
                            filename=("utf-8", "", one_line(filename, 120)))
            msg.attach(part)
    msg["From"] = formataddr((one_line(mail.from_name), mail.from_addr), charset="utf-8")
    to = ", ".join(header_form(a) for a in mail.to)
    msg["To"] = to if to.isascii() else Utf8Header(to)
    if mail.reply_to:
        msg["Reply-To"] = formataddr((one_line(mail.from_name), mail.reply_to), charset="utf-8")
    subject = one_line(mail.subject, 400)
    msg["Subject"] = subject if subject.isascii() else Header(subject, "utf-8")  # type: ignore[assignment]
    msg["Date"] = format_datetime(mail.date)
    msg["Message-ID"] = f"<{mail.message_id}>"
    if mail.in_reply_to:
        msg["In-Reply-To"] = f"<{mail.in_reply_to}>"
    refs = [r for r in dict.fromkeys(mail.references) if r]
    if refs:
        msg["References"] = " ".join(f"<{r}>" for r in refs)
    msg["Auto-Submitted"] = mail.auto_submitted
    msg["X-Auto-Response-Suppress"] = "All"
    msg[LOOP_HEADER] = mail.from_addr
    return msg.as_bytes(policy=SMTP_COMPAT)


names = st.text(st.characters(blacklist_categories=("Cs",)), max_size=80)
files = st.tuples(names, st.sampled_from(["application/pdf", "image/png", "text/plain", "",
                                          "text/", "/x", "application/vnd.ms-excel"]),
                  st.binary(max_size=300))
images = st.tuples(names, st.sampled_from(["image/png", "image/svg+xml", "", "png"]),
                   st.binary(max_size=200))


@given(subject=st.one_of(names, st.text(max_size=400)), from_name=names, text=names,
       html=names, plain=st.booleans(),
       attachments=st.lists(files, max_size=3), inline=st.lists(images, max_size=2),
       reply=st.booleans(), refs=st.lists(st.text("abc.@xyz", min_size=1, max_size=40),
                                          max_size=6))
def test_build_writes_what_the_email_package_wrote(subject: str, from_name: str, text: str,
                                                   html: str, plain: bool,
                                                   attachments: list[tuple[str, str, bytes]],
                                                   inline: list[tuple[str, str, bytes]],
                                                   reply: bool, refs: list[str]) -> None:
    mail = _mail(subject=subject, from_name=from_name, text=text, html=html, plain=plain,
                 attachments=tuple(attachments), inline=tuple(inline),
                 reply_to="helpdesk+42@corp.example" if reply else None,
                 in_reply_to=refs[-1] if refs else None, references=tuple(refs))
    assert build(mail) == _reference(mail)


def test_build_writes_what_the_email_package_wrote_for_big_and_odd_mail() -> None:
    data = bytes(range(256)) * 200  # 51 KB: many base64 lines
    for mail in (
        _mail(attachments=(("screenshot.png", "image/png", data),)),
        _mail(attachments=(("a" * 300 + " 报告.pdf", "application/pdf", data[:57]),),
              inline=(("chart@maild", "image/png", data[:58]),)),
        _mail(to=("用户@例子.广告", "b@y.example"), subject="x" * 300 + " 长主题" * 40,
              from_name="Very Long Helpdesk Name " * 5),
        _mail(text="", html="", attachments=(("empty", "", b""),)),
        _mail(plain=True, subject="", html=""),
        _mail(subject="hi\r\nBcc: victim@example.org", from_name="a\nBcc: x@y"),
    ):
        assert build(mail) == _reference(mail)


@given(st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=400))
def test_subject_folds_as_compat32_folds_a_utf8_header(subject: str) -> None:
    subject = one_line(subject, 400)
    stock = subject if subject.isascii() else Header(subject, "utf-8")
    assert _subject(subject) == SMTP_COMPAT.fold_binary("Subject", stock)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [0, 1, 2, 3, 56, 57, 58, 57 * 128 - 1, 57 * 128,
                                  57 * 128 + 1, 57 * 256 + 40, 300_001])
def test_base64_bodies_are_what_encodebytes_writes(size: int) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    assert b"".join(_base64(data)) == encodebytes(data).replace(b"\n", b"\r\n")
