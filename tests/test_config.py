"""config.toml and rules/ are checked at start-up, with errors naming file and key."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from maildenv import REPO

from maild.config import ConfigError, load_settings, read_config
from maild.rules import RulesError, load_rules

GOOD: dict[str, Any] = {"helpdesk": {"address": "helpdesk@corp.example",
                                     "secret": "x" * 20, "timezone": "Asia/Shanghai"}}


def test_example_config_loads_with_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILD_SECRET", "s" * 32)
    monkeypatch.setenv("MAILD_IMAP_PASSWORD", "pw")
    shutil.copy(REPO / "config.example.toml", tmp_path / "config.toml")
    s = read_config(tmp_path / "config.toml")
    assert s.helpdesk.secret == "s" * 32 and s.imap.password == "pw"
    assert s.database.url == f"sqlite:///{tmp_path / 'store' / 'maild.db'}"
    assert s.paths.rules == tmp_path / "rules"


def test_missing_env_variable_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAILD_SECRET", raising=False)
    shutil.copy(REPO / "config.example.toml", tmp_path / "config.toml")
    with pytest.raises(ConfigError,
                       match=r"\[helpdesk\] secret: environment variable MAILD_SECRET"):
        read_config(tmp_path / "config.toml")


@pytest.mark.parametrize(("section", "key", "value", "message"), [
    ("helpdesk", "language", "fr", "must be one of en, zh"),
    ("helpdesk", "auto_close_days", "3", "must be a whole number"),
    ("helpdesk", "timezone", "Mars/Olympus", "not a known time zone"),
    ("helpdesk", "secret", "short", "at least 16 characters"),
    ("helpdesk", "colour", "blue", "unknown key(s) in [helpdesk]: colour"),
    ("imap", "idle", "yes", "must be true or false"),
    ("smtp", "security", "tls", "must be one of ssl, starttls, none"),
    ("reports", "daily_at", "8am", "daily_at must be HH:MM"),
    ("trust", "authserv_id", "mx.corp.example; dmarc=pass", "must be one name"),
    ("trust", "recipient_headers", ["return-path"], "recipient_headers must be"),
    ("trust", "recipient_headers", [], "recipient_headers must be"),
    ("limits", "mails_per_sender_per_hour", -1, "0 (off) or more"),
    ("helpdesk", "undo_minutes", 0, "undo_minutes must be 1..1440"),
    ("helpdesk", "undo_minutes", "15", "must be a whole number"),
    ("helpdesk", "reopen_days", -1, "reopen_days must be 0..3650"),
    ("survey", "sample", 1.5, "[survey] sample must be between 0 and 1"),
    ("survey", "sample", "20%", "[survey] sample must be a number"),
    ("survey", "vip", "yes", "must be true or false"),
    ("survey", "after_hours", -1, "[survey] after_hours must be 0..2160"),
    ("database", "url", "mysql://maild@db/maild",
     "[database] url: 'mysql' is not supported; use sqlite:///PATH or postgresql+psycopg://"),
    ("database", "url", "mariadb+pymysql://maild@db/maild", "'mariadb+pymysql' is not supported"),
])
def test_bad_values_are_explained(section: str, key: str, value: Any, message: str) -> None:
    data = {k: dict(v) for k, v in GOOD.items()}
    data.setdefault(section, {})[key] = value
    with pytest.raises(ConfigError) as info:
        load_settings(data, Path("/etc/maild/config.toml"))
    assert "/etc/maild/config.toml" in str(info.value) and message in str(info.value)


def test_missing_config_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"copy config\.example\.toml"):
        read_config(tmp_path / "nope.toml")


def test_shipped_rules_load() -> None:
    rules = load_rules(REPO / "rules")
    assert rules.incident_manager == "im@corp.example"
    assert [s.code for s in rules.sites] == ["SH", "SZ", "LDN"]
    assert rules.role_of("LI.LEI@corp.example") is not None
    assert rules.sms_addresses()["li.lei@corp.example"] == "13800138001@sms.corp.example"


def test_rules_refuse_unknown_engineer(tmp_path: Path) -> None:
    for name in ("staff.toml", "sla.toml"):
        shutil.copy(REPO / "rules" / name, tmp_path / name)
    (tmp_path / "sites.toml").write_text(
        '[[sites]]\ncode = "X"\nname = "X"\nengineers = ["ghost@corp.example"]\n')
    with pytest.raises(RulesError, match=r"sites.toml: sites\[0\]: engineer ghost@corp.example"):
        load_rules(tmp_path)


@pytest.mark.parametrize(("file", "old", "new", "message"), [
    ("staff.toml", 'name = "Li Lei"', 'nmae = "Li Lei"',
     r"staff.toml: engineers\[0\]: unknown key\(s\): nmae \(known: email, name, language, sms\)"),
    ("staff.toml", 'sms = "13800138001@sms.corp.example"', 'sms = "13800138001"',
     r"staff.toml: engineers\[0\]: sms '13800138001' is not an email address"),
    ("staff.toml", "[[engineers]]", "incident_manger = 'x@corp.example'\n[[engineers]]",
     r"staff.toml: unknown key\(s\): incident_manger"),
    ("sites.toml", 'code = "SH"', 'code = "SH"\ndomain = ["x.example"]',
     r"sites.toml: sites\[0\]: unknown key\(s\): domain"),
    ("sla.toml", "response_minutes = 15", "response_minute = 15\nresponse_minutes = 15",
     r"sla.toml: \[priorities.P1\]: unknown key\(s\): response_minute"),
    ("sla.toml", "[priorities.P1]", "[priorities.P6]\nresponse_minutes = 1\n[priorities.P1]",
     r"sla.toml: \[priorities\]: unknown key\(s\): P6"),
    ("sla.toml", 'name = "printer"', 'name = "printer"\nkeyword = ["x"]',
     r"sla.toml: types\[\d+\]: unknown key\(s\): keyword"),
    ("sla.toml", 'name = "printer"\nkind = "incident"', 'name = "printer"\nkind = "fault"',
     r"sla.toml: types\[\d+\]: kind must be one of incident, request, got 'fault'"),
    ("sla.toml", "resolution_minutes = 120\n", "resolution_minutes = -5\n",
     r"sla.toml: types\[0\]: resolution_minutes must be a positive whole number"),
    ("sla.toml", "[kinds.request]", "[kinds.requests]",
     r"sla.toml: \[kinds\]: unknown key\(s\): requests"),
    ("lines.toml", "level = 2", "level = 1",
     r"lines.toml: lines\[0\]: level must be 2 or 3"),
    ("lines.toml", 'engineers = ["wang.qiang@corp.example"]',
     'engineers = ["wang.qiang@corp.example"]\naddress = "x@vendor.example"',
     r"lines.toml: lines\[0\]: give either engineers .* or address"),
    ("lines.toml", 'engineers = ["wang.qiang@corp.example"]', 'engineers = ["ghost@corp.example"]',
     r"lines.toml: lines\[0\]: engineer ghost@corp.example is not in staff.toml"),
    ("lines.toml", 'address = "support@printco.example"', 'address = "li.lei@corp.example"',
     r"lines.toml: lines\[1\]: address must be a vendor's email address, not staff"),
    ("lines.toml", 'types = ["printer"]', 'type = ["printer"]',
     r"lines.toml: lines\[1\]: unknown key\(s\): type"),
    ("lines.toml", 'address = "support@printco.example"',
     'address = "support@printco.example"\nowner = "ghost@corp.example"',
     r"lines.toml: lines\[1\]: owner ghost@corp.example is not in staff.toml"),
    ("lines.toml", 'address = "support@printco.example"',
     'address = "support@printco.example"\nowner = "wang.qiang@corp.example"',
     r"lines.toml: lines\[1\] \(PrintCo vendor support\): owner wang.qiang@corp.example is "
     r"an engineer; the owner must be an operator, manager, supervisor or the incident manager"),
    ("lines.toml", 'engineers = ["wang.qiang@corp.example"]',
     'engineers = ["wang.qiang@corp.example"]\nowner = "im@corp.example"',
     r"lines.toml: lines\[0\]: owner is for a vendor line"),
    ("sla.toml", 'default_priority = "P3"', 'default_prio = "P3"',
     r"sla.toml: unknown key\(s\): default_prio"),
])
def test_rules_name_unknown_keys(tmp_path: Path, file: str, old: str, new: str,
                                 message: str) -> None:
    """A misspelt key in any rules file is named with the file and where it sits."""
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    text = (rules / file).read_text(encoding="utf-8")
    assert old in text
    (rules / file).write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(RulesError, match=message):
        load_rules(rules)


def test_templates_default_to_the_shipped_ones(tmp_path: Path) -> None:
    """Without [paths] templates and no templates/ beside the config, the package's own;
    with the key, the folder named (a file there overrides the shipped one of its name)."""
    from maild.resources import shipped_dir
    from maild.templating import make_envs

    config = tmp_path / "config.toml"
    assert load_settings(GOOD, config).paths.templates == shipped_dir("templates")
    own = tmp_path / "mine"
    (own / "en").mkdir(parents=True)
    (own / "en" / "ack.subject.j2").write_text("Got it: {{ case.subject }}\n")
    data = {**GOOD, "paths": {"templates": "mine"}}
    settings = load_settings(data, config)
    assert settings.paths.templates == own
    envs = make_envs(settings.paths.templates)
    assert envs["en"].get_template("ack.subject.j2").filename == str(own / "en" / "ack.subject.j2")
    assert str(envs["en"].get_template("ack.txt.j2").filename).startswith(
        str(shipped_dir("templates")))
    assert "ack.txt.j2" in envs["zh"].list_templates()  # zh/ absent from mine: all shipped


def test_read_only_settings_need_no_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAILD_SECRET", raising=False)
    data = {**GOOD, "helpdesk": {**GOOD["helpdesk"], "secret": "env:MAILD_SECRET"}}
    with pytest.raises(ConfigError, match="MAILD_SECRET"):
        load_settings(data, Path("config.toml"))
    assert load_settings(data, Path("config.toml"), secrets=False).helpdesk.secret == ""


def test_undo_and_reopen_defaults() -> None:
    """``undo_minutes`` 15 and ``reopen_days`` 7 unless set (docs/REFERENCE.md)."""
    data = {k: dict(v) for k, v in GOOD.items()}
    settings = load_settings(data, Path("/etc/maild/config.toml"))
    assert (settings.helpdesk.undo_minutes, settings.helpdesk.reopen_days) == (15, 7)
    data["helpdesk"] |= {"undo_minutes": 30, "reopen_days": 0}
    settings = load_settings(data, Path("/etc/maild/config.toml"))
    assert (settings.helpdesk.undo_minutes, settings.helpdesk.reopen_days) == (30, 0)


def test_survey_defaults_and_supervisors() -> None:
    """``[survey]`` 0.2 / true / 24 unless set; a whole-number share is a number too;
    the shipped rules have a supervisor (the managers stand in when there is none)."""
    data = {k: dict(v) for k, v in GOOD.items()}
    survey = load_settings(data, Path("/etc/maild/config.toml")).survey
    assert (survey.sample, survey.vip, survey.after_hours) == (0.2, True, 24)
    data["survey"] = {"sample": 1, "vip": False, "after_hours": 0}
    survey = load_settings(data, Path("/etc/maild/config.toml")).survey
    assert (survey.sample, survey.vip, survey.after_hours) == (1.0, False, 0)
    rules = load_rules(REPO / "rules")
    assert [p.email for p in rules.supervisors()] == ["cs-lead@corp.example"]
    assert rules.role_of("cs-lead@corp.example") == "supervisor"
