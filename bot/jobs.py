"""What runs on a timer. APScheduler only wakes things up; all state lives in the database."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler

from bot.folder_watch import FolderWatch

FOLDER_CHECK_SECONDS = 10
PLAN_EVERY_SECONDS = 300
"""Reminders are planned again this often (and soon after every answer or calendar change)."""
PLAN_REMINDERS = "reminders.plan"
BROADCASTS_EVERY_SECONDS = 3
"""How often a broadcast's author is told its progress (their one message is edited)."""
WATCH_BROADCASTS = "broadcasts.watch"

JOB_DEFAULTS = {
    # A job that ran late (a busy machine, a laptop waking up) still runs, once.
    "misfire_grace_time": 60,
    "coalesce": True,
    "max_instances": 1,
}


def scheduler(zone: ZoneInfo, folders: Sequence[FolderWatch[Any]]) -> BackgroundScheduler:
    """The process's scheduler with its jobs registered; the caller starts and stops it."""
    background = BackgroundScheduler(timezone=zone, job_defaults=JOB_DEFAULTS)
    for folder in folders:
        background.add_job(
            folder.check,
            "interval",
            seconds=FOLDER_CHECK_SECONDS,
            id=f"{folder.directory.name}.check",
            name=f"reload {folder.directory.name}/ when a file changed",
        )
    return background
