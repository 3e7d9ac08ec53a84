"""What to do with one inbound message: the whole decision, as one ordered table.

The service reads what the decision needs into ``Facts`` (one read of the
message and the database); ``classify`` walks ``RULES`` top to bottom and the
first rule whose test holds names the ``Route``. The order is the order of the
reference's "what happens to an inbound message" list, with the trust table
(``core.trust``) asked wherever a route needs a proof of the sender: nobody to
answer, duplicates, auto-generated mail, a proven staff command on a problem, mail
about a case (a proven staff
command, the case's customer, someone else in its thread), a confirmation of a
held message, mailbox commands, proven staff mail that opens a case for someone
else, then new cases and strangers. A staff address without the proof its
request needs falls through to the customers' routes, and the decision says so
(``unproven``), so that the staff member is told.

Each route has one service function (``maild.service.intake.ROUTES``) that
applies it in the message's transaction; the decision's other effects (telling
an unproven staff member, linking a case named by a stranger) are applied by
``maild.service.intake.handle`` in one place. To add a way of handling mail: a
field in ``Facts`` if a rule needs to know something new, a row here, a
``Route`` and its service function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from maild.core.trust import Action, Claim, Proof, allowed
from maild.core.values import STAFF_ROLES, Role


class Route(StrEnum):
    """Where a message goes; the service function of the same name records a disposition."""

    FAIL = "fail"
    DUPLICATE = "duplicate"
    IGNORE = "ignore"
    COMMAND = "command"  # proven staff (or a vendor by its token): tags on a case
    PROBLEM = "problem"  # proven staff: tags on a problem
    REPLY = "reply"  # the case's customer, or someone else in its thread, wrote on it
    RELEASE = "release"  # a stranger confirmed a held message
    HELP = "help"  # #help to the helpdesk address
    SEARCH = "search"  # #search from proven staff
    WORKLOAD = "workload"  # #mine or #queue from proven staff
    FORWARDED = "forwarded"  # proven staff forwarded a customer's mail
    PHONE = "phone"  # a proven operator's phone summary
    NEW_CASE = "new_case"
    HOLD = "hold"  # stranger, policy hold
    REJECT = "reject"  # stranger, policy reject


# A staff member's own workload, asked by mail to the helpdesk address.
WORKLOAD_TAGS = ("mine", "queue")


@dataclass(frozen=True)
class Facts:
    """Everything the decision looks at, read once by the service."""

    has_author: bool  # a From or Sender address (Return-Path alone names nobody)
    duplicate_of: int | None = None  # id of the earlier message with the same key
    auto_generated: str | None = None  # why it is an auto-reply, bulk, bounce or loop
    case_id: int | None = None  # the case it threads to (token, [Case #N], References)
    via: str | None = None  # how: "token" | "subject" | "references"
    problem_id: int | None = None  # the problem it names (problem token, [Problem P<n>])
    references_case: bool = False  # its References name a mail of that very case
    case_customer: bool = False  # From is the case's customer
    role: Role | None = None  # the role in rules/ of its From address (a claim, not a proof)
    proofs: frozenset[Proof] = frozenset()  # what proves the sender (core.trust)
    held_id: int | None = None  # the held message a verified hold token points at
    first_tag: str | None = None  # the first tag of the new text
    looks_forwarded: bool = False  # "Fwd:" subject or a forwarded-message block
    forwarded_from: str | None = None  # the author of the forwarded mail, if another
    known_customer: bool = False  # the sender is in the customer directory
    unknown_senders: str = "hold"  # open | hold | reject

    @property
    def staff(self) -> bool:
        return self.role in STAFF_ROLES

    def may(self, action: Action) -> bool:
        """The trust table (``core.trust.allowed``) for staff asking ``action``."""
        return self.staff and allowed(Claim.STAFF, action, self.proofs)

    @property
    def in_thread(self) -> bool:
        """On a case by more than a subject tag anyone can type."""
        return self.case_id is not None and (self.via != "subject" or self.references_case)


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
    Rule("proven staff on a problem",
         lambda f: f.problem_id is not None and f.may(Action.PROBLEM_COMMAND), Route.PROBLEM),
    Rule("proven staff on a case",
         lambda f: f.case_id is not None and f.may(Action.STAFF_COMMAND), Route.COMMAND),
    Rule("the vendor on a case, by its token",
         lambda f: f.case_id is not None and f.role == Role.VENDOR
         and allowed(Claim.VENDOR, Action.STAFF_COMMAND, f.proofs), Route.COMMAND),
    Rule("the case's customer", lambda f: f.case_id is not None and f.case_customer,
         Route.REPLY),
    Rule("someone in the case's thread", lambda f: f.in_thread, Route.REPLY),
    Rule("confirms a held mail", lambda f: f.held_id is not None, Route.RELEASE),
    Rule("#help", lambda f: f.first_tag == "help", Route.HELP),
    Rule("#search from proven staff",
         lambda f: f.first_tag == "search" and f.may(Action.MAILBOX), Route.SEARCH),
    Rule("#mine or #queue from proven staff",
         lambda f: f.first_tag in WORKLOAD_TAGS and f.may(Action.MAILBOX), Route.WORKLOAD),
    Rule("forward from proven staff",
         lambda f: f.forwarded_from is not None and f.may(Action.MAILBOX), Route.FORWARDED),
    Rule("summary from a proven operator",
         lambda f: f.role == Role.OPERATOR and f.may(Action.MAILBOX), Route.PHONE),
    Rule("known sender", lambda f: f.known_customer or f.staff or f.unknown_senders == "open",
         Route.NEW_CASE),
    Rule("stranger, hold", lambda f: f.unknown_senders == "hold", Route.HOLD),
    Rule("stranger, reject", lambda f: True, Route.REJECT),
)

# Routes that are about the case the mail named (or about no case at all): any other
# route taken by a mail that named a case means a stranger named it, which its log says.
_ON_A_CASE = frozenset({Route.FAIL, Route.DUPLICATE, Route.IGNORE, Route.COMMAND, Route.REPLY,
                        Route.RELEASE, Route.PROBLEM})
# Routes after which a staff member may need telling that their address was not believed.
_FELL_THROUGH = frozenset({Route.REPLY, Route.NEW_CASE, Route.HOLD, Route.REJECT})


@dataclass(frozen=True)
class Decision:
    """The route, the rule that chose it, and the side effects the service applies."""

    route: Route
    rule: str
    unproven: str | None = None  # what staff asked without the proof it needs
    link_case: int | None = None  # the case a stranger named by subject: log where it went


def classify(facts: Facts, rules: tuple[Rule, ...] = RULES) -> Decision:
    """The first rule that holds decides."""
    for rule in rules:
        if rule.test(facts):
            linked = None if rule.route in _ON_A_CASE else facts.case_id
            return Decision(rule.route, rule.name, _unproven(facts, rule.route), linked)
    raise AssertionError("the last rule always holds")


def _unproven(f: Facts, route: Route) -> str | None:
    """What a mail from a staff address asked for that its proofs do not allow."""
    if not f.staff or route not in _FELL_THROUGH:
        return None
    if f.problem_id is not None and not f.may(Action.PROBLEM_COMMAND):
        return f"a command on problem P{f.problem_id}"
    if f.case_id is not None and not f.may(Action.STAFF_COMMAND):
        return f"a command on case #{f.case_id}"
    if f.first_tag in ("search", *WORKLOAD_TAGS):
        asks = f"#{f.first_tag}"
    elif f.looks_forwarded:
        asks = "a mail forwarded on behalf of a customer"
    elif f.role == Role.OPERATOR:
        asks = "a phone summary"
    else:
        return None
    return None if f.may(Action.MAILBOX) else asks
