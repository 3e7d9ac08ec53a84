"""Full-text search terms that work for Chinese, which has no spaces between words.

Why bigrams: SQLite's FTS5 and PostgreSQL's ``simple`` text search split on
spaces and punctuation, so a Chinese sentence would be one huge "word" and a
search for 打印机 would find nothing inside 三楼打印机卡纸. FTS5's trigram
tokenizer needs at least three characters (硒鼓 is two). So before indexing,
each run of CJK characters is rewritten as its overlapping bigrams
(打印机卡纸 → 打印 印机 机卡 卡纸), and a CJK search term becomes the phrase of
its bigrams, which matches exactly where the term occurs as a substring.
Latin words stay words (lower-cased, matched as prefixes: "print" finds
"printer"). The same index text serves both databases (``maild.db.search``).

One-character CJK terms (a bigram prefix would miss the last character of a
run) are answered by ``like_terms`` instead: a substring scan, slower but
correct.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# CJK ideographs (BMP + ext A), kana and hangul: scripts written without spaces.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]+|[^\W{_CJK}_]+(?:['.][^\W{_CJK}_]+)*")
_IS_CJK = re.compile(rf"[{_CJK}]")
MAX_TERMS = 8


def _bigrams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def _tokens(text: str) -> Iterable[str]:
    for m in _TOKEN.finditer(text.lower()):
        token = m.group()
        if _IS_CJK.match(token):
            yield from _bigrams(token)
        else:
            yield from re.split(r"['.]", token)


def index_text(*parts: str | None) -> str:
    """The text to index for a case: every part tokenised, CJK runs as bigrams."""
    return " ".join(tok for part in parts if part for tok in _tokens(part))


@dataclass(frozen=True)
class Query:
    """A parsed search: FTS phrases (all must match) and substrings for LIKE."""

    phrases: tuple[tuple[str, ...], ...]  # each phrase: consecutive tokens; last may be prefix
    prefix: tuple[bool, ...]  # per phrase: is its last token a prefix?
    like_terms: tuple[str, ...]  # single CJK characters, matched as substrings

    @property
    def empty(self) -> bool:
        return not self.phrases and not self.like_terms


def parse_query(words: Sequence[str]) -> Query:
    """User words → a Query; nothing from the user reaches the FTS syntax unquoted."""
    phrases: list[tuple[str, ...]] = []
    prefix: list[bool] = []
    like: list[str] = []
    for word in " ".join(words).split()[:MAX_TERMS]:
        for m in _TOKEN.finditer(word.lower()):
            token = m.group()
            if _IS_CJK.match(token):
                if len(token) == 1:
                    like.append(token)
                else:
                    phrases.append(tuple(_bigrams(token)))
                    prefix.append(False)
            else:
                parts = tuple(p for p in re.split(r"['.]", token) if p)
                phrases.append(parts)
                prefix.append(True)
    return Query(tuple(phrases), tuple(prefix), tuple(like))


def fts5_match(query: Query) -> str | None:
    """The FTS5 MATCH string: quoted phrases ANDed; Latin words as prefixes."""
    if not query.phrases:
        return None
    out = []
    for phrase, is_prefix in zip(query.phrases, query.prefix, strict=True):
        quoted = '"' + " ".join(t.replace('"', '""') for t in phrase) + '"'
        out.append(quoted + ("*" if is_prefix else ""))
    return " AND ".join(out)


def tsquery(query: Query) -> str | None:
    """The PostgreSQL to_tsquery('simple', …) string: phrases with <->, prefixes with :*."""
    if not query.phrases:
        return None
    out = []
    for phrase, is_prefix in zip(query.phrases, query.prefix, strict=True):
        # tokens are letters, digits and CJK only, so they need no quoting beyond this
        tokens = ["'" + t.replace("'", "''") + "'" for t in phrase]
        if is_prefix:
            tokens[-1] += ":*"
        out.append("(" + " <-> ".join(tokens) + ")")
    return " & ".join(out)
