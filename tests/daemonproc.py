"""``maild run`` as a real child process, with JSON logs to a file the test can wait on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Event = dict[str, Any]


def add_sections(config: Path, text: str) -> None:
    """Append TOML sections (e.g. [logging], [metrics]) to a test config."""
    with config.open("a", encoding="utf-8") as f:
        f.write("\n" + text.strip() + "\n")


class DaemonProcess:
    """A started ``maild run``; ``events()`` are its parsed JSON log lines."""

    def __init__(self, config: Path, log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "maild", "run", "--config", str(config)],
            stdout=subprocess.DEVNULL, stderr=self._log)

    def events(self) -> list[Event]:
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def wait_for(self, match: Callable[[Event], bool], timeout: float = 20.0,
                 after: int = 0) -> Event:
        """The first event (from index ``after``) for which ``match`` is true."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events()[after:]:
                if match(event):
                    return event
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no matching log event within {timeout}s "
                             f"(exit {self.proc.poll()}):\n{self.log_path.read_text()[-3000:]}")

    def wait_running(self) -> None:
        self.wait_for(lambda e: e.get("event") == "running", timeout=30)

    def signal(self, sig: signal.Signals) -> None:
        os.kill(self.proc.pid, sig)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
