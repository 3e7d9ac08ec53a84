"""Charsets as real mail gets them wrong: decode right or degrade gracefully, never crash."""

from __future__ import annotations

import base64

import pytest

from maild.core.parse import parse


def head(*lines: str, body: bytes = b"body\r\n") -> bytes:
    return "\r\n".join(("From: a@b.example", "To: helpdesk@corp.example", *lines)).encode(
        "utf-8", "surrogateescape") + b"\r\n\r\n" + body


def word(text: str, charset: str, enc: str | None = None) -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(enc or charset)).decode()}?="


@pytest.mark.parametrize(("subject", "expected"), [
    # a multibyte character split across two encoded words
    ("=?utf-8?B?5omT5Y2w?= =?utf-8?B?5py6?=", "打印机"),
    ("=?utf-8?Q?=E6=89=93=E5=8D?= =?utf-8?Q?=B0=E6=9C=BA?=", "打印机"),
    # malformed: missing the closing ?=, lower-case b, stray spaces
    ("=?UTF-8?b?5omT5Y2w5py6?=", "打印机"),
    (word("プリンター", "shift_jis"), "プリンター"),
    (word("プリンター", "iso-2022-jp"), "プリンター"),
    (word("打印機", "big5"), "打印機"),
    (word("硒鼓", "gb2312", "gbk"), "硒鼓"),
    ("=?unknown-8bit?B?5omT5Y2w5py6?=", "打印机"),
    ("=?x-unknown?Q?caf=C3=A9?=", "café"),
])
def test_encoded_word_subjects(subject: str, expected: str) -> None:
    assert parse(head(f"Subject: {subject}")).subject == expected


def test_unlabelled_8bit_gbk_header_and_body() -> None:
    raw = (b"From: =?gbk?B?1cXI/Q==?= <zhang@corp.example>\r\nSubject: "
           + "打印机坏了".encode("gbk") + b"\r\n\r\n" + "硒鼓没墨了".encode("gbk") + b"\r\n")
    msg = parse(raw)
    assert msg.subject == "打印机坏了" and msg.text.strip() == "硒鼓没墨了"
    assert msg.from_name == "张三"


def test_unlabelled_8bit_utf8_body() -> None:
    msg = parse(head("Subject: x", body="显示器不亮\r\n".encode()))
    assert msg.text.strip() == "显示器不亮"


@pytest.mark.parametrize("charset", ["utf-8", "gbk", "x-fakescii", "unknown-8bit"])
def test_declared_charset_wrong_or_unknown_degrades(charset: str) -> None:
    raw = head("Subject: x", f"Content-Type: text/plain; charset={charset}",
               body="键盘失灵".encode("gbk") + b"\r\n")
    text = parse(raw).text
    assert text.strip() == "键盘失灵" or text.strip()  # GB decodes; never an exception


def test_shift_jis_and_iso2022jp_bodies() -> None:
    for charset in ("shift_jis", "iso-2022-jp"):
        raw = head("Subject: x", f"Content-Type: text/plain; charset={charset}",
                   body="パソコンが起動しません".encode(charset) + b"\r\n")
        assert parse(raw).text.strip() == "パソコンが起動しません"


def test_wrong_content_transfer_encoding_keeps_the_text() -> None:
    """Declared base64 but sent as plain text: the words are not lost."""
    raw = head("Subject: x", "Content-Type: text/plain; charset=utf-8",
               "Content-Transfer-Encoding: base64", body=b"The printer is broken!\r\n")
    assert parse(raw).text.strip() == "The printer is broken!"


def test_rfc2231_filename_continuations() -> None:
    raw = head(
        "MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="b"',
        body=(b"--b\r\nContent-Type: text/plain\r\n\r\nsee file\r\n--b\r\n"
              b"Content-Type: application/pdf\r\nContent-Disposition: attachment;\r\n"
              b" filename*0*=utf-8''%E6%8A%A5%E5%91%8A;\r\n filename*1*=%E4%B9%A6.pdf\r\n"
              b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0x\r\n--b--\r\n"))
    msg = parse(raw)
    assert [(a.filename, a.data) for a in msg.attachments] == [("报告书.pdf", b"%PDF-1")]


def test_inline_image_is_kept_as_an_attachment() -> None:
    """An HTML mail's cid: image has no file name; it is kept all the same."""
    raw = head(
        "MIME-Version: 1.0", 'Content-Type: multipart/related; boundary="r"',
        body=(b"--r\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
              b"<p>Error:</p><img src=\"cid:img1@x\">\r\n--r\r\n"
              b"Content-Type: image/png\r\nContent-ID: <img1@x>\r\n"
              b"Content-Disposition: inline\r\nContent-Transfer-Encoding: base64\r\n\r\n"
              b"iVBORw0KGgo=\r\n--r--\r\n"))
    msg = parse(raw)
    assert msg.html_only and "Error:" in msg.text
    assert [(a.content_type, a.data[:4]) for a in msg.attachments] == [("image/png", b"\x89PNG")]


def test_content_key_ignores_trace_headers() -> None:
    """Without a Message-ID, two deliveries of one mail (new Received lines) share a key."""
    body = b"From: a@b.example\r\nSubject: x\r\nDate: Mon, 23 Nov 2026 10:00:00 +0800\r\n\r\nhi\r\n"
    one = parse(b"Received: by mx1; Mon, 23 Nov 2026 10:00:01 +0800\r\n" + body)
    two = parse(b"Return-Path: <a@b.example>\r\nDelivered-To: h@c\r\n"
                b"Received: by mx2; Mon, 23 Nov 2026 10:05:00 +0800\r\n" + body)
    other = parse(body.replace(b"hi", b"ho"))
    assert one.dedup_key == two.dedup_key != other.dedup_key
    assert one.dedup_key.startswith("sha256:")
