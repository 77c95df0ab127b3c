"""The whole bot with its LINE channel: the real line-bot-sdk talking to the fake LINE API,
webhook bodies signed and POSTed to the channel's routes on a real web server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from bot.app import App, build
from bot.channels.line.channel import LineChannel
from bot.channels.web import WebServer
from bot.config import ChannelsConfig, LineConfig, Secrets, Settings
from bot.domain.members import Member
from bot.faq.matcher import FaqEngine
from tests.fakes.clock import FakeClock
from tests.fakes.line_api import FakeLine
from tests.fakes.line_state import Delivered
from tests.fakes.line_webhook import LineWebhookSender, WebhookResult

ORGANISER = "U" + "0a" * 16
HANAKO = "U" + "11" * 16
MEDIA_ANSWER = "文字で送ってください"

# The example's pace for Telegram chats (1/s after a burst of 3) would make journeys slow.
QUICK_PACING = {"per_chat_per_second": 100.0, "per_chat_burst": 20}


@pytest.fixture
def fake() -> Iterator[FakeLine]:
    with FakeLine() as server:
        yield server


def line_settings(
    settings: Settings,
    fake: FakeLine,
    database_url: str,
    delivery: dict[str, Any] | None = None,
) -> Settings:
    """The example configuration, pointed at the fake LINE API, with one LINE organiser."""
    config = settings.config
    config = config.model_copy(
        update={
            "delivery": config.delivery.model_copy(update=delivery or QUICK_PACING),
            "channels": ChannelsConfig(
                console=config.channels.console,
                line=LineConfig(enabled=True, api_host=fake.base_url),
            ),
            "organisers": config.organisers.model_copy(update={"line": [ORGANISER]}),
        }
    )
    return Settings(
        config=config,
        path=settings.path,
        secrets=Secrets(
            line_channel_secret=fake.channel_secret,
            line_channel_access_token=fake.access_token,
            database_url=database_url,
        ),
    )


@dataclass
class LineBot:
    app: App
    channel: LineChannel
    web: WebServer
    fake: FakeLine
    sender: LineWebhookSender

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web.port}"

    def member(self, user_id: str) -> Member:
        with self.app.database.unit_of_work() as uow:
            member = uow.members.get("line", user_id)
        assert member is not None
        return member

    async def post(self, *events: dict[str, Any]) -> WebhookResult:
        result = await self.sender.apost(list(events))
        assert result.status == 200, result.response
        return result

    async def answer(
        self, user_id: str, event: Callable[[], dict[str, Any]], count: int = 1
    ) -> list[Delivered]:
        """Post the event the member makes, and wait for `count` more message objects."""
        before = len(self.fake.messages(user_id))
        await self.post(event())
        messages = await self.fake.messages_eventually(user_id, before + count)
        return messages[before:]

    async def say(self, user_id: str, text: str, count: int = 1) -> list[Delivered]:
        return await self.answer(user_id, lambda: self.fake.text_event(user_id, text), count)

    async def tap(self, user_id: str, label: str, count: int = 1) -> list[Delivered]:
        """Tap the newest button called `label` the member was sent."""
        data = postback_data(self.fake.messages(user_id), label)
        return await self.answer(user_id, lambda: self.fake.postback_event(user_id, data), count)

    async def settled(self, user_id: str) -> list[Delivered]:
        """Everything the member got once every event sent before has been handled: a
        sticker's answer comes after them (each member's events are handled in order)."""
        start = len(self.fake.messages(user_id))
        await self.post(self.fake.sticker_event(user_id))

        def answered() -> bool:
            return any(MEDIA_ANSWER in m.text for m in self.fake.messages(user_id)[start:])

        await self.fake.until(answered, description="the answer to a sticker")
        received = self.fake.messages(user_id)
        (answer,) = [m for m in received[start:] if MEDIA_ANSWER in m.text]
        return received[: received.index(answer)]

    async def register(self, user_id: str, region: str = "板橋区") -> None:
        await self.answer(user_id, lambda: self.fake.follow_event(user_id), 2)
        await self.tap(user_id, "はい、受け取ります", 2)
        await self.tap(user_id, region)
        await self.tap(user_id, "決定")


def postback_data(messages: list[Delivered], label: str) -> str:
    for message in reversed(messages):
        for action in message.actions:
            if action.get("type") == "postback" and action.get("label") == label:
                return str(action["data"])
    raise AssertionError(f"no button {label!r} in {[m.text[:30] for m in messages]}")


def labels(message: Delivered) -> list[str]:
    """Every button of a message: bubble buttons, then quick replies."""
    return [str(action.get("label")) for action in message.actions]


def quick_replies(message: Delivered) -> list[str]:
    items = (message.message.get("quickReply") or {}).get("items") or []
    return [item["action"]["label"] for item in items]


def links(message: Delivered) -> list[tuple[str, str]]:
    return [
        (str(action["label"]), str(action["uri"]))
        for action in message.actions
        if action.get("type") == "uri"
    ]


def shown(message: Delivered) -> str:
    """What the member reads: a text, or every text of a Flex bubble."""
    if message.type == "text":
        return message.text
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text" and isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.message.get("contents"))
    return "\n".join(found)


async def start_line(
    settings: Settings, clock: FakeClock, engine: FaqEngine, **channel: Any
) -> tuple[App, LineChannel, WebServer]:
    app = build(settings, clock=clock)
    app.library.engine = engine  # built once per session, not per test
    context = app.context("line")
    secrets = settings.secrets
    assert secrets.line_channel_secret
    assert secrets.line_channel_access_token
    line = LineChannel(
        settings.config.channels.line,
        secrets.line_channel_secret,
        secrets.line_channel_access_token,
        context.inbound,
        context.catalogues["ja"],
        context.pacer,
        **channel,
    )
    await line.start()
    web = WebServer(line.routes(), line.healthy, listen="127.0.0.1", port=0)
    await web.start()
    await line.listening(f"http://127.0.0.1:{web.port}")
    return app, line, web


@pytest.fixture
def channel_options() -> dict[str, Any]:
    """Keyword arguments for `LineChannel` (a module overrides this fixture to change them)."""
    return {}


@pytest.fixture
def delivery_options() -> dict[str, Any]:
    """The config's `delivery:` changes (a module overrides this fixture to change them)."""
    return QUICK_PACING


@pytest.fixture
async def line_bot(
    channel_options: dict[str, Any],
    delivery_options: dict[str, Any],
    settings: Settings,
    fake: FakeLine,
    database_url: str,
    clock: FakeClock,
    shipped_engine: FaqEngine,
) -> AsyncIterator[LineBot]:
    """The whole bot on LINE, as `campaign-bot run` serves it: replies, and the outbox."""
    app, channel, web = await start_line(
        line_settings(settings, fake, database_url, delivery_options),
        clock,
        shipped_engine,
        **channel_options,
    )
    app.dispatcher.attach("line", channel.messenger, channel.pacer)
    stop = asyncio.Event()
    sending = asyncio.create_task(app.dispatcher.run(stop))
    callback = f"http://127.0.0.1:{web.port}/line/callback"
    bot = LineBot(app, channel, web, fake, fake.webhook_sender(callback))
    try:
        yield bot
    finally:
        stop.set()
        await sending
        app.dispatcher.detach("line")
        await web.stop()
        await channel.stop()
        app.close()
