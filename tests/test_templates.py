"""The notification templates (templates/{en,zh}/) render safely and completely."""

from __future__ import annotations

import copy
import unicodedata
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jinja2
import pytest
from markupsafe import escape

from maild.templating import TEMPLATE_NAMES, make_env

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
LANGS = ("en", "zh")
NO_CASE = ("hold", "rejected_sender", "failed_alert", "help", "phone_missing", "search_results",
           "report", "outbox_failed", "staff_unproven", "address_changed", "flood_alert",
           "caller_ambiguous", "workload", "complaint_summary", "problem", "problem_result")
CASE_TEMPLATES = tuple(n for n in TEMPLATE_NAMES if n not in NO_CASE)
STATUSES = ("new", "dispatched", "in_progress", "resolved", "closed", "invalid")
LABELS = {
    "en": ("New", "Dispatched", "In progress", "Resolved", "Closed", "Invalid"),
    "zh": ("新建", "已派单", "处理中", "已解决", "已关闭", "无效"),
}
ALL_TAGS = ("#inprogress", "#resolve", "#log", "#reply", "#assign", "#priority", "#type",
            "#kind", "#reject", "#escalate", "#reopen", "#close", "#invalid", "#kb",
            "#complaint", "#category", "#complaint-close", "#problem", "#undo", "#visit",
            "#arrived", "#search", "#mine", "#queue", "#help")
SUPERVISOR_ONLY = ("#complaint-close",)

SCRIPT = "<script>alert(1)</script>"
DESCRIPTION = (
    f"打印机卡纸，无法打印。\nThe printer jams on every page.\n{SCRIPT}\n\nTried & failed."
)
NOTE = f"等待备件 / waiting for parts\n{SCRIPT} second line"
RESOLUTION = "更换了硒鼓。\nReplaced the toner."

# What each template shows of the free text, so the test knows what to look for.
SHOWS_DESCRIPTION = {"ack", "dispatch", "unassigned", "escalation", "sla_breach"}
SHOWS_NOTE = {"dispatch", "status", "closed", "customer_reply", "staff_reply", "unassigned",
              "reopened", "rejected_sender", "reassigned", "escalation", "phone_missing"}
SHOWS_RESOLUTION = {"resolved", "closed", "reopened"}
SHOWS_TAG_TABLE = {"dispatch", "transcript", "help"}


def sample_context(name: str = "ack") -> dict[str, Any]:
    """A full context as the renderer passes it (every key present)."""
    case = {
        "id": 7,
        "subject": "Printer jams 打印机卡纸",
        "status": "in_progress",
        "priority": "P2",
        "type": "printer",
        "description": DESCRIPTION,
        "resolution": RESOLUTION,
        "rating": 4,
        "channel": "email",
        "customer_name": "张三",
        "customer_email": "zhang.san@sh.corp.example",
        "customer_phone": "+86 21 5555 0101",
        "customer_company": "上海分公司",
        "customer_employee_id": "E1234",
        "engineer_name": "Li Lei",
        "engineer_email": "li.lei@corp.example",
        "site_name": "Shanghai Branch",
        "kind": "request", "type_description": "Printer, copier or scanner fault",
        "line": 3 if name in ("vendor_case", "dispatch", "passed_on") else 1,
        "line_name": "PrintCo <vendor> 打印机厂商",
        "follows": {"id": 3, "subject": f"Old {SCRIPT}", "resolution": RESOLUTION}
        if name in ("ack", "dispatch") else None,
        "created_at": datetime(2026, 11, 22, 8, 0),
        "complaint": {"id": 2, "category": "timeliness", "text": f"迟到两小时 {SCRIPT}",
                      "status": "open", "outcome": None, "author": "zhang.san@sh.corp.example"},
        "survey": {"score": 2, "comment": f"too slow {SCRIPT}"},
        "log": [
            {"at": datetime(2026, 11, 22, 8, 5), "author": "Li Lei", "kind": "note",
             "text": "called the user\n已电话联系用户"},
        ],
    }
    return {
        "helpdesk": {"name": "IT Helpdesk", "address": "helpdesk@corp.example",
                     "personal": "helpdesk+s-abcdefghijklmnop@corp.example"},
        "tag": "Case",
        "case": None if name in NO_CASE else case,
        "recipient_name": "张三",
        "actor": "Li Lei",
        "note": NOTE,
        "auto_close_days": 3,
        "error": None,
        "role": "engineer" if name == "help" else None,
        "transcript": sample_transcript() if name in ("transcript", "problem_result") else None,
        "disregard": f"[Case #7] Resolved {SCRIPT}" if name == "undone" else None,
        "used_tags": "#resolve, #close" if name == "customer_tag" else None,
        "held": {"subject": "鼠标坏了 mouse broken", "expires_hours": 48}
        if name == "hold" else None,
        "failed": {"message_id": "<abc@mail.example>", "from": "someone@mail.example",
                   "subject": "Help!", "reason": "UnicodeDecodeError\nbad charset"}
        if name == "failed_alert" else None,
        "sla": {"target": "resolution", "due": datetime(2026, 11, 23, 17, 30), "kind": "warn",
                "vendor": None} if name.startswith("sla_") else None,
        "query": "打印机 toner" if name == "search_results" else None,
        "results": [
            {"id": 3, "subject": "Toner empty 硒鼓没粉", "resolution": RESOLUTION, "kb": True,
             "resolved_at": datetime(2026, 10, 9, 15, 0), "engineer_name": "Li Lei"},
            {"id": 12, "subject": "打印机卡纸", "resolution": None, "kb": False,
             "resolved_at": None, "engineer_name": None},
        ] if name == "search_results" else None,
        "missing": ["Description", "Employee or Name"] if name == "phone_missing" else None,
        "undelivered": {"count": 3, "more": 1, "items": [
            {"id": 12, "to": "用户@例子.广告", "template": "hold", "subject": "鼠标坏了",
             "reason": "not sendable: no SMTPUTF8"},
            {"id": 14, "to": "josé@sh.corp.example", "template": "ack", "subject": "Hola",
             "reason": "550 5.1.1 no such user"}]} if name == "outbox_failed" else None,
        "unproven": {"subject": f"Call {SCRIPT}", "what": "a phone summary",
                     "personal": "helpdesk+s-abcdefghijklmnop@corp.example"}
        if name == "staff_unproven" else None,
        "changed": {"old": "old@corp.example", "new": f"new{SCRIPT}@corp.example",
                    "by": "Call Centre"} if name == "address_changed" else None,
        "flood": {"sender": f"bot{SCRIPT}@evil.example", "limit": 30}
        if name == "flood_alert" else None,
        "problem": sample_problem(name) if name.startswith("problem") else None,
        "problems": [{"id": 3, "title": f"VPN {SCRIPT}", "status": "known_error",
                      "workaround": "重新连接 / reconnect", "root_cause": None},
                     {"id": 4, "title": "Printer", "status": "resolved", "workaround": None,
                      "root_cause": RESOLUTION}] if name == "search_results" else None,
        "mine": [7] if name == "problem" else None,
        "candidates": {"by": "phone", "people": [
            {"name": "王芳", "employee_id": "E1001", "company": "上海分公司",
             "phone": "021-5555 0101", "email": "wang.fang@sh.corp.example"},
            {"name": f"Wang {SCRIPT}", "employee_id": None, "company": None, "phone": None,
             "email": None}]} if name == "caller_ambiguous" else None,
        "workload": sample_workload() if name == "workload" else None,
        "visit": {"start": datetime(2026, 12, 2, 14, 0), "end": datetime(2026, 12, 2, 15, 0),
                  "note": f"bring a toner {SCRIPT}"} if name.startswith("visit") else None,
        **(sample_report() if name == "report" else {}),
        "summary": sample_summary() if name == "complaint_summary" else None,
    }


def sample_summary() -> dict[str, Any]:
    """The supervisors' monthly complaint summary, as ``service.summary`` builds it."""
    return {
        "label": "2026-11", "span": ("2026-11-01 00:00 UTC+08:00", "2026-12-01 00:00 UTC+08:00"),
        "opened": 3, "closed": 2, "open_now": 1, "surveys": 5, "answered": 4, "mean": 3.5,
        "by_category": [("timeliness", 2), ("attitude", 1)],
        "engineers": [
            {"name": "Li Lei", "complaints": 2, "surveys": 3, "answered": 2, "mean": 2.5},
            {"name": f"韩梅梅 {SCRIPT}", "complaints": 1, "surveys": 2, "answered": 2,
             "mean": None},
        ],
        "open": [{"case_id": 7, "subject": f"打印机 {SCRIPT}", "category": "timeliness",
                  "engineer": "Li Lei",
                  "created_at": datetime(2026, 11, 22, 8, 0), "text": f"迟到两小时 {SCRIPT}"}],
        "low": [{"case_id": 9, "score": 1, "engineer": "Li Lei",
                 "comment": f"never came {SCRIPT}"}],
    }


def sample_problem(name: str) -> dict[str, Any]:
    """A known error with two linked cases, one of them resolved by ``#resolve-linked``."""
    return {
        "id": 3, "title": f"VPN drops hourly {SCRIPT}", "status": "resolved", "event": "resolved",
        "workaround": f"重新连接 / reconnect\n{SCRIPT}", "root_cause": RESOLUTION,
        "opened_by": "Li Lei", "created_at": datetime(2026, 11, 22, 8, 0), "resolved": [7],
        "cases": [{"id": 7, "subject": f"VPN 断线 {SCRIPT}", "status": "resolved",
                   "engineer_email": "li.lei@corp.example", "engineer_name": "Li Lei"},
                  {"id": 9, "subject": "VPN", "status": "new", "engineer_email": None,
                   "engineer_name": None}],
    }


def sample_workload() -> dict[str, Any]:
    """A #mine answer: one case on time, one overdue."""
    return {"kind": "mine", "sites": ["Shanghai Branch"], "more": 2, "cases": [
        {"id": 7, "status": "in_progress", "priority": "P2", "age": "3d 4h",
         "due": datetime(2026, 12, 2, 17, 0), "overdue": False,
         "subject": f"Printer jams 打印机卡纸 {SCRIPT}"},
        {"id": 12, "status": "dispatched", "priority": "P4", "age": "45m", "due": None,
         "overdue": True, "subject": "VPN"}]}


def sample_transcript() -> dict[str, Any]:
    """A refused mail's transcript: one line of each verdict, one mail sent."""
    return {
        "applied": False, "undo_minutes": 15, "customer_told": True,
        "lines": [
            {"number": 1, "text": "#inprogress", "verdict": "skipped", "reason": None,
             "reason_zh": None,
             "suggestion": None},
            {"number": 2, "text": "#resolv fixed it", "verdict": "unknown", "reason": None,
             "reason_zh": None,
             "suggestion": "resolve"},
            {"number": 3, "text": f"#assign {SCRIPT}", "verdict": "refused",
             "reason": f"#assign: no engineer called {SCRIPT!r}",
             "reason_zh": f"#assign：没有名为 {SCRIPT!r} 的工程师", "suggestion": None},
        ],
        "sent": [{"email": "zhang.san@sh.corp.example", "subject": "[Case #7] In progress",
                  "template": "status", "customer": True}],
    }


def sample_report() -> dict[str, Any]:
    """The report template's keys: a small real Report, engineer names and the bar scale."""
    from dataclasses import replace
    from datetime import UTC, date
    from zoneinfo import ZoneInfo

    from maild.core.report import CaseFacts, build_report, compare, day_period, previous_period
    from maild.core.sla import Calendar
    from maild.service.reports import headlines, stamp

    tz = ZoneInfo("Asia/Shanghai")
    period = day_period(date(2026, 11, 22), tz)
    start = period.start

    def facts(n: int, who: str | None, hours: float | None) -> CaseFacts:
        done = start + timedelta(hours=2 + (hours or 0)) if hours is not None else None
        return CaseFacts(id=n, engineer=who, type="printer" if n % 2 else None,
                         status="resolved" if done else "in_progress",
                         created_at=start + timedelta(hours=1), dispatched_at=start + timedelta(
                             hours=2) if who else None, resolved_at=done, closed_at=None,
                         rating=5 if n == 1 else None, reopened=0, escalated=False,
                         response_breached=False, resolution_breached=n == 2,
                         kind="request" if n == 3 else "incident", line=2 if n == 3 else 1,
                         path=(1, 2) if n == 3 else (1,))

    cases = [facts(1, "li.lei@corp.example", 1.5), facts(2, "li.lei@corp.example", 3),
             facts(3, "han.meimei@corp.example", 0.5), facts(4, None, None)]
    people = ["li.lei@corp.example", "han.meimei@corp.example", "idle@corp.example"]
    report = build_report(period, cases, people, Calendar(tz, always=True))
    report = replace(report, late_visits={"li.lei@corp.example": 2})
    before = build_report(previous_period(period, tz), cases[:1], people,
                          Calendar(tz, always=True))
    assert report.period.start.tzinfo == UTC
    return {"report": report, "bar_max": 2,
            "names": {"li.lei@corp.example": "Li Lei <b>", "han.meimei@corp.example": "韩梅梅"},
            "span": (stamp(period.start, tz), stamp(period.end, tz)),
            "previous_label": before.period.label,
            "headlines": headlines(compare(report, before)), "charts": {},
            "quality": [{"engineer": "li.lei@corp.example", "name": "Li Lei <b>", "complaints": 2,
                         "surveys": 3, "answered": 2, "rate": "67%", "mean": "2.5"}]}


def sparse_context(name: str) -> dict[str, Any]:
    """Everything optional left empty: no engineer, no note, no log..."""
    ctx = sample_context(name)
    ctx["actor"] = None
    ctx["note"] = None
    if ctx["case"] is not None:
        ctx["case"].update(type=None, resolution=None, rating=None, customer_email=None,
                           customer_phone=None, customer_company=None,
                           customer_employee_id=None, engineer_name=None, engineer_email=None,
                           site_name=None, log=[], channel="phone")
    if ctx["error"] is not None:
        ctx["error"] = {"line": None, "text": None, "reason": "you are not the assigned engineer"}
    if ctx["failed"] is not None:
        ctx["failed"]["message_id"] = None
    return ctx


def render(lang: str, name: str, part: str, ctx: dict[str, Any]) -> str:
    env = make_env(TEMPLATES / lang)
    return env.get_template(f"{name}.{part}.j2").render(ctx)


def html_escaped(text: str) -> str:
    """How html_text shows free text: escaped, line breaks as <br>."""
    return str(escape(text)).replace("\n", "<br>\n")


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class _Checker(HTMLParser):
    """Collects tags and checks that every non-void element is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: set[str] = set()
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs.extend(attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}>, open: {self.stack}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(html: str) -> _Checker:
    checker = _Checker()
    checker.feed(html)
    checker.close()
    assert not checker.errors, checker.errors
    assert not checker.stack, f"unclosed: {checker.stack}"
    return checker


def width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


# --------------------------------------------------------------------------- files


@pytest.mark.parametrize("lang", LANGS)
def test_every_template_exists(lang: str) -> None:
    have = {p.name for p in (TEMPLATES / lang).iterdir()}
    for name in TEMPLATE_NAMES:
        for part in ("subject", "txt", "html"):
            assert f"{name}.{part}.j2" in have
    assert {"_base.html.j2", "_macros.j2"} <= have


def test_languages_have_the_same_files() -> None:
    en = sorted(p.name for p in (TEMPLATES / "en").iterdir())
    zh = sorted(p.name for p in (TEMPLATES / "zh").iterdir())
    assert en == zh


@pytest.mark.parametrize("lang", LANGS)
def test_template_sources_are_tidy(lang: str) -> None:
    for path in sorted((TEMPLATES / lang).glob("*.j2")):
        source = path.read_text(encoding="utf-8")
        for number, line in enumerate(source.splitlines(), 1):
            assert line == line.rstrip(), f"trailing whitespace: {path.name}:{number}"
        assert "\t" not in source, path.name
        if path.name.endswith(".html.j2"):
            lowered = source.lower()
            if path.name == "report.html.j2":  # its charts: images sent inside the mail
                assert lowered.count("<img") == lowered.count('<img src="{{ charts[')
                lowered = lowered.replace("<img", "")
            for forbidden in ("<script", "<img", "<link", "<style", "http://", "https://"):
                assert forbidden not in lowered, (path.name, forbidden)


@pytest.mark.parametrize("lang", LANGS)
def test_report_shows_only_its_charts_and_only_by_the_src_given(lang: str) -> None:
    ctx = {**sample_context("report"), "charts": {"volume": "cid:volume-2026-11@corp.example",
                                                  "handling": "cid:handling-2026-11@corp"}}
    checker = parse_html(render(lang, "report", "html", ctx))
    srcs = [value for attr, value in checker.attrs if attr == "src"]
    assert srcs == ["cid:volume-2026-11@corp.example", "cid:handling-2026-11@corp"]
    assert len([value for attr, value in checker.attrs if attr == "alt" and value]) == 2


# --------------------------------------------------------------------------- subjects


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", TEMPLATE_NAMES)
@pytest.mark.parametrize("make", [sample_context, sparse_context])
def test_subject(lang: str, name: str, make: Any) -> None:
    ctx = make(name)
    subject = render(lang, name, "subject", ctx)
    assert subject.strip(), "empty subject"
    assert "\n" not in subject and "\r" not in subject
    assert subject == subject.strip()
    if name in CASE_TEMPLATES:
        assert "[Case #7]" in subject
        assert ctx["case"]["subject"] in subject
    assert "None" not in subject


def test_subject_uses_the_configured_tag() -> None:
    ctx = sample_context("resolved")
    ctx["tag"] = "Ticket"
    for lang in LANGS:
        assert "[Ticket #7]" in render(lang, "resolved", "subject", ctx)


# --------------------------------------------------------------------------- bodies


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_html_escapes_and_parses(lang: str, name: str) -> None:
    ctx = sample_context(name)
    html = render(lang, name, "html", ctx)
    assert "<script" not in html.lower()
    if name in SHOWS_DESCRIPTION or name in SHOWS_NOTE:
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    checker = parse_html(html)
    assert {"html", "head", "body", "table"} <= checker.tags
    assert not {"script", "img", "link", "style", "iframe", "form"} & checker.tags
    assert "max-width:640px" in html
    for attr, value in checker.attrs:
        assert not attr.startswith("on"), attr
        if attr in ("src", "href") and value:
            assert value.startswith("mailto:"), value
    assert "None" not in "".join(checker.text)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_text_shows_the_free_text(lang: str, name: str) -> None:
    ctx = sample_context(name)
    text = render(lang, name, "txt", ctx)
    html = render(lang, name, "html", ctx)
    if name in SHOWS_DESCRIPTION:
        assert DESCRIPTION in text
        assert html_escaped(DESCRIPTION) in html
    if name in SHOWS_NOTE:
        assert NOTE in text
        assert html_escaped(NOTE) in html
    if name in SHOWS_RESOLUTION:
        assert RESOLUTION in text
        assert html_escaped(RESOLUTION) in html
    if name in CASE_TEMPLATES:
        assert "#7" in text
    if name == "transcript":
        for part in ("#resolv fixed it", "#resolve", "zhang.san@sh.corp.example"):
            assert part in text and part in html
        assert html_escaped(f"#assign {SCRIPT}") in html
    if name == "hold":
        assert "鼠标坏了 mouse broken" in text and "48" in text
    if name == "failed_alert":
        for part in ("someone@mail.example", "Help!", "<abc@mail.example>", "UnicodeDecodeError"):
            assert part in text
        assert "&lt;abc@mail.example&gt;" in html
    if name == "resolved":
        assert "3" in text and "5" in text
    if name == "closed":
        assert "4/5" in text and "4/5" in html
    assert "None" not in text


@pytest.mark.parametrize("lang", LANGS)
def test_outbox_failed_lists_each_mail_and_its_reason(lang: str) -> None:
    ctx = sample_context("outbox_failed")
    text = render(lang, "outbox_failed", "txt", ctx)
    html = render(lang, "outbox_failed", "html", ctx)
    for part in ("用户@例子.广告", "no SMTPUTF8", "#14", "550 5.1.1", "--status failed", "3"):
        assert part in text and part in html


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", TEMPLATE_NAMES)
@pytest.mark.parametrize("make", [sample_context, sparse_context])
def test_text_layout(lang: str, name: str, make: Any) -> None:
    """No trailing spaces, no runs of blank lines, lines wrapped at ~76 columns."""
    text = render(lang, name, "txt", make(name))
    inserted = set()
    for free in (DESCRIPTION, NOTE, RESOLUTION):
        inserted.update(free.splitlines())
    for line in text.splitlines():
        assert line == line.rstrip(), repr(line)
        if line.strip() not in inserted:
            assert width(line) <= 78, repr(line)
    assert "\n\n\n" not in text
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert not text.startswith("\n")
    assert "helpdesk@corp.example" in text
    assert "None" not in text


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_sparse_context_renders(lang: str, name: str) -> None:
    """Optional values may be None or empty; nothing shows 'None'."""
    ctx = sparse_context(name)
    for part in ("subject", "txt", "html"):
        out = render(lang, name, part, ctx)
        assert "None" not in out
    parse_html(render(lang, name, "html", ctx))


def test_ack_without_engineer_mentions_operators() -> None:
    ctx = sparse_context("ack")
    assert "operators will assign" in render("en", "ack", "txt", ctx)
    assert "服务台将尽快" in render("zh", "ack", "txt", ctx)
    ctx = sample_context("ack")
    assert "Li Lei" in render("en", "ack", "txt", ctx)
    assert "Li Lei" in render("zh", "ack", "txt", ctx)


@pytest.mark.parametrize("lang", LANGS)
def test_hostile_values_are_escaped_everywhere(lang: str) -> None:
    """Every string a sender can influence carries markup; none of it survives raw."""
    evil = "<b onmouseover=x>"

    def poison(value: Any) -> Any:
        if isinstance(value, str):
            return value + evil
        if isinstance(value, dict):
            return {k: poison(v) for k, v in value.items()}
        if isinstance(value, list):
            return [poison(v) for v in value]
        return value

    for name in TEMPLATE_NAMES:
        ctx = sample_context(name)
        ctx = {k: v if k == "tag" else poison(copy.deepcopy(v)) for k, v in ctx.items()}
        if ctx["case"] is not None:
            ctx["case"]["status"] = "in_progress"
            ctx["case"]["priority"] = "P2"
            ctx["case"]["channel"] = "email"
        html = render(lang, name, "html", ctx)
        assert "<b onmouseover" not in html, name
        assert "&lt;b onmouseover=x&gt;" in html, name
        parse_html(html)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", sorted(SHOWS_TAG_TABLE))
def test_tag_table_lists_all_tags(lang: str, name: str) -> None:
    ctx = sample_context(name)
    text = render(lang, name, "txt", ctx)
    html = render(lang, name, "html", ctx)
    for tag in ALL_TAGS:
        if name == "help" and tag in SUPERVISOR_ONLY:  # an engineer's #help
            continue
        assert f"  {tag}" in text, tag
        assert f">{tag}" in html, tag


@pytest.mark.parametrize("lang", LANGS)
def test_dispatch_explains_how_to_reply(lang: str) -> None:
    text = render(lang, "dispatch", "txt", sample_context("dispatch"))
    for example in ("#inprogress", "#resolve", "#log"):
        assert f"    {example} " in text
    assert "Li Lei" in text and "E1234" in text and "上海分公司" in text
    assert "called the user" in text  # the history


@pytest.mark.parametrize("lang", LANGS)
def test_customer_words(lang: str) -> None:
    for name in ("resolved", "help"):
        ctx = sample_context(name)
        ctx["role"] = "customer"
        text = render(lang, name, "txt", ctx)
        for word in ("confirm", "reopen", "确认", "重开", "1-5"):
            assert word in text, (name, word)
        assert "#resolve" not in text  # a customer's #help lists what a customer can do


@pytest.mark.parametrize("lang", LANGS)
def test_help_lists_the_tags_of_the_role_with_an_example(lang: str) -> None:
    ctx = sample_context("help")
    ctx["role"] = "operator"
    for kind in ("txt", "html"):
        text = render(lang, "help", kind, ctx)
        assert "#assign" in text and "#undo" in text and "#resolve" not in text
        assert "#priority P2" in text  # the example
    ctx["role"] = "engineer"
    text = render(lang, "help", "txt", ctx)
    assert text.count("示例" if lang == "zh" else "Example:") == len(ALL_TAGS) - 1
    assert "#resolve" in text and "#reject" in text
    assert "#complaint-close" not in text  # a supervisor's
    ctx["role"] = "supervisor"
    text = render(lang, "help", "txt", ctx)
    assert "#complaint-close" in text and "#resolve" not in text


@pytest.mark.parametrize("lang", LANGS)
def test_status_labels(lang: str) -> None:
    for status, label in zip(STATUSES, LABELS[lang], strict=True):
        ctx = sample_context("status")
        ctx["case"]["status"] = status
        assert label in render(lang, "status", "subject", ctx)
        assert label in render(lang, "status", "txt", ctx)
        assert label in render(lang, "status", "html", ctx)


# --------------------------------------------------------------------------- strictness


@pytest.mark.parametrize("lang", LANGS)
def test_missing_key_is_an_error(lang: str) -> None:
    ctx = sample_context("resolved")
    del ctx["case"]
    for part in ("subject", "txt", "html"):
        with pytest.raises(jinja2.UndefinedError):
            render(lang, "resolved", part, ctx)


@pytest.mark.parametrize("lang", LANGS)
def test_missing_case_field_is_an_error(lang: str) -> None:
    ctx = sample_context("dispatch")
    del ctx["case"]["customer_employee_id"]
    with pytest.raises(jinja2.UndefinedError):
        render(lang, "dispatch", "txt", ctx)


@pytest.mark.parametrize("lang", LANGS)
def test_monthly_report_lists_the_top_problems(lang: str) -> None:
    from dataclasses import replace
    from zoneinfo import ZoneInfo

    from maild.core.report import ProblemRow, month_period

    ctx = sample_context("report")
    rows = (ProblemRow(3, f"VPN {SCRIPT}", "known_error", 4, 6),)
    monthly = replace(ctx["report"], period=month_period(2026, 11, ZoneInfo("Asia/Shanghai")),
                      top_problems=rows, days=())
    text = render(lang, "report", "txt", {**ctx, "report": monthly})
    html = render(lang, "report", "html", {**ctx, "report": monthly})
    assert "P3" in text and "4 / 6" in text and f"VPN {SCRIPT}" in text
    assert "P3" in html and html_escaped(f"VPN {SCRIPT}") in html
    parse_html(html)
    daily = render(lang, "report", "txt", {**ctx, "report": replace(ctx["report"],
                                                                     top_problems=rows)})
    assert "P3" not in daily  # the monthly report's section


def _stock_env(lang: str) -> jinja2.Environment:
    """``make_env``'s options on Jinja's own Environment class."""
    mine = make_env(TEMPLATES / lang)
    env = jinja2.Environment(
        loader=mine.loader, autoescape=mine.autoescape, undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(mine.filters)
    return env


@pytest.mark.parametrize("lang", LANGS)
def test_every_template_renders_as_under_stock_jinja(lang: str) -> None:
    """The environment's shortcuts (``templating._Environment``) change no byte."""
    mine, stock = make_env(TEMPLATES / lang), _stock_env(lang)
    for name in (*TEMPLATE_NAMES, "sms"):
        for ctx in (sample_context(name), sparse_context(name)):
            ctx.setdefault("kind", "dispatch")
            for part in ("txt",) if name == "sms" else ("subject", "txt", "html"):
                got = mine.get_template(f"{name}.{part}.j2").render(ctx)
                assert got == stock.get_template(f"{name}.{part}.j2").render(ctx), (name, part)


def test_attribute_lookup_prefers_attributes_as_jinja_does() -> None:
    from collections import OrderedDict

    class Thing:
        id = 5

    mine, stock = make_env(TEMPLATES / "en"), _stock_env("en")
    values = {"d": {"id": 7, "items": "an item", "get": 1}, "o": OrderedDict(id=8),
              "t": Thing(), "n": None}
    for source in ("{{ d.id }}", "{{ d['items'] }}", "{{ d.items() | list }}",
                   "{{ d.get('id') }}", "{{ o.id }}", "{{ t.id }}", "{{ d.keys is callable }}"):
        assert mine.from_string(source).render(values) == \
            stock.from_string(source).render(values), source
    for source in ("{{ d.nothing }}", "{{ n.id }}", "{{ t.nothing }}"):
        with pytest.raises(jinja2.UndefinedError):
            mine.from_string(source).render(values)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", ["sla_warning", "sla_breach"])
@pytest.mark.parametrize("target", ["response", "resolution"])
def test_sla_mail_of_a_case_with_a_vendor(lang: str, name: str, target: str) -> None:
    """The line's owner gets it in the engineer's place: it names the vendor and how to
    take the case back; the vendor's name is escaped."""
    ctx = sample_context(name)
    ctx["sla"] |= {"vendor": f"PrintCo {SCRIPT}", "target": target}
    text = render(lang, name, "txt", ctx)
    html = render(lang, name, "html", ctx)
    assert f"PrintCo {SCRIPT}" in text and "#assign" in text
    assert "PrintCo &lt;script&gt;" in html and "<script" not in html
    parse_html(html)
    for line in text.splitlines():
        if SCRIPT not in line and line.strip() not in DESCRIPTION.splitlines():
            assert width(line) <= 78, repr(line)
