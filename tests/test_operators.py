"""Operators' phone summaries and staff-forwarded customer mail, on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from maildenv import Maild, new_mail, text_of, write_config
from sqlmodel import Session, col, select

from maild.db.models import Customer, OutboxMail
from maild.service.intake import ingest

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
OPERATOR = "callcenter@corp.example"


@pytest.fixture
def m(tmp_path: Path) -> Maild:
    return Maild(write_config(tmp_path, 1, 1))


def call(m: Maild, summary: str) -> bytes:
    """An operator's phone summary, sent to their personal address (proof 2)."""
    return new_mail(OPERATOR, "call", summary, to=m.personal(OPERATOR))


def outbox(m: Maild, template: str) -> list[OutboxMail]:
    with Session(m.rt.engine) as s:
        return list(s.exec(select(OutboxMail).where(OutboxMail.template == template)
                           .order_by(col(OutboxMail.id))))


def test_chinese_summary_creates_customer_and_dispatches_by_hand(m: Maild) -> None:
    summary = ("工号：E1001\n姓名：王芳\n公司：上海分公司\n电话：13800000000\n"
               "邮箱：wang.fang@sh.corp.example\n优先级：高\n工程师：John Smith\n"
               "描述：电脑蓝屏，\n重启后仍然蓝屏\n")
    result = ingest(m.rt, new_mail(OPERATOR, "来电", summary, to=m.personal(OPERATOR)), NOW)
    assert result.disposition.value == "phone_case"
    case = m.case(1)
    assert case["channel"] == "phone" and case["priority"] == "P2"
    assert case["engineer"]["email"] == "john.smith@corp.example"  # another site: by hand
    assert case["customer"] == {"email": "wang.fang@sh.corp.example", "name": "王芳",
                                "employee_id": "E1001", "company": "上海分公司"}
    assert case["description"] == "电脑蓝屏，\n重启后仍然蓝屏"
    assert case["log"][0]["author"] == OPERATOR and "by phone" in case["log"][0]["text"]
    assert [o.recipients for o in outbox(m, "ack")] == [["wang.fang@sh.corp.example"]]
    with Session(m.rt.engine) as s:
        assert s.exec(select(Customer)).one().auto_created


def test_known_caller_by_name_and_changed_details_are_logged(m: Maild) -> None:
    m.add_customer("tom.brown@uk.corp.example", "Tom Brown", company="London Office")
    summary = "Name: Tom Brown\nCompany: London Office\nPhone: +44 20 1234\nDescription: VPN\n"
    assert ingest(m.rt, call(m, summary), NOW).disposition.value == \
        "phone_case"
    case = m.case(1)
    assert case["customer"]["email"] == "tom.brown@uk.corp.example"
    assert case["engineer"]["email"] == "john.smith@corp.example"  # routed by company
    assert any("phone - → +44 20 1234" in e["text"] for e in case["log"])


@pytest.mark.parametrize(("summary", "expected"), [
    ("Name: Tom\nPhone: 123\n", "Description"),
    ("Description: printer\n", "Employee"),
    ("Name: Tom\nEngineer: Nobody\nDescription: x\n", "no engineer called 'Nobody'"),
    ("Hello, please help", "Description"),
])
def test_incomplete_summary_opens_nothing_and_says_why(m: Maild, summary: str,
                                                       expected: str) -> None:
    result = ingest(m.rt, call(m, summary), NOW)
    assert result.disposition.value == "rejected" and expected in (result.reason or "")
    reply = outbox(m, "phone_missing")
    assert len(reply) == 1 and reply[0].recipients == [OPERATOR]
    assert expected.split()[0] in text_of(reply[0].raw)
    with Session(m.rt.engine) as s:
        assert s.exec(select(Customer)).all() == []


def test_forwarded_mail_opens_the_case_for_the_original_sender(m: Maild) -> None:
    inner = EmailMessage()
    inner["From"] = "王芳 <wang.fang@sh.corp.example>"
    inner["Subject"] = "显示器不亮"
    inner["Message-ID"] = "<orig-1@sh.corp.example>"
    inner.set_content("办公室的显示器不亮了")
    inner.add_attachment(b"\x89PNG....", maintype="image", subtype="png", filename="photo.png")
    outer = EmailMessage()
    outer["From"], outer["To"], outer["Subject"] = "li.lei@corp.example", \
        m.personal("li.lei@corp.example"), "Fwd: 显示器不亮"
    outer.set_content("请处理")
    outer.add_attachment(inner)
    result = ingest(m.rt, outer.as_bytes(), NOW)
    assert result.disposition.value == "new_case"
    case = m.case(1)
    assert case["customer"]["email"] == "wang.fang@sh.corp.example"
    assert case["subject"] == "显示器不亮" and case["description"] == "办公室的显示器不亮了"
    assert [a["filename"] for a in case["attachments"]] == ["photo.png"]
    assert "forwarded by li.lei@corp.example" in case["log"][0]["text"]


@pytest.mark.parametrize(("rating", "priority"), [
    ("紧急程度：高\n影响范围：高\n", "P1"),
    ("Urgency: low\nImpact: high\n", "P3"),
    ("Urgency: high\n", "P2"),  # a missing impact counts as medium
    ("Priority: P4\nUrgency: high\nImpact: high\n", "P4"),  # an explicit priority wins
])
def test_urgency_and_impact_pick_the_priority(m: Maild, rating: str, priority: str) -> None:
    summary = f"Name: Tom Brown\nCompany: London Office\n{rating}Description: VPN down\n"
    assert ingest(m.rt, call(m, summary), NOW).disposition.value == "phone_case"
    assert m.case(1)["priority"] == priority


def test_unknown_urgency_word_is_refused(m: Maild) -> None:
    summary = "Name: Tom Brown\nUrgency: whenever\nDescription: VPN down\n"
    ingest(m.rt, call(m, summary), NOW)
    [reply] = outbox(m, "phone_missing")
    assert "whenever" in text_of(reply.raw)
