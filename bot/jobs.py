"""What runs on a timer. APScheduler only wakes things up; all state lives in the database.

Several bot processes may share one database: the jobs that write to it take a database lock
of their own name first (`App.exclusive`), and a process that finds it taken skips that run.
"""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler

FOLDER_CHECK_SECONDS = 10
PLAN_EVERY_SECONDS = 300
"""Reminders are planned again this often (and soon after every answer or calendar change)."""
PLAN_REMINDERS = "reminders.plan"
BROADCASTS_EVERY_SECONDS = 3
"""How often a broadcast's author is told its progress (their one message is edited)."""
WATCH_BROADCASTS = "broadcasts.watch"
CHECK_SCHEDULES = "schedules.check"
CHECK_KNOWLEDGE = "knowledge.check"
FORGET = "deliveries.forget"

JOB_DEFAULTS = {
    # A job that ran late (a busy machine, a laptop waking up) still runs, once.
    "misfire_grace_time": 60,
    "coalesce": True,
    "max_instances": 1,
}


def scheduler(zone: ZoneInfo) -> BackgroundScheduler:
    """The process's scheduler; `register` gives it its jobs, the caller starts and stops it."""
    return BackgroundScheduler(timezone=zone, job_defaults=JOB_DEFAULTS)


def register(
    background: BackgroundScheduler,
    *,
    check_schedules: Callable[[], object],
    check_knowledge: Callable[[], object],
    watch_broadcasts: Callable[[], object],
    plan_reminders: Callable[[], object],
    forget_old: Callable[[], object],
) -> None:
    """Every timed job, with how often it runs."""
    background.add_job(
        check_schedules,
        "interval",
        seconds=FOLDER_CHECK_SECONDS,
        id=CHECK_SCHEDULES,
        name="sync the calendar when a schedule file changed",
    )
    background.add_job(
        check_knowledge,
        "interval",
        seconds=FOLDER_CHECK_SECONDS,
        id=CHECK_KNOWLEDGE,
        name="reload knowledge/ when a file changed (in every process)",
    )
    background.add_job(
        watch_broadcasts,
        "interval",
        seconds=BROADCASTS_EVERY_SECONDS,
        id=WATCH_BROADCASTS,
        name="start, follow and report broadcasts",
    )
    background.add_job(
        plan_reminders,
        "interval",
        seconds=PLAN_EVERY_SECONDS,
        id=PLAN_REMINDERS,
        name="plan reminders into the outbox",
    )
    background.add_job(
        forget_old,
        "cron",
        hour=4,
        id=FORGET,
        name="empty the text of messages sent long ago, forget handled events",
    )
