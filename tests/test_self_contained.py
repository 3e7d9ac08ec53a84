"""The repository stands on its own: nothing in it points at a folder outside it.

Only ``.ci/run`` (this project's own CI) may name the full corpus kept beside the
repository on the project's machines, and it uses it only when it is there."""

from __future__ import annotations

import re
import subprocess

from maildenv import REPO

ALLOWED = {".ci/run"}
OUTSIDE = re.compile(r"\.\./shared\b|\bSPEC(\.md| §| section)")


def test_nothing_refers_to_a_folder_beside_the_repository() -> None:
    files = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True,
                           check=True, timeout=60).stdout.decode().split("\0")
    hits = []
    for name in files:
        if not name or name in ALLOWED or name.startswith("tests/mail/corpus/"):
            continue
        path = REPO / name
        if not path.is_file() or path.is_symlink():
            continue
        text = path.read_bytes().decode("utf-8", "replace")
        hits += [f"{name}:{n}" for n, line in enumerate(text.splitlines(), 1)
                 if OUTSIDE.search(line)]
    assert hits == []


def test_the_shipped_files_are_the_top_level_ones() -> None:
    """maild/_shipped links to templates/, rules/ and config.example.toml (one source)."""
    shipped = REPO / "maild" / "_shipped"
    for name in ("templates", "rules", "config.example.toml"):
        assert (shipped / name).resolve() == (REPO / name).resolve()
