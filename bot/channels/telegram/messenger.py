"""The outbox's way to Telegram: send one queued `Outgoing`, and say precisely why it failed."""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta

from telegram import Bot
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest

from bot.channels.telegram import render
from bot.config import TelegramConfig
from bot.delivery.model import PermanentFailure, RateLimited, TemporaryFailure, Unreachable
from bot.domain.capabilities import Capabilities, adapt
from bot.domain.messages import Outgoing

log = logging.getLogger(__name__)

CHANNEL = "telegram"

# Bad requests that mean the chat is gone rather than that the message is wrong.
_GONE_CHAT = ("chat not found", "user not found", "peer_id_invalid")


class TelegramMessenger:
    """Sends outbox messages with a `telegram.Bot` of its own.

    Its own connection pool keeps a broadcast from queueing in front of interactive replies.
    No python-telegram-bot rate limiter: the dispatcher paces (see bot/delivery/pacing.py).
    """

    capabilities: Capabilities = render.CAPABILITIES

    def __init__(
        self,
        token: str,
        *,
        base_url: str = "https://api.telegram.org/bot",
        base_file_url: str = "https://api.telegram.org/file/bot",
        connections: int = 16,
        timeout: float = 10.0,
    ) -> None:
        """`connections` should be at least the dispatcher's concurrency, so no send waits
        for a free connection."""
        request = HTTPXRequest(
            connection_pool_size=connections,
            read_timeout=timeout,
            write_timeout=timeout,
            connect_timeout=timeout,
            pool_timeout=timeout,
        )
        self._bot = Bot(token, base_url=base_url, base_file_url=base_file_url, request=request)
        self._menus = render.ShownMenus()

    @classmethod
    def from_config(cls, config: TelegramConfig, token: str) -> TelegramMessenger:
        return cls(token, base_url=config.base_url, base_file_url=config.base_file_url)

    async def initialize(self) -> None:
        """Open the connection pool and check the token (getMe)."""
        await self._bot.initialize()

    async def shutdown(self) -> None:
        await self._bot.shutdown()

    def parts(self, message: Outgoing) -> int:
        """Telegram messages `send` uses: one per 4096-character chunk, one per attachment."""
        return sum(
            len(render.chunks(part.text)) + len(part.attachments)
            for part in adapt(message, self.capabilities)
        )

    async def send(self, external_id: str, message: Outgoing, *, retry_key: str) -> str:
        """Send to the chat `external_id`; returns the id of the last message sent (the one
        carrying the buttons). Telegram has no idempotency key, so `retry_key` is unused."""
        try:
            try:
                ids = await render.deliver(
                    self._bot,
                    external_id,
                    [dataclasses.replace(message, replace=True) if message.edit_of else message],
                    self._menus,
                    pressed_message_id=_message_id(message.edit_of),
                    capabilities=self.capabilities,
                )
            except render.NotDelivered as exc:  # the row as a whole is retried
                raise exc.__cause__ or exc from None
        except RetryAfter as exc:
            raise RateLimited(_seconds(exc.retry_after)) from exc
        except Forbidden as exc:  # blocked, deactivated, never started, kicked
            raise Unreachable(exc.message) from exc
        except BadRequest as exc:  # before NetworkError: BadRequest is one in PTB
            if any(text in exc.message.lower() for text in _GONE_CHAT):
                raise Unreachable(exc.message) from exc
            raise PermanentFailure(exc.message) from exc
        except ChatMigrated as exc:
            raise PermanentFailure(f"the group became supergroup {exc.new_chat_id}") from exc
        except NetworkError as exc:  # timeouts, dropped connections, 5xx
            raise TemporaryFailure(exc.message) from exc
        except TelegramError as exc:  # 401 (a revoked token), 409: an operator must look
            log.error("Telegram refused a delivery: %s", exc.message)
            raise TemporaryFailure(exc.message) from exc
        return str(ids[-1])


def _message_id(edit_of: str | None) -> int | None:
    return int(edit_of) if edit_of and edit_of.isdigit() else None


def _seconds(retry_after: int | timedelta) -> float:
    # PTB gives a timedelta with PTB_TIMEDELTA=1 (set by cli.py), an int otherwise.
    if isinstance(retry_after, timedelta):
        return retry_after.total_seconds()
    return float(retry_after)
