"""The composition root: config -> database -> services -> channels. Nothing is built on import."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import TextIO

from bot.channels.console import CHANNEL as CONSOLE
from bot.channels.console import ConsoleChannel
from bot.config import Settings
from bot.domain.clock import SystemClock
from bot.domain.messages import MemberRef
from bot.domain.ports import Clock
from bot.services.conversation import Conversation
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
    catalogues: Catalogues

    def close(self) -> None:
        self.database.dispose()


def build(settings: Settings, *, clock: Clock | None = None, migrate: bool = True) -> App:
    """Wire the bot together. `migrate` brings the database schema up to date first."""
    database = Database(settings.database_url, echo=settings.config.database.echo)
    if migrate:
        database.upgrade()
    catalogues = Catalogues.load()
    conversation = Conversation(
        database.unit_of_work, settings.campaign(), catalogues, clock or SystemClock()
    )
    return App(settings, database, conversation, catalogues)


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
