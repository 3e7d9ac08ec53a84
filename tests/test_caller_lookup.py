"""Caller lookup by phone number, by real mail (Dovecot in, aiosmtpd out), in both languages."""

from __future__ import annotations

from pathlib import Path

import pytest
from fieldmail import OPERATOR, body, customer, installation, mail, subject, to
from maildenv import Maild, new_mail, outbox
from servers import Dovecot, SmtpSink
from sqlmodel import Session, select

from maild.db.models import Customer, InboundMessage

LANGS = ("en", "zh")


def summary(m: Maild, text: str) -> bytes:
    """An operator's summary to their personal address (the proof a summary needs)."""
    return new_mail(OPERATOR, "call", text, to=m.personal(OPERATOR))


def directory(m: Maild) -> None:
    """Two customers share a desk phone; a third has a mobile of her own."""
    customer(m, "王芳", email="wang.fang@sh.corp.example", employee_id="E1001",
             company="上海分公司", phone="021-5555 0101")
    customer(m, "Wang Fang", email="wang.fang@bj.corp.example", employee_id="E2002",
             company="北京分公司", phone="+86 21 5555 0101")
    customer(m, "Tom Brown", email="tom.brown@uk.corp.example", company="London Office",
             phone="0086 138 0000 0000")


@pytest.mark.parametrize("lang", LANGS)
def test_shared_number_asks_the_operator_to_name_the_caller(
        tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink, lang: str) -> None:
    """Two customers with one number: a list back to the operator, no case; naming one
    opens the case for that one."""
    m = installation(tmp_path, dovecot, smtp_sink, lang)
    directory(m)
    mail(m, dovecot, summary(m, "电话：(021) 5555-0101\n描述：打印机卡纸\n"), OPERATOR)
    [reply] = to(smtp_sink, OPERATOR)
    assert ("customers match" if lang == "en" else "位客户") in subject(reply)
    text = body(reply)
    for shown in ("E1001", "E2002", "wang.fang@bj.corp.example", "打印机卡纸",
                  "Employee:" if lang == "en" else "工号："):
        assert shown in text
    assert "Tom Brown" not in text
    assert not outbox(m, "ack") and not outbox(m, "dispatch")
    with Session(m.rt.engine) as s:
        row = s.exec(select(InboundMessage)).one()
        assert row.disposition == "rejected" and "2 customers match by phone" in (row.reason
                                                                                   or "")
    # the operator names one by company: the case is hers
    mail(m, dovecot, summary(m, "电话：+86 21 5555 0101\n公司：北京分公司\n描述：打印机卡纸\n"),
         OPERATOR)
    assert m.case(1)["customer"]["employee_id"] == "E2002"
    assert to(smtp_sink, "wang.fang@bj.corp.example")  # her acknowledgement


@pytest.mark.parametrize("lang", LANGS)
def test_one_customer_is_found_by_a_number_written_another_way(
        tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink, lang: str) -> None:
    """``138-0000-0000`` finds the customer stored as ``0086 138 0000 0000``; the number
    written another way is not a change of phone."""
    m = installation(tmp_path, dovecot, smtp_sink, lang)
    directory(m)
    mail(m, dovecot, summary(m, "Phone: 138-0000-0000\nDescription: VPN down\n"), OPERATOR)
    case = m.case(1)
    assert case["customer"]["email"] == "tom.brown@uk.corp.example"
    assert case["channel"] == "phone"
    assert not any("customer details updated" in e["text"] for e in case["log"])
    assert to(smtp_sink, "tom.brown@uk.corp.example")
    with Session(m.rt.engine) as s:
        assert len(s.exec(select(Customer)).all()) == 3  # nobody created


def test_employee_id_beats_the_phone_and_a_new_id_is_a_new_customer(
        tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    """By employee id first; an id the directory lacks, from a shared phone, is someone new."""
    m = installation(tmp_path, dovecot, smtp_sink, "en")
    directory(m)
    mail(m, dovecot, summary(m, "工号：E1001\n电话：021 5555 0101\n描述：鼠标坏了\n"), OPERATOR)
    assert m.case(1)["customer"]["email"] == "wang.fang@sh.corp.example"
    mail(m, dovecot, summary(m, "工号：E3003\n姓名：赵雷\n电话：021 5555 0101\n描述：键盘坏了\n"),
         OPERATOR)
    assert m.case(2)["customer"]["employee_id"] == "E3003"
    with Session(m.rt.engine) as s:
        created = s.exec(select(Customer).where(Customer.employee_id == "E3003")).one()
        assert created.phone_key == "2155550101"
