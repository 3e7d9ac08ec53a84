"""Reply-stripping accuracy on the corpus fixtures that ship expected outputs.

Compares ``maild.core.quoting.split_reply`` with the mail-parser-reply library
(if installed) on:
- discourse-email_reply_trimmer: ``emails/<x>.txt`` → expected ``trimmed/<x>.txt``
- talon: ``standard_replies/{iphone,sparrow}.eml`` → ``*_reply_text``

A case counts as correct when the new text equals the expected one after
normalising whitespace (each line stripped, blank lines dropped). Each
contender's time over all cases is printed, and maild's time on the 767 KB
``github-email_reply_parser/email_long_quote.txt`` (a speed trap; it has no
expected output, so it is timed, not scored). Usage:

    .venv/bin/python benchmarks/reply_accuracy.py [--show-failures]
"""

from __future__ import annotations

import argparse
import email
import email.policy
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import corpus

from maild.core.quoting import split_reply

CORPUS = corpus.find() or sys.exit(
    f"the mail corpus is not in {', '.join(map(str, corpus.candidates()))}; "
    f"set {corpus.ENV}=/path/to/a/corpus")


def norm(text: str) -> str:
    return "\n".join(line.strip() for line in text.replace("\r\n", "\n").splitlines()
                     if line.strip())


def cases() -> list[tuple[str, str, str]]:
    """(name, input body, expected new text)."""
    out = []
    trimmer = CORPUS / "discourse-email_reply_trimmer"
    for src in sorted((trimmer / "emails").glob("*.txt")):
        expected = trimmer / "trimmed" / src.name
        if expected.exists():
            out.append((f"discourse/{src.stem}", src.read_text(encoding="utf-8", errors="replace"),
                        expected.read_text(encoding="utf-8", errors="replace")))
    talon = CORPUS / "talon" / "standard_replies"
    for name in ("iphone", "sparrow"):
        eml, expected = talon / f"{name}.eml", talon / f"{name}_reply_text"
        if eml.exists() and expected.exists():
            msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
            body = msg.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
            out.append((f"talon/{name}", body.get_content() if body else "",
                        expected.read_text(encoding="utf-8", errors="replace")))
    return out


def _library() -> Callable[[str], str] | None:
    try:
        from mailparser_reply import EmailReplyParser  # type: ignore[import-untyped]
    except ImportError:
        return None
    parser = EmailReplyParser(languages=["en", "de", "fr", "it", "nl", "pl", "sv", "da", "ja"])
    return lambda text: str(parser.parse_reply(text=text))


def score(fn: Callable[[str], str], data: list[tuple[str, str, str]]) -> tuple[int, list[str]]:
    bad = [name for name, body, want in data if norm(fn(body)) != norm(want)]
    return len(data) - len(bad), bad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--show-failures", action="store_true")
    args = ap.parse_args()
    data = cases()
    contenders: dict[str, Callable[[str], str] | None] = {
        "maild split_reply": lambda text: split_reply(text)[0],
        "mail-parser-reply": _library(),
    }
    for label, fn in contenders.items():
        if fn is None:
            print(f"{label:20} not installed")
            continue
        started = time.perf_counter()
        ok, bad = score(fn, data)
        elapsed = time.perf_counter() - started
        print(f"{label:20} {ok}/{len(data)} = {ok / len(data):.0%}  ({elapsed * 1000:.0f} ms)")
        if args.show_failures:
            for name in bad:
                print(f"    miss: {name}")
    long_quote = CORPUS / "github-email_reply_parser" / "email_long_quote.txt"
    if long_quote.exists():
        text = long_quote.read_text(encoding="utf-8", errors="replace")
        started = time.perf_counter()
        split_reply(text)
        elapsed = time.perf_counter() - started
        print(f"maild on {long_quote.name} ({len(text) // 1024} KB): {elapsed * 1000:.0f} ms")


if __name__ == "__main__":
    main()
