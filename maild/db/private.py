"""Files at rest are the helpdesk's secrets too: the store and all in it are owner-only.

Mail, attachments and the database hold what customers wrote; on a shared host a
world-readable store (0644 under the usual umask) gives every local user all of
it. maild creates the store's directories 0700 and its files 0600, and
``maild check`` warns about anything looser (``loose_modes``).
"""

from __future__ import annotations

import contextlib
import os
import stat
from itertools import islice
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
UMASK = 0o077  # the daemon's and every command's: files it creates are its own


def private_dir(path: Path) -> None:
    """Create ``path`` and missing parents owner-only (existing ones are left as they are)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for p in reversed(missing):
        with contextlib.suppress(FileExistsError):
            p.mkdir(mode=DIR_MODE)
        os.chmod(p, DIR_MODE)  # mkdir's mode is filtered by the umask


def write_private(path: Path, data: bytes) -> None:
    """Write a new file readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, FILE_MODE)


def tighten(*paths: Path) -> None:
    """Make existing files owner-only (the database and its WAL/shm companions)."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if stat.S_IMODE(path.stat().st_mode) & 0o077:
                os.chmod(path, FILE_MODE)


def loose_modes(store: Path, extra: tuple[Path, ...] = (), sample: int = 2000) -> list[str]:
    """Store entries that group or others may read: the store, its folders, and up to
    ``sample`` files (a warning, not a full audit: the store can hold millions)."""
    found = []
    candidates = [store, *extra]
    if store.is_dir():
        candidates += list(islice(store.rglob("*"), sample))
    for path in candidates:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            continue
        if mode & 0o077:
            found.append(f"{path} is {mode:04o}")
    return found
