"""`maild demo` on a fresh machine: the embedded servers and the whole loop."""

from __future__ import annotations

import subprocess
import sys

from maildenv import REPO


def test_demo_plays_the_whole_loop() -> None:
    """It exits 0 and its timeline shows every case resolved and closed, the phone case
    too: the demo's operator writes to a personal address."""
    out = subprocess.run([sys.executable, "-m", "maild", "demo"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert "case #1 created" in text and "case #2 created" in text
    assert "resolution: 更换了搓纸轮" in text
    assert text.count("close: confirmed by the customer") == 3
    assert "case #3 created: case opened by phone" in text
    assert "callcenter@corp.example → helpdesk+s-" in text
    assert "All cases resolved and closed." in text
    assert "wang.fang@sh.corp.example → helpdesk@corp.example" in text
