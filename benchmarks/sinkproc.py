"""The test SMTP sink (tests/servers.py) in its own process, for benchmarks.

maild's benchmarks run maild in-process; a sink thread in the same process
would take its share of the same interpreter lock. Run as a script it
listens on PORT and writes one JSON line per accepted mail to stdout:
arrival time, recipients and the threading headers.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from email.parser import BytesHeaderParser
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parent.parent


class SinkProcess:
    """``with SinkProcess() as sink:`` … ``sink.count()`` / ``sink.records()``."""

    def __init__(self, out: Path) -> None:
        sys.path.insert(0, str(ROOT / "tests"))
        from servers import free_port

        self.port = free_port()
        self.out = out
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> SinkProcess:
        self.fh = self.out.open("wb")
        self.proc = subprocess.Popen([sys.executable, __file__, str(self.port)], stdout=self.fh)
        deadline = time.monotonic() + 20
        import socket
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("sink process did not start")

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(10)
        self.fh.close()

    def records(self) -> list[dict[str, object]]:
        text = self.out.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.endswith("}")]

    def count(self) -> int:
        return sum(1 for line in self.out.read_bytes().splitlines() if line.endswith(b"}"))

    def wait_for(self, n: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while (got := self.count()) < n and time.monotonic() < deadline:
            time.sleep(0.1)
        return got


def _serve(port: int) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    import servers

    parser = BytesHeaderParser()

    class Sink(servers.SmtpSink):
        def _accept(self, rec: servers.SinkMessage) -> str:
            h = parser.parsebytes(rec.data)
            line = {"t": rec.received_at, "to": list(rec.rcpt_tos),
                    "in_reply_to": h.get("In-Reply-To", ""), "references": h.get("References", ""),
                    "subject": str(h.get("Subject", ""))}
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()
            return "250 2.0.0 OK"

    with Sink(port=port):
        import signal
        signal.sigwait({signal.SIGTERM, signal.SIGINT})


if __name__ == "__main__":
    import signal
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    _serve(int(sys.argv[1]))
