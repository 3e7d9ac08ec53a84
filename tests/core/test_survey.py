"""The follow-up survey: deterministic sampling, and a score and comment from any reply."""

from __future__ import annotations

import pytest

from maild.core.survey import Answer, chosen, parse_answer, sampled

SECRET = "test-secret-0123456789abcdef"


def test_sampling_is_deterministic_and_near_the_share() -> None:
    picks = [sampled(n, SECRET, 0.2) for n in range(1, 5001)]
    assert picks == [sampled(n, SECRET, 0.2) for n in range(1, 5001)]  # same case, same answer
    assert 900 <= sum(picks) <= 1100
    assert picks != [sampled(n, "another-secret-0123456789", 0.2) for n in range(1, 5001)]
    assert not any(sampled(n, SECRET, 0.0) for n in range(100))
    assert all(sampled(n, SECRET, 1.0) for n in range(100))
    # a larger share keeps every case a smaller one picked
    assert all(sampled(n, SECRET, 0.5) for n in range(1, 5001) if picks[n - 1])


@pytest.mark.parametrize(("complained", "vip", "ask_vips", "reason"), [
    (True, False, False, "complaint"), (False, True, True, "vip"), (False, True, False, None),
    (False, False, True, None),
])
def test_chosen(complained: bool, vip: bool, ask_vips: bool, reason: str | None) -> None:
    assert chosen(7, SECRET, 0.0, vip=vip, ask_vips=ask_vips, complained=complained) == reason


QUOTED_SURVEY = "How satisfied are you? Please reply with a score from 1 to 5"

OUTLOOK = f"""4 - quick fix, thank you

________________________________
From: IT Helpdesk <helpdesk@corp.example>
Sent: Tuesday, December 1, 2026 10:00 AM
To: Zhang San <zhang.san@sh.corp.example>
Subject: [Case #7] How did we do?

{QUOTED_SURVEY}
"""
GMAIL = f"""5

Great service!

On Tue, Dec 1, 2026 at 10:00 AM IT Helpdesk <helpdesk@corp.example> wrote:
> {QUOTED_SURVEY}
> (5 = very satisfied, 1 = very dissatisfied)
"""
FOXMAIL = """2分，工程师迟到了一个多小时

------------------ 原始邮件 ------------------
发件人: "IT Helpdesk"<helpdesk@corp.example>;
发送时间: 2026年12月1日(星期二) 上午10:00
收件人: "张三"<zhang.san@sh.corp.example>;
主题: [Case #7] 【服务回访】打印机卡纸

请在第一行写 1 到 5 分
"""
NETEASE = """评分：3
意见：还可以，就是响应有点慢

在 2026-12-01 10:00:00，"IT Helpdesk" <helpdesk@corp.example> 写道：
>请在第一行写 1 到 5 分（5 分非常满意）
"""


@pytest.mark.parametrize(("body", "answer"), [
    ("5", Answer(5, "")),
    ("4分", Answer(4, "")),
    ("４分 很好", Answer(4, "很好")),  # full-width digit
    ("五星", Answer(5, "")),
    ("三分，一般般", Answer(3, "一般般")),
    ("非常满意！", Answer(5, "")),
    ("不满意，修了三次才好", Answer(2, "修了三次才好")),
    ("Score: 2\nComment: the engineer never called back",
     Answer(2, "the engineer never called back")),
    ("I'd give it 4/5, fast but noisy", Answer(4, "I'd give it\nfast but noisy")),
    ("3 stars", Answer(3, "")),
    ("★★★★☆ nice", Answer(4, "☆ nice")),
    ("excellent", Answer(5, "")),
    ("1\n\nNobody came.", Answer(1, "Nobody came.")),
    (OUTLOOK, Answer(4, "quick fix, thank you")),
    (GMAIL, Answer(5, "Great service!")),
    (FOXMAIL, Answer(2, "工程师迟到了一个多小时")),
    (NETEASE, Answer(3, "还可以，就是响应有点慢")),
    # a leading digit on its own, or before words that do not count things, is a score
    ("4", Answer(4, "")),
    ("4 - fine", Answer(4, "fine")),
    ("4，好", Answer(4, "好")),
    ("5!", Answer(5, "")),
    ("4\nthanks", Answer(4, "thanks")),
    ("4 good", Answer(4, "good")),
    ("5 thanks", Answer(5, "thanks")),
    ("5 thanks!!", Answer(5, "thanks!!")),
    ("4 is fine, a bit slow", Answer(4, "is fine, a bit slow")),
    ("5 yes", Answer(5, "yes")),
    ("3 分，还行", Answer(3, "还行")),
    ("4 很好", Answer(4, "很好")),
    ("5 works great now", Answer(5, "works great now")),
    ("3 of 5", Answer(3, "")),
    ("4 out of 5, thanks", Answer(4, "thanks")),
])
def test_parse_answer(body: str, answer: Answer) -> None:
    assert parse_answer(body) == answer


@pytest.mark.parametrize("body", [
    "", "thanks!", "Case 12 is fine", "2026-12-01 works for me", "see you at 10:30",
    "The printer on floor 6 jams", f"\n\nOn Tue wrote:\n> {QUOTED_SURVEY}\n",
])
def test_no_score(body: str) -> None:
    assert parse_answer(body) is None


@pytest.mark.parametrize("body", [
    "3 monitors still flicker", "2 PCs still broken", "2 printers jam again",
    "3 people cannot log in", "2 more laptops are slow", "4 days and nothing happened",
    "3台电脑还是坏的", "2 个显示器还在闪", "3次了，还是不行", "5楼的打印机又卡纸",
    "3分钟就断一次网", "三分钟就断一次网", "2星期了还没修好",
    # counted with what is otherwise a score's unit, or a unit written short
    "3 out of 5 printers jam again", "3 of 5 PCs still broken", "2 points of failure remain",
    "5 min later it crashed again", "3 h no network", "2 hr without mail", "2钟头没网",
    # a reply that starts by counting gives no score, not even from a word further on
    "3台电脑还是坏的，服务一般", "2 printers jam again, ★★★★★ for the engineer though",
])
def test_a_count_is_not_a_score(body: str) -> None:
    """A reply that starts with how many things are broken is a new report, not a score:
    read as a score it would be filed as a survey comment that no engineer reads."""
    assert parse_answer(body) is None
