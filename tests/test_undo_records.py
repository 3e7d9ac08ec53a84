"""``#undo`` of complaint tags and problem links, by real mail (Dovecot + SMTP sink), fed
with times: a complaint recorded, added to, re-categorised or closed by a mail is put back
as it was; a ``#problem P<n>`` link is taken back; a mail that opened a problem is
refused with the reason; and a forged ``#undo`` takes back none of them."""

from __future__ import annotations

from datetime import datetime, timedelta

from maildenv import FED_AT, Maild, feed, new_mail, outbox, reply_to, text_of
from sqlmodel import Session

from maild.db.models import Complaint, Problem
from maild.service import complaints

ALICE, BOB = "alice@uk.corp.example", "bob@uk.corp.example"  # London Office: John Smith
JOHN = "john.smith@corp.example"
OPERATOR, SUPERVISOR, IM = "callcenter@corp.example", "cs-lead@corp.example", "im@corp.example"
RUDE = "#complaint the engineer was rude on the phone"


def at(minutes: int) -> datetime:
    return FED_AT + timedelta(minutes=minutes)


def _case(m: Maild, customer: str = ALICE, name: str = "Alice") -> bytes:
    """A dispatched case of the customer's; John's dispatch mail."""
    m.add_customer(customer, name)
    feed(m, new_mail(customer, "Printer jams", "every page jams"))
    return [o.raw for o in outbox(m, "dispatch")][-1]


def _by_operator(m: Maild, text: str, minutes: int, case_id: int = 1) -> str:
    """The operator's mail on a case through their personal address (proof 2)."""
    return feed(m, new_mail(OPERATOR, f"Re: [Case #{case_id}] Printer jams", text,
                            to=m.personal(OPERATOR)), FED_AT + timedelta(minutes=minutes))[0]


def _rows(m: Maild) -> list[Complaint]:
    with Session(m.rt.engine) as s:
        return complaints.listed(s, case_id=1)


def _complaints(m: Maild) -> list[tuple[str, str, str | None]]:
    return [(c.status, c.category, c.outcome) for c in _rows(m)]


def _last_transcript(m: Maild, to: str) -> str:
    return text_of([o for o in outbox(m, "transcript") if o.to_addr == to][-1].raw)


def _undo_log(m: Maild, case_id: int = 1) -> list[str]:
    return [e["text"] for e in m.case(case_id)["log"] if e["kind"] == "undo"]


def test_undo_takes_back_a_complaint_the_mail_recorded(maild: Maild) -> None:
    """An operator records a phone complaint on the wrong case and takes it back: the
    complaint is gone (it counts against no engineer), and the supervisors and the
    engineer it was mailed to are asked to disregard it."""
    _case(maild)
    assert _by_operator(maild, RUDE, 1) == "command"
    assert _complaints(maild) == [("open", "attitude", None)]
    told = {o.to_addr for o in outbox(maild, "complaint")}
    assert {SUPERVISOR, JOHN} <= told
    assert _by_operator(maild, "#undo", 2) == "command"
    assert _complaints(maild) == [] and maild.case(1)["complaints"] == []
    assert told <= {o.to_addr for o in outbox(maild, "undone")}
    assert "complaint" in _undo_log(maild)[0]


def test_undo_puts_back_a_category_a_closed_complaint_and_added_text(maild: Maild) -> None:
    """A supervisor's #category and #complaint-close, and an operator's #complaint that
    added to the open complaint, each taken back by #undo."""
    _case(maild)
    _by_operator(maild, RUDE, 1)
    told = [o.raw for o in outbox(maild, "complaint") if o.to_addr == SUPERVISOR][-1]
    feed(maild, reply_to(told, SUPERVISOR, "#category timeliness"), at(2))
    assert _complaints(maild) == [("open", "timeliness", None)]
    feed(maild, reply_to(told, SUPERVISOR, "#undo"), at(3))
    assert _complaints(maild) == [("open", "attitude", None)]
    feed(maild, reply_to(told, SUPERVISOR, "#complaint-close called back, apologised"), at(4))
    assert _complaints(maild) == [("closed", "attitude", "called back, apologised")]
    feed(maild, reply_to(told, SUPERVISOR, "#undo"), at(5))
    assert _complaints(maild) == [("open", "attitude", None)]
    assert _rows(maild)[0].closed_at is None
    assert "-> 已执行" in _last_transcript(maild, SUPERVISOR)  # the supervisor reads Chinese
    _by_operator(maild, "#complaint and he left without fixing it", 6)
    assert "left without fixing it" in _rows(maild)[0].text
    _by_operator(maild, "#undo", 7)
    assert [c.text for c in _rows(maild)] == ["the engineer was rude on the phone"]


def test_undo_refuses_a_complaint_changed_since(maild: Maild) -> None:
    """The complaint a mail opened was added to by the customer since: taking it back
    would lose what they wrote, so nothing is undone and the transcript says why."""
    _case(maild)
    _by_operator(maild, RUDE, 1)
    ack = [o.raw for o in outbox(maild, "ack")][-1]
    feed(maild, reply_to(ack, ALICE, "投诉：工程师到现在也没回电话"), at(2))
    assert len(_rows(maild)) == 1 and "没回电话" in _rows(maild)[0].text
    assert _by_operator(maild, "#undo", 3) == "rejected"
    assert _complaints(maild) == [("open", "attitude", None)]
    assert "complaint has changed since" in _last_transcript(maild, OPERATOR)
    assert not outbox(maild, "undone")


def test_undo_of_a_close_refused_after_a_new_complaint(maild: Maild) -> None:
    """The supervisor closed the complaint, then the customer complained again (a new
    complaint opens): #undo of the close would reopen the old one beside the new one, two
    open complaints on one case, so nothing is undone and the transcript says why."""
    _case(maild)
    _by_operator(maild, RUDE, 1)
    told = [o.raw for o in outbox(maild, "complaint") if o.to_addr == SUPERVISOR][-1]
    feed(maild, reply_to(told, SUPERVISOR, "#complaint-close called back"), at(2))
    ack = [o.raw for o in outbox(maild, "ack")][-1]
    feed(maild, reply_to(ack, ALICE, "投诉：还是没人来修"), at(3))
    assert [c[0] for c in _complaints(maild)] == ["closed", "open"]
    assert feed(maild, reply_to(told, SUPERVISOR, "#undo"), at(4))[0] == "rejected"
    assert [c[0] for c in _complaints(maild)] == ["closed", "open"]
    assert "又有了新的投诉" in _last_transcript(maild, SUPERVISOR)  # Zhou Min reads Chinese
    assert not outbox(maild, "undone")


def test_undo_takes_back_a_problem_link_but_not_an_opened_problem(maild: Maild) -> None:
    """#problem P<n> links a case, and #undo takes the link back (to the problem it had
    before); a mail that opened a problem is refused, naming it, and nothing changes."""
    dispatch = _case(maild)
    feed(maild, reply_to(dispatch, JOHN, "#inprogress\n#problem Printers jam on every floor"),
         at(1))
    assert maild.case(1)["problem"] == 1
    feed(maild, reply_to(dispatch, JOHN, "#undo"), at(2))
    refused = _last_transcript(maild, JOHN)
    assert "P1" in refused and "nothing was undone" in refused
    case = maild.case(1)
    assert case["problem"] == 1 and case["status"] == "in_progress"
    assert not outbox(maild, "undone")
    with Session(maild.rt.engine) as s:
        assert s.get(Problem, 1) is not None
    # a second problem on Bob's case, then Alice's case moved to it, then taken back
    second = _case(maild, BOB, "Bob")
    feed(maild, reply_to(second, JOHN, "#problem Toner batch 42"), at(3))
    feed(maild, reply_to(dispatch, JOHN, "#problem P2"), at(4))
    assert maild.case(1)["problem"] == 2
    linked = {o.to_addr for o in outbox(maild, "problem") if "[Problem P2]" in o.subject}
    assert IM in linked
    assert feed(maild, reply_to(dispatch, JOHN, "#undo"), at(5))[0] == "command"
    assert maild.case(1)["problem"] == 1 and maild.case(2)["problem"] == 2
    assert IM in {o.to_addr for o in outbox(maild, "undone")}
    assert any("P2 → P1" in text for text in _undo_log(maild))


def test_forged_undo_takes_back_no_complaint_and_no_link(maild: Maild) -> None:
    """From: of the staff member who may undo, but no proof (the subject tag alone, or the
    customer's reply address): the complaint and the problem link stay, nobody is told.
    The same #undo with a proof then does act: the forged ones changed nothing."""
    dispatch = _case(maild)
    feed(maild, reply_to(dispatch, JOHN, "#problem Printers jam"), at(1))
    _by_operator(maild, RUDE, 2)
    second = _case(maild, BOB, "Bob")
    feed(maild, reply_to(second, JOHN, "#problem P1"), at(3))
    acks = [o.raw for o in outbox(maild, "ack")]
    for n, (sender, case_id) in enumerate([(OPERATOR, 1), (JOHN, 2)]):
        feed(maild, new_mail(sender, f"Re: [Case #{case_id}] Printer jams", "#undo"), at(4 + n))
        feed(maild, reply_to(acks[case_id - 1], sender, "#undo"), at(6 + n))
    assert _complaints(maild) == [("open", "attitude", None)]
    assert maild.case(2)["problem"] == 1
    assert not outbox(maild, "undone")
    assert not _undo_log(maild, 1) and not _undo_log(maild, 2)
    assert outbox(maild, "staff_unproven")  # their registered addresses hear of it
    # with a proof, within the window
    assert _by_operator(maild, "#undo", 9) == "command"
    assert feed(maild, reply_to(second, JOHN, "#undo"), at(10))[0] == "command"
    assert _complaints(maild) == [] and maild.case(2)["problem"] is None
