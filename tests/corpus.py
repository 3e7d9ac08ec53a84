"""Where the shared mail corpus is: ``shared/corpus``, kept beside this repository, not in it.

Looked for in order: ``$MAILD_CORPUS``; ``../shared/corpus`` beside this checkout;
for a clone of a local checkout (``git clone . /tmp/ci-check``), ``shared/corpus``
beside the checkout it was cloned from. When none holds ``INDEX.tsv`` the test is
skipped, or fails under CI=true, naming the places tried and how to point at it.
"""

from __future__ import annotations

import os
import subprocess
from functools import lru_cache
from pathlib import Path

from servers import unavailable

REPO = Path(__file__).resolve().parent.parent
ENV = "MAILD_CORPUS"


def _origin_checkout() -> Path | None:
    """The local checkout this one was cloned from, if it was cloned from one."""
    try:
        url = subprocess.run(["git", "-C", str(REPO), "config", "--get", "remote.origin.url"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(url.removeprefix("file://")) if url else None
    return path.resolve() if path is not None and path.is_dir() else None


@lru_cache(maxsize=1)
def candidates() -> tuple[Path, ...]:
    places = [Path(os.environ[ENV])] if os.environ.get(ENV) else []
    places.append(REPO.parent / "shared" / "corpus")
    origin = _origin_checkout()
    if origin is not None:
        places.append(origin.parent / "shared" / "corpus")
    return tuple(places)


def find() -> Path | None:
    """The corpus directory, or None."""
    return next((p for p in candidates() if (p / "INDEX.tsv").is_file()), None)


def corpus_dir() -> Path:
    """The corpus directory; skips the test (fails it under CI=true) when there is none."""
    found = find()
    if found is None:
        tried = ", ".join(str(p) for p in candidates())
        unavailable(f"the mail corpus (INDEX.tsv) is not in {tried}; "
                    f"set {ENV}=/path/to/shared/corpus")
    return found
