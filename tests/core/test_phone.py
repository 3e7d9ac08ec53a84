"""Phone summaries in English and Chinese, with full-width colons and multi-line descriptions."""

from __future__ import annotations

import pytest

from maild.core.phone import PhoneFields, missing, parse_summary, phone_key


def test_english_summary() -> None:
    f = parse_summary("Employee: E1001\nName: Wang Fang\nCompany: Shanghai Branch\n"
                      "Phone: 021-5555\nPriority: high\nDescription: printer jams\n"
                      "on every page\n")
    assert f == PhoneFields(employee="E1001", name="Wang Fang", company="Shanghai Branch",
                            phone="021-5555", priority="high",
                            description="printer jams\non every page")


def test_chinese_summary_with_fullwidth_colons() -> None:
    f = parse_summary("工号：E1001\n姓名：王芳\n公司：上海分公司\n电话：13800000000\n"
                      "邮箱：wang.fang@sh.corp.example\n工程师：Li Lei\n"
                      "描述：电脑蓝屏，\n重启后仍然蓝屏")
    assert f is not None
    assert (f.employee, f.name, f.company, f.email, f.engineer) == (
        "E1001", "王芳", "上海分公司", "wang.fang@sh.corp.example", "Li Lei")
    assert f.description == "电脑蓝屏，\n重启后仍然蓝屏"


@pytest.mark.parametrize("text", ["Hello, please call me back.", "", "Re: something\nthanks"])
def test_prose_is_not_a_summary(text: str) -> None:
    assert parse_summary(text) is None


def test_missing_fields() -> None:
    f = parse_summary("Name: Tom\nPhone: 123")
    assert f is not None and missing(f) == ["Description / 描述"]
    g = parse_summary("Description: broken mouse")
    assert g is not None and missing(g) == ["Employee / 工号, Phone / 电话 or Name / 姓名"]


@pytest.mark.parametrize(("written", "key"), [
    ("021-5555 0101", "2155550101"),
    ("+86 21 5555 0101", "2155550101"),
    ("+86 (21) 5555-0101", "2155550101"),
    ("0086 21 55550101", "2155550101"),
    ("(021) 5555.0101", "2155550101"),
    ("2155550101", "2155550101"),
    ("138 0000 0000", "13800000000"),
    ("+86-138-0000-0000", "13800000000"),
    ("0086 13800000000", "13800000000"),
    ("138.0000.0000", "13800000000"),
    ("１３８ ００００ ００００", "13800000000"),  # full-width digits and space
    ("+8613800000000", "13800000000"),
    ("+44 20 7946 0018", "+442079460018"),  # another country keeps its code
    ("0044 20 7946 0018", "+442079460018"),
    ("12345", None),  # an extension identifies nobody
    ("ext. 12", None),
    ("call me", None),
    ("", None),
    (None, None),
])
def test_phone_key(written: str | None, key: str | None) -> None:
    """Country code +86/0086, trunk 0 and separators do not change the number."""
    assert phone_key(written) == key
