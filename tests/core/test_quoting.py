"""split_reply(): new text vs. quoted history and signature; quoted tags never act."""

from __future__ import annotations

import csv

import pytest
from complexity import assert_linear
from corpus import corpus_dir, corpus_file, is_full
from hypothesis import given, settings
from hypothesis import strategies as st

from maild.core.quoting import split_reply

NEW = "#inprogress waiting for parts\nWill report tomorrow."

# (style, quoted tail): each tail carries a #resolve that must not reach new_text.
QUOTE_STYLES = [
    ("gt-quote", "> #resolve replaced the toner\n> thanks"),
    ("gt-quote-then-blank", "\n>#resolve done\n>\n\n"),
    ("outlook-original", "-----Original Message-----\nFrom: Eng\n#resolve done"),
    ("outlook-original-spaced", "----- original message -----\n#resolve done"),
    ("outlook-header-block", "From: Help Desk <helpdesk@corp.example>\nSent: Monday\n"
                             "To: me\nSubject: Re: [Case #12]\n\n#resolve done"),
    ("outlook-underscore-block", "________________________________\nFrom: Eng <e@x>\n"
                                 "Date: x\nSent: Tuesday\n#resolve done"),
    ("outlook-bold-block", "*From:* Eng\n*Sent:* Tuesday\n#resolve done"),
    ("gmail-wrote", "On Tue, Jan 2, 2024 at 10:00 AM Eng <e@corp.example> wrote:\n> #resolve"),
    ("gmail-wrote-wrapped", "On Tue, Jan 2, 2024 at 10:00 AM Very Long Name <\n"
                            "e@corp.example> wrote:\n\n> #resolve done"),
    ("wrote-no-quote-marks", "On Tue, Jan 2, 2024, Eng wrote:\n#resolve done"),
    ("bare-wrote-before-quote", "Eng <e@corp.example> wrote:\n> #resolve done"),
    ("signature", "-- \nJohn Engineer\n#resolve in signature"),
    ("signature-no-space", "--\nJohn\n#resolve"),
    ("iphone", "Sent from my iPhone\n\n> #resolve done"),
    ("outlook-mobile", "Get Outlook for iOS<https://aka.ms/o0ukef>\n#resolve"),
    ("zh-original", "-----原始邮件-----\n发件人: 工程师\n#resolve 已修复"),
    ("zh-qq-original", "------------------ 原始邮件 ------------------\n"
                       "发件人: \"工程师\"<e@corp.example>;\n#resolve 已修复"),
    ("zh-outlook-block", "发件人: 工程师 <e@corp.example>\n发送时间: 2024年1月2日 10:00\n"
                         "收件人: 我\n主题: 回复: [Case #12]\n\n#resolve 已修复"),
    ("zh-wrote", "在 2024年1月2日 10:00，工程师 <e@corp.example> 写道：\n> #resolve 已修复"),
    ("zh-wrote-wrapped", "在 2024年1月2日 10:00，工程师 <e@corp.example>\n写道:\n> #resolve"),
    ("zh-gmail-wrote", "工程师 <e@corp.example> 于2024年1月2日周二 10:00写道：\n\n> #resolve"),
    ("zh-iphone", "发自我的iPhone\n\n#resolve 已修复"),
    ("zh-huawei", "发自我的华为手机\n#resolve 已修复"),
]


@pytest.mark.parametrize(("style", "tail"), QUOTE_STYLES, ids=[s for s, _ in QUOTE_STYLES])
def test_quoted_resolve_never_reaches_new_text(style: str, tail: str) -> None:
    """Every reply-header, quote, signature and footer style ends the new text."""
    new, rest = split_reply(f"{NEW}\n\n{tail}")
    assert new == NEW
    assert "#resolve" not in new
    assert "#resolve" in rest


def test_inline_reply_keeps_answers_and_drops_quotes() -> None:
    """Bottom-posted / inline answers stay new text; the quoted lines between them leave it."""
    text = ("On Mon, Jan 1, 2024, Customer <c@x.example> wrote:\n"
            "> Is it fixed? #resolve please\n\n"
            "#inprogress ordered a part\n\n"
            "> When?\n\n"
            "Friday.\n")
    new, rest = split_reply(text)
    assert new == "#inprogress ordered a part\n\n\nFriday."
    assert "#resolve please" in rest and "wrote:" in rest


@pytest.mark.parametrize(
    "text",
    [
        "On the surface this looks like a header.\nOn average it is not.",
        "The data comes From: our database\nSent: yesterday",
        "This was sent from my iPhone app to all users.",
        "Here is a list:\n----\n1. a\n----\n====",
        "Quoting code: a > b and x -> y",
        "I wrote: something, on a wall",
        "来自我的同事的建议：重启一下",
    ],
)
def test_lookalikes_are_not_cut(text: str) -> None:
    """Prose that merely resembles a reply header is new text."""
    assert split_reply(text) == (text, "")


def test_trailing_whitespace_stripped_and_crlf_accepted() -> None:
    """new_text loses trailing blanks; CRLF input splits like LF."""
    assert split_reply("Done #resolve   \r\n\r\n-- \r\nsig\r\n") == ("Done #resolve", "-- \nsig\n")


def test_no_new_text_at_all() -> None:
    """A body that is all quote gives empty new text."""
    assert split_reply("> only quoted\n> #resolve") == ("", "> only quoted\n> #resolve")


def test_long_quote() -> None:
    """The 767 KB quote from github/email_reply_parser splits right (its speed is in
    benchmarks/reply_accuracy.py); long quotes cost linear time."""
    text = corpus_file("github-email_reply_parser/email_long_quote.txt").read_text(
        encoding="utf-8", errors="replace")
    new, rest = split_reply(text)
    assert new.startswith("Hi folks") and len(rest) > 50_000
    assert_linear(split_reply, lambda n: "Hi\n\nOn Mon, X wrote:\n" + "> quoted\n" * n, 20_000)


@pytest.mark.parametrize("unit, n", [
    ("> q\ntext\n", 3_000),  # alternating quotes and text
    ("From: x\n", 5_000),  # stacked header look-alikes
    ("On x\n\n", 5_000),  # stacked attribution starts
    ("x", 400_000),  # one endless line
])
def test_pathological_bodies_are_linear(unit: str, n: int) -> None:
    """Hostile bodies cost linear time (no backtracking blow-up)."""
    assert_linear(split_reply, lambda k: unit * k, n)


def test_corpus_chinese_reply() -> None:
    """discourse's embedded Chinese reply: the "在 … 写道：" quote is cut."""
    text = corpus_file("discourse-email_reply_trimmer/emails/embedded_email_chinese.txt"
                       ).read_text(encoding="utf-8")
    new, rest = split_reply(text)
    assert new == "Hi Erlend Sogge Heggen,\nThank you for your reply."
    assert "写道" in rest


def test_every_corpus_body_splits() -> None:
    """Every body and html-body fixture splits without error into lines of the input."""
    root = corpus_dir()
    with (root / "INDEX.tsv").open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if r["kind"] in ("body", "html-body")]
    for row in rows:
        text = (root / row["path"]).read_bytes().decode("utf-8", "replace")
        new, _ = split_reply(text)
        normalised = text.replace("\r\n", "\n").replace("\r", "\n")
        assert all(line in normalised for line in new.split("\n")), row["path"]
    assert len(rows) > (200 if is_full() else 100)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("> -\n\r\t写道：在发件人:Sent:From:wrote:On x#")) |
               st.characters(), max_size=400))
def test_never_raises_and_new_text_comes_from_the_input(text: str) -> None:
    """On any text: no exception, and every new-text line is a line of the input."""
    new, rest = split_reply(text)
    lines = set(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    assert all(line in lines or line.rstrip() in {x.rstrip() for x in lines}
               for line in new.split("\n") if line)
    assert isinstance(rest, str)


# (client format, whole body, exact new text): each body quotes a #resolve that must not act.
CLIENT_FORMATS = [
    ("gmail-en", "Printer fixed, please confirm.\n\nOn Fri, Jan 2, 2026 at 10:00 AM Help Desk "
                 "<helpdesk@corp.example> wrote:\n\n> #resolve done\n> Thanks\n",
     "Printer fixed, please confirm."),
    ("gmail-zh", "打印机已修好，请确认。\n\n"
                 "工程师 <e@corp.example> 于2026年1月2日周五 10:00写道：\n\n"
                 "> #resolve 已修复\n", "打印机已修好，请确认。"),
    ("gmail-iso-date", "Still broken.\n\n2026-01-02 10:00 GMT+08:00 Help Desk <\n"
                       "helpdesk@corp.example>:\n\n> #resolve done\n", "Still broken."),
    ("outlook-original-en", "Still broken.\n\n-----Original Message-----\nFrom: Help Desk\n"
                            "Sent: Friday, January 2, 2026 10:00 AM\n#resolve done\n",
     "Still broken."),
    ("outlook-original-zh", "还是坏的。\n\n-----原始邮件-----\n发件人: 工程师\n#resolve 已修复\n",
     "还是坏的。"),
    ("outlook-block-en", "Still broken.\n\n________________________________\n"
                         "From: Help Desk <helpdesk@corp.example>\nSent: Friday, January 2, 2026 "
                         "10:00 AM\nTo: Me <me@corp.example>\nSubject: RE: [Case #12] Printer\n\n"
                         "#resolve done\n", "Still broken."),
    ("outlook-block-zh", "还是坏的。\n\n________________________________\n"
                         "发件人: 工程师 <e@corp.example>\n发送时间: 2026年1月2日 10:00\n"
                         "收件人: 我 <me@corp.example>\n主题: 回复: [Case #12] 打印机\n\n"
                         "#resolve 已修复\n", "还是坏的。"),
    ("outlook-block-de", "Geht noch nicht.\n\nVon: Help Desk <helpdesk@corp.example>\n"
                         "Gesendet: Freitag, 2. Januar 2026 10:00\nAn: Ich\n"
                         "Betreff: AW: Drucker\n\n"
                         "#resolve erledigt\n", "Geht noch nicht."),
    ("outlook-block-fr", "Toujours en panne.\n\nDe : Help Desk <helpdesk@corp.example>\n"
                         "Envoyé : vendredi 2 janvier 2026 10:00\nÀ : Moi\n"
                         "Objet : RE: Imprimante\n\n"
                         "#resolve fait\n", "Toujours en panne."),
    ("foxmail-qq-zh", "收到，谢谢。\n\n\n------------------ 原始邮件 ------------------\n"
                      "发件人: \"工程师\"<e@corp.example>;\n"
                      "发送时间: 2026年1月2日(星期五) 上午10:00\n"
                      "收件人: \"我\"<me@corp.example>;\n主题: [Case #12]\n\n#resolve 已修复\n",
     "收到，谢谢。"),
    ("netease-163-reply-zh", "好的。\n\n\n\n\n---- 回复的原邮件 ----\n"
                             "| 发件人 | 工程师<e@corp.example> |\n"
                             "| 日期 | 2026年01月02日 10:00 |\n#resolve 已修复\n", "好的。"),
    ("netease-163-wrote-zh", "好的。\n\n在 2026-01-02 10:00:00，\"张三\" <a@corp.example> 写道：\n"
                             "#resolve 已修复\n", "好的。"),
    ("apple-mail-en", "Works now.\n\n> On 2 Jan 2026, at 10:00, Help Desk <helpdesk@corp.example> "
                      "wrote:\n>\n> #resolve done\n", "Works now."),
    ("apple-mail-zh", "好了。\n\n> 2026年1月2日 10:00，工程师 <e@corp.example> 写道：\n>\n"
                      "> #resolve 已修复\n", "好了。"),
    ("thunderbird-en", "Works now.\n\nOn 02/01/2026 10:00, Help Desk wrote:\n> #resolve done\n",
     "Works now."),
    ("thunderbird-zh", "好了。\n\n在 2026/1/2 10:00, 工程师 写道:\n> #resolve 已修复\n", "好了。"),
    ("iphone-en", "Works now.\n\nSent from my iPhone\n\n> On Jan 2, 2026, at 10:00, Help Desk "
                  "<helpdesk@corp.example> wrote:\n> #resolve done\n", "Works now."),
    ("iphone-zh", "好了。\n\n发自我的iPhone\n\n------------------ 原始邮件 ------------------\n"
                  "#resolve 已修复\n", "好了。"),
    ("inline-bottom-en", "On Fri, Jan 2, 2026, Help Desk <helpdesk@corp.example> wrote:\n"
                         "> Did the reset work? #resolve if so\n\nNo, still broken.\n\n"
                         "> Error code?\n\nE-17.\n", "No, still broken.\n\n\nE-17."),
    ("inline-bottom-zh", "在 2026年1月2日 10:00，工程师 <e@corp.example> 写道：\n"
                         "> 重启有用吗？#resolve\n\n没有用。\n", "没有用。"),
    ("forward-en", "FYI.\n\n---------- Forwarded message ---------\nFrom: Help Desk "
                   "<helpdesk@corp.example>\nDate: Fri, Jan 2, 2026\n\n#resolve done\n", "FYI."),
    ("forward-apple-en", "FYI.\n\nBegin forwarded message:\n\n#resolve done\n", "FYI."),
    ("french-wrapped", "C'est réparé.\nLe 2 janv. 2026 10:00, \"Help Desk\"\n"
                       "<helpdesk@corp.example>"
                       "\na écrit :\n\n> #resolve fait\n", "C'est réparé."),
    ("german-am-schrieb", "Geht.\n\nAm 02.01.2026 um 10:00 schrieb Help Desk "
                          "<helpdesk@corp.example>:\n#resolve erledigt\n", "Geht."),
    ("spanish-el-escribio", "Listo.\n\nEl vie, 2 ene 2026 a las 10:00, Help Desk "
                            "(<helpdesk@corp.example>) escribió:\n#resolve hecho\n", "Listo."),
    ("russian-napisal", "Готово.\n\n2 янв. 2026 г. 10:00 пользователь \"Help Desk\" <\n"
                        "helpdesk@corp.example> написал:\n#resolve\n", "Готово."),
    ("traditional-chinese", "好了。\n\n"
                            "工程師 <e@corp.example> 於 2026年1月2日 週五 上午10:00 寫道：\n"
                            "#resolve 已修復\n", "好了。"),
    ("japanese-no-message", "直りました。\n\n2026/01/02 10:00、ヘルプデスク <helpdesk@corp.example>"
                            "のメッセージ:\n#resolve\n", "直りました。"),
    ("signature-decoration", "Done.\nᐧ\n--\nJohn\n#resolve\n", "Done."),
    ("outlook-mobile-footer", "Thanks.\n\nSent from Outlook Mobile<https://aka.ms/x>\n\n#resolve\n",
     "Thanks."),
]


@pytest.mark.parametrize(("client", "body", "expected"), CLIENT_FORMATS,
                         ids=[c for c, _, _ in CLIENT_FORMATS])
def test_client_quote_formats(client: str, body: str, expected: str) -> None:
    """Each client's quote format: the new text exactly, and the quoted #resolve left out."""
    new, rest = split_reply(body)
    assert new == expected
    assert "#resolve" not in new
    assert "#resolve" in rest


@pytest.mark.parametrize(
    "text",
    [
        "Meeting at 10:00 tomorrow.\nBring the laptop.",
        "From: the 3rd floor\nTo be honest it is fine.",
        "On 2 printers the toner is low.\nPlease order more.",
        "Sent the logs yesterday.\nSee you.",
        "Please reply to bob@corp.example:\nhe knows the password.",
    ],
)
def test_more_lookalikes_are_not_cut(text: str) -> None:
    """Dates, addresses and header words in prose do not end the new text."""
    assert split_reply(text) == (text, "")


def test_corpus_discourse_accuracy_floor() -> None:
    """The benchmark's fixtures with expected outputs: at least 55 of 66 right."""
    root = corpus_dir() / "discourse-email_reply_trimmer"

    def norm(text: str) -> str:
        return "\n".join(line.strip() for line in text.splitlines() if line.strip())

    pairs = [(src, root / "trimmed" / src.name) for src in sorted((root / "emails").glob("*.txt"))]
    ok = sum(norm(split_reply(src.read_text(encoding="utf-8", errors="replace"))[0])
             == norm(want.read_text(encoding="utf-8", errors="replace"))
             for src, want in pairs if want.exists())
    assert ok >= 55
