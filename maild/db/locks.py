"""PostgreSQL advisory locks: who handles a mailbox slot, who leads the scheduler.

Several ``maild run`` replicas share one PostgreSQL database. A session
advisory lock belongs to one database connection and disappears with it, so
a replica killed with SIGKILL loses its locks the moment the server notices
the closed socket; nobody has to clean up after it. A transaction advisory
lock is released at commit or rollback.

On SQLite there is one writer at a time and maild runs as one process, so
every lock here is granted at once (the unique keys in the schema remain the
last fence either way).
"""

from __future__ import annotations

import hashlib
import logging

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

log = logging.getLogger("maild.locks")

# First half of every two-part lock key: what kind of thing is locked.
SLOT = 0x6D61696C  # "mail": a mailbox slot (UIDVALIDITY + UID) being ingested
DEDUP = 0x64757073  # "dups": a Message-ID (or content hash) being decided
LEADER = 0x6C656164  # "lead": the scheduler leader


def is_postgres(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "postgresql"


def key32(text: str) -> int:
    """A stable signed 32-bit key for ``text`` (the second half of a lock key).

    Two texts may share a key; that only makes one of them wait or be skipped
    for a moment, never lets both through a unique key."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big", signed=True)


def serialize(s: Session, kind: int, text: str) -> None:
    """Wait until no other transaction decides ``text``; held until this one ends.

    Two copies of one mail handled by two replicas at once would both find
    no earlier copy; with this lock the second waits and then sees the first."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(sa.text("SELECT pg_advisory_xact_lock(:k, :t)"),
                  {"k": kind, "t": key32(text)})


def try_serialize(s: Session, kind: int, text: str) -> bool:
    """``serialize`` without waiting: False when another transaction holds the lock."""
    if s.get_bind().dialect.name != "postgresql":
        return True
    got = s.execute(sa.text("SELECT pg_try_advisory_xact_lock(:k, :t)"),
                    {"k": kind, "t": key32(text)}).scalar_one()
    return bool(got)


class SessionLocks:
    """Session advisory locks on one dedicated connection (autocommit, never idle in a
    transaction). Lost together when the connection (or the process) dies."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = is_postgres(engine)
        self._conn: Connection | None = None

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    def try_take(self, kind: int, key: int) -> bool:
        """Take the lock now if nobody else holds it (re-entrant for this holder)."""
        if not self.postgres:
            return True
        got = self._connection().execute(sa.text("SELECT pg_try_advisory_lock(:k, :t)"),
                                         {"k": kind, "t": key}).scalar_one()
        return bool(got)

    def release(self, kind: int, key: int) -> None:
        if self.postgres and self._conn is not None:
            self._conn.execute(sa.text("SELECT pg_advisory_unlock(:k, :t)"),
                               {"k": kind, "t": key})

    def release_all(self) -> None:
        """Every session lock this connection holds, in one round trip."""
        if self.postgres and self._conn is not None:
            self._conn.execute(sa.text("SELECT pg_advisory_unlock_all()"))

    def alive(self) -> bool:
        """Whether the connection (and with it every lock taken on it) still stands."""
        if not self.postgres:
            return True
        if self._conn is None:
            return False
        try:
            self._conn.execute(sa.text("SELECT 1"))
        except sa.exc.DBAPIError:
            self.close()
            return False
        return True

    def close(self) -> None:
        """Give every lock back (closing the connection releases them on the server)."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.invalidate()  # never back into the pool: the locks must go with it
                conn.close()
            except sa.exc.DBAPIError as exc:  # already broken: its locks are gone too
                log.debug("closing lock connection: %s", exc)
