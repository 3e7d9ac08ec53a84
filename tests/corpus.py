"""Where the tests' mail corpus is: the vendored set in ``tests/mail/corpus``, or ``$MAILD_CORPUS``.

The vendored set (about 380 files under permissive licences, listed in
``tests/mail/corpus/SOURCES.md``) goes with the repository, so every test runs
on a fresh clone. ``MAILD_CORPUS`` names a larger set in the same layout (an
``INDEX.tsv`` and its files); this project's own CI points it at its full
corpus. A test that names a file only the larger set has is skipped on the
vendored set with that reason (a missing data file is not a missing server, so
this holds under CI=true too), and fails when ``MAILD_CORPUS`` is set.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from servers import unavailable

REPO = Path(__file__).resolve().parent.parent
VENDORED = REPO / "tests" / "mail" / "corpus"
ENV = "MAILD_CORPUS"


def candidates() -> tuple[Path, ...]:
    """Where the corpus is looked for: ``$MAILD_CORPUS`` when set, else the vendored set."""
    configured = os.environ.get(ENV)
    return (Path(configured),) if configured else (VENDORED,)


def find() -> Path | None:
    """The corpus directory, or None."""
    return next((p for p in candidates() if (p / "INDEX.tsv").is_file()), None)


def is_full() -> bool:
    """True when the tests run on a corpus named by ``$MAILD_CORPUS`` (not the vendored one)."""
    return bool(os.environ.get(ENV))


def corpus_dir() -> Path:
    """The corpus directory; a ``MAILD_CORPUS`` without ``INDEX.tsv`` skips (fails under CI)."""
    found = find()
    if found is None:
        unavailable(f"{ENV}={os.environ.get(ENV)} holds no INDEX.tsv; unset it to use the "
                    f"vendored corpus in {VENDORED}")
    return found


def corpus_file(path: str) -> Path:
    """One named corpus file; skipped when it is only in the full corpus and that is not set."""
    file = corpus_dir() / path
    if file.is_file():
        return file
    if is_full():
        pytest.fail(f"{path} is missing from the corpus in {corpus_dir()}")
    pytest.skip(f"{path} is only in the full corpus (not vendored: see "
                f"tests/mail/corpus/SOURCES.md); set {ENV} to run this test")
