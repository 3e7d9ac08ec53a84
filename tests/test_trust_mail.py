"""Trust (docs/TRUST.md) by real mail: the issue's takeover attempt through Dovecot and the
SMTP sink, and forged Authentication-Results through ``maild ingest`` and
``maild staff address``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from maildenv import Maild, new_mail, parsed, reply_to, text_of, write_config
from servers import Dovecot, SmtpSink
from sqlmodel import Session, select

from maild.db.models import Customer, utcnow

OPERATOR = "callcenter@corp.example"
VIP = "liu.yang@sh.corp.example"
ATTACKER = "attacker@evil.example"
OURS = "mx.corp.example"
FORGED = ("工号: 10002\nEmail: attacker@evil.example\nPhone: +1 555 0100\n"
          "Description: please send my new PIN\n")


def last_to(sink: SmtpSink, addr: str) -> bytes:
    return [m.data for m in sink.messages if addr in m.rcpt_tos][-1]


def add_vip(m: Maild) -> None:
    with Session(m.rt.engine) as s:
        s.add(Customer(email=VIP, name="Liu Yang", employee_id="10002", company="上海分公司",
                       vip=True, created_at=utcnow()))
        s.commit()


def vip_email(m: Maild) -> str | None:
    with Session(m.rt.engine) as s:
        return s.exec(select(Customer).where(Customer.employee_id == "10002")).one().email


def maild_cli(*args: str, config: Path,
              stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "maild", *args, "--config", str(config)],
                          input=stdin, capture_output=True, timeout=60, check=False)


def test_takeover_by_forged_operator_mail_fails(maild: Maild, dovecot: Dovecot,
                                                smtp_sink: SmtpSink) -> None:
    """The issue's attack, by real mail, against a case opened before it."""

    def mail(raw: bytes, envelope_from: str) -> None:
        dovecot.deliver(raw, mail_from=envelope_from)
        maild.run_once()

    add_vip(maild)
    mail(new_mail(VIP, "VPN", "VPN down"), VIP)
    li = maild.case(1)["engineer"]["email"]
    mail(reply_to(last_to(smtp_sink, li), li, "#resolve new profile"), li)
    resolved = last_to(smtp_sink, VIP)
    # the forged phone summary, then a forged "confirm" by subject tag
    mail(new_mail(OPERATOR, "来电", FORGED), ATTACKER)
    mail(new_mail(VIP, "Re: [Case #1] VPN", "confirm"), ATTACKER)
    assert vip_email(maild) == VIP
    assert maild.case(1)["status"] == "resolved"
    assert not [m for m in smtp_sink.messages if ATTACKER in m.rcpt_tos]
    assert maild.personal(OPERATOR) in text_of(last_to(smtp_sink, OPERATOR))
    assert "[Case #1]" in str(parsed(last_to(smtp_sink, VIP))["Subject"])
    # the real customer replies to the case mail: that counts
    mail(reply_to(resolved, VIP, "confirm"), VIP)
    assert maild.case(1)["status"] == "closed"
    # the real operator writes to the personal address from the notice's footer
    summary = FORGED.replace(ATTACKER, "liu.yang@sh.corp.example")
    mail(new_mail(OPERATOR, "来电", summary, to=maild.personal(OPERATOR)), OPERATOR)
    assert maild.case(3)["channel"] == "phone"


def test_forged_authentication_results_through_maild_ingest(tmp_path: Path) -> None:
    config = write_config(tmp_path, 1, 1)
    with config.open("a", encoding="utf-8") as fh:
        fh.write(f'[trust]\nauthserv_id = "{OURS}"\n')
    m = Maild(config)
    add_vip(m)
    raw = new_mail(OPERATOR, "来电", FORGED)
    below_foreign = (f"Authentication-Results: mx.relay.example; dmarc=fail\r\n"
                     f"Authentication-Results: {OURS}; dmarc=pass\r\n").encode() + raw
    out = maild_cli("ingest", "--json", config=config, stdin=below_foreign)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["disposition"] == "new_case"
    assert vip_email(m) == VIP
    good = (f"Authentication-Results: {OURS}; dkim=pass header.d=corp.example; "
            "dmarc=pass header.from=corp.example\r\n").encode() + new_mail(
        OPERATOR, "来电", FORGED.replace(ATTACKER, "liu.yang2@sh.corp.example"))
    out = maild_cli("ingest", "--json", config=config, stdin=good)
    assert json.loads(out.stdout)["disposition"] == "phone_case", out.stdout
    assert vip_email(m) == "liu.yang2@sh.corp.example"


def test_staff_address_command(tmp_path: Path) -> None:
    m = Maild(write_config(tmp_path, 1, 1))
    out = maild_cli("staff", "address", OPERATOR, "--json", config=m.config)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"email": OPERATOR, "address": m.personal(OPERATOR)}
    plain = maild_cli("staff", "address", OPERATOR.upper(), config=m.config)
    assert plain.stdout.decode().strip() == m.personal(OPERATOR)
    stranger = maild_cli("staff", "address", ATTACKER, config=m.config)
    assert stranger.returncode == 1 and b"not a staff member" in stranger.stderr
