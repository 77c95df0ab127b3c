"""The composition root: config -> database -> services -> channels. Nothing is built on import."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from typing import TextIO

from apscheduler.schedulers.background import BackgroundScheduler

from bot import jobs
from bot.calendar.recurrence import expand as expand_occurrences
from bot.calendar.schedule_file import load_calendar as read_calendar
from bot.channels.console import CHANNEL as CONSOLE
from bot.channels.console import ConsoleChannel, ConsoleMessenger
from bot.channels.core_worker import CoreWorker
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.messenger import TelegramMessenger
from bot.config import Settings, reminder_book
from bot.delivery.dispatcher import Dispatcher
from bot.delivery.pacing import Pacer
from bot.domain.calendar import Calendar
from bot.domain.clock import SystemClock
from bot.domain.events import SyncReport
from bot.domain.messages import MemberRef
from bot.domain.ports import Clock
from bot.domain.reminders import QuietHours
from bot.faq.library import Library
from bot.faq.matcher import FaqEngine
from bot.folder_watch import FolderWatch, Trouble
from bot.services.broadcasts import BroadcastMonitor
from bot.services.calendar_sync import CalendarSync
from bot.services.conversation import Conversation
from bot.services.deliveries import DeliveryContent
from bot.services.faq import Answers
from bot.services.organiser_alerts import OrganiserAlerts
from bot.services.reachability import Reachability
from bot.services.reminders import ReminderPlanner
from bot.services.roles import sync_roles
from bot.store.database import Database
from bot.store.deliveries import SqlDeliveryQueue
from bot.store.rate_budget import SqlSlotLedger
from bot.texts import Catalogues

log = logging.getLogger(__name__)

PLAN_SOON = timedelta(seconds=2)


class StartupError(Exception):
    """The bot cannot start as configured; the message says what to change.

    (`TelegramRefused`, from the Telegram channel, is the other refusal: a setting that was
    tried and turned down. Both messages are one line and never hold a secret.)"""


@dataclass
class App:
    settings: Settings
    database: Database
    conversation: Conversation
    reachability: Reachability
    catalogues: Catalogues
    core: CoreWorker
    calendar_sync: CalendarSync
    schedules: FolderWatch[SyncReport]
    library: Library
    knowledge: FolderWatch[FaqEngine]
    scheduler: BackgroundScheduler
    clock: Clock
    dispatcher: Dispatcher
    outbox_worker: CoreWorker
    ledger: SqlSlotLedger
    budget_worker: CoreWorker
    reminders: ReminderPlanner
    broadcasts: BroadcastMonitor

    def pacer(self, channel: str) -> Pacer:
        """The channel's one rate budget, for its replies and its outbox alike."""
        delivery = self.settings.config.delivery
        ledger = None
        shared = delivery.shared_budget
        if shared == "auto":
            # Several processes share a database only in production, on PostgreSQL; on SQLite
            # the ledger's write per message would only compete with members' replies.
            shared = self.database.url.get_backend_name() == "postgresql"
        if shared:

            async def reserve(channel: str, count: int, interval: float, now: float) -> float:
                return await self.budget_worker.run(
                    self.ledger.reserve, channel, count, interval, now
                )

            ledger = (channel, reserve)
        return Pacer(
            per_second=delivery.per_second,
            per_chat_per_second=delivery.per_chat_per_second,
            per_chat_burst=delivery.per_chat_burst,
            reply_burst=delivery.reply_burst,
            ledger=ledger,
        )

    def forget_old_messages(self) -> int:
        """Retention: delivered rows keep no message text after `keep_message_days`."""
        days = self.settings.config.delivery.keep_message_days
        queue = SqlDeliveryQueue(self.database.sessions)
        return queue.forget_messages(self.clock.now() - timedelta(days=days))

    def plan_reminders(self) -> None:
        """Bring the outbox's reminders up to date (a job: its errors are logged, not raised)."""
        try:
            self.reminders.plan_now()
        except Exception:
            log.exception("planning reminders failed; the next run tries again")

    def watch_broadcasts(self) -> None:
        """Start scheduled broadcasts, tell their authors the progress, close finished ones
        (a job: its errors are logged, not raised)."""
        try:
            self.broadcasts.tick()
        except Exception:
            log.exception("looking at broadcasts failed; the next run tries again")

    def plan_reminders_soon(self) -> None:
        """After an answer or a calendar change: plan within seconds, once for many changes."""
        if self.scheduler.running:
            soon = self.clock.now() + PLAN_SOON
            job = self.scheduler.get_job(jobs.PLAN_REMINDERS)
            if job is not None and (job.next_run_time is None or job.next_run_time > soon):
                job.modify(next_run_time=soon)

    def start_jobs(self) -> None:
        """Background work that runs whatever the channel: watching the schedules, planning
        reminders (at once, then on a timer and after changes)."""
        if not self.scheduler.running:
            self.scheduler.start()
            self.plan_reminders_soon()

    def close(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.core.stop()
        self.outbox_worker.stop()
        self.budget_worker.stop()
        self.database.dispose()


def load_calendar(settings: Settings) -> Calendar:
    """Read and validate every schedule file; raises `InvalidDocument` listing every problem."""
    regions = [r.code for r in settings.config.regions]
    return read_calendar(settings.schedules_dir, regions, settings.zone)


def build(settings: Settings, *, clock: Clock | None = None, migrate: bool = True) -> App:
    """Wire the bot together. `migrate` brings the database schema up to date first."""
    database_config = settings.config.database
    database = Database(
        settings.database_url,
        echo=database_config.echo,
        statement_timeout=database_config.statement_timeout,
        idle_in_transaction_timeout=database_config.idle_in_transaction_timeout,
    )
    if migrate:
        database.upgrade()
    catalogues = Catalogues.load()
    clock = clock or SystemClock()
    campaign = settings.campaign()
    if migrate:
        # The config may have changed since the last run: roles follow it before anything
        # is sent (a relayed question must not reach someone no longer organising).
        sync_roles(database.unit_of_work, campaign)
    zone = settings.zone
    alerts = OrganiserAlerts(database.unit_of_work, catalogues, clock)

    def tell_organisers(setting: str) -> Trouble:
        # A folder that cannot be read keeps the last good state; organisers hear it once.
        folder = f"{setting}/"
        return lambda incident, problems: alerts.folder_broken(incident, folder, problems)

    library = Library(settings.knowledge_dir, lambda: clock.now().astimezone(zone).date())
    knowledge = FolderWatch(
        settings.knowledge_dir,
        library.load,
        name="knowledge base",
        on_trouble=tell_organisers(settings.config.knowledge_dir),
        now=clock.now,
    )
    conversation = Conversation(
        database.unit_of_work, campaign, catalogues, clock, Answers(library.current)
    )
    reachability = Reachability(database.unit_of_work, clock)
    calendar_sync = CalendarSync(database.unit_of_work, clock, expand_occurrences)
    planner = ReminderPlanner(
        database.unit_of_work,
        campaign,
        reminder_book(settings.config.reminders, zone),
        clock,
        plan_ahead=settings.config.reminders.plan_ahead,
    )

    def sync_calendar() -> SyncReport:
        report = calendar_sync.sync(load_calendar(settings))
        if report.changed_anything:
            # Its own job, so that a failure to plan is not taken for a broken schedule file.
            app.plan_reminders_soon()
        return report

    schedules = FolderWatch(
        settings.schedules_dir,
        sync_calendar,
        name="schedules",
        on_trouble=tell_organisers(settings.config.schedules_dir),
        now=clock.now,
    )
    core = CoreWorker(threads=settings.config.database.threads)
    core.start()
    # The outbox's database work has a thread of its own, so members' replies never queue
    # behind a broadcast's bookkeeping.
    outbox_worker = CoreWorker(threads=1, name="outbox")
    outbox_worker.start()
    # Every message, reply or push, reserves its slot in the shared budget before it goes:
    # on the outbox's thread a member's reply would wait behind a broadcast's claims and
    # outcomes (bench/outbox.py measured it), so the reservations have a thread of their own.
    budget_worker = CoreWorker(threads=1, name="budget")
    budget_worker.start()
    delivery = settings.config.delivery
    dispatcher = Dispatcher(
        SqlDeliveryQueue(database.sessions, lower_lane_share=delivery.lower_lane_share),
        {},
        clock,
        run_blocking=outbox_worker.run,
        renderer=DeliveryContent(
            database.unit_of_work,
            conversation.screens,
            clock,
            quiet=QuietHours(
                settings.config.reminders.quiet_hours.start,
                settings.config.reminders.quiet_hours.end,
            ),
        ),
        batch=delivery.batch,
        lease=delivery.lease,
        max_attempts=delivery.max_attempts,
    )
    database.when_enqueued(dispatcher.wake)
    app = App(
        settings,
        database,
        conversation,
        reachability,
        catalogues,
        core,
        calendar_sync,
        schedules,
        library,
        knowledge,
        jobs.scheduler(settings.zone, [schedules, knowledge]),
        clock,
        dispatcher,
        outbox_worker,
        SqlSlotLedger(database.sessions),
        budget_worker,
        planner,
        BroadcastMonitor(database.unit_of_work, clock),
    )
    database.when_answered(app.plan_reminders_soon)
    app.scheduler.add_job(
        app.watch_broadcasts,
        "interval",
        seconds=jobs.BROADCASTS_EVERY_SECONDS,
        id=jobs.WATCH_BROADCASTS,
        name="start, follow and report broadcasts",
    )
    app.scheduler.add_job(
        app.plan_reminders,
        "interval",
        seconds=jobs.PLAN_EVERY_SECONDS,
        id=jobs.PLAN_REMINDERS,
        name="plan reminders into the outbox",
    )
    app.scheduler.add_job(
        app.forget_old_messages,
        "cron",
        hour=4,
        id="deliveries.forget",
        name="empty the text of messages sent long ago",
    )
    return app


def choose_channel(settings: Settings, requested: str) -> str:
    """`auto` picks Telegram when it is enabled, otherwise the console. Telegram without a
    token is refused (`StartupError`), never quietly swapped for the console: a server that
    chatted with nobody in its terminal would look as if it were running."""
    telegram = settings.config.channels.telegram
    token = settings.secrets.telegram_bot_token
    if requested == "auto":
        if not telegram.enabled:
            return CONSOLE
        if not token:
            raise StartupError(
                f"TELEGRAM_BOT_TOKEN is not set, and {settings.path.name} turns Telegram on; "
                "export the token, or run without Telegram: --channel console, or "
                "channels.telegram.enabled: false"
            )
        return "telegram"
    if requested == "telegram" and not token:
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

    def deliver_pending() -> None:
        # Between turns, the outbox's messages for the person at the terminal are shown.
        asyncio.run(app.dispatcher.run_once())

    channel = ConsoleChannel(
        app.conversation.reply_to,
        MemberRef(CONSOLE, member_id, display_name=member_id),
        app.catalogues[app.settings.config.default_language],
        stdin,
        stdout,
        as_organiser=as_organiser,
        deliver_pending=deliver_pending,
    )
    # No pacing on a terminal: nobody floods themselves.
    app.dispatcher.attach(
        CONSOLE, ConsoleMessenger(channel), Pacer(per_second=1e6, per_chat_per_second=1e6)
    )
    try:
        channel.run()
    finally:
        app.dispatcher.detach(CONSOLE)


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
        app.pacer("telegram"),
    )


@asynccontextmanager
async def telegram_service(app: App) -> AsyncIterator[TelegramChannel]:
    """Telegram with the outbox: replies to members, and the dispatcher sending what is due.

    Raises `TelegramRefused` when Telegram refuses the token or cannot be reached."""
    channel = telegram_channel(app)
    messenger = TelegramMessenger.from_config(app.settings.config.channels.telegram, channel.token)
    try:
        await channel.start()
        await messenger.initialize()
    except BaseException:
        # What did start (connection pools, the webhook server) stops; a failure to stop is
        # not the news, why it could not start is.
        with suppress(Exception):
            await messenger.shutdown()
        with suppress(Exception):
            await channel.stop()
        raise
    app.dispatcher.attach("telegram", messenger, channel.pacer)
    stop = asyncio.Event()
    sending = asyncio.create_task(app.dispatcher.run(stop))
    try:
        yield channel
    finally:
        stop.set()
        await sending
        app.dispatcher.detach("telegram")
        await messenger.shutdown()
        await channel.stop()


async def serve(
    app: App, stop: asyncio.Event | None = None, *, ready: Callable[[], None] | None = None
) -> None:
    """Run the network channels until `stop` is set or the process gets SIGINT/SIGTERM.

    The background jobs start once Telegram has accepted the bot, then `ready` is called: a
    bot that cannot start leaves nothing half-running. Raises `TelegramRefused` when Telegram
    refuses the token or cannot be reached."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with telegram_service(app):
        app.start_jobs()
        if ready is not None:
            ready()
        log.info("serving Telegram (%s)", app.settings.config.channels.telegram.mode)
        await stop.wait()
