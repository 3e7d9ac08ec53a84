"""Search over cases on a real SQLite file: the index follows every change, Chinese works.

Cases are opened by real mail through ``service.ingest``; the index is
checked through ``maild search`` (the CLI) and ``#search`` by mail.
"""

from __future__ import annotations

import email
import email.policy
import json
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from databases import database_url
from maildenv import Maild, new_mail, write_config
from sqlmodel import Session, col, select
from test_cli import maild_cli

from maild.db import queries
from maild.db.models import Case, OutboxMail, utcnow
from maild.db.search import Filters, search
from maild.db.session import transaction
from maild.service.intake import ingest

WANG, ZHANG = "wang.fang@sh.corp.example", "zhang.san@sh.corp.example"
LI = "li.lei@corp.example"

MAILS = [
    (WANG, "三楼打印机卡纸", "三楼的打印机每页都卡纸，无法打印。"),
    (ZHANG, "硒鼓没粉", "财务部打印机的硒鼓没粉了。"),
    (WANG, "VPN broken", "The VPN client cannot connect since this morning."),
    (ZHANG, "Printer offline", "The printer on floor 2 shows offline."),
]


@pytest.fixture
def m(tmp_path: Path) -> Maild:
    m = Maild(write_config(tmp_path, 1, 1))
    m.add_customer(WANG, "王芳", company="上海分公司")
    m.add_customer(ZHANG, "张三", company="上海分公司")
    now = utcnow()
    for i, (sender, subject, body) in enumerate(MAILS):
        ingest(m.rt, new_mail(sender, subject, body), now + timedelta(minutes=i))
    return m


def ids(m: Maild, *words: str, **filters: object) -> list[int]:
    with Session(m.rt.engine) as s:
        return [c.id or 0 for c in search(s, words, Filters(**filters))]  # type: ignore[arg-type]


def test_chinese_and_english_words(m: Maild) -> None:
    assert ids(m, "打印机") == [2, 1]  # newest first
    assert ids(m, "硒鼓") == [2]
    assert ids(m, "卡纸") == [1]
    assert ids(m, "printer") == [4]
    assert ids(m, "print") == [4]  # English words match as prefixes
    assert ids(m, "打印机", "硒鼓") == [2]  # every word must match
    assert ids(m, "鼓") == [2]  # one character: substring scan
    assert ids(m, "复印机") == []


def test_filters(m: Maild) -> None:
    assert ids(m, customer="王芳") == [3, 1]
    assert ids(m, "打印机", customer=ZHANG) == [2]
    assert ids(m, customer="nobody") == []
    assert set(ids(m, status=("dispatched",))) == {1, 2, 3, 4}
    assert ids(m, "printer", type="printer") == [4]
    assert ids(m, since=utcnow() + timedelta(days=1)) == []


def test_index_follows_log_and_resolution_in_the_same_transaction(m: Maild) -> None:
    now = utcnow()
    with transaction(m.rt.engine) as s:
        queries.add_log(s, 3, now, LI, "note", "重装了客户端 reinstalled the client")
    assert ids(m, "重装") == [3] and ids(m, "reinstalled") == [3]
    with transaction(m.rt.engine) as s:
        case = s.get(Case, 4)
        assert case is not None
        case.resolution = "更换了网线 replaced the cable"
        s.add(case)
    assert ids(m, "网线") == [4]
    # a rolled-back change leaves no trace in the index
    with pytest.raises(RuntimeError), transaction(m.rt.engine) as s:
        queries.add_log(s, 1, now, LI, "note", "蓝屏了")
        s.flush()
        assert [c.id for c in search(s, ["蓝屏"])] == [1]  # visible inside the transaction
        raise RuntimeError("boom")
    assert ids(m, "蓝屏") == []


def test_search_by_mail_prefers_knowledge_base(m: Maild) -> None:
    now = utcnow()
    with transaction(m.rt.engine) as s:
        for case_id, kb in ((1, False), (2, True)):
            case = s.get(Case, case_id)
            assert case is not None
            case.status, case.resolution, case.kb, case.resolved_at = (
                "resolved", f"打印机修好了 #{case_id}", kb, now)
            s.add(case)
    ingest(m.rt, new_mail(LI, "search", "#search 打印机", to=m.personal(LI)), now)
    with Session(m.rt.engine) as s:
        out = s.exec(select(OutboxMail).where(OutboxMail.template == "search_results")
                     .order_by(col(OutboxMail.id).desc())).first()
    assert out is not None and out.recipients == [LI]
    msg = email.message_from_bytes(out.raw, policy=email.policy.default)
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert text.index("#2 [KB]") < text.index("#1 ")  # knowledge base first
    assert "打印机修好了 #2" in text and "VPN" not in text


def test_cli(m: Maild) -> None:
    out = maild_cli("search", "打印机", "--json", config=m.config)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["id"] for r in rows] == [2, 1] and rows[0]["customer"]["name"] == "张三"
    out = maild_cli("search", "--customer", "E404", "--json", config=m.config)
    assert json.loads(out.stdout) == []
    out = maild_cli("search", "vpn", config=m.config)
    assert out.returncode == 0 and b"VPN broken" in out.stdout
    out = maild_cli("search", "nothing-like-this", config=m.config)
    assert out.returncode == 1 and b"no case found" in out.stderr
    bad = maild_cli("search", "x", "--since", "yesterday", config=m.config)
    assert bad.returncode == 2 and b"not a date" in bad.stderr


def test_upgrade_indexes_existing_cases(tmp_path: Path) -> None:
    """Cases written before migration 0002 are searchable after the upgrade."""
    from maild.db import migrate
    from maild.db.session import make_engine

    engine = make_engine(database_url(tmp_path, empty=True))
    migrate.upgrade(engine, "0001")
    now = utcnow().isoformat(sep=" ")
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO cases (subject, description, priority, status, channel, language, kb, "
            "rejections, created_at, updated_at) VALUES ('显示器黑屏', 'monitor black', 'P3', "
            "'new', 'email', 'zh', :no, 0, :t, :t)"), {"t": now, "no": False})
    migrate.upgrade(engine)
    with Session(engine) as s:
        assert [c.id for c in search(s, ["黑屏"])] == [1]
