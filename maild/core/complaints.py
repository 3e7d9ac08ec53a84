"""Complaints (投诉): is this mail one, and what is it about (docs/REFERENCE.md, "Complaints").

Pure: the words that open a complaint, the category guessed from keywords in
English and Chinese, and a category named by staff (``#category``). The
service keeps complaints in their own table and mails the supervisors.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

CATEGORIES = ("attitude", "quality", "timeliness", "other")

# Category → keywords, checked in this order: the first category with a keyword in the
# text wins, so "rude and late" is about attitude (the harsher charge comes first).
KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("attitude", ("attitude", "rude", "impolite", "unfriendly", "arrogant", "shouted",
                  "disrespectful", "unprofessional", "态度", "不礼貌", "没礼貌", "粗鲁", "骂",
                  "不耐烦", "服务差", "恶劣", "冷漠", "傲慢")),
    ("timeliness", ("timeliness", "late", "delay", "delayed", "no-show", "never came",
                    "nobody came", "no one came", "didn't show",
                    "did not come", "didn't come", "waited", "waiting", "slow", "overdue",
                    "超时", "迟到", "延误", "拖延", "太慢", "没来", "未到", "不来", "等了",
                    "不及时", "及时")),
    ("quality", ("quality", "not fixed", "still broken", "broke again", "again", "worse",
                 "badly", "sloppy", "damaged", "质量", "没修好", "没有修好", "又坏", "还是坏",
                 "不专业", "损坏", "弄坏", "返修", "水平")),
)

# What staff may write after #category, in both languages.
CATEGORY_WORDS: Mapping[str, str] = {
    "attitude": "attitude", "态度": "attitude", "服务态度": "attitude",
    "quality": "quality", "质量": "quality", "服务质量": "quality",
    "timeliness": "timeliness", "late": "timeliness", "lateness": "timeliness",
    "超时": "timeliness", "迟到": "timeliness", "及时": "timeliness", "时效": "timeliness",
    "other": "other", "其他": "other", "其它": "other",
}

# A complaint's new text starts with one of these (then a space, a colon or the end).
_OPENING = re.compile(r"^\s*(?:[#＃]\s*complaint|complaint|投诉)(?![A-Za-z0-9_-])[ \t]*[:：]?\s*",
                      re.IGNORECASE)


def complaint_text(new_text: str) -> str | None:
    """The complaint in a customer's new text (its opening word cut off), or None when the
    text does not start with ``#complaint``, ``complaint`` or ``投诉``.

    A bare opening word is still a complaint: its text is then empty."""
    m = _OPENING.match(new_text)
    return new_text[m.end():].strip() if m else None


def guess_category(text: str) -> str:
    """attitude | quality | timeliness | other, from keywords in English or Chinese."""
    folded = unicodedata.normalize("NFKC", text).lower()
    for category, words in KEYWORDS:
        for word in words:
            if word.isascii():
                if re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", folded):
                    return category
            elif word in folded:
                return category
    return "other"


def parse_category(arg: str) -> str | None:
    """The category ``#category`` names (English or Chinese); None if it names none."""
    words = unicodedata.normalize("NFKC", arg).strip().lower().split()
    return CATEGORY_WORDS.get(words[0]) if words else None
