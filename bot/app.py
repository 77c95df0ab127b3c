"""The composition root: config -> database -> services -> channels. Nothing is built on import."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TextIO, cast

from apscheduler.schedulers.background import BackgroundScheduler

from bot import jobs
from bot.calendar.recurrence import expand as expand_occurrences
from bot.calendar.schedule_file import load_calendar as read_calendar
from bot.channels.all import REGISTRY
from bot.channels.console import CHANNEL as CONSOLE
from bot.channels.console import ConsoleChannel, ConsoleMessenger
from bot.channels.core_worker import CoreWorker
from bot.channels.inbound import Inbound
from bot.channels.line.admin import message_quota
from bot.channels.registry import Channel, ChannelContext, ChannelKind, ChannelRefused
from bot.channels.telegram.channel import KIND as TELEGRAM
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.web import WebServer
from bot.config import Settings, reminder_book
from bot.delivery.dispatcher import Dispatcher
from bot.delivery.pacing import Pacer
from bot.domain.calendar import Calendar
from bot.domain.clock import SystemClock
from bot.domain.events import SyncReport
from bot.domain.messages import MemberRef
from bot.domain.ports import Clock
from bot.domain.privacy import Retention
from bot.domain.reminders import QuietHours
from bot.faq.library import Library
from bot.faq.matcher import FaqEngine
from bot.folder_watch import FolderWatch, Trouble
from bot.services import privacy_retention
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
from bot.store.locks import JobLocks
from bot.store.rate_budget import SqlSlotLedger
from bot.texts import Catalogues

log = logging.getLogger(__name__)

PLAN_SOON = timedelta(seconds=2)
LINE_PER_MEMBER_PER_SECOND = 10.0
KEEP_WEBHOOK_EVENTS = timedelta(days=3)
"""Handled platform events are remembered this long: Telegram and LINE give up redelivering
an event well within it, and Telegram draws update ids afresh only after a week of silence."""


class StartupError(Exception):
    """The bot cannot start as configured; the message says what to change.

    (`ChannelRefused`, from a channel or the web server, is the other refusal: a setting that
    was tried and turned down. Both messages are one line and never hold a secret.)"""


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
    inbound: Inbound
    job_locks: JobLocks

    def context(self, channel: str) -> ChannelContext:
        """What a channel is built with; its pacer is the channel's one rate budget."""
        return ChannelContext(
            self.settings, self.inbound, self.catalogues, self.clock, self.pacer(channel)
        )

    def exclusive(self, name: str, job: Callable[[], object], what: str) -> bool:
        """Run `job` unless another process sharing the database is running it now (the
        database's lock of `name`); True when it ran. A job's errors are logged, not raised:
        its next run tries again."""
        try:
            with self.job_locks.exclusive(name) as mine:
                if not mine:
                    log.debug("%s: another process is at it; this run is skipped", what)
                    return False
                job()
                return True
        except Exception:
            log.exception("%s failed; the next run tries again", what)
            return False

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
        per_second, per_chat = delivery.per_second, delivery.per_chat_per_second
        if channel == "line":
            # LINE limits requests, not messages (push 2,000/s; multicast 200/s, each of up
            # to 500 members): Telegram's 25 a second would make a multicast wait 20 s. Nor
            # does LINE limit one member's messages to Telegram's one a second.
            per_second = self.settings.config.channels.line.per_second
            per_chat = max(per_chat, LINE_PER_MEMBER_PER_SECOND)
        return Pacer(
            per_second=per_second,
            per_chat_per_second=per_chat,
            per_chat_burst=delivery.per_chat_burst,
            reply_burst=delivery.reply_burst,
            ledger=ledger,
        )

    def forget_old_messages(self) -> int:
        """Retention: delivered rows keep no message text after `keep_message_days`."""
        days = self.settings.config.delivery.keep_message_days
        queue = SqlDeliveryQueue(self.database.sessions)
        return queue.forget_messages(self.clock.now() - timedelta(days=days))

    def forget_old_events(self) -> int:
        """Handled platform events are forgotten once no platform redelivers them."""
        with self.database.unit_of_work() as uow:
            forgotten = uow.turns.forget_events(self.clock.now() - KEEP_WEBHOOK_EVENTS)
            uow.commit()
        return forgotten

    def forget_old(self) -> None:
        """The daily clean-up (a job)."""

        def forget() -> None:
            self.forget_old_messages()
            self.forget_old_events()
            retention = self.settings.config.retention
            privacy_retention.purge(
                self.database.unit_of_work,
                Retention(**retention.model_dump()),
                self.clock.now(),
            )

        self.exclusive(jobs.FORGET, forget, "forgetting old messages and events")

    def plan_reminders(self) -> bool:
        """Bring the outbox's reminders up to date (a job); False when another process was
        planning or it failed."""
        return self.exclusive(jobs.PLAN_REMINDERS, self.reminders.plan_now, "planning reminders")

    def watch_broadcasts(self) -> bool:
        """Start scheduled broadcasts, tell their authors the progress, close finished ones
        (a job); False when another process was at it or it failed."""
        return self.exclusive(jobs.WATCH_BROADCASTS, self.broadcasts.tick, "looking at broadcasts")

    def check_schedules(self) -> None:
        """Sync the calendar when a schedule file changed (a job: one process at a time
        writes the calendar; each process reads the knowledge base for itself)."""
        self.exclusive(jobs.CHECK_SCHEDULES, self.schedules.check, "checking the schedules")

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

    def stop_jobs(self) -> None:
        """Stop the timer; a job that is running finishes first."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)

    def close(self) -> None:
        self.stop_jobs()
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
        database.unit_of_work,
        campaign,
        catalogues,
        clock,
        Answers(library.current),
        quota=message_quota(settings),
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
        timezone=zone,
        on_quota_exhausted=alerts.quota_exhausted,
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
        jobs.scheduler(settings.zone),
        clock,
        dispatcher,
        outbox_worker,
        SqlSlotLedger(database.sessions),
        budget_worker,
        planner,
        BroadcastMonitor(database.unit_of_work, clock),
        Inbound(conversation, reachability, core),
        JobLocks(database.engine),
    )
    database.when_answered(app.plan_reminders_soon)
    jobs.register(
        app.scheduler,
        check_schedules=app.check_schedules,
        check_knowledge=knowledge.check,
        watch_broadcasts=app.watch_broadcasts,
        plan_reminders=app.plan_reminders,
        forget_old=app.forget_old,
    )
    return app


def choose_channels(
    settings: Settings, requested: str, registry: Sequence[ChannelKind] = REGISTRY
) -> list[str]:
    """What `campaign-bot run --channel` serves: ["console"], or the registry's channels to
    serve together. `auto`: every channel the config enables, or the console when it enables
    none. A named channel is served alone, enabled or not.

    An enabled channel whose secret is missing is refused (`StartupError`), never quietly
    swapped for the console: a server that chatted with nobody in its terminal would look as
    if it were running."""
    if requested == CONSOLE:
        return [CONSOLE]
    if requested != "auto":
        missing = _kind(requested, registry).missing(settings)
        if missing:
            raise StartupError(f"{missing}; set it, or use --channel console")
        return [requested]
    enabled = [entry for entry in registry if entry.enabled(settings)]
    if not enabled:
        return [CONSOLE]
    for entry in enabled:
        missing = entry.missing(settings)
        if missing:
            raise StartupError(
                f"{missing}, and {settings.path.name} turns {entry.name} on; set it, or run "
                f"without {entry.name}: --channel console, or "
                f"channels.{entry.name}.enabled: false"
            )
    return [entry.name for entry in enabled]


def _kind(name: str, registry: Sequence[ChannelKind]) -> ChannelKind:
    for entry in registry:
        if entry.name == name:
            return entry
    known = ", ".join([CONSOLE, *(entry.name for entry in registry)])
    raise StartupError(f'no channel "{name}"; the channels are {known}')


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
    """The Telegram channel, built as `serve` builds it (tests start and stop it)."""
    return TELEGRAM.build(app.context(TELEGRAM.name))


@dataclass
class Running:
    """The channels a process serves, and the web server they share (None when no channel
    has a route: Telegram polling)."""

    channels: list[Channel]
    web: WebServer | None = None
    stopping: bool = field(default=False)

    def channel(self, name: str) -> Channel:
        (found,) = [channel for channel in self.channels if channel.name == name]
        return found

    def healthy(self) -> bool:
        return not self.stopping and all(channel.healthy() for channel in self.channels)


@asynccontextmanager
async def channels_running(app: App, kinds: Sequence[ChannelKind]) -> AsyncIterator[Running]:
    """The channels of `kinds` serving members, their routes on one web server, their
    messengers sending the outbox; everything stopped again in the reverse order.

    Raises `ChannelRefused` when a platform refuses a channel's settings or the web server
    cannot listen; what had started is stopped first."""
    running = Running([])
    async with AsyncExitStack() as stack:
        for entry in kinds:
            channel = entry.build(app.context(entry.name))
            # Pushed before it starts: a channel stops cleanly after a failed start.
            stack.push_async_callback(_stop_channel, channel)
            await channel.start()
            running.channels.append(channel)
        routes = [route for channel in running.channels for route in channel.routes()]
        web_config = app.settings.config.web
        if routes:
            web = WebServer(routes, running.healthy, listen=web_config.listen, port=web_config.port)
            try:
                await web.start()
            except OSError as exc:
                raise _cannot_listen(exc, web_config.listen, web_config.port) from exc
            stack.push_async_callback(web.stop)
            running.web = web
        for channel in running.channels:
            await channel.listening(web_config.public_url)
        for channel in running.channels:
            app.dispatcher.attach(channel.name, channel.messenger, channel.pacer)
            stack.callback(app.dispatcher.detach, channel.name)
        stop = asyncio.Event()
        sending = asyncio.create_task(app.dispatcher.run(stop))

        async def stop_sending() -> None:
            running.stopping = True
            stop.set()
            await sending

        stack.push_async_callback(stop_sending)
        yield running


async def _stop_channel(channel: Channel) -> None:
    try:
        await channel.stop()
    except Exception:
        # One channel failing to stop must not keep the others running.
        log.warning("channel %s did not stop cleanly", channel.name, exc_info=True)


def _cannot_listen(exc: OSError, listen: str, port: int) -> ChannelRefused:
    # In use or reserved (below 1024): the port; an address this machine does not have: listen.
    setting = "web.port" if exc.errno in (errno.EADDRINUSE, errno.EACCES) else "web.listen"
    reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
    return ChannelRefused("web", setting, f"cannot listen on {listen}:{port} ({reason})")


@asynccontextmanager
async def telegram_service(app: App) -> AsyncIterator[TelegramChannel]:
    """Telegram alone with the outbox: replies to members, and the dispatcher sending what is
    due. Raises `TelegramRefused` when Telegram refuses the token or cannot be reached."""
    async with channels_running(app, [TELEGRAM]) as running:
        yield cast(TelegramChannel, running.channel(TELEGRAM.name))


async def serve(
    app: App,
    stop: asyncio.Event | None = None,
    *,
    ready: Callable[[], None] | None = None,
    channels: Sequence[str] | None = None,
    registry: Sequence[ChannelKind] = REGISTRY,
    started: Callable[[Running], None] | None = None,
) -> None:
    """Run the network channels (`channels`, or every channel the config enables) until
    `stop` is set or the process gets SIGINT/SIGTERM; then stop everything in the reverse
    order of starting.

    The background jobs start once every channel has started, then `started` gets what runs
    (the web server's port, the channels) and `ready` is called: a bot that cannot start
    leaves nothing half-running. `registry`: the channels there are (tests add their own).
    Raises `ChannelRefused` when a platform refuses a channel or the web server cannot
    listen, `StartupError` when an enabled channel's secret is missing or no channel is
    enabled."""
    names = (
        list(channels) if channels is not None else choose_channels(app.settings, "auto", registry)
    )
    if names == [CONSOLE]:
        raise StartupError(
            "no channel is enabled: turn one on in the config (channels.telegram.enabled), "
            "or chat in the terminal with --channel console"
        )
    kinds = [_kind(name, registry) for name in names]
    for entry in kinds:
        missing = entry.missing(app.settings)
        if missing:
            raise StartupError(f"{missing}; set it, or run without {entry.name}")
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with channels_running(app, kinds) as running:
            app.start_jobs()
            try:
                if started is not None:
                    started(running)
                if ready is not None:
                    ready()
                where = (
                    f" on {app.settings.config.web.listen}:{running.web.port}"
                    if running.web
                    else ""
                )
                log.info("serving %s%s", ", ".join(names), where)
                await stop.wait()
            finally:
                # The jobs started last: they stop first, while the channels still run.
                await asyncio.to_thread(app.stop_jobs)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
