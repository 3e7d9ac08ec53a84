"""Charset repair: decode bytes and RFC 2047 header words the way real senders meant them.

GB2312/GBK labels are read as GB18030 (a superset), RFC 2047 words are re-joined
per charset before decoding (multibyte characters split across words),
unlabelled 8-bit bytes are tried as UTF-8, then GB18030, then Latin-1, and
Latin-1 read as Chinese is recognised and undone. Nothing here raises.
"""

from __future__ import annotations

import binascii
import codecs
import re

# --- charsets ---------------------------------------------------------------

# Labels mapped to the superset that real senders actually use.
_ALIASES = dict.fromkeys(
    ("gb2312", "gbk", "cp936", "x-gbk", "euc-cn", "x-euc-cn", "csgb2312", "gb_2312-80"), "gb18030"
) | {
    "big5": "big5hkscs", "x-big5": "big5hkscs", "euc_kr": "cp949", "ks_c_5601-1987": "cp949",
    "shift_jis": "cp932", "x-sjis": "cp932", "iso2022_jp": "iso2022_jp_ext",
    "iso8859-1": "cp1252", "iso-8859-8-i": "iso8859-8", "windows-874": "cp874",
}  # fmt: skip
# Tried when the declared codec fails: Japanese mail is often labelled with the wrong one.
_SIBLINGS = {"iso2022_jp_ext": ("euc_jp", "cp932"), "euc_jp": ("cp932",), "cp932": ("euc_jp",)}
# Codecs that are not charsets, or are slow on hostile input.
_BLOCKED = frozenset({"punycode", "idna", "unicode-escape", "raw-unicode-escape", "undefined"})
_SINGLE_BYTE = ("iso8859", "cp12", "cp8", "cp4", "latin", "mac-", "koi8", "tis")
_BAD_CHARS = re.compile("[\ud800-\udfff]")
# A lone CJK character between Latin letters is Latin-1 read as GBK/Big5 ("Fr鰏che").
_MOJIBAKE = re.compile("[A-Za-z][\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff][A-Za-z]")


def _codec(label: str | None) -> str | None:
    """The Python codec for a charset label, or None when unknown or unsafe."""
    name = (label or "").strip().strip("\"'").lower()
    if not name or name in ("us-ascii", "ascii", "unknown-8bit", "x-unknown"):
        return None
    try:
        info = codecs.lookup(_ALIASES.get(name, name))
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _BLOCKED:
        return None
    return _ALIASES.get(info.name, info.name)


def _clean(text: str) -> str:
    """Drop NULs and lone surrogates, which no database or encoder accepts."""
    return _BAD_CHARS.sub("\ufffd", text.replace("\x00", ""))


def guess(data: bytes, hint: str | None = None) -> str:
    """Decode unlabelled bytes: UTF-8, the message's charset, GB18030, Big5, then Latin-1."""
    try:
        return _clean(data.decode("iso2022_jp_ext" if b"\x1b$" in data else "utf-8"))
    except UnicodeError:
        pass
    loose = data.decode("utf-8", "replace")
    bad = loose.count("\ufffd")
    if sum(ch > "\x7f" for ch in loose) >= 5 * bad:  # valid UTF-8 with a few broken bytes
        return _clean(loose)
    for codec in (_codec(hint), "gb18030", "big5hkscs", "cp1252"):
        try:
            text = data.decode(codec) if codec else ""
        except UnicodeError:
            continue
        if text and not _MOJIBAKE.search(text):
            return _clean(text)
    return _clean(data.decode("latin-1"))


def decode(data: bytes, label: str | None, hint: str | None = None) -> str:
    """Decode bytes with a declared charset, repairing wrong or unknown labels."""
    codec = _codec(label)
    if codec is None:
        return guess(data, hint)
    tries = [codec, *_SIBLINGS.get(codec, ())]
    if not data.isascii():  # valid non-ASCII UTF-8 is UTF-8, whatever the label says
        tries.insert(0 if codec.startswith(_SINGLE_BYTE) else 1, "utf-8")
    for name in tries:
        try:
            return _clean(data.decode(name))
        except UnicodeError:
            pass
    if codec == "utf-8":  # broken UTF-8 is usually another charset, often GBK
        return guess(data, hint)
    try:
        return _clean(data.decode(codec, "replace"))
    except UnicodeError:
        return guess(data, hint)


def raw_param(data: bytes, hint: str | None = None) -> str:
    """Raw 8-bit bytes in a header parameter (a filename sent without RFC 2231/2047):
    UTF-8 when they are valid UTF-8, else the message's charset, else GB18030."""
    for codec in ("utf-8", _codec(hint)):
        if codec:
            try:
                return _clean(data.decode(codec))
            except UnicodeError:
                pass
    return _clean(data.decode("gb18030", "replace"))


# --- headers ----------------------------------------------------------------

ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?]*)(?:\?=|$)")
_FOLD = re.compile(r"\r?\n(?=[ \t])|\r(?=[ \t])")
WHITESPACE = re.compile(r"[ \t\r\n\f\v]+")
CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def raw_bytes(text: str) -> bytes:
    """Header text as parsed by compat32 (8-bit bytes as surrogates) → bytes."""
    return text.encode("utf-8", "surrogateescape")


def _b_decode(text: str) -> bytes:
    clean = re.sub(r"[^A-Za-z0-9+/]", "", text)
    clean = clean[: len(clean) - len(clean) % 4 if len(clean) % 4 == 1 else None]
    try:
        return binascii.a2b_base64(clean + "=" * (-len(clean) % 4))
    except binascii.Error:
        return b""


def _q_decode(text: str) -> bytes:
    data = raw_bytes(text).replace(b"_", b" ")
    return re.sub(rb"=([0-9A-Fa-f]{2})", lambda m: bytes([int(m[1], 16)]), data)


def _decode_words(value: str, hint: str | None) -> str:
    """Decode RFC 2047 words and raw 8-bit bytes in one header value.

    Adjacent words in one charset are joined as bytes before decoding, so a
    multibyte character split across two words survives.
    """
    text = _FOLD.sub("", value)
    chunks: list[tuple[bytearray, str | None]] = []
    pos = 0
    for m in ENCODED_WORD.finditer(text):
        gap = text[pos : m.start()]
        if gap and not (gap.isspace() and chunks and chunks[-1][1] is not None):
            chunks.append((bytearray(raw_bytes(gap)), None))
        data = _b_decode(m[3]) if m[2] in "bB" else _q_decode(m[3])
        charset = m[1].lower()
        if chunks and chunks[-1][1] == charset:
            chunks[-1][0].extend(data)
        else:
            chunks.append((bytearray(data), charset))
        pos = m.end()
    if pos < len(text):
        chunks.append((bytearray(raw_bytes(text[pos:])), None))
    return "".join(decode(bytes(d), c, hint) if c else guess(bytes(d), hint) for d, c in chunks)


def header_text(value: str, hint: str | None = None) -> str:
    """A decoded header value on one line, without control characters."""
    return CONTROL.sub("", WHITESPACE.sub(" ", _decode_words(value, hint))).strip()
