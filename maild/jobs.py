"""Scheduled work: APScheduler jobs that call plain service functions in a thread."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from maild.housekeeping import auto_close
from maild.reporting import send_due
from maild.runtime import Runtime
from maild.sla_watch import sweep

log = logging.getLogger("maild.jobs")


def schedule(scheduler: AsyncIOScheduler, rt: Runtime, clock: Callable[[], datetime]) -> None:
    """Register the periodic jobs: auto-close hourly, the SLA sweep every minute, and the
    reports at ``daily_at`` (plus a catch-up at start and every 15 minutes, for a run
    missed while maild was down, within ``grace_hours``).

    Both are idempotent (auto-close moves only cases that are due; each SLA
    alert is claimed by a unique row), so a missed or doubled run does no harm.
    """

    async def close_job() -> None:
        closed = await asyncio.to_thread(auto_close, rt, clock())
        if closed:
            log.info("auto-closed %d case(s)", closed)

    scheduler.add_job(close_job, "interval", minutes=60, id="auto_close",
                      next_run_time=datetime.now(UTC), coalesce=True, max_instances=1)

    async def sla_job() -> None:
        sent = await asyncio.to_thread(sweep, rt, clock())
        if sent:
            log.info("sent %d SLA alert(s)", sent)

    scheduler.add_job(sla_job, "interval", minutes=1, id="sla",
                      next_run_time=datetime.now(UTC), coalesce=True, max_instances=1)

    async def report_job() -> None:
        sent = await asyncio.to_thread(send_due, rt, clock())
        if sent:
            log.info("sent %d report(s)", sent)

    hh, mm = rt.settings.reports.at()
    scheduler.add_job(report_job, "cron", hour=hh, minute=mm, id="reports",
                      coalesce=True, max_instances=1, misfire_grace_time=3600)
    scheduler.add_job(report_job, "interval", minutes=15, id="reports_catch_up",
                      next_run_time=datetime.now(UTC), coalesce=True, max_instances=1)
