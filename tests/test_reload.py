"""Reloading rules and templates in place: all or nothing, with the bad file named."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from maildenv import REPO, Maild, write_config

from maild.config import read_config
from maild.runtime import Runtime, RuntimeHolder


@pytest.fixture
def holder(tmp_path: Path) -> tuple[RuntimeHolder, Path]:
    """A Runtime on its own copy of rules/ and templates/ (SMTP and IMAP unused)."""
    for name in ("rules", "templates"):
        shutil.copytree(REPO / name, tmp_path / name)
    config = write_config(tmp_path, 1, 1)
    config.write_text(config.read_text()
                      .replace(f'rules = "{REPO / "rules"}"', f'rules = "{tmp_path / "rules"}"')
                      .replace(f'templates = "{REPO / "templates"}"',
                               f'templates = "{tmp_path / "templates"}"'))
    maild = Maild(config)
    h = RuntimeHolder(Runtime.load(read_config(config), maild.rt.engine))
    h.freeze()
    return h, tmp_path


def _source(rt: Runtime, lang: str, name: str) -> str:
    env = rt.envs[lang]
    assert env.loader is not None
    return env.loader.get_source(env, name)[0]


def test_good_reload_swaps_rules_and_templates(holder: tuple[RuntimeHolder, Path]) -> None:
    h, base = holder
    before = h.current
    staff = base / "rules" / "staff.toml"
    staff.write_text(staff.read_text().replace('name = "John Smith"', 'name = "Johnny Smith"'))
    ack = base / "templates" / "en" / "ack.txt.j2"
    ack.write_text("Reloaded! " + ack.read_text())
    assert "Reloaded!" not in _source(h.current, "en", "ack.txt.j2")  # held until a reload
    assert h.reload() is True
    assert h.generation == 1 and h.current is not before
    assert h.current.rules.people["john.smith@corp.example"].name == "Johnny Smith"
    assert "Reloaded!" in _source(h.current, "en", "ack.txt.j2")
    assert before.rules.people["john.smith@corp.example"].name == "John Smith"  # untouched


def test_bad_template_is_refused_and_the_old_set_kept(holder: tuple[RuntimeHolder, Path],
                                                      caplog: pytest.LogCaptureFixture) -> None:
    h, base = holder
    before = h.current
    bad = base / "templates" / "zh" / "ack.txt.j2"
    bad.write_text("{% if case %}never closed\n")
    with caplog.at_level(logging.ERROR, logger="maild.runtime"):
        assert h.reload() is False
    assert h.current is before and h.generation == 0
    h.current.envs["zh"].get_template("ack.txt.j2")  # the old one still compiles and is used
    [record] = caplog.records
    assert str(bad) in record.getMessage() and "line" in record.getMessage()
    assert record.event == "reload_failed"  # type: ignore[attr-defined]


def test_bad_rules_key_is_named(holder: tuple[RuntimeHolder, Path],
                                caplog: pytest.LogCaptureFixture) -> None:
    h, base = holder
    before = h.current
    sites = base / "rules" / "sites.toml"
    sites.write_text(sites.read_text().replace('code = "SZ"', 'code = 7'))
    with caplog.at_level(logging.ERROR, logger="maild.runtime"):
        assert h.reload() is False
    assert h.current is before
    assert str(sites) in caplog.text and "code" in caplog.text
