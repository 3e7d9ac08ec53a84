"""What to do with one inbound message: the whole decision, as one ordered table.

The service reads what the decision needs into ``Facts`` (one read of the
message and the database); ``classify`` walks ``RULES`` top to bottom and the
first rule whose test holds names the ``Route``. The order is the order of the
reference's "what happens to an inbound message" list: nobody to answer,
duplicates, auto-generated mail, mail about a case, mail that confirms a held
message, mailbox commands, staff mail that opens a case for someone else, then
new cases and strangers. Each route has one service function
(``maild.service.intake.ROUTES``) that applies it in the message's transaction.

To add a way of handling mail: a field in ``Facts`` if the rule needs to know
something new, a row here, a ``Route`` and its service function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from maild.core.values import STAFF_ROLES, Role


class Route(StrEnum):
    """What the service does; most give the disposition of the same name."""

    FAIL = "fail"
    DUPLICATE = "duplicate"
    IGNORE = "ignore"
    COMMAND = "command"  # staff tags on a case
    REPLY = "reply"  # the customer (or anyone else threaded to a case) wrote on it
    RELEASE = "release"  # a stranger confirmed a held message
    HELP = "help"  # #help to the helpdesk address
    SEARCH = "search"  # #search from staff
    FORWARDED = "forwarded"  # staff forwarded a customer's mail: a case for that customer
    PHONE = "phone"  # an operator's phone summary
    NEW_CASE = "new_case"
    HOLD = "hold"  # stranger, policy hold
    REJECT = "reject"  # stranger, policy reject


@dataclass(frozen=True)
class Facts:
    """Everything the decision looks at, read once by the service."""

    has_author: bool  # a From or Sender address (Return-Path alone names nobody)
    duplicate_of: int | None = None  # id of the earlier message with the same key
    auto_generated: str | None = None  # why it is an auto-reply, bulk, bounce or loop
    case_id: int | None = None  # the case it threads to (token, [Case #N], References)
    role: Role | None = None  # the sender's role in rules/, by its From address
    case_token_owner: bool = False  # came through a case token issued to this sender
    held_id: int | None = None  # the held message a verified hold token points at
    first_tag: str | None = None  # the first tag of the new text
    forwarded_from: str | None = None  # the author of a mail staff forwarded, if another
    known_customer: bool = False  # the sender is in the customer directory
    unknown_senders: str = "hold"  # open | hold | reject

    @property
    def staff(self) -> bool:
        return self.role in STAFF_ROLES


@dataclass(frozen=True)
class Rule:
    """One row of the table: a name for the log, a test, the route when it holds."""

    name: str
    test: Callable[[Facts], bool]
    route: Route


RULES: tuple[Rule, ...] = (
    Rule("no author", lambda f: not f.has_author, Route.FAIL),
    Rule("seen before", lambda f: f.duplicate_of is not None, Route.DUPLICATE),
    Rule("auto-generated", lambda f: f.auto_generated is not None, Route.IGNORE),
    Rule("staff on a case", lambda f: f.case_id is not None and f.staff and f.case_token_owner,
         Route.COMMAND),
    Rule("on a case", lambda f: f.case_id is not None, Route.REPLY),
    Rule("confirms a held mail", lambda f: f.held_id is not None, Route.RELEASE),
    Rule("#help", lambda f: f.first_tag == "help", Route.HELP),
    Rule("#search from staff", lambda f: f.first_tag == "search" and f.staff, Route.SEARCH),
    Rule("staff forward", lambda f: f.staff and f.forwarded_from is not None, Route.FORWARDED),
    Rule("phone summary", lambda f: f.role == Role.OPERATOR, Route.PHONE),
    Rule("known sender", lambda f: f.known_customer or f.staff or f.unknown_senders == "open",
         Route.NEW_CASE),
    Rule("stranger, hold", lambda f: f.unknown_senders == "hold", Route.HOLD),
    Rule("stranger, reject", lambda f: True, Route.REJECT),
)


@dataclass(frozen=True)
class Decision:
    route: Route
    rule: str


def classify(facts: Facts, rules: tuple[Rule, ...] = RULES) -> Decision:
    """The first rule that holds decides."""
    for rule in rules:
        if rule.test(facts):
            return Decision(rule.route, rule.name)
    raise AssertionError("the last rule always holds")

