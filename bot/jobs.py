"""What runs on a timer. APScheduler only wakes things up; all state lives in the database."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler

from bot.calendar.watch import ScheduleWatcher

SCHEDULES_CHECK_SECONDS = 10

JOB_DEFAULTS = {
    # A job that ran late (a busy machine, a laptop waking up) still runs, once.
    "misfire_grace_time": 60,
    "coalesce": True,
    "max_instances": 1,
}


def scheduler(zone: ZoneInfo, schedules: ScheduleWatcher) -> BackgroundScheduler:
    """The process's scheduler with its jobs registered; the caller starts and stops it."""
    background = BackgroundScheduler(timezone=zone, job_defaults=JOB_DEFAULTS)
    background.add_job(
        schedules.check,
        "interval",
        seconds=SCHEDULES_CHECK_SECONDS,
        id="schedules.check",
        name="reload the schedules when a file changed",
    )
    return background
