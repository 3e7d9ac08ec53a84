"""One scheduler among replicas: the leader runs the periodic jobs, the others wait to take over.

Leadership is a PostgreSQL session advisory lock held on a connection of its
own. A replica that is not the leader tries to take the lock every
``[database] leader_retry_seconds``; the leader checks on the same beat that
its connection still stands. When the leader dies, PostgreSQL drops its
connection and with it the lock, and the next replica to try becomes the
leader and runs every job at once (each job is idempotent: SLA alerts and
reports are claimed by unique rows, auto-close only moves due cases, so the
moment of overlap while a leader notices a lost connection does no harm).

On SQLite maild runs as one process, which is always the leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import sqlalchemy as sa

from maild.db import locks
from maild.runtime import Runtime

log = logging.getLogger("maild.leader")


class LeaderLock:
    """The scheduler leader's lock, on its own connection."""

    def __init__(self, rt: Runtime) -> None:
        self.locks = locks.SessionLocks(rt.engine)
        self.held = False

    def hold(self) -> bool:
        """Take the lock if it is free, or confirm we still hold it; True while we lead."""
        try:
            if self.held and self.locks.alive():
                return True
            self.held = False
            self.held = self.locks.try_take(locks.LEADER, 0)
        except sa.exc.DBAPIError as exc:  # the database is away: nobody leads through us
            log.warning("leader lock: %s", str(exc).splitlines()[0])
            self.locks.close()
            self.held = False
        return self.held

    def release(self) -> None:
        self.locks.close()
        self.held = False


async def lead(rt: Runtime, leading: Callable[[bool], None], stopping: asyncio.Event) -> None:
    """Tell ``leading`` when this replica starts or stops leading; until ``stopping``."""
    lock = LeaderLock(rt)
    was = False
    retry = rt.settings.database.leader_retry_seconds
    try:
        while not stopping.is_set():
            now_leading = await asyncio.to_thread(lock.hold)
            if now_leading != was:
                if now_leading:
                    log.info("leader: this replica runs the scheduled jobs")
                else:
                    log.warning("leader: lock lost; scheduled jobs stopped until it is taken again")
                leading(now_leading)
                was = now_leading
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), retry)
    finally:
        if was:
            leading(False)
        await asyncio.to_thread(lock.release)
