"""Every file of the mail corpus goes through the real pipeline and ends with a disposition.

The corpus is the vendored ``tests/mail/corpus`` (about 380 real and hostile
messages), or the larger set ``MAILD_CORPUS`` names (tests/corpus.py). Messages
are ingested into one SQLite database; a failure is allowed only as the recorded
``failed`` for mail with no sender at all,
never as an exception escaping or as a crash recorded as ``failed``.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from corpus import corpus_dir
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from maildenv import Maild, write_config
from sqlmodel import Session, func, select

from maild.db.models import InboundMessage
from maild.service.intake import ingest

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def corpus_rows() -> list[dict[str, str]]:
    with (corpus_dir() / "INDEX.tsv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def test_every_corpus_file_gets_a_disposition(tmp_path: Path) -> None:
    m = Maild(write_config(tmp_path, 1, 1))
    m.add_customer("wang.fang@sh.corp.example", "王芳", company="上海分公司")
    counts: Counter[str] = Counter()
    crashed = []
    rows = corpus_rows()
    for i, row in enumerate(rows):
        raw = (corpus_dir() / row["path"]).read_bytes()
        result = ingest(m.rt, raw, NOW + timedelta(seconds=i))
        counts[result.disposition.value] += 1
        expected = (result.reason or "").startswith(("no From", "not an email"))
        if result.disposition.value == "failed" and not expected:
            crashed.append((row["path"], result.reason))
    assert crashed == []
    assert sum(counts.values()) == len(rows)
    with Session(m.rt.engine) as s:
        assert s.exec(select(func.count()).select_from(InboundMessage)).one() == len(rows)
    (tmp_path / "dispositions.json").write_text(json.dumps(counts))
    print(f"\ncorpus: {len(rows)} files: {dict(sorted(counts.items()))}")
    # automatic mail in the corpus is never answered: most rows labelled bounce or
    # auto-reply (cheap labels, and some are duplicates of another row) are ignored
    automatic = sum(row["category"] in ("bounce", "autoreply") for row in rows)
    assert counts["ignored"] >= automatic * 7 // 10


MIME_PART = st.recursive(
    st.builds(lambda ctype, cte, body: (ctype, cte, body),
              st.sampled_from(["text/plain", "text/html", "application/pdf", "image/png",
                               "message/rfc822", "text/plain; charset=gb2312",
                               "text/plain; charset=fakescii", "text/plain; charset=\"utf-8"]),
              st.sampled_from(["7bit", "base64", "quoted-printable", "8bit", "x-uuencode", ""]),
              st.binary(max_size=300)),
    lambda children: st.lists(children, min_size=0, max_size=4),
    max_leaves=12,
)


def _render(part: object, depth: int = 0) -> bytes:
    if isinstance(part, list):
        boundary = f"b{depth}x".encode()
        inner = b"".join(b"--" + boundary + b"\r\n" + _render(p, depth + 1) + b"\r\n"
                         for p in part)
        return (b"Content-Type: multipart/mixed; boundary=\"" + boundary + b"\"\r\n\r\n" + inner
                + b"--" + boundary + b"--\r\n")
    assert isinstance(part, tuple)
    ctype, cte, body = part
    head = f"Content-Type: {ctype}\r\nContent-Transfer-Encoding: {cte}\r\n".encode()
    return head + b"\r\n" + body


@pytest.mark.long
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=MIME_PART,
       subject=st.binary(max_size=120),
       sender=st.sampled_from([b"wang.fang@sh.corp.example", b"=?utf-8?b?5p2O?= <x@y.example>",
                               b"<>", b"", b"\xb9\xfe <a@b.example>", b"undisclosed-recipients:;"]),
       extra=st.binary(max_size=200))
def test_hostile_mime_always_ends_with_a_disposition(tmp_path: Path, tree: object,
                                                     subject: bytes, sender: bytes,
                                                     extra: bytes) -> None:
    """Random MIME trees, broken headers and bad encodings: a disposition, never an exception."""
    db_dir = tmp_path / "h"
    if not (db_dir / "config.toml").exists():
        db_dir.mkdir(exist_ok=True)
        write_config(db_dir, 1, 1)
    m = Maild(db_dir / "config.toml")
    raw = (b"From: " + sender + b"\r\nTo: helpdesk@corp.example\r\nSubject: " + subject
           + b"\r\nX-Junk: " + extra.replace(b"\n", b" ") + b"\r\n" + _render(tree))
    with Session(m.rt.engine) as s:
        before = s.exec(select(func.count()).select_from(InboundMessage)).one()
    result = ingest(m.rt, raw, NOW)
    assert result.disposition.value in {"duplicate", "ignored", "new_case", "held", "failed",
                                        "reply", "rejected"}
    with Session(m.rt.engine) as s:
        assert s.exec(select(func.count()).select_from(InboundMessage)).one() == before + 1
