"""A customer's words after the answer: only thanks, or a new problem on an old case?

On a resolved case a reply that only says thanks is logged and not sent to the
engineer as work; mail on a case closed longer ago than ``reopen_days`` opens
a new case that follows the old one (docs/REFERENCE.md, "After the answer").
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

_THANKS = re.compile(
    r"(thank\s*you|thanks?|you|thx|ty|cheers|ok|okay|great|perfect|works\s*now|it\s*works|"
    r"got\s*it|much\s*appreciated|appreciated|many|a\s*lot|so\s*much|very\s*much|again|"
    r"谢谢|多谢|谢了|感谢|非常感谢|好的|好|收到|明白|辛苦了|辛苦|您|你|了|啦|哈|啊|呀)",
    re.IGNORECASE)
_FILLER = re.compile(r"[\s.,!?;:~～。，！？；：、…\-—()（）\"'“”‘’😀🙂👍🙏]+")
MAX_THANKS_CHARS = 60
_CORE = re.compile(r"thank|thx|\bty\b|cheers|\bok|谢|感谢|好的|收到", re.IGNORECASE)


def thanks_only(new_text: str) -> bool:
    """True when the text is short and made of nothing but thanks and acknowledgement."""
    text = new_text.strip()
    if not text or len(text) > MAX_THANKS_CHARS:
        return False
    rest = _FILLER.sub(" ", _THANKS.sub(" ", text)).strip()
    return rest == "" and _CORE.search(text) is not None


def starts_new_case(status: str, closed_at: datetime | None, now: datetime,
                    reopen_days: int) -> bool:
    """A closed case stays closed to mail after ``reopen_days``: the mail is a new case."""
    return (status == "closed" and closed_at is not None
            and now - closed_at > timedelta(days=reopen_days))
