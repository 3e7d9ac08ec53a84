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
    assert text.count("close: confirmed by the customer") == 4
    # a printer fault up the support lines: Han Meimei → Wang Qiang (line 2) → the vendor
    assert "case #4 escalate: line 1 → line 2" in text
    assert "case #4 escalate: line 2 → line 3 (PrintCo vendor support)" in text
    assert "support@printco.example → helpdesk+c4-" in text
    assert "resolution: Replaced the laser scanner unit" in text
    assert "case #3 created: case opened by phone" in text
    assert "callcenter@corp.example → helpdesk+s-" in text
    assert "All cases resolved and closed." in text
    # a complaint, the supervisor closing it, and the follow-up survey answered
    assert "case #1 complaint: complaint (timeliness): 工程师第一次上门迟到" in text
    assert "helpdesk@corp.example → cs-lead@corp.example" in text and "【投诉·超时迟到】" in text
    assert "case #1 complaint: complaint closed: 已致歉" in text
    assert "case #1 survey: follow-up survey sent to wang.fang@sh.corp.example (complaint)" in text
    assert "case #1 survey: score 4/5: 问题解决了" in text
    assert "follow-up survey: score 4" in text
    assert "wang.fang@sh.corp.example → helpdesk@corp.example" in text


def test_demo_serve_prints_events_live_and_its_logins_work() -> None:
    """`demo --serve`: the printed IMAP logins log in, and a new mail sent then shows up
    in the output (case created, acknowledgement delivered) while it keeps running."""
    import imaplib
    import queue
    import re
    import signal
    import smtplib
    import threading
    from email.message import EmailMessage

    proc = subprocess.Popen([sys.executable, "-m", "maild", "demo", "--serve"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout

    def pump() -> None:
        for line in stdout:
            lines.put(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()

    def read_until(marker: str) -> str:
        seen = []
        while True:
            line = lines.get(timeout=90)
            seen.append(line)
            if marker in line:
                return "".join(seen)

    try:
        banner = read_until("What happens from now on")
        ports = re.search(r"IMAP  127\.0\.0\.1:(\d+)    SMTP  127\.0\.0\.1:(\d+)", banner)
        assert ports is not None, banner
        imap_port, smtp_port = int(ports[1]), int(ports[2])
        assert re.search(r"li\.lei@corp\.example\s+demo", banner)
        assert re.search(r"wang\.fang@sh\.corp\.example\s+demo", banner)
        assert re.search(r"support@printco\.example\s+demo", banner)  # the vendor, line 3
        assert re.search(r"wang\.qiang@corp\.example\s+demo", banner)  # line 2
        with imaplib.IMAP4("127.0.0.1", imap_port) as imap:
            assert imap.login("wang.fang@sh.corp.example", "demo")[0] == "OK"
            imap.select("INBOX")
        msg = EmailMessage()
        msg["From"], msg["To"] = "wang.fang@sh.corp.example", "helpdesk@corp.example"
        msg["Subject"] = "显示器不亮"
        msg.set_content("办公室的显示器不亮了")
        with smtplib.SMTP("127.0.0.1", smtp_port) as smtp:
            smtp.send_message(msg)
        live = read_until("case #5 created")  # #1-#4 are the scripted ones
        live += read_until("[Case #5] 【已受理】显示器不亮")  # the acknowledgement, delivered
        assert "helpdesk@corp.example" in live
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        reader.join(timeout=10)
        stdout.close()
