"""The Telegram channel's lifecycle: build the PTB application, poll or serve a webhook, stop."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import httpx
from starlette.routing import BaseRoute
from telegram import Bot, BotCommand, MenuButtonCommands
from telegram.error import InvalidToken, TelegramError
from telegram.ext import ApplicationBuilder
from telegram.request import HTTPXRequest

from bot.channels.inbound import Inbound
from bot.channels.registry import ChannelContext, ChannelRefused
from bot.channels.telegram.handlers import (
    ALLOWED_UPDATES,
    PTBApplication,
    TelegramHandlers,
    register,
)
from bot.channels.telegram.messenger import TelegramMessenger
from bot.channels.telegram.ordering import PerChatUpdateProcessor
from bot.channels.telegram.updates import TolerantBot
from bot.channels.telegram.webhook import TelegramWebhook
from bot.config import Settings, TelegramConfig
from bot.delivery.pacing import Pacer
from bot.texts import Catalogues

log = logging.getLogger(__name__)


COMMANDS = ("start", "menu", "events", "ask", "settings", "help", "stop")

CHANNEL = "telegram"
SECTION = "channels.telegram"
TOKEN_SETTING = "TELEGRAM_BOT_TOKEN"
BASE_URL_SETTING = "base_url"


class TelegramRefused(ChannelRefused):
    """Telegram could not start as configured: the Bot API refused the bot or could not be
    reached when first asked (getMe).

    `setting` is what to change: `TOKEN_SETTING` (the environment's token), or a config key
    such as "channels.telegram.base_url", built from the key under channels.telegram given
    here ("base_url"). The message never holds the token.
    """

    def __init__(self, setting: str, message: str) -> None:
        if setting != TOKEN_SETTING:
            setting = f"{SECTION}.{setting}"
        super().__init__(CHANNEL, setting, message)


def refusal(
    exc: TelegramError, config: TelegramConfig, seconds: float | None = None
) -> TelegramRefused:
    """What `exc`, raised while asking getMe, says is wrong: the token or base_url."""
    if isinstance(exc, InvalidToken):
        # PTB turns both 401 and 404 into InvalidToken; Telegram's description tells them
        # apart. A token of the wrong shape is refused before any request (config.Secrets),
        # so a 404 means that base_url does not lead to a Bot API.
        if "not found" in str(exc.__cause__ or exc).lower():
            return TelegramRefused(
                BASE_URL_SETTING,
                f"{config.base_url} answered 404 Not Found to getMe: it is not a Bot API "
                "address; Telegram's is https://api.telegram.org/bot",
            )
        return TelegramRefused(
            TOKEN_SETTING,
            "Telegram refused the bot token (401 Unauthorized): check TELEGRAM_BOT_TOKEN "
            "against the token @BotFather gave",
        )
    if isinstance(exc.__cause__, httpx.HTTPError):  # PTB's NetworkError and TimedOut
        return _unreachable(exc.__cause__, config, seconds)
    return TelegramRefused(BASE_URL_SETTING, f"{config.base_url} answered: {_answer(exc)}")


_NOT_JSON = ". Parsing the server response"
"""How PTB goes on after the status of an answer that is not JSON, quoting the whole page."""

_LONGEST_ANSWER = 200


def _answer(exc: TelegramError) -> str:
    """The Bot API's description of its refusal, on one line; the page of a proxy or web
    server that is no Bot API is not quoted (it may be long, or hold the request's URL)."""
    no_json = "a page that is not the Bot API's JSON"
    if exc.message == "Invalid server response":  # 200 OK, but not JSON
        return no_json
    text, not_json, _ = exc.message.partition(_NOT_JSON)
    text = " ".join(text.split())
    if len(text) > _LONGEST_ANSWER:
        text = text[: _LONGEST_ANSWER - 3] + "..."
    return f"{text}, {no_json}" if not_json else text


@contextmanager
def _failures_told_by_us() -> Iterator[None]:
    """While getMe starts the bot: an answer that is not JSON makes python-telegram-bot log
    the whole page at ERROR with a traceback; the refusal reports it in one line instead
    (the chain, with the page, is in the -v traceback)."""
    logger = logging.getLogger("telegram.request.BaseRequest")

    def drop(record: logging.LogRecord) -> bool:
        return False

    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


def _unreachable(
    exc: httpx.HTTPError, config: TelegramConfig, seconds: float | None
) -> TelegramRefused:
    if isinstance(exc, httpx.TimeoutException):
        within = f" within {seconds:g} s" if seconds else ""
        return TelegramRefused(BASE_URL_SETTING, f"no answer from {config.base_url}{within}")
    if isinstance(exc, httpx.ConnectError | httpx.UnsupportedProtocol):
        return TelegramRefused(
            BASE_URL_SETTING, f"cannot connect to {config.base_url} ({_reason(exc)})"
        )
    return TelegramRefused(
        BASE_URL_SETTING, f"{config.base_url} broke off the connection ({_reason(exc)})"
    )


def _reason(exc: BaseException) -> str:
    """Why a connection failed, in words, from the operating system's error at the bottom of
    httpx's chain: "connection refused", "name or service not known"."""
    reason = str(exc).strip() or type(exc).__name__
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, OSError) and isinstance(cause.errno, int) and cause.errno > 0:
            reason = os.strerror(cause.errno)  # asyncio words ECONNREFUSED as "Connect call..."
        elif isinstance(cause, OSError) and cause.strerror:
            reason = cause.strerror  # the resolver's: "Name or service not known"
        cause = cause.__cause__ or cause.__context__
    return reason[:1].lower() + reason[1:]


async def verify(config: TelegramConfig, token: str | None, *, seconds: float) -> str | None:
    """Ask the Bot API who the bot is, as starting does, within `seconds`: the bot's
    @username. Without a token, only whether the server answers at all (then None).
    Raises `TelegramRefused`."""
    if token is None:
        try:
            async with httpx.AsyncClient(timeout=seconds) as client:
                await client.get(config.base_url)
        except httpx.HTTPError as exc:
            raise _unreachable(exc, config, seconds) from exc
        return None
    request = HTTPXRequest(
        connection_pool_size=1,
        connect_timeout=seconds,
        read_timeout=seconds,
        write_timeout=seconds,
        pool_timeout=seconds,
    )
    bot = Bot(token, base_url=config.base_url, base_file_url=config.base_file_url, request=request)
    try:
        with _failures_told_by_us():
            await bot.initialize()
        return f"@{bot.username}"
    except TelegramError as exc:
        raise refusal(exc, config, seconds) from exc
    finally:
        await bot.shutdown()


def webhook_secret(token: str) -> str:
    """Derived from the token, so every process behind a load balancer agrees on it."""
    return hashlib.sha256(f"campaign-bot webhook {token}".encode()).hexdigest()


class TelegramChannel:
    """The `Channel` of Telegram: python-telegram-bot polling, or its webhook route on the
    shared web application; replies to members, and the outbox's messenger."""

    name = CHANNEL

    def __init__(
        self,
        config: TelegramConfig,
        token: str,
        inbound: Inbound,
        catalogues: Catalogues,
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
        register(self.application, TelegramHandlers(inbound, self.pacer))
        self.webhook = TelegramWebhook(self.application, webhook_secret(token))
        self.messenger = TelegramMessenger.from_config(config, token)
        self._stopping = False

    def routes(self) -> Sequence[BaseRoute]:
        if self._config.mode != "webhook":
            return []
        return [self.webhook.route(self._config.webhook.path)]

    async def start(self) -> None:
        """Connect (getMe), publish the command menu, then poll (in webhook mode, updates
        come once `listening` has told Telegram the address).

        Raises `TelegramRefused` when getMe is refused or never answered."""
        try:
            with _failures_told_by_us():
                await self.application.initialize()
        except TelegramError as exc:
            raise refusal(exc, self._config) from exc
        await self.messenger.initialize()
        await self.register_commands()
        await self.application.start()
        if self._config.mode == "webhook":
            return
        updater = self.application.updater
        assert updater is not None
        await updater.start_polling(allowed_updates=ALLOWED_UPDATES, timeout=10)

    async def listening(self, public_url: str | None) -> None:
        """Webhook mode: tell Telegram where to post updates, with our secret."""
        if self._config.mode != "webhook":
            return
        if public_url is None:
            log.warning(
                "web.public_url is not set: Telegram was not told where to send updates; "
                "set it, or register the webhook yourself"
            )
            return
        url = public_url.rstrip("/") + self._config.webhook.path
        await self.application.bot.set_webhook(
            url, secret_token=webhook_secret(self.token), allowed_updates=ALLOWED_UPDATES
        )

    def healthy(self) -> bool:
        return self.application.running and not self._stopping

    async def stop(self) -> None:
        self._stopping = True
        try:
            if self.application.updater is not None and self.application.updater.running:
                await self.application.updater.stop()
            if self.application.running:
                await self.application.stop()
            await self.application.shutdown()
        finally:
            # An application whose start failed at getMe is not "initialized" and shuts
            # nothing down; its bot's connection pools are open all the same (a no-op
            # otherwise).
            await self.application.bot.shutdown()
            await self.messenger.shutdown()

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


class TelegramKind:
    """Telegram's entry in the registry of channels (bot/channels/all.py)."""

    name = CHANNEL

    def enabled(self, settings: Settings) -> bool:
        return settings.config.channels.telegram.enabled

    def missing(self, settings: Settings) -> str | None:
        if settings.secrets.telegram_bot_token:
            return None
        return f"{TOKEN_SETTING} is not set"

    def build(self, context: ChannelContext) -> TelegramChannel:
        token = context.settings.secrets.telegram_bot_token
        if not token:
            raise ChannelRefused(CHANNEL, TOKEN_SETTING, f"{TOKEN_SETTING} is not set")
        return TelegramChannel(
            context.settings.config.channels.telegram,
            token,
            context.inbound,
            context.catalogues,
            context.pacer,
        )


KIND = TelegramKind()
