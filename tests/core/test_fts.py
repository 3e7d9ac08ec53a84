"""CJK-bigram index text and safe query building (core.fts)."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maild.core.fts import fts5_match, index_text, parse_query, tsquery


def test_cjk_runs_become_bigrams_latin_stays_words() -> None:
    expected = "三楼 楼打 打印 印机 机卡 卡纸 printer jams"
    assert index_text("三楼打印机卡纸 Printer jams!") == expected
    assert index_text("硒", None, "") == "硒"
    assert index_text("E1234 wang.fang@sh.corp") == "e1234 wang fang sh corp"


@pytest.mark.parametrize(("words", "match"), [
    (["打印机"], '"打印 印机"'),
    (["硒鼓"], '"硒鼓"'),
    (["print"], '"print"*'),
    (["Toner", "打印机"], '"toner"* AND "打印 印机"'),
    (['"); DROP TABLE cases; --'], '"drop"* AND "table"* AND "cases"*'),
    (["NEAR(a b)", "OR", "*"], '"near"* AND "a"* AND "b"* AND "or"*'),
])
def test_fts5_match(words: list[str], match: str) -> None:
    assert fts5_match(parse_query(words)) == match


def test_single_cjk_character_is_a_substring_term() -> None:
    q = parse_query(["鼓"])
    assert q.like_terms == ("鼓",) and fts5_match(q) is None and not q.empty


def test_nothing_searchable() -> None:
    assert parse_query(["", "  ", "!!!"]).empty


def test_tsquery() -> None:
    assert tsquery(parse_query(["打印机", "prin"])) == "('打印' <-> '印机') & ('prin':*)"


def _fts() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(body, tokenize='unicode61', columnsize=0)")
    return db


DOCS = ["三楼打印机卡纸，无法打印", "硒鼓没粉了，需要更换硒鼓", "The printer on floor 3 jams",
        "VPN 连不上", "键盘坏了 keyboard broken"]


@pytest.mark.parametrize(("word", "hits"), [
    ("打印机", [0]), ("打印", [0]), ("硒鼓", [1]), ("printer", [2]), ("print", [2]),
    ("vpn", [3]), ("连不上", [3]), ("键盘", [4]), ("机卡", [0]), ("印机卡纸", [0]),
    ("打印纸", []), ("keyboards", []),
])
def test_real_fts5_finds_substrings(word: str, hits: list[int]) -> None:
    db = _fts()
    db.executemany("INSERT INTO t(rowid, body) VALUES (?, ?)",
                   [(i, index_text(d)) for i, d in enumerate(DOCS)])
    match = fts5_match(parse_query([word]))
    assert match is not None
    found = [r[0] for r in db.execute("SELECT rowid FROM t WHERE t MATCH ? ORDER BY rowid",
                                      (match,))]
    assert found == hits


@given(st.lists(st.text(max_size=20), max_size=5))
def test_any_user_input_gives_valid_fts5_syntax(words: list[str]) -> None:
    db = _fts()
    db.execute("INSERT INTO t(rowid, body) VALUES (1, 'x')")
    match = fts5_match(parse_query(words))
    if match is not None:
        db.execute("SELECT rowid FROM t WHERE t MATCH ?", (match,)).fetchall()


@given(st.text(alphabet="打印机硒鼓卡纸坏了网络 abc", min_size=2, max_size=30),
       st.integers(0, 28), st.integers(2, 6))
def test_every_cjk_substring_is_found(doc: str, start: int, length: int) -> None:
    """A CJK substring of two characters or more is always found in its document."""
    term = doc[start:start + length]
    if len(term) < 2 or " " in term or any(c in "abc" for c in term):
        return
    db = _fts()
    db.execute("INSERT INTO t(rowid, body) VALUES (1, ?)", (index_text(doc),))
    match = fts5_match(parse_query([term]))
    assert db.execute("SELECT count(*) FROM t WHERE t MATCH ?", (match,)).fetchone()[0] == 1
