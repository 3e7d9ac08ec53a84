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
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session

from maild.config import LimitSettings
from maild.core.values import Inbound
from maild.db.models import AttachmentFile
from maild.db.private import private_dir, write_private

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
        private_dir(path.parent)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        write_private(tmp, data)
        os.replace(tmp, path)
    return digest


def blob_path(store: Path, digest: str) -> Path:
    return store / "attachments" / digest[:2] / digest


@dataclass
class Kept:
    """What became of a message's attachments: stored files, and refused ones."""

    files: list[tuple[str, str, bytes]] = field(default_factory=list)  # name, type, data
    refused: list[tuple[str, int]] = field(default_factory=list)  # name, size

    def forwardable(self, budget: int) -> list[tuple[str, str, bytes]]:
        """The stored files that fit, in order, into one mail of ``budget`` bytes."""
        out, used = [], 0
        for item in self.files:
            if used + len(item[2]) <= budget:
                out.append(item)
                used += len(item[2])
        return out

    def summary(self, budget: int) -> str | None:
        """One line per file for the engineer: attached, kept only, or refused."""
        sent = {id(item) for item in self.forwardable(budget)}
        lines = [f"+ {name} ({_size(len(data))})" + ("" if id(item) in sent else "  [kept]")
                 for item in self.files for name, _, data in [item]]
        lines += [f"x {name} ({_size(size)})  [too large]" for name, size in self.refused]
        return "\n".join(lines) or None

    def refused_summary(self) -> str | None:
        return "\n".join(f"{n} ({_size(size)})" for n, size in self.refused) or None


def _size(n: int) -> str:
    return f"{n / 1048576:.1f} MB" if n >= 1048576 else f"{max(n // 1024, 1)} KB"


def keep(s: Session, store: Path, limits: LimitSettings, msg: Inbound, raw_size: int,
         case_id: int, inbound_id: int | None) -> Kept:
    """Store a message's attachments for its case, within the configured size limits."""
    kept = Kept()
    whole_too_big = raw_size > limits.max_message_bytes
    for att in msg.attachments:
        name = sanitize_filename(att.filename)
        if whole_too_big or len(att.data) > limits.max_attachment_bytes:
            kept.refused.append((name, len(att.data)))
            continue
        digest = store_blob(store, att.data)
        s.add(AttachmentFile(case_id=case_id, inbound_id=inbound_id, filename=name,
                             content_type=att.content_type[:200], size=len(att.data),
                             sha256=digest))
        kept.files.append((name, att.content_type or "application/octet-stream", att.data))
    return kept
