"""One mailbox, several replicas: each mailbox slot is ingested by one of them at a time.

Every replica sees the same UIDs. Before ``ingest`` (the service's, passed in) a replica takes
the slot's advisory lock (keyed by the same ``source`` string that is the
message row's unique key); a replica that finds it taken skips the message
and neither records nor moves it: the holder records it, commits and moves
it. Once the holder has committed, the next replica to look finds the slot
recorded and only moves it (the crash-between-commit-and-move path), so a
message never gets a second disposition, and a holder killed mid-message
leaves the slot free for the next replica to do the whole job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from maild.core.values import IngestResult
from maild.db import locks
from maild.runtime import Runtime

Ingest = Callable[[Runtime, bytes, datetime, str | None], IngestResult]
# several messages in one transaction (the service's ``ingest_batch``): a result per
# message in order, None for one to look at again later; shorter when ``stop`` said so
IngestBatch = Callable[[Runtime, Sequence[tuple[bytes, str | None]], Callable[[], datetime],
                        Callable[[], bool]], list[IngestResult | None]]


class SlotClaims:
    """The claims of one drain, on one dedicated connection."""

    def __init__(self, rt: Runtime, ingest: Ingest) -> None:
        self.rt = rt
        self._ingest = ingest
        self.locks = locks.SessionLocks(rt.engine)

    def ingest(self, raw: bytes, now: datetime, source: str) -> IngestResult | None:
        """``ingest`` under the slot's claim; None when another replica holds it.

        The claim stays held until ``release_all``, after the message is moved: two
        replicas moving one message at the same moment could both copy it."""
        key = locks.key32(source)
        if not self.locks.try_take(locks.SLOT, key):
            return None
        try:
            return self._ingest(self.rt, raw, now, source)
        except BaseException:
            self.locks.release(locks.SLOT, key)
            raise

    def ingest_batch(self, batch: IngestBatch, items: Sequence[tuple[bytes, str]],
                     clock: Callable[[], datetime], stop: Callable[[], bool]
                     ) -> list[IngestResult | None]:
        """``batch`` over the messages whose slots this replica could claim; None for
        the others (and for those the batch left to later), in the order of ``items``.
        Shorter than ``items`` when ``stop`` ended the batch early."""
        keys = [locks.key32(source) for _raw, source in items]
        mine = [i for i, key in enumerate(keys) if self.locks.try_take(locks.SLOT, key)]
        try:
            got = batch(self.rt, [items[i] for i in mine], clock, stop)
        except BaseException:
            for i in mine:
                self.locks.release(locks.SLOT, keys[i])
            raise
        out: list[IngestResult | None] = [None] * len(items)
        for i, result in zip(mine, got, strict=False):
            out[i] = result
        if len(got) < len(mine):  # stopped: what follows the last one done waits
            return out[:mine[len(got)]]
        return out

    def release_all(self) -> None:
        """Give back every slot claimed so far (their messages have been moved)."""
        self.locks.release_all()

    def close(self) -> None:
        self.locks.close()
