"""``maild problems list|show`` and search over problems: the JSON shape, readable errors,
and ``#search`` by mail naming the problem whose workaround is the answer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from maildenv import Maild, feed, new_mail, outbox, parsed, text_of, write_config

PROBLEM_KEYS = {"id", "title", "status", "cases", "workaround", "root_cause", "created_at",
                "resolved_at"}  # docs/REFERENCE.md, "Problem JSON"
CUSTOMER = "wang.fang@sh.corp.example"
IM = "im@corp.example"


def maild_cli(*args: str, config: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "maild", *args, "--config", str(config)],
                          capture_output=True, timeout=60, check=False)


@pytest.fixture
def with_problem(tmp_path: Path) -> Maild:
    """Two VPN cases, P1 opened from the first, the second linked, a workaround shared;
    staff write to their personal address with the case or problem named in the subject."""
    m = Maild(write_config(tmp_path, 1, 1))
    m.add_customer(CUSTOMER, "王芳", company="上海分公司")
    for n in (1, 2):
        assert feed(m, new_mail(CUSTOMER, f"VPN 断线 {n}", "每小时断一次"))[0] == "new_case"
    staff = m.personal(IM)
    assert feed(m, new_mail(IM, "Re: [Case #1] VPN", "#problem VPN 每小时断线",
                            to=staff))[0] == "command"
    assert feed(m, new_mail(IM, "Re: [Problem P1] VPN",
                            "#link 2\n#workaround 改用备用网关 vpn2", to=staff))[0] == "command"
    return m


def test_list_and_show_print_the_documented_shape(with_problem: Maild) -> None:
    listed = maild_cli("problems", "list", "--json", config=with_problem.config)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert len(rows) == 1 and set(rows[0]) == PROBLEM_KEYS
    assert rows[0]["cases"] == [1, 2] and rows[0]["status"] == "known_error"
    assert rows[0]["workaround"] == "改用备用网关 vpn2" and rows[0]["resolved_at"] is None
    for ident in ("1", "P1", "p1"):
        shown = maild_cli("problems", "show", ident, "--json", config=with_problem.config)
        assert json.loads(shown.stdout) == rows[0]
    text = maild_cli("problems", "show", "P1", config=with_problem.config).stdout.decode()
    assert "VPN 每小时断线" in text and "#1, #2" in text
    assert with_problem.case(2)["problem"] == 1
    case = maild_cli("cases", "show", "2", config=with_problem.config).stdout.decode()
    assert "linked to problem P1" in case
    filtered = maild_cli("problems", "list", "--status", "resolved", "--json",
                         config=with_problem.config)
    assert json.loads(filtered.stdout) == []
    found = maild_cli("problems", "list", "vpn2", "--json", config=with_problem.config)
    assert [r["id"] for r in json.loads(found.stdout)] == [1]


@pytest.mark.parametrize("ident", ["7", "P7", "bogus"])
def test_unknown_problem_is_one_line_and_exit_1(with_problem: Maild, ident: str) -> None:
    shown = maild_cli("problems", "show", ident, config=with_problem.config)
    assert shown.returncode == 1 and shown.stdout == b""
    assert shown.stderr.decode().strip() == f"maild: no problem {ident}"


def test_bad_status_is_usage_error(with_problem: Maild) -> None:
    assert maild_cli("problems", "list", "--status", "closed",
                     config=with_problem.config).returncode == 2


def test_search_finds_problems_on_the_command_line_and_by_mail(with_problem: Maild) -> None:
    out = maild_cli("search", "备用网关", config=with_problem.config)
    assert out.returncode == 0, out.stderr
    assert "P1" in out.stdout.decode() and "VPN 每小时断线" in out.stdout.decode()
    # --json keeps the case array of the scripting contract
    cases = json.loads(maild_cli("search", "vpn2", "--json", config=with_problem.config).stdout)
    assert isinstance(cases, list) and all("subject" in c for c in cases)
    staff = with_problem.personal("li.lei@corp.example")
    feed(with_problem, new_mail("li.lei@corp.example", "search", "#search vpn", to=staff))
    answer = outbox(with_problem, "search_results")[-1]
    assert "P1" in text_of(answer.raw) and "vpn2" in text_of(answer.raw)
    assert str(parsed(answer.raw)["To"]) == "li.lei@corp.example"


def test_monthly_report_ranks_the_problem(with_problem: Maild, tmp_path: Path) -> None:
    """The report's maths over the database: P1 with its two cases opened in November."""
    out = maild_cli("report", "monthly", "--month", "2026-11", "--json",
                    config=with_problem.config)
    assert out.returncode == 0, out.stderr
    top = json.loads(out.stdout)["top_problems"]
    assert top == [{"id": 1, "title": "VPN 每小时断线", "status": "known_error",
                    "in_period": 2, "total": 2}]
    html = tmp_path / "report.html"
    assert maild_cli("report", "monthly", "--month", "2026-11", "--html", str(html),
                     config=with_problem.config).returncode == 0
    assert "VPN 每小时断线" in html.read_text(encoding="utf-8")
    october = maild_cli("report", "monthly", "--month", "2026-10", "--json",
                        config=with_problem.config)
    assert json.loads(october.stdout)["top_problems"] == []


def test_a_case_moves_to_another_problem_and_a_resolved_one_takes_no_more(
        with_problem: Maild) -> None:
    """#problem on a linked case opens P2 and moves the case (its log says from where);
    linking to a resolved problem is refused and changes nothing."""
    staff = with_problem.personal(IM)
    feed(with_problem, new_mail(IM, "Re: [Case #2] VPN", "#problem 另一个原因：客户端版本",
                                to=staff))
    assert with_problem.case(2)["problem"] == 2
    log = [e["text"] for e in with_problem.case(2)["log"] if e["kind"] == "problem"]
    assert log[-1] == "linked to problem P2 (was P1): 另一个原因：客户端版本"
    feed(with_problem, new_mail(IM, "Re: [Problem P2] x", "#resolve 升级客户端", to=staff))
    assert feed(with_problem, new_mail(IM, "Re: [Case #1] VPN", "#problem P2",
                                       to=staff))[0] == "rejected"
    assert with_problem.case(1)["problem"] == 1
