"""html_new_text(): HTML-only replies lose their quoted history; what is left is plain text."""

from __future__ import annotations

import pytest
from corpus import corpus_file
from hypothesis import given, settings
from hypothesis import strategies as st

from maild.core.html_quote import html_new_text, html_unquoted_text


def talon_file(name: str) -> str:
    return corpus_file(f"talon/{name}").read_text(encoding="utf-8", errors="replace")


# Every talon HTML reply answers "Hello! How are you? ... Sasha."
# with "Hi. I am fine. Thanks, Alex".
TALON_REPLIES = ["gmail", "hotmail", "mail_ru", "ms_outlook_2003", "ms_outlook_2007",
                 "ms_outlook_2010", "thunderbird", "windows_mail", "yandex_ru"]


@pytest.mark.parametrize("name", TALON_REPLIES)
def test_talon_html_replies(name: str) -> None:
    """The reply is kept word for word; the quoted message and its header are gone."""
    new = html_new_text(talon_file(f"html_replies/{name}.html"))
    assert " ".join(new.split()) == "Hi. I am fine. Thanks, Alex"
    for quoted in ("Hello", "How are you", "Sasha", "wrote", "From:", "Subject", "От:"):
        assert quoted not in new


def test_talon_reply_separated_by_hr() -> None:
    new = html_new_text(talon_file("reply-separated-by-hr.html"))
    assert new.split() == ["Hi", "there", "Bob"]


GMAIL_EN = ('<div dir="ltr">Printer fixed &amp; tested.<br>Please confirm.</div><br>'
            '<div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Fri, Jan 2, 2026 at '
            '10:00 AM Help Desk &lt;<a href="mailto:h@corp.example">h@corp.example</a>&gt; wrote:'
            '<br></div><blockquote class="gmail_quote" style="margin:0 0 0 .8ex">#resolve done'
            '</blockquote></div>')
GMAIL_ZH = ('<div dir="ltr">打印机已修好。</div><br><div class="gmail_quote">'
            '<div class="gmail_attr">工程师 &lt;e@corp.example&gt; '
            '于2026年1月2日周五 10:00写道：</div>'
            '<blockquote class="gmail_quote">#resolve 已修复</blockquote></div>')
OUTLOOK_EN = ('<html><head><style>p {margin:0}</style></head><body><div>'
              '<p class="MsoNormal">Still broken.<o:p></o:p></p></div>'
              '<div id="appendonsend"></div><hr style="display:inline-block;width:98%">'
              '<div id="divRplyFwdMsg" dir="ltr"><b>From:</b> Help Desk<br><b>Sent:</b> Friday'
              '<br><b>Subject:</b> RE: [Case #12]</div><div>#resolve done</div></body></html>')
OUTLOOK_BORDER_ZH = ('<div class="WordSection1"><p>还是坏的。</p>'
                     '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm">'
                     '<p><b>发件人:</b> 工程师<br><b>发送时间:</b> 2026年1月2日 10:00</p></div>'
                     '<p>#resolve 已修复</p></div>')
QQ_ZH = ('<div>收到，谢谢！</div><div><br></div><div style="font-size: 12px;font-family: Arial '
         'Narrow;padding:2px 0 2px 0;">------------------&nbsp;原始邮件&nbsp;------------------'
         '</div><div style="font-size: 12px;background:#efefef;padding:8px;"><div><b>发件人:</b>'
         '&nbsp;"工程师"&lt;e@corp.example&gt;;</div><div><b>发送时间:</b>&nbsp;2026年1月2日</div>'
         '</div><div>#resolve 已修复</div>')
NETEASE_ZH = ('<div>好的</div><div style="position:relative;zoom:1"></div><div>在 2026-01-02 '
              '10:00:00，"张三" &lt;a@corp.example&gt; 写道：</div><blockquote id="isReplyContent" '
              'style="PADDING-LEFT: 1ex">#resolve 已修复</blockquote>')
THUNDERBIRD_EN = ('<body>Works now.<br><div class="moz-cite-prefix">On 02/01/2026 10:00, Help Desk'
                  ' wrote:<br></div><blockquote type="cite">#resolve done</blockquote></body>')
YAHOO_EN = ('<div>Works now.</div><div class="yahoo_quoted"><div>On Friday, Help Desk wrote:'
            '</div><div>#resolve done</div></div>')
OWA_EN = ('<div>Works now.</div><div id="mail-editor-reference-message-container"><div>From: '
          'Help Desk</div><div>#resolve done</div></div>')
BOTTOM_POSTED = ('<blockquote type="cite">Did the reset work? #resolve if so</blockquote>'
                 '<p>No, still broken.</p><script>var x = "#resolve";</script>'
                 '<style>.a{}</style><p>Error E-17.</p>')


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        (GMAIL_EN, "Printer fixed & tested.\nPlease confirm."),
        (GMAIL_ZH, "打印机已修好。"),
        (OUTLOOK_EN, "Still broken."),
        (OUTLOOK_BORDER_ZH, "还是坏的。"),
        (QQ_ZH, "收到，谢谢！"),
        (NETEASE_ZH, "好的"),
        (THUNDERBIRD_EN, "Works now."),
        (YAHOO_EN, "Works now."),
        (OWA_EN, "Works now."),
        (BOTTOM_POSTED, "No, still broken.\n\nError E-17."),
    ],
    ids=["gmail-en", "gmail-zh", "outlook-en", "outlook-border-zh", "qq-zh", "netease-zh",
         "thunderbird-en", "yahoo-en", "owa-en", "bottom-posted"],
)
def test_hand_written_clients(html: str, expected: str) -> None:
    """Gmail, Outlook, QQ, NetEase, Thunderbird, Yahoo in English and Chinese."""
    new = html_new_text(html)
    assert new == expected
    assert "#resolve" not in new


def test_text_conversion() -> None:
    """Entities decode, whitespace collapses outside <pre>, blocks and <br> end lines."""
    html = "<p>a&nbsp;&lt;b&gt;\n   c</p><ul><li>one</li><li>two</li></ul><pre>x  y</pre>"
    assert html_unquoted_text(html) == "a <b> c\n\none\n\ntwo\n\nx  y"


@pytest.mark.parametrize(
    "html",
    ["", "<", "<div", "</blockquote>", "<blockquote>unclosed #resolve", "<![endif]-->",
     "<!--", "<p>a</div></span>b", "&#xffffffff; &bogus; &#0;", "<a href='x>y</a>",
     "<blockquote><div></blockquote>after", "<hr id=stopSpelling/>x", "\x00<\x00>"],
)
def test_malformed_html(html: str) -> None:
    """Broken markup never raises; an unclosed quote hides what it holds."""
    new = html_new_text(html)
    assert "#resolve" not in new


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>/=\"' &#;!-[]abdivqtecolsryp原始邮件\n")) |
               st.characters(), max_size=300))
def test_never_raises_on_random_text(html: str) -> None:
    """Any text at all: a string comes back, no exception."""
    assert isinstance(html_new_text(html), str)
