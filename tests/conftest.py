"""Shared fixtures. Real-server helpers live in tests/servers.py (plain, importable)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # so tests can `import servers`

import databases
from servers import Dovecot, SmtpSink, require_dovecot

if databases.on_postgres():
    databases.track_connections()


@pytest.fixture(autouse=True)
def _drop_test_databases() -> Iterator[None]:
    """PostgreSQL databases a test made (MAILD_TEST_DATABASE_URL) go when it ends."""
    yield
    databases.drop_created()


def pytest_sessionfinish(session: pytest.Session) -> None:
    if databases.on_postgres():
        databases.drop_template()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests about one database run only on it: on PostgreSQL leave out the SQLite ones
    (file locks, file paths), on SQLite the PostgreSQL ones (replicas, advisory locks)."""
    other = "sqlite_only" if databases.on_postgres() else "postgres_only"
    keep = [i for i in items if i.get_closest_marker(other) is None]
    config.hook.pytest_deselected(items=[i for i in items if i not in keep])
    items[:] = _long_ones_first(keep, config)


def _long_ones_first(items: list[pytest.Item], config: pytest.Config) -> list[pytest.Item]:
    """With ``-n``, each test marked ``long`` at the head of a worker's first share, so
    that the workers start them at once.

    ``--dist worksteal`` (pyproject.toml) hands the collection out in ``-n`` contiguous
    shares (the earlier ones one test shorter when it doesn't divide evenly), each run
    from its head; other workers steal only from a share's tail. A minute-long test in
    the middle of a share starts late, and the whole run waits for it. (A worker cannot
    see the --dist mode: the layout is worksteal's whatever it is.) Every worker
    collects the same items, so the order below is the same on all of them, as xdist
    requires."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers < 2:
        return items
    long = [i for i in items if i.get_closest_marker("long") is not None]
    rest = iter(i for i in items if i.get_closest_marker("long") is None)
    heads = [long[k::workers] for k in range(workers)]
    out: list[pytest.Item] = []
    left = len(items)
    for k in range(workers):
        share = left // (workers - k)
        left -= share
        out += heads[k] + [i for _, i in zip(range(share - len(heads[k])), rest, strict=False)]
    return out + list(rest)


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
    """maild reading the test Dovecot and sending to the SMTP sink, on a fresh database."""
    return Maild(write_config(tmp_path, dovecot.imap_port, smtp_sink.port))
