"""The tooling stays strict: ruff and mypy --strict are part of the suite."""

from __future__ import annotations

import subprocess
import sys

import pytest
from maildenv import REPO


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def test_ruff() -> None:
    out = _run("ruff", "check", "maild", "tests", "benchmarks")
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.long  # CI starts with no mypy cache
def test_mypy_strict() -> None:
    out = _run("mypy")
    assert out.returncode == 0, out.stdout + out.stderr
