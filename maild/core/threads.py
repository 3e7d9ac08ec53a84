"""Which case does a message belong to: reply token, subject tag, then headers.

Only the first two are pure; matching In-Reply-To/References needs the
database and is done by the service with ``reference_ids``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from maild.core.tokens import CASE, HOLD, PROBLEM, tokens_in, verify_personal, verify_token
from maild.core.values import CaseRef, Inbound


@lru_cache(maxsize=16)
def _subject_re(tag: str) -> re.Pattern[str]:
    # [Case #12], [case#12], 【Case #12】, ［Case ＃12］
    return re.compile(
        r"[\[【［]\s*" + re.escape(tag) + r"\s*[#＃]\s*(\d{1,12})\s*[\]】］]", re.IGNORECASE
    )


def subject_case_id(subject: str, tag: str) -> int | None:
    """The case number in ``[<tag> #N]`` anywhere in the subject, if any."""
    m = _subject_re(tag).search(subject)
    return int(m.group(1)) if m else None


def token_ref(msg: Inbound, recipients: tuple[str, ...], helpdesk_address: str,
              secrets: Sequence[str]) -> CaseRef | None:
    """A case reference from a reply token issued to this very sender; ``recipients`` are
    the addresses our MTA vouches for (``core.trust.recipients``)."""
    for token in tokens_in(recipients, helpdesk_address):
        verified = verify_token(secrets, token, msg.from_addr)
        if verified and verified[0] == CASE:
            return CaseRef(verified[1], "token", token_owner=msg.from_addr)
    return None


def problem_token_id(msg: Inbound, recipients: tuple[str, ...], helpdesk_address: str,
                     secrets: Sequence[str]) -> int | None:
    """The problem a problem token issued to this very sender names (never a case's)."""
    return _token_id(PROBLEM, msg, recipients, helpdesk_address, secrets)


# [Problem P3], 【Problem P3】, [问题 P3]: the subject tag of every problem mail.
_PROBLEM_SUBJECT = re.compile(r"[\[【［]\s*(?:problem|问题)\s*[Pp](\d{1,12})\s*[\]】］]",
                              re.IGNORECASE)


def subject_problem_id(subject: str) -> int | None:
    """The problem number in ``[Problem P<n>]`` anywhere in the subject, if any."""
    m = _PROBLEM_SUBJECT.search(subject)
    return int(m.group(1)) if m else None


def hold_token_id(msg: Inbound, recipients: tuple[str, ...], helpdesk_address: str,
                  secrets: Sequence[str]) -> int | None:
    """The held message a stranger's confirming reply releases, if the token verifies."""
    return _token_id(HOLD, msg, recipients, helpdesk_address, secrets)


def _token_id(kind: str, msg: Inbound, recipients: tuple[str, ...], helpdesk_address: str,
              secrets: Sequence[str]) -> int | None:
    """The id a token of ``kind`` issued to this very sender names, if one verifies."""
    for token in tokens_in(recipients, helpdesk_address):
        verified = verify_token(secrets, token, msg.from_addr)
        if verified and verified[0] == kind:
            return verified[1]
    return None


def to_personal_address(msg: Inbound, recipients: tuple[str, ...], helpdesk_address: str,
                        secrets: Sequence[str]) -> bool:
    """Proof 2: the mail reached the personal address issued to its very sender."""
    return any(verify_personal(secrets, token, msg.from_addr)
               for token in tokens_in(recipients, helpdesk_address))


def reference_ids(msg: Inbound) -> tuple[str, ...]:
    """Message-IDs this message answers, nearest first."""
    return tuple(dict.fromkeys(msg.in_reply_to + tuple(reversed(msg.references))))
