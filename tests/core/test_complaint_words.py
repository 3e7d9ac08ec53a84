"""Complaints: what opens one, and the category its words suggest (English and Chinese)."""

from __future__ import annotations

import pytest

from maild.core.complaints import CATEGORIES, complaint_text, guess_category, parse_category


@pytest.mark.parametrize(("text", "category"), [
    ("The engineer was rude to my assistant", "attitude"),
    ("Very bad attitude, he shouted at me", "attitude"),
    ("工程师态度很差，不耐烦", "attitude"),
    ("服务人员说话粗鲁", "attitude"),
    ("He came two hours late", "timeliness"),
    ("Nobody came; we waited all morning", "timeliness"),
    ("工程师迟到了两个小时", "timeliness"),
    ("处理超时，一直没人来", "timeliness"),
    ("The printer is still broken after the visit", "quality"),
    ("repair quality is poor", "quality"),
    ("维修质量太差", "quality"),
    ("电脑没修好又坏了", "quality"),
    ("I want to speak to your manager", "other"),
    ("我要投诉", "other"),
    ("", "other"),
    ("rude and late", "attitude"),  # the harsher charge first
    ("translate this", "other"),  # "late" inside a word is not lateness
    ("ＲＵＤＥ engineer", "attitude"),  # full-width letters
])
def test_guess_category(text: str, category: str) -> None:
    assert guess_category(text) == category
    assert category in CATEGORIES


@pytest.mark.parametrize(("text", "found"), [
    ("#complaint the engineer was rude", "the engineer was rude"),
    ("＃complaint: 迟到", "迟到"),
    ("Complaint: nobody came", "nobody came"),
    ("complaint", ""),
    ("投诉：工程师迟到了", "工程师迟到了"),
    ("投诉 工程师态度差\n第二行", "工程师态度差\n第二行"),
    ("  投诉", ""),
    ("complaints department?", None),
    ("I have a complaint", None),
    ("#complaint-close done", None),
    ("confirm", None),
])
def test_complaint_text(text: str, found: str | None) -> None:
    assert complaint_text(text) == found


@pytest.mark.parametrize(("arg", "category"), [
    ("quality", "quality"), ("Timeliness", "timeliness"), ("late", "timeliness"),
    ("态度", "attitude"), ("超时", "timeliness"), ("其他 原因", "other"), ("weather", None),
    ("", None),
])
def test_parse_category(arg: str, category: str | None) -> None:
    assert parse_category(arg) == category
