"""The composition root: config -> database -> services -> channels. Nothing is built on import."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from dataclasses import dataclass
from typing import TextIO

from apscheduler.schedulers.background import BackgroundScheduler

from bot import jobs
from bot.calendar.model import Calendar
from bot.calendar.recurrence import expand as expand_occurrences
from bot.calendar.schedule_file import load_calendar as read_calendar
from bot.calendar.watch import ScheduleWatcher
from bot.channels.console import CHANNEL as CONSOLE
from bot.channels.console import ConsoleChannel
from bot.channels.core_worker import CoreWorker
from bot.channels.telegram.channel import TelegramChannel
from bot.config import Settings
from bot.domain.clock import SystemClock
from bot.domain.messages import MemberRef
from bot.domain.ports import Clock
from bot.services.calendar_sync import CalendarSync
from bot.services.conversation import Conversation
from bot.services.reachability import Reachability
from bot.store.database import Database
from bot.texts import Catalogues

log = logging.getLogger(__name__)


class StartupError(Exception):
    """The bot cannot start as configured; the message says what to change."""


@dataclass
class App:
    settings: Settings
    database: Database
    conversation: Conversation
    reachability: Reachability
    catalogues: Catalogues
    core: CoreWorker
    calendar_sync: CalendarSync
    schedules: ScheduleWatcher
    scheduler: BackgroundScheduler
    clock: Clock

    def start_jobs(self) -> None:
        """Background work that runs whatever the channel: watching the schedules."""
        if not self.scheduler.running:
            self.scheduler.start()

    def close(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.core.stop()
        self.database.dispose()


def load_calendar(settings: Settings) -> Calendar:
    """Read and validate every schedule file; raises `InvalidDocument` listing every problem."""
    regions = [r.code for r in settings.config.regions]
    return read_calendar(settings.schedules_dir, regions, settings.zone)


def build(settings: Settings, *, clock: Clock | None = None, migrate: bool = True) -> App:
    """Wire the bot together. `migrate` brings the database schema up to date first."""
    database = Database(settings.database_url, echo=settings.config.database.echo)
    if migrate:
        database.upgrade()
    catalogues = Catalogues.load()
    clock = clock or SystemClock()
    campaign = settings.campaign()
    conversation = Conversation(database.unit_of_work, campaign, catalogues, clock)
    reachability = Reachability(database.unit_of_work, clock)
    calendar_sync = CalendarSync(
        database.unit_of_work, conversation.screens, clock, expand_occurrences
    )
    schedules = ScheduleWatcher(
        settings.schedules_dir, lambda: load_calendar(settings), calendar_sync.sync
    )
    core = CoreWorker(threads=settings.config.database.threads)
    core.start()
    return App(
        settings,
        database,
        conversation,
        reachability,
        catalogues,
        core,
        calendar_sync,
        schedules,
        jobs.scheduler(settings.zone, schedules),
        clock,
    )


def choose_channel(settings: Settings, requested: str) -> str:
    """`auto` picks Telegram when it is enabled and has a token, otherwise the console."""
    telegram = settings.config.channels.telegram
    if requested == "auto":
        return "telegram" if telegram.enabled and settings.secrets.telegram_bot_token else CONSOLE
    if requested == "telegram" and not settings.secrets.telegram_bot_token:
        raise StartupError("TELEGRAM_BOT_TOKEN is not set; export it or use --channel console")
    return requested


def run_console(
    app: App,
    *,
    as_organiser: bool = False,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
) -> None:
    console = app.settings.config.channels.console
    member_id = console.organiser_id if as_organiser else console.member_id
    channel = ConsoleChannel(
        app.conversation.reply_to,
        MemberRef(CONSOLE, member_id, display_name=member_id),
        app.catalogues[app.settings.config.default_language],
        stdin,
        stdout,
        as_organiser=as_organiser,
    )
    channel.run()


def telegram_channel(app: App) -> TelegramChannel:
    token = app.settings.secrets.telegram_bot_token
    if not token:
        raise StartupError("TELEGRAM_BOT_TOKEN is not set")
    return TelegramChannel(
        app.settings.config.channels.telegram,
        token,
        app.conversation,
        app.reachability,
        app.catalogues,
        app.core,
    )


async def serve(app: App, stop: asyncio.Event | None = None) -> None:
    """Run the network channels until `stop` is set or the process gets SIGINT/SIGTERM."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    channel = telegram_channel(app)
    await channel.start()
    log.info("serving Telegram (%s)", app.settings.config.channels.telegram.mode)
    try:
        await stop.wait()
    finally:
        await channel.stop()
