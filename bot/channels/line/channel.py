"""The LINE channel: its web routes, starting and stopping, and each member's turn from
event to answer (its registry entry is in kind.py, which imports no SDK).

A turn is answered with the event's reply token while it is fresh (a reply is free of the
monthly quota; LINE takes a token for about a minute, once); when the token is too old or
LINE refuses it, the answer is pushed. What LINE will not take now (a 429, an outage) goes
through the outbox's first lane, which retries with a retry key.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Sequence

import aiohttp
from linebot.v3.messaging import ApiException, Message  # type: ignore[import-untyped]  # no py.typed
from starlette.routing import BaseRoute

from bot.channels.inbound import Inbound
from bot.channels.line import render
from bot.channels.line.files import CalendarFiles
from bot.channels.line.kind import HOST_SETTING, TOKEN_SETTING
from bot.channels.line.messenger import (
    LineMessenger,
    ReplyTokenRefused,
    error_message,
)
from bot.channels.line.ordering import MemberQueues
from bot.channels.line.translate import CHANNEL, Kind
from bot.channels.line.webhook import Arrival, Webhook
from bot.channels.registry import ChannelRefused
from bot.config import LineConfig
from bot.delivery.model import DeliveryError, TemporaryFailure, Unreachable
from bot.delivery.pacing import REPLY, Pacer
from bot.domain.messages import Attachment, Link, MemberRef, Outgoing
from bot.texts import Texts

log = logging.getLogger(__name__)


PUSH_RETRY_WAITS = (0.5, 1.0)
"""Seconds before pushing an answer again after a timeout or a 5xx, within the turn."""
REPLY_TOKEN_SECONDS = 50.0
"""How long after its webhook arrived a reply token is used; LINE keeps it about a minute,
and a reply that reaches LINE just too late would cost a refusal and then a push anyway."""


class LineChannel:
    """One LINE Official Account: `routes()` go on the shared web application."""

    name = CHANNEL

    def __init__(
        self,
        config: LineConfig,
        channel_secret: str,
        access_token: str,
        inbound: Inbound,
        texts: Texts,
        pacer: Pacer,
        *,
        reply_token_seconds: float = REPLY_TOKEN_SECONDS,
        concurrency: int = 32,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """`texts`: the default language's catalogue, for the name of a calendar file's link.
        `reply_token_seconds` and `monotonic` decide when a reply token is too old to try."""
        self._config = config
        self._inbound = inbound
        self._texts = texts
        self.pacer = pacer
        self._reply_token_seconds = reply_token_seconds
        self._monotonic = monotonic
        self._public_url: str | None = None
        self.files = CalendarFiles(channel_secret)
        self.messenger = LineMessenger(config, access_token, self._file_link)
        self._queues: MemberQueues[Arrival] = MemberQueues(self._handle, concurrency=concurrency)
        self._webhook = Webhook(channel_secret, self._queues, monotonic=monotonic)
        self._started = False

    def routes(self) -> Sequence[BaseRoute]:
        return [self._webhook.route(), self.files.route()]

    async def start(self) -> None:
        """Open the API client and check the access token (the quota, a cheap free call)."""
        await self.messenger.open()
        try:
            await self.messenger.api.get_message_quota(_request_timeout=10.0)
        except ApiException as exc:
            if exc.status == 401:
                raise ChannelRefused(
                    CHANNEL,
                    TOKEN_SETTING,
                    "LINE refused the channel access token (401): check "
                    "LINE_CHANNEL_ACCESS_TOKEN against the LINE Developers console",
                ) from exc
            raise ChannelRefused(
                CHANNEL,
                HOST_SETTING,
                f"{self._config.api_host} answered {exc.status} {error_message(exc)}".strip(),
            ) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ChannelRefused(
                CHANNEL,
                HOST_SETTING,
                f"cannot reach {self._config.api_host} ({type(exc).__name__})",
            ) from exc
        self._started = True

    async def listening(self, public_url: str | None) -> None:
        """LINE's webhook address is set in the LINE Developers console, not through the
        API: this only learns the public address for the links of files."""
        self._public_url = public_url.rstrip("/") if public_url else None
        if public_url is None:
            log.warning("web.public_url is not set: LINE members get no calendar file links")
        else:
            log.info(
                "LINE webhook: set %s/line/callback in the LINE Developers console",
                self._public_url,
            )

    async def stop(self) -> None:
        """Finish the events already taken, then close the API client."""
        self._started = False
        await self._queues.close()
        await self.messenger.close()

    def healthy(self) -> bool:
        return self._started and not self._queues.closed

    # --- one event ---------------------------------------------------------------------------

    async def _handle(self, arrival: Arrival) -> None:
        """One event of one member, start to finish; a failure is logged and the member
        gets an apology, never a traceback."""
        event, arrived = arrival
        member = event.member
        try:
            if event.kind is Kind.BLOCKED:
                await self._inbound.unreachable(member, "unfollow: blocked the LINE account")
                return
            assert event.incoming is not None
            if event.unblocked:
                await self._inbound.reachable(member)
            replies = await self._inbound.handle(event.incoming)
        except Exception:
            log.exception("failed to handle a LINE %s event", event.kind.value)
            replies = None
        if replies == []:
            return
        # Tried even on a redelivered event: LINE may still take its token (a reply is free),
        # and a refusal costs only the push that would have gone anyway.
        token = event.reply_token
        if token is not None and self._monotonic() - arrived > self._reply_token_seconds:
            log.info(
                "reply token of a LINE event too old after %.0f s: pushing",
                self._monotonic() - arrived,
            )
            token = None
        if replies is None:
            if event.kind is Kind.BLOCKED:
                return
            replies = await self._apology(member)
        await self._answer(member.external_id, replies, token)

    async def _apology(self, member: MemberRef) -> list[Outgoing]:
        try:
            return [await self._inbound.apology(member)]
        except Exception:
            log.warning("could not make the apology for a LINE member", exc_info=True)
            return []

    async def _answer(self, user_id: str, replies: list[Outgoing], token: str | None) -> None:
        """Send the replies in calls of five, the first with the reply token when there is
        one; what cannot go now is left to the outbox, from the reply it belongs to on."""
        pairs = render.render_with_origins(replies, self._file_link)
        for start in range(0, len(pairs), render.MESSAGES_PER_CALL):
            batch = pairs[start : start + render.MESSAGES_PER_CALL]
            messages = [message for _, message in batch]
            try:
                await self.pacer.acquire(user_id, 1, priority=REPLY)
                if token is not None:
                    try:
                        await self.messenger.reply(token, messages)
                        continue
                    except ReplyTokenRefused:
                        log.info("LINE refused a reply token (used or expired): pushing")
                    finally:
                        token = None  # single use, whatever happened
                await self._push(user_id, messages)
            except Unreachable as exc:
                await self._inbound.unreachable(self._ref(user_id), exc.reason)
                return
            except DeliveryError as exc:
                # The reply this call began in may have arrived in part (an earlier call).
                unsent = replies[batch[0][0] :]
                log.warning(
                    "%d replies to a LINE member deferred to the outbox: %s", len(unsent), exc
                )
                await self._inbound.defer(self._ref(user_id), unsent)
                return

    async def _push(self, user_id: str, messages: list[Message]) -> None:
        """Push within the turn, trying again with the same retry key when LINE could not
        be heard: if the first try did arrive, LINE answers 409 and nothing is sent twice.
        (Left to the outbox, the messages would go with another key.)"""
        key = str(uuid.uuid4())
        for wait in (*PUSH_RETRY_WAITS, None):
            try:
                await self.messenger.push(user_id, messages, key)
                return
            except TemporaryFailure:
                if wait is None:
                    raise
                await asyncio.sleep(wait)

    def _ref(self, user_id: str) -> MemberRef:
        return MemberRef(CHANNEL, user_id)

    def _file_link(self, attachment: Attachment) -> Link | None:
        """A calendar file as a link to our web app. Other files (a member's data export)
        are not put behind a link: they are personal, and a link travels through LINE."""
        if not self.messenger.capabilities.delivers(attachment.media_type):
            log.warning("a %s file cannot be sent on LINE; left out", attachment.media_type)
            return None
        if self._public_url is None:
            log.warning("no web.public_url: a calendar file cannot be offered on LINE")
            return None
        url = self.files.url(self._public_url, attachment)
        return Link(self._texts("rsvp.calendar_button"), url)
