"""The follow-up survey (回访): which closed cases are asked, and what an answer says.

Pure. ``chosen`` decides whether a case is asked: always after a complaint,
always for a VIP (if so configured), else a fixed share of cases picked by a
keyed hash of the case number, so that the same case is always in or out
whichever replica asks and however often. ``parse_answer`` reads a score of
1-5 and a comment from a reply, whatever the mail client did to it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass

from maild.core.quoting import split_reply


def sampled(case_id: int, secret: str, share: float) -> bool:
    """Whether the case falls in the sampled ``share`` (0..1): a keyed hash of its number,
    so the choice cannot be predicted without the secret and never changes."""
    if share <= 0:
        return False
    if share >= 1:
        return True
    digest = hmac.new(secret.encode(), f"survey:{case_id}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def chosen(case_id: int, secret: str, share: float, *, vip: bool, ask_vips: bool,
           complained: bool) -> str | None:
    """Why the case is asked ("complaint", "vip", "sample"), or None: it is not."""
    if complained:
        return "complaint"
    if vip and ask_vips:
        return "vip"
    return "sample" if sampled(case_id, secret, share) else None


@dataclass(frozen=True)
class Answer:
    score: int  # 1..5
    comment: str  # "" when there is none


_DIGITS_ZH = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
# 分 is a point, 分钟 a minute; 星 a star, 星期 a week: "3分钟就断一次网" counts minutes.
_UNIT = r"(?:分(?![钟鐘])|星(?!期)|颗星|顆星|stars?|points?|pts?|/\s*5|out\s+of\s+5|of\s+5)"
_LABEL = (r"(?:score|rating|rate|评分|打分|分数|评价|满意度|得分|評分|score\s+given)")
_COMMENT_LABEL = re.compile(
    r"^\s*(?:comments?|remarks?|feedback|notes?|评论|意见|建议|备注|评价|留言|说明)\s*[:=：]\s*",
    re.IGNORECASE)
# Where a score may stand, most explicit first; each pattern's group 1 is the score.
_PATTERNS = (
    re.compile(rf"{_LABEL}\s*[:=]?\s*([1-5])(?!\d)\s*{_UNIT}?", re.IGNORECASE),
    re.compile(rf"(?<![\d.])([1-5])\s*{_UNIT}(?![a-z])", re.IGNORECASE),
    re.compile(r"([一二两三四五])\s*(?:分(?![钟鐘])|星(?!期)|颗星|顆星)"),
    re.compile(r"^\s*([1-5])(?![\d:.]\d)(?!\d)"),  # a leading digit: "4", "4 - fine", "4，好"
)
_OUT_OF = _PATTERNS[1]
_LEADING = _PATTERNS[-1]
_OF_FIVE = re.compile(r"[ \t]*(?:out\s+)?of\s+5(?!\d)", re.IGNORECASE)  # "4 points of 5"
# What a leading number counts, when the word after it is one of these (see ``counts``).
_MEASURE_ZH = re.compile(r"[ \t]*(?:小时|小時|分钟|分鐘|星期|礼拜|禮拜|"
                         r"钟头|鐘頭|[台个個次回遍趟天日号號周週月年楼樓层層位名人部件张張块塊条條只支套把"
                         r"间間家份页頁点點秒])")
_WORD_AFTER = re.compile(r"[ \t]*([A-Za-z]+)\b")
_COUNTED_EN = frozenset({"people", "persons", "men", "women", "children", "mice", "more",
                         "other", "others", "of", "new", "extra",
                         # units written short, singular or not: "5 min", "3 h", "2 pc"
                         "min", "mins", "h", "hr", "hrs", "sec", "secs", "pc", "pcs"})
# Words ending in -s that follow a score without being what it counts.
_NOT_PLURAL = frozenset({"thanks", "yes", "was", "has", "its", "does", "goes", "always",
                         "perhaps", "cheers", "kudos", "regards", "works", "looks", "seems",
                         "feels", "sounds"})
_STARS = re.compile(r"([★⭐]{1,5})(?![★⭐])")
# Words that are a score on their own, longest first ("非常不满意" before "满意").
_WORDS_ZH = (("非常不满意", 1), ("很不满意", 1), ("不满意", 2), ("非常满意", 5), ("很满意", 5),
             ("满意", 4), ("一般", 3))
_WORDS_EN = {"excellent": 5, "perfect": 5, "great": 5, "good": 4, "ok": 3, "okay": 3,
             "average": 3, "poor": 2, "bad": 1, "terrible": 1}
_TRIM = " \t\r\n-–—,，.。:：;；!！~～|/"


def counts(after: str) -> bool:
    """Whether a leading number followed by ``after`` counts things rather than scores.

    It does when the word right after it names what is counted: an English plural (a
    word of three letters or more ending in -s: "3 monitors", "2 PCs", "4 days", but not
    thanks, yes, was, works … nor -ss, -us, -is), an irregular one ("3 people") or
    more / other / of / new / extra ("2 more laptops", "3 of our PCs"), or a unit written
    short ("5 min", "3 h", "2 hrs", "1 pc"); or a Chinese measure word or unit of time
    or place ("3台电脑", "2 个显示器", "3次", "5楼", "3分钟", "2钟头").
    Reading such a number as a score is the harmful mistake: a score of 3-5 is only
    filed with the survey, so "3 monitors still flicker" would reach no engineer. A
    missed score costs little: the reply is logged and forwarded like any other."""
    if _MEASURE_ZH.match(after):
        return True
    m = _WORD_AFTER.match(after)
    if m is None:
        return False
    word = m.group(1).lower()
    if word in _COUNTED_EN:
        return True
    return (len(word) >= 3 and word.endswith("s") and not word.endswith(("ss", "us", "is"))
            and word not in _NOT_PLURAL)


def _leading_count(text: str) -> bool:
    """Whether the text starts with a number that counts things (``counts``), written
    bare ("3 monitors") or with what would otherwise be a score's unit ("3 of 5 PCs",
    "3 out of 5 printers", "2 points of failure"): then nothing in it is a score."""
    start = len(text) - len(text.lstrip())
    m = _OUT_OF.match(text, start)
    if m is not None:
        after = text[m.end():]
        of_five = _OF_FIVE.match(after)  # "4 points of 5" is a score
        return counts(after[of_five.end():] if of_five else after)
    m = _LEADING.match(text)
    return m is not None and counts(text[m.end():])


def _score(text: str) -> tuple[int, tuple[int, int]] | None:
    """The score and the span it was written in, or None (always None when the text
    starts by counting things, whatever follows: "3台电脑还是坏的，服务一般")."""
    if _leading_count(text):
        return None
    for pattern in _PATTERNS:
        m = pattern.search(text)
        if m:
            value = m.group(1)
            return (_DIGITS_ZH[value] if value in _DIGITS_ZH else int(value)), m.span()
    m = _STARS.search(text)
    if m:
        return len(m.group(1)), m.span()
    for word, value in _WORDS_ZH:
        at = text.find(word)
        if at >= 0:
            return value, (at, at + len(word))
    first = re.match(r"\s*([a-z]+)[\s.!,]*(?:\n|$)", text, re.IGNORECASE)
    if first and first.group(1).lower() in _WORDS_EN:
        return _WORDS_EN[first.group(1).lower()], first.span(1)
    return None


def parse_answer(body: str) -> Answer | None:
    """The score (1-5) and comment of a survey reply; None when it gives no score.

    The quoted survey is cut first (``core.quoting``; harmless on text already cut),
    so the question's own "1-5" is never read as the answer. A bare number at the start
    is a score when it stands alone or before punctuation, a line break or comment
    words ("4", "4 - fine", "4，好", "5!", "4 good", "5 thanks"), never when it counts
    things ("3 monitors still flicker", "3台电脑还是坏的", "3 out of 5 printers jam",
    "5 min later it crashed": ``counts``), and a reply that starts so gives no score at
    all, not even from the stars or words further on; nor is 分钟 (a minute) read as 分
    (a point), nor 星期 (a week) as 星 (a star)."""
    own = split_reply(body)[0].strip()
    text = unicodedata.normalize("NFKC", own)
    found = _score(text)
    if found is None:
        return None
    score, (start, end) = found
    if len(own) == len(text):  # the comment in the customer's own characters (，not ,)
        text = own
    rest = (text[:start].rstrip() + "\n" + text[end:].lstrip(_TRIM)).strip()
    lines = [_COMMENT_LABEL.sub("", line).strip() for line in rest.splitlines()]
    label = re.compile(rf"^\s*{_LABEL}\s*[:=：]?\s*$", re.IGNORECASE)
    comment = "\n".join(line for line in lines if line and not label.match(line))
    return Answer(score, comment.lstrip(_TRIM).rstrip(" \t\r\n-–—,，:：;；|/"))
