"""The Telegram channel's lifecycle: build the PTB application, poll or serve a webhook, stop."""

from __future__ import annotations

import hashlib
import logging

from telegram import BotCommand, MenuButtonCommands
from telegram.ext import ApplicationBuilder
from telegram.request import HTTPXRequest

from bot.channels.core_worker import CoreWorker
from bot.channels.telegram.handlers import (
    ALLOWED_UPDATES,
    PTBApplication,
    TelegramHandlers,
    register,
)
from bot.channels.telegram.ordering import PerChatUpdateProcessor
from bot.channels.telegram.updates import TolerantBot
from bot.channels.telegram.webhook import WebhookServer
from bot.config import TelegramConfig
from bot.delivery.pacing import Pacer
from bot.services.conversation import Conversation
from bot.services.reachability import Reachability
from bot.texts import Catalogues

log = logging.getLogger(__name__)


COMMANDS = ("start", "menu", "events", "ask", "settings", "help", "stop")


def webhook_secret(token: str) -> str:
    """Derived from the token, so every process behind a load balancer agrees on it."""
    return hashlib.sha256(f"campaign-bot webhook {token}".encode()).hexdigest()


class TelegramChannel:
    def __init__(
        self,
        config: TelegramConfig,
        token: str,
        conversation: Conversation,
        reachability: Reachability,
        catalogues: Catalogues,
        core: CoreWorker,
        pacer: Pacer | None = None,
        *,
        concurrency: int = 32,
    ) -> None:
        """`pacer`: the channel's one rate budget, shared by replies and the outbox."""
        self._config = config
        self.pacer = pacer or Pacer()
        self._catalogues = catalogues
        self.token = token
        # Our own bot, so that an update PTB cannot parse is skipped instead of wedging polling.
        bot = TolerantBot(
            token,
            base_url=config.base_url,
            base_file_url=config.base_file_url,
            request=HTTPXRequest(connection_pool_size=8),
            get_updates_request=HTTPXRequest(connection_pool_size=1),
        )
        builder = (
            ApplicationBuilder().bot(bot).concurrent_updates(PerChatUpdateProcessor(concurrency))
        )
        if config.mode == "webhook":
            builder = builder.updater(None)  # updates arrive over HTTP instead of getUpdates
        self.application: PTBApplication = builder.build()
        register(self.application, TelegramHandlers(conversation, reachability, core, self.pacer))
        self.webhook: WebhookServer | None = None

    async def start(self) -> None:
        """Connect (getMe), publish the command menu, then poll or open the webhook."""
        await self.application.initialize()
        await self.register_commands()
        await self.application.start()
        if self._config.mode == "webhook":
            self.webhook = WebhookServer(self.application, self._config, webhook_secret(self.token))
            await self.webhook.start()
            return
        updater = self.application.updater
        assert updater is not None
        await updater.start_polling(allowed_updates=ALLOWED_UPDATES, timeout=10)

    async def stop(self) -> None:
        if self.webhook is not None:
            await self.webhook.stop()
        elif self.application.updater is not None and self.application.updater.running:
            await self.application.updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    async def register_commands(self) -> None:
        """The "/" menu in each language; Japanese is also the default for everyone else."""
        bot = self.application.bot
        for language in self._catalogues.languages:
            texts = self._catalogues[language]
            commands = [BotCommand(name, texts(f"commands.{name}")) for name in COMMANDS]
            await bot.set_my_commands(commands, language_code=language)
            if language == "ja":
                await bot.set_my_commands(commands)
        await bot.set_chat_menu_button(menu_button=MenuButtonCommands())
