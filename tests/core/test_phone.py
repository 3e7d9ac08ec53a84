"""Phone summaries in English and Chinese, with full-width colons and multi-line descriptions."""

from __future__ import annotations

import pytest

from maild.core.phone import PhoneFields, missing, parse_summary


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
    assert g is not None and missing(g) == ["Employee / 工号 or Name / 姓名"]
