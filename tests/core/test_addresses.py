"""Internationalised addresses: checking, comparing, and their forms on the wire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maild.core import addresses, backoff
from maild.core.addresses import AddressError


@pytest.mark.parametrize(("a", "b"), [
    ("zhang@例子.广告", "zhang@xn--fsqu00a.xn--4rr70v"),
    ("Wang.Fang@SH.Corp.Example", "wang.fang@sh.corp.example"),
    ("用户@例子.广告", "用户@XN--FSQU00A.XN--4RR70V"),
    ("josé@sh.corp.example", "jose\u0301@sh.corp.example"),  # NFC
])
def test_same_address(a: str, b: str) -> None:
    assert addresses.key(a) == addresses.key(b)


def test_non_ascii_local_parts_are_compared_exactly() -> None:
    assert addresses.key("José@x.example") != addresses.key("josé@x.example")


@pytest.mark.parametrize("bad", ["", "@", "no-at", "a@b@c.example", "a..b@x.example",
                                 "a@-x-.example", "tab\t@x.example", "x@y.example\r\nBcc: z",
                                 "\ud800@x.example", "a" * 65 + "@x.example",
                                 "x@" + "例" * 300 + ".广告"])
def test_unusable_addresses_say_why(bad: str) -> None:
    with pytest.raises(AddressError):
        addresses.check(bad)


def test_envelope_forms() -> None:
    assert addresses.envelope("zhang@例子.广告", False) == \
        addresses.Envelope("zhang@xn--fsqu00a.xn--4rr70v", False)
    assert addresses.envelope("用户@例子.广告", True) == addresses.Envelope("用户@例子.广告", True)
    with pytest.raises(AddressError, match="SMTPUTF8"):
        addresses.envelope("用户@例子.广告", False)
    assert addresses.header_form("zhang@例子.广告") == "zhang@xn--fsqu00a.xn--4rr70v"
    assert addresses.header_form("用户@例子.广告") == "用户@例子.广告"


def test_send_plan_asks_for_smtputf8_only_when_needed() -> None:
    ascii_raw = b"To: a@x.example\r\nSubject: s\r\n\r\n\xe4\xbd\xa0"  # 8-bit body: no matter
    assert addresses.send_plan(["a@x.example"], ascii_raw, True) == (["a@x.example"], [])
    utf8_raw = "To: 用户@例子.广告\r\n\r\nx".encode()
    assert addresses.send_plan(["用户@例子.广告"], utf8_raw, True) == \
        (["用户@例子.广告"], ["SMTPUTF8"])
    with pytest.raises(AddressError):
        addresses.send_plan(["a@x.example"], utf8_raw, False)


@given(st.text(max_size=80))
def test_key_and_check_never_fail_unexpectedly(text: str) -> None:
    addresses.key(text)
    try:
        checked = addresses.check(text)
    except AddressError:
        return
    assert addresses.check(checked) == checked  # one normal form


def test_the_one_retry_rule() -> None:
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    delays = [backoff.retry_at(n, t0, t0, 48, 30) for n in (1, 2, 3, 20)]
    assert [d - t0 for d in delays if d] == [timedelta(seconds=s) for s in (30, 60, 120, 3600)]
    assert backoff.retry_at(5, t0, t0 + timedelta(hours=49), 48, 30) is None
