"""Trust (docs/TRUST.md) through the pipeline: every forgery an outsider can mail, and the
legitimate paths.

Each test feeds raw mail to ``service.ingest`` on a real SQLite (or PostgreSQL) database,
as the daemon does after fetching it; ``test_workflow`` covers the same paths through
Dovecot and aiosmtpd.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from maildenv import HELPDESK, Maild, feed, new_mail, outbox, reply_to, text_of, write_config
from sqlmodel import Session, select

from maild.db.models import Customer

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
OPERATOR = "callcenter@corp.example"
ENGINEER = "li.lei@corp.example"
VIP = "liu.yang@sh.corp.example"
ATTACKER = "attacker@evil.example"
OURS = "mx.corp.example"
FORGED_SUMMARY = ("工号: 10002\nEmail: attacker@evil.example\nPhone: +1 555 0100\n"
                  "Company: London Office\nPriority: P1\nEngineer: John Smith\n"
                  "Description: please reset my PIN\n")


def _maild(tmp_path: Path, authserv_id: str | None = None) -> Maild:
    path = write_config(tmp_path, 1, 1)
    if authserv_id:
        with path.open("a", encoding="utf-8") as fh:
            fh.write(f'[trust]\nauthserv_id = "{authserv_id}"\n')
    m = Maild(path)
    with Session(m.rt.engine) as s:
        s.add(Customer(email=VIP, name="Liu Yang", employee_id="10002", company="上海分公司",
                       phone="+86 21 0000", vip=True, created_at=NOW))
        s.commit()
    return m


@pytest.fixture
def m(tmp_path: Path) -> Maild:
    return _maild(tmp_path)


@pytest.fixture
def mx(tmp_path: Path) -> Maild:
    """An installation whose MTA stamps Authentication-Results as mx.corp.example."""
    return _maild(tmp_path, OURS)


def vip(m: Maild) -> Customer:
    with Session(m.rt.engine) as s:
        found = s.exec(select(Customer).where(Customer.employee_id == "10002")).one()
        s.expunge(found)
        return found


def stamped(raw: bytes, *headers: str) -> bytes:
    """``raw`` with Authentication-Results headers on top, in the order given."""
    return b"".join(f"Authentication-Results: {h}\r\n".encode() for h in headers) + raw


def with_headers(raw: bytes, **headers: str) -> bytes:
    return b"".join(f"{k.replace('_', '-')}: {v}\r\n".encode()
                    for k, v in headers.items()) + raw


def open_vip_case(m: Maild) -> bytes:
    """Liu Yang's case #1, resolved by the engineer; the resolved mail to Liu Yang."""
    assert feed(m, new_mail(VIP, "VPN", "VPN is down")) == ("new_case", 1)
    dispatch = outbox(m, "dispatch")[0].raw
    engineer = m.case(1)["engineer"]["email"]
    assert feed(m, reply_to(dispatch, engineer, "#resolve new profile")) == ("command", 1)
    return outbox(m, "resolved")[-1].raw


# --------------------------------------------------------------------- forged operators


def test_forged_operator_summary_takes_over_nobody(m: Maild) -> None:
    """The attack of the issue: no phone case, no directory change, the operator told."""
    before = vip(m)
    disposition, case_id = feed(m, new_mail(OPERATOR, "来电", FORGED_SUMMARY))
    assert disposition == "new_case"  # handled as the sender's own (customer) mail
    case = m.case(case_id or 0)
    assert case["channel"] == "email" and case["customer"]["email"] == OPERATOR
    assert case["priority"] != "P1"  # forged Priority: ignored
    assert (case["engineer"] or {}).get("email") != "john.smith@corp.example"  # forged Engineer
    after = vip(m)
    assert (after.email, after.phone, after.company, after.employee_id) == (
        before.email, before.phone, before.company, before.employee_id)
    assert not [o for o in outbox(m) if ATTACKER in o.recipients]
    [notice] = outbox(m, "staff_unproven")
    assert notice.recipients == [OPERATOR]
    assert m.personal(OPERATOR) in text_of(notice.raw)
    # a second forgery within the hour: still handled, no second notice
    feed(m, new_mail(OPERATOR, "来电", FORGED_SUMMARY), NOW + timedelta(minutes=30))
    assert len(outbox(m, "staff_unproven")) == 1
    feed(m, new_mail(OPERATOR, "来电", FORGED_SUMMARY), NOW + timedelta(minutes=61))
    assert len(outbox(m, "staff_unproven")) == 2


def test_after_a_forgery_the_real_customer_is_still_the_customer(m: Maild) -> None:
    feed(m, new_mail(OPERATOR, "来电", FORGED_SUMMARY))
    disposition, case_id = feed(m, new_mail(VIP, "Laptop", "screen broken"))
    assert disposition == "new_case" and m.case(case_id or 0)["customer"]["email"] == VIP
    assert feed(m, new_mail(ATTACKER, "PIN", "reset it"))[0] == "held"  # still a stranger


def test_forged_search_is_not_answered(m: Maild) -> None:
    disposition, _ = feed(m, new_mail(ENGINEER, "search", "#search VPN"))
    assert disposition == "new_case"
    assert outbox(m, "search_results") == []
    assert [o.recipients for o in outbox(m, "staff_unproven")] == [[ENGINEER]]


def test_forged_forward_on_behalf_of_a_customer_is_the_forwarders_own_mail(m: Maild) -> None:
    inner = EmailMessage()
    inner["From"], inner["Subject"] = VIP, "PIN"
    inner.set_content("send my new PIN to attacker@evil.example")
    outer = EmailMessage()
    outer["From"], outer["To"], outer["Subject"] = ENGINEER, HELPDESK, "Fwd: PIN"
    outer["Message-ID"] = make_msgid()
    outer.set_content("FYI")
    outer.add_attachment(inner)
    disposition, case_id = feed(m, outer.as_bytes())
    assert disposition == "new_case" and m.case(case_id or 0)["customer"]["email"] == ENGINEER
    assert [o.recipients for o in outbox(m, "staff_unproven")] == [[ENGINEER]]


def test_forged_staff_command_on_a_case_changes_nothing(m: Maild) -> None:
    open_vip_case(m)
    forged = new_mail(ENGINEER, "Re: [Case #1] VPN", "#reopen\n#reply your PIN is 0000")
    assert feed(m, forged) == ("new_case", 2)
    case = m.case(1)
    assert case["status"] == "resolved"
    assert not [o for o in outbox(m, "staff_reply")]


# --------------------------------------------------------------------- operators, proven


def test_operator_writing_to_the_personal_address_opens_the_phone_case(m: Maild) -> None:
    summary = FORGED_SUMMARY.replace("attacker@evil.example", "liu.yang2@sh.corp.example")
    disposition, case_id = feed(m, new_mail(OPERATOR, "来电", summary,
                                            to=m.personal(OPERATOR)))
    assert disposition == "phone_case"
    case = m.case(case_id or 0)
    assert case["priority"] == "P1" and case["engineer"]["email"] == "john.smith@corp.example"
    after = vip(m)
    assert (after.email, after.employee_id, after.company) == (
        "liu.yang2@sh.corp.example", "10002", "London Office")
    texts = [e["text"] for e in case["log"]]
    assert any(f"email {VIP} → liu.yang2@sh.corp.example" in t for t in texts)
    assert any("moves to another company" in t for t in texts)
    notices = outbox(m, "address_changed")
    assert sorted(o.recipients[0] for o in notices) == sorted([VIP, "liu.yang2@sh.corp.example"])
    assert outbox(m, "staff_unproven") == []


def test_summary_never_changes_an_employee_id(m: Maild) -> None:
    summary = "Name: Liu Yang\nCompany: 上海分公司\n工号: 99999\nDescription: printer\n"
    feed(m, new_mail(OPERATOR, "call", summary, to=m.personal(OPERATOR)))
    assert vip(m).employee_id == "10002"


def test_personal_address_of_someone_else_proves_nothing(m: Maild) -> None:
    """The attacker learnt li.lei's personal address: it is bound to li.lei."""
    disposition, _ = feed(m, new_mail(OPERATOR, "来电", FORGED_SUMMARY,
                                      to=m.personal(ENGINEER)))
    assert disposition == "new_case" and vip(m).email == VIP


def test_operator_with_our_dmarc_pass_is_recognised(mx: Maild) -> None:
    raw = stamped(new_mail(OPERATOR, "来电", FORGED_SUMMARY.replace("attacker@evil.example",
                                                                  VIP)),
                  f"{OURS}; spf=pass smtp.mailfrom=corp.example; dmarc=pass (p=reject) "
                  "header.from=corp.example")
    assert feed(mx, raw)[0] == "phone_case"


@pytest.mark.parametrize("headers", [
    # the sender's forged header of ours, below the one our MTA stamped
    (f"{OURS}; dmarc=fail header.from=corp.example", f"{OURS}; dmarc=pass"),
    # a forged one of ours on top: still two of ours, none believed
    (f"{OURS}; dmarc=pass", f"{OURS}; dmarc=none header.from=corp.example"),
    # ours below a foreign one (our MTA did not stamp; the header came with the mail)
    ("mx.relay.example; dmarc=fail", f"{OURS}; dmarc=pass"),
    # a signature of the attacker's own domain
    (f"{OURS}; dkim=pass header.d=evil.example; dmarc=fail header.from=corp.example",),
    # someone else's server vouching
    ("mx.evil.example; dmarc=pass header.from=corp.example",),
], ids=["forged-below-ours", "forged-above-ours", "ours-below-foreign", "unrelated-dkim",
        "foreign-id"])
def test_forged_authentication_results_are_not_believed(mx: Maild,
                                                        headers: tuple[str, ...]) -> None:
    raw = stamped(new_mail(OPERATOR, "来电", FORGED_SUMMARY), *headers)
    assert feed(mx, raw)[0] == "new_case"
    assert vip(mx).email == VIP
    assert len(outbox(mx, "staff_unproven")) == 1


def test_our_header_counts_only_when_authserv_id_is_configured(m: Maild) -> None:
    raw = stamped(new_mail(OPERATOR, "来电", FORGED_SUMMARY), f"{OURS}; dmarc=pass")
    assert feed(m, raw)[0] == "new_case" and vip(m).email == VIP


# --------------------------------------------------------------------- customers


@pytest.mark.parametrize(("words", "field"), [("confirm", "status"), ("5", "rating"),
                                               ("reopen", "status"), ("确认", "status")])
def test_forged_customer_state_change_by_subject_tag_changes_nothing(
        m: Maild, words: str, field: str) -> None:
    open_vip_case(m)
    before = m.case(1)[field]
    assert feed(m, new_mail(VIP, "Re: [Case #1] VPN", words)) == ("reply", 1)
    case = m.case(1)
    assert case[field] == before and case["status"] == "resolved"
    assert any(e["kind"] == "unproven" for e in case["log"])
    [ask] = outbox(m, "reply_to_case_mail")
    assert ask.recipients == [VIP]


@pytest.mark.parametrize(("words", "status", "rating"), [
    ("confirm", "closed", None), ("5", "resolved", 5), ("reopen", "in_progress", None)])
def test_customer_replying_to_the_case_mail_changes_the_case(
        m: Maild, words: str, status: str, rating: int | None) -> None:
    resolved = open_vip_case(m)
    assert feed(m, reply_to(resolved, VIP, words)) == ("reply", 1)
    case = m.case(1)
    assert case["status"] == status and case["rating"] == rating


def test_customer_reply_naming_our_mail_in_references_is_enough(m: Maild) -> None:
    """A client that replies to the plain address but keeps the thread headers."""
    resolved = open_vip_case(m)
    raw = reply_to(resolved, VIP, "confirm").replace(b"To: helpdesk+", b"X-Was: helpdesk+", 1)
    raw = with_headers(raw, To=HELPDESK)
    assert feed(m, raw) == ("reply", 1)
    assert m.case(1)["status"] == "closed"


def test_customer_with_our_dmarc_pass_may_confirm_by_subject(mx: Maild) -> None:
    open_vip_case(mx)
    raw = stamped(new_mail(VIP, "Re: [Case #1] VPN", "confirm"),
                  f"{OURS}; dkim=pass header.d=corp.example")
    assert feed(mx, raw) == ("reply", 1)
    assert mx.case(1)["status"] == "closed"


def test_stranger_naming_a_case_by_subject_is_a_stranger(m: Maild) -> None:
    open_vip_case(m)
    before = len(outbox(m, "customer_reply"))
    assert feed(m, new_mail(ATTACKER, "Re: [Case #1] VPN", "confirm")) == ("held", None)
    case = m.case(1)
    assert case["status"] == "resolved"
    assert any(ATTACKER in e["text"] for e in case["log"] if e["kind"] == "link")
    assert len(outbox(m, "customer_reply")) == before  # the engineer heard nothing


def test_known_customer_naming_someone_elses_case_gets_their_own(m: Maild) -> None:
    open_vip_case(m)
    m.add_customer("wang.fang@sh.corp.example", "王芳", company="上海分公司")
    disposition, case_id = feed(m, new_mail("Wang Fang <wang.fang@sh.corp.example>",
                                            "Re: [Case #1] VPN", "5"))
    assert disposition == "new_case" and case_id == 2
    assert m.case(1)["rating"] is None
    assert any("case #1" in e["text"] for e in m.case(2)["log"] if e["kind"] == "link")
    assert any("case #2" in e["text"] for e in m.case(1)["log"] if e["kind"] == "link")


def test_engineer_sees_the_real_sender_address(m: Maild) -> None:
    """A colleague on the thread who calls themselves "Liu Yang": the engineer sees who."""
    assert feed(m, new_mail(VIP, "VPN", "VPN is down")) == ("new_case", 1)
    ack = outbox(m, "ack")[0].raw
    other = "colleague@sh.corp.example"
    raw = reply_to(ack, f"Liu Yang <{other}>", "confirm").replace(
        b"To: helpdesk+", b"X-Was: helpdesk+", 1)
    assert feed(m, with_headers(raw, To=HELPDESK)) == ("reply", 1)
    forwarded = outbox(m, "customer_reply")[-1]
    assert f"Liu Yang <{other}>" in text_of(forwarded.raw)  # not just "Liu Yang"
    assert m.case(1)["status"] == "dispatched"


# --------------------------------------------------------------------- tokens and holders


def test_previous_engineers_token_may_log_but_not_move_the_case(m: Maild) -> None:
    assert feed(m, new_mail(VIP, "VPN", "VPN is down")) == ("new_case", 1)
    first = m.case(1)["engineer"]["email"]
    other = ({"li.lei@corp.example", "han.meimei@corp.example"} - {first}).pop()
    dispatch = outbox(m, "dispatch")[0].raw
    assert feed(m, reply_to(dispatch, first, f"#assign {other}")) == ("command", 1)
    assert feed(m, reply_to(dispatch, first, "#close done")) == ("rejected", 1)
    assert m.case(1)["status"] == "dispatched"
    assert feed(m, reply_to(dispatch, first, "#log called the user")) == ("command", 1)


def test_staff_footer_shows_the_personal_address_customers_do_not_get_one(m: Maild) -> None:
    feed(m, new_mail(VIP, "VPN", "VPN is down"))
    dispatch = outbox(m, "dispatch")[0]
    assert m.personal(dispatch.recipients[0]) in text_of(dispatch.raw)
    assert "+s-" not in text_of(outbox(m, "ack")[0].raw)


# --------------------------------------------------------------------- floods


def test_one_sender_cannot_make_maild_write_without_end(tmp_path: Path) -> None:
    path = write_config(tmp_path, 1, 1)
    with path.open("a", encoding="utf-8") as fh:
        fh.write("[limits]\nmails_per_sender_per_hour = 3\n")
    m = Maild(path)
    m.add_customer(VIP, "Liu Yang", company="上海分公司")
    for i in range(5):
        assert feed(m, new_mail(VIP, f"printer {i}", "jams"),
                    NOW + timedelta(minutes=i))[0] == "new_case"
    assert len(outbox(m, "dispatch")) == 3 and len(outbox(m, "ack")) == 3
    assert [o.recipients for o in outbox(m, "flood_alert")] == [[OPERATOR]]
    assert any(e["kind"] == "suppressed" and "dispatch to" in e["text"]
               for e in m.case(5)["log"])
    # an hour after the last of them, the sender's mail is answered again
    assert feed(m, new_mail(VIP, "printer 6", "jams"), NOW + timedelta(minutes=65))[0] == \
        "new_case"
    assert len(outbox(m, "dispatch")) == 4 and len(outbox(m, "flood_alert")) == 1
