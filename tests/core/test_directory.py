"""CSV rows for the customer directory: every problem reported with its line number."""

from __future__ import annotations

import pytest

from maild.core.directory import (
    Caller,
    RowError,
    check_header,
    narrow,
    parse_vip,
    validate_rows,
)


def rows(*lines: dict[str, str]) -> list[dict[str, str | None]]:
    return [dict(line) for line in lines]


def test_good_rows() -> None:
    good, errors = validate_rows(rows(
        {"employee_id": "E1", "name": "王芳", "email": "Wang.Fang@SH.corp.example", "vip": "是"},
        {"employee_id": "E2", "name": "Tom", "email": "", "vip": ""},
    ))
    assert errors == []
    assert [(g.employee_id, g.email, g.vip) for g in good] == [
        ("E1", "wang.fang@sh.corp.example", True), ("E2", None, False)]


@pytest.mark.parametrize(("row", "message"), [
    ({"employee_id": "E1", "name": "", "email": "a@b.example"}, "name is empty"),
    ({"employee_id": "E1", "name": "A", "email": "not-an-email"}, "is not an email address"),
    ({"employee_id": "E1", "name": "A", "vip": "maybe"}, "vip 'maybe' must be"),
    ({"name": "A"}, "needs an email or an employee_id"),
])
def test_bad_rows_name_the_line(row: dict[str, str], message: str) -> None:
    good, errors = validate_rows(rows({"employee_id": "E0", "name": "ok"}, row))
    assert len(good) == 1 and len(errors) == 1
    assert errors[0].line == 3 and message in errors[0].message


def test_duplicates_within_the_file() -> None:
    _, errors = validate_rows(rows(
        {"employee_id": "E1", "name": "A", "email": "a@b.example"},
        {"employee_id": "E1", "name": "B", "email": "b@b.example"},
        {"employee_id": "E3", "name": "C", "email": "A@b.example"},
    ))
    assert [str(e) for e in errors] == [
        "line 3: employee_id E1 already on line 2", "line 4: email a@b.example already on line 2"]
    assert all(isinstance(e, RowError) for e in errors)


def test_header_check() -> None:
    assert check_header(["employee_id", "name", "email"]) is None
    assert "missing column(s): name" in (check_header(["email"]) or "")
    assert "unknown column(s): mobile" in (check_header(["name", "mobile"]) or "")


@pytest.mark.parametrize(("value", "expected"), [("yes", True), ("TRUE", True), ("1", True),
                                                 ("否", False), ("", False), ("x", None)])
def test_vip_values(value: str, expected: bool | None) -> None:
    assert parse_vip(value) is expected


WANG_SH = Caller(1, "王芳", "E1001", "上海分公司", "021-5555 0101", "wang.fang@sh.corp.example")
WANG_BJ = Caller(2, "王芳", "E2002", "北京分公司", "021-5555 0101", "wang.f@bj.corp.example")
LI = Caller(3, "Li Ming", None, "上海分公司", "021-5555 0101", None)


@pytest.mark.parametrize(("details", "left"), [
    ({}, [WANG_SH, WANG_BJ, LI]),  # nothing more given: all three, the operator must choose
    ({"name": "王芳"}, [WANG_SH, WANG_BJ]),
    ({"name": "王芳", "company": "北京分公司"}, [WANG_BJ]),
    ({"email": "WANG.FANG@sh.corp.example"}, [WANG_SH]),
    ({"name": "li  ming"}, [LI]),  # case and spacing do not matter
    ({"name": "Wang Fang"}, [WANG_SH, WANG_BJ, LI]),  # a name that fits none decides nothing
    ({"employee": "E2002"}, [WANG_BJ, LI]),  # another employee id is another person
    ({"employee": "E9999", "name": "王芳"}, []),  # a new employee at a shared phone
    ({"employee": "E9999", "name": "Li Ming"}, [LI]),  # one the directory lacks the id of
])
def test_narrow_callers(details: dict[str, str], left: list[Caller]) -> None:
    """Several customers with one number: the summary's other details pick among them."""
    assert narrow([WANG_SH, WANG_BJ, LI], **details) == left
