"""Structured logs: one event per line, parseable, with ids as fields and never a secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from maildenv import write_config

from maild import logs
from maild.config import ConfigError, LoggingSettings, read_config

IMAP_PASSWORD = "secret"  # what maildenv's config uses


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _emit(fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("MAILD_SMTP_TOKEN", "tok-9f8e7d6c5b4a")
    settings = read_config(write_config(tmp_path, 1, 1))
    out = io.StringIO()
    logs.setup(LoggingSettings(format=fmt, level="debug"), settings, stream=out)
    log = logging.getLogger("maild.test")
    log.info("message %s: new_case", 7, extra={"message_id": 7, "case_id": 3})
    log.warning("login failed with password %s and token %s", IMAP_PASSWORD,
                "tok-9f8e7d6c5b4a", extra={"note": f"signing key {settings.helpdesk.secret}"})
    try:
        raise RuntimeError(f"boom {settings.helpdesk.secret}")
    except RuntimeError:
        log.exception("ingest failed", extra={"message_id": 8})
    logging.getLogger("maild.test").debug("multi\nline")
    text = out.getvalue()
    for secret in (settings.helpdesk.secret, "tok-9f8e7d6c5b4a", f"password {IMAP_PASSWORD}"):
        assert secret not in text
    return text.splitlines()


@pytest.mark.usefixtures("restore_root")
def test_json_lines_parse_and_carry_ids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every line is one JSON object with ts, level, logger, msg and the extras; secrets masked."""
    lines = _emit("json", tmp_path, monkeypatch)
    events = [json.loads(line) for line in lines]
    assert len(events) == 4  # the traceback and the newline stay inside their events
    first = events[0]
    assert {"ts", "level", "logger", "msg"} <= set(first)
    assert (first["level"], first["logger"], first["msg"]) == ("info", "maild.test",
                                                                "message 7: new_case")
    assert (first["message_id"], first["case_id"]) == (7, 3)
    assert events[1]["msg"] == "login failed with password *** and token ***"
    assert events[1]["note"] == "signing key ***"
    assert "RuntimeError: boom ***" in events[2]["exc"] and events[2]["message_id"] == 8
    assert events[3]["msg"] == "multi\nline"


@pytest.mark.usefixtures("restore_root")
def test_kv_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """key=value lines quote values with spaces; the ids are fields."""
    lines = _emit("kv", tmp_path, monkeypatch)
    assert lines[0].startswith("ts=") and " level=info logger=maild.test " in lines[0]
    assert lines[0].endswith('msg="message 7: new_case" message_id=7 case_id=3')
    assert len([line for line in lines if line.startswith("ts=")]) == 4


@pytest.mark.usefixtures("restore_root")
def test_text_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = _emit("text", tmp_path, monkeypatch)
    assert lines[0].endswith("INFO maild.test: message 7: new_case [message_id=7 case_id=3]")


@pytest.mark.parametrize(("section", "message"), [
    ('[logging]\nformat = "xml"', "[logging] format must be one of text, json, kv"),
    ('[logging]\nlevel = "loud"', "[logging] level must be one of"),
    ('[metrics]\nlisten = "9108"', "[metrics] listen must be HOST:PORT"),
    ("[metrics]\nmax_poll_age_seconds = -1", "max_poll_age_seconds must be 0"),
])
def test_bad_ops_settings_are_named(tmp_path: Path, section: str, message: str) -> None:
    path = write_config(tmp_path, 1, 1)
    path.write_text(path.read_text() + section + "\n")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        read_config(path)


@pytest.mark.parametrize("seconds", [0, 29 * 60, 3600])
def test_idle_must_be_reissued_before_29_minutes(tmp_path: Path, seconds: int) -> None:
    path = write_config(tmp_path, 1, 1)
    path.write_text(path.read_text().replace("poll_seconds = 1",
                                             f"poll_seconds = 1\nidle_seconds = {seconds}"))
    with pytest.raises(ConfigError, match=r"\[imap\] idle_seconds must be 1..1739"):
        read_config(path)
