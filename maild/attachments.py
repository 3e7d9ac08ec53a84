"""Attachment bytes on disk under store/attachments, content-addressed by SHA-256.

Writing is idempotent (same bytes, same path) and happens before the
database commit, so a crash leaves at worst an unreferenced file, never a
row pointing at nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from pathlib import Path

_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")


def sanitize_filename(name: str, limit: int = 120) -> str:
    """No path parts, no control characters, bounded length; never empty."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    if len(name) > limit:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: limit - len(ext) - 1] + dot + ext) if dot and len(ext) < 16 else name[:limit]
    return name or "attachment"


def store_blob(store: Path, data: bytes) -> str:
    """Keep ``data`` under store/attachments/<aa>/<sha256>; returns the hex digest."""
    digest = hashlib.sha256(data).hexdigest()
    path = store / "attachments" / digest[:2] / digest
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return digest


def blob_path(store: Path, digest: str) -> Path:
    return store / "attachments" / digest[:2] / digest
