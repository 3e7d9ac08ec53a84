"""Shared fixtures. Real-server helpers live in tests/servers.py (plain, importable)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # so tests can `import servers`

from servers import Dovecot, SmtpSink, require_dovecot


@pytest.fixture
def dovecot(tmp_path: Path) -> Iterator[Dovecot]:
    """A running private Dovecot (IMAP + LMTP) with helpdesk@corp.example / secret.

    Skips when Dovecot can't run here; fails instead under CI=true.
    """
    require_dovecot()
    server = Dovecot(tmp_path / "dovecot")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A running SMTP server on 127.0.0.1 that records every message."""
    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


# --- maild fixtures below ---

from maildenv import Maild, write_config  # noqa: E402


@pytest.fixture
def maild(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> Maild:
    """maild reading the test Dovecot and sending to the SMTP sink, on a fresh SQLite file."""
    return Maild(write_config(tmp_path, dovecot.imap_port, smtp_sink.port))
