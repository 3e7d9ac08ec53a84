"""Packaging: `maild --version` and a systemd unit that systemd accepts."""

from __future__ import annotations

import configparser
import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from maildenv import REPO

UNIT = REPO / "packaging" / "maild.service"
INSTALLED = "/opt/maild/.venv/bin/maild"


def test_version_is_the_installed_distribution() -> None:
    out = subprocess.run([sys.executable, "-m", "maild", "--version"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0
    assert out.stdout.strip() == f"maild {importlib.metadata.version('maild')}"


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(UNIT.read_text())
    return parser


def test_unit_has_what_the_install_guide_promises() -> None:
    unit = _unit()
    service = unit["Service"]
    assert service["User"] == "maild"
    assert service["ExecStart"] == f"{INSTALLED} run --config /etc/maild/config.toml"
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"] == "/etc/maild/env"
    assert service["NoNewPrivileges"] == "yes" and service["PrivateTmp"] == "yes"
    assert service["ProtectSystem"] == "strict" and service["ReadWritePaths"] == "/var/lib/maild"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    """`systemd-analyze verify` with ExecStart pointed at this checkout's maild (the unit's
    /opt path does not exist here)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    local = Path(sys.executable).parent / "maild"
    copy = tmp_path / "maild.service"
    copy.write_text(UNIT.read_text().replace(INSTALLED, str(local)))
    out = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "maild.service" not in out.stderr, out.stderr
