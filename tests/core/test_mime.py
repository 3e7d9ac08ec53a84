"""Outgoing MIME: what a mail client reads back from ``mime.build``."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.policy import compat32

from hypothesis import given
from hypothesis import strategies as st

from maild.core.mime import LOOP_HEADER, SMTP_COMPAT, OutgoingMail, build

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
def test_bodies_written_after_the_headers_come_back_exactly(text: str, html: str,
                                                            data: bytes) -> None:
    """The base64 bodies go in after the generator wrote the headers: whatever a body or
    a subject holds (even text shaped like the placeholders), every part reads back."""
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
