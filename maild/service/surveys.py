"""The follow-up survey (回访): asked once per chosen closed case, answered by reply.

``send_due`` is a scheduled job: cases closed at least ``[survey] after_hours``
ago (and at most a week before that, so that switching surveys on does not ask
about old history) that ``core.survey.chosen`` picks get one mail asking for a
score of 1-5 and a comment. The ``surveys`` row is inserted in the transaction
that queues the mail; its unique case makes it exactly once across restarts,
crashes and replicas. ``answer`` keeps the customer's reply; a score of 1 or 2
mails the supervisors and logs a follow-up.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
from sqlmodel import Session, col, select

from maild.core import cases, notify
from maild.core.survey import Answer, chosen
from maild.db import queries
from maild.db.models import Case, Complaint, Customer, Survey
from maild.db.session import transaction
from maild.runtime import Runtime
from maild.service.isolated import each
from maild.service.notices import base_context, case_context, enqueue
from maild.service.opening import notify_events

log = logging.getLogger("maild.survey")

WINDOW = timedelta(days=7)  # how long after it was due a survey is still sent
LOW = 2  # a score at or below this alerts the supervisors


def pending(s: Session, case_id: int) -> Survey | None:
    """The case's survey, sent and not answered yet."""
    return s.exec(select(Survey).where(Survey.case_id == case_id)
                  .where(col(Survey.answered_at).is_(None))).first()


def _candidates(rt: Runtime, now: datetime) -> list[tuple[int, str]]:
    """(case, why) for each closed case in the window, not asked yet, that is chosen: one
    read, so that the cases the sample leaves out cost no transaction of their own."""
    cfg = rt.settings.survey
    due = now - timedelta(hours=cfg.after_hours)
    asked = sa.select(col(Survey.case_id)).where(col(Survey.case_id) == col(Case.id)).exists()
    complained = sa.select(col(Complaint.id)).where(
        col(Complaint.case_id) == col(Case.id)).exists()
    q = (sa.select(col(Case.id), col(Customer.vip), complained)
         .join(Customer, col(Customer.id) == col(Case.customer_id))
         .where(col(Case.status) == "closed", col(Case.closed_at) <= due,
                col(Case.closed_at) > due - WINDOW, col(Customer.email).is_not(None), ~asked)
         .order_by(col(Case.id)))
    with transaction(rt.engine) as s:
        rows = list(s.connection().execute(q))
    out: list[tuple[int, str]] = []
    for case_id, vip, had_complaint in rows:
        why = chosen(case_id or 0, rt.settings.helpdesk.secret, cfg.sample, vip=bool(vip),
                     ask_vips=cfg.vip, complained=bool(had_complaint))
        if why is not None and case_id is not None:
            out.append((case_id, why))
    return out


def send_due(rt: Runtime, now: datetime) -> int:
    """Ask every chosen case whose survey is due; returns how many were asked."""
    return each(_candidates(rt, now), lambda pick: _ask(rt, pick[0], pick[1], now),
                "survey of case")


def _ask(rt: Runtime, case_id: int, why: str, now: datetime) -> bool:
    """Claim the case's survey and queue the mail, in one transaction; False: another
    replica asked first, or the case is no longer closed."""
    try:
        with transaction(rt.engine) as s:
            case = queries.get_case(s, case_id)
            customer = s.get(Customer, case.customer_id) if case and case.customer_id else None
            if case is None or case.status != "closed" or customer is None \
                    or not customer.email:
                return False
            s.add(Survey(case_id=case_id, engineer=case.engineer_email, reason=why,
                         sent_at=now))
            s.flush()  # the claim: a second sender fails here, before any mail
            queries.add_log(s, case_id, now, "maild", "survey",
                            f"follow-up survey sent to {customer.email} ({why})")
            to = notify.Recipient(customer.email, customer.name, case.language)
            enqueue(s, rt, notify.Notice("survey", to),
                    base_context(rt, case_context(s, rt, case)), now, case=case)
    except sa_exc.IntegrityError:
        return False  # another replica asked first
    log.info("survey of case %s sent (%s)", case_id, why)
    return True


def answer(s: Session, rt: Runtime, case: Case, survey: Survey, given: Answer, author: str,
           name: str, now: datetime, in_reply_to: str | None) -> None:
    """Keep the customer's score and comment; 1 or 2 alerts the supervisors."""
    assert case.id is not None
    survey.score, survey.comment, survey.answered_at = given.score, given.comment or None, now
    comment = f": {given.comment}" if given.comment else ""
    queries.add_log(s, case.id, now, author, "survey", f"score {given.score}/5{comment}")
    s.flush()
    if given.score <= LOW:
        queries.add_log(s, case.id, now, "maild", "followup",
                        f"survey score {given.score}: the supervisors are asked to follow up")
        case.updated_at = now
        notify_events(s, rt, case, (cases.Event("survey_low", given.comment or None),), name,
                      author, in_reply_to)
