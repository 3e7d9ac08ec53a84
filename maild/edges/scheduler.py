"""The scheduler edge: APScheduler runs each ``Job`` of the service in a worker thread.

What the jobs are is the service's table (``maild.service.scheduled.JOBS``);
this module only knows when to call them. Every job is idempotent (auto-close
moves only cases that are due; each SLA alert and each report is claimed by a
unique row), so a missed or doubled run does no harm. A job that raises is
logged and runs again at its next time: one failure never stops the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from maild.core.values import Job

log = logging.getLogger("maild.jobs")


def schedule(scheduler: AsyncIOScheduler, rt: Any, jobs: Sequence[Job],
             clock: Callable[[], datetime]) -> None:
    """Register ``jobs`` for ``rt``: every ``minutes`` from now, and at ``daily_at``."""
    for job in jobs:
        runner = _runner(job, rt, clock)
        scheduler.add_job(runner, "interval", minutes=job.minutes, id=job.name,
                          next_run_time=datetime.now(UTC), coalesce=True, max_instances=1)
        if job.daily_at:
            hh, mm = (int(x) for x in job.daily_at.split(":"))
            scheduler.add_job(runner, "cron", hour=hh, minute=mm, id=f"{job.name}_daily",
                              coalesce=True, max_instances=1, misfire_grace_time=3600)


def _runner(job: Job, rt: Any, clock: Callable[[], datetime]) -> Callable[[], Any]:
    async def run() -> None:
        try:
            done = await asyncio.to_thread(job.run, rt, clock())
        except Exception:
            log.exception("scheduled job %s failed; it runs again at its next time", job.name)
            return
        if done:
            log.info(job.done, done)

    return run
