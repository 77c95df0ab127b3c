"""The multi-channel runtime: every enabled channel from the registry, one shared web
application (each channel's routes and /healthz), the outbox sending through each channel,
and everything stopped in the reverse order.

Telegram is the real channel against the fake Bot API (webhook mode); "echo" is a second
webhook channel made here, as a third channel would be: a `ChannelKind` and a `Channel`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.app import App, Running, StartupError, build, choose_channels, serve
from bot.channels.all import REGISTRY
from bot.channels.inbound import Inbound
from bot.channels.registry import ChannelContext, ChannelKind, ChannelRefused
from bot.channels.telegram.channel import KIND as TELEGRAM
from bot.channels.telegram.channel import webhook_secret
from bot.channels.telegram.webhook import SECRET_HEADER
from bot.config import Secrets, Settings, TelegramWebhookConfig, WebConfig
from bot.delivery.pacing import Pacer
from bot.domain.capabilities import Capabilities
from bot.domain.messages import Incoming, MemberRef, Outgoing
from tests.delivery.fakes import FakeMessenger
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.conftest import TOKEN, telegram_settings

HANAKO = 1001
ECHO_CAPABILITIES = Capabilities(
    channel="echo", max_text_chars=4000, max_buttons=10, max_buttons_per_row=3, max_label_chars=20
)


class EchoMessenger(FakeMessenger):
    capabilities = ECHO_CAPABILITIES


@dataclass
class EchoChannel:
    """A webhook channel: POST {"from": id, "text": ...} or {"from": id, "button": data} to
    /<name>/callback; the answer lists the replies' texts."""

    name: str
    inbound: Inbound
    pacer: Pacer
    log: list[str]
    refuse: bool = False
    messenger: EchoMessenger = field(default_factory=EchoMessenger)
    up: bool = False
    last_replies: list[Outgoing] = field(default_factory=list)

    def routes(self) -> Sequence[BaseRoute]:
        return [Route(f"/{self.name}/callback", self._receive, methods=["POST"])]

    async def start(self) -> None:
        self.log.append(f"start {self.name}")
        if self.refuse:
            raise ChannelRefused(self.name, "ECHO_TOKEN", "the echo platform refused the token")
        self.up = True

    async def listening(self, public_url: str | None) -> None:
        self.log.append(f"listening {self.name} {public_url}")

    async def stop(self) -> None:
        self.log.append(f"stop {self.name}")
        self.up = False

    def healthy(self) -> bool:
        return self.up

    async def _receive(self, request: Request) -> Response:
        body = json.loads(await request.body())
        ref = MemberRef(self.name, str(body["from"]), display_name="花子")
        incoming = (
            Incoming.from_button(ref, body["button"])
            if "button" in body
            else Incoming.from_text(ref, body["text"])
        )
        self.last_replies = await self.inbound.handle(incoming)
        return JSONResponse([reply.text for reply in self.last_replies])


@dataclass
class EchoKind:
    name: str
    log: list[str]
    refuse: bool = False
    built: list[EchoChannel] = field(default_factory=list)

    def enabled(self, settings: Settings) -> bool:
        return True

    def missing(self, settings: Settings) -> str | None:
        return None

    def build(self, context: ChannelContext) -> EchoChannel:
        channel = EchoChannel(self.name, context.inbound, context.pacer, self.log, self.refuse)
        self.built.append(channel)
        return channel


def webhook_settings(settings: Settings, fake: FakeTelegram, database_url: str) -> Settings:
    configured = telegram_settings(
        settings, fake, database_url, mode="webhook", webhook=TelegramWebhookConfig()
    )
    web = WebConfig(listen="127.0.0.1", port=0)
    return replace(configured, config=configured.config.model_copy(update={"web": web}))


@dataclass
class Serving:
    app: App
    running: Running
    stop: asyncio.Event
    task: asyncio.Task[None]

    @property
    def base(self) -> str:
        assert self.running.web is not None
        return f"http://127.0.0.1:{self.running.web.port}"


@pytest.fixture
async def serving_with(
    settings: Settings, fake: FakeTelegram, database_url: str
) -> AsyncIterator[Callable[[Sequence[ChannelKind]], asyncio.Future[Serving]]]:
    """`await serving_with(registry)`: `serve` running with that registry, once it started."""
    apps: list[App] = []
    servings: list[Serving] = []

    async def start(registry: Sequence[ChannelKind]) -> Serving:
        app = build(webhook_settings(settings, fake, database_url))
        apps.append(app)
        stop = asyncio.Event()
        started: asyncio.Future[Running] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(serve(app, stop, registry=registry, started=started.set_result))
        done, _ = await asyncio.wait([started, task], return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()  # raises why it could not start
        serving = Serving(app, started.result(), stop, task)
        servings.append(serving)
        return serving

    def starter(registry: Sequence[ChannelKind]) -> asyncio.Future[Serving]:
        return asyncio.ensure_future(start(registry))

    try:
        yield starter
    finally:
        for serving in servings:
            serving.stop.set()
            await serving.task
        for app in apps:
            app.close()


async def test_telegram_and_another_webhook_channel_share_one_web_application(
    serving_with: Callable[[Sequence[ChannelKind]], asyncio.Future[Serving]],
    fake: FakeTelegram,
) -> None:
    log: list[str] = []
    echo = EchoKind("echo", log)
    serving = await serving_with([TELEGRAM, echo])
    base = serving.base

    async with httpx.AsyncClient() as client:
        health = await client.get(f"{base}/healthz")
        answer = await client.post(f"{base}/echo/callback", json={"from": 7, "text": "/start"})
        forged = await client.post(f"{base}/telegram", json={"update_id": 1})
    assert (health.status_code, health.text) == (200, "ok")
    assert answer.status_code == 200
    assert "東京社保協" in answer.json()[0], "the echo member's turn went through the core"
    assert forged.status_code == 403, "Telegram's route keeps its secret check"

    # Telegram's webhook on the same server, as its registration would point it there.
    channel = serving.running.channel("telegram")
    await channel.application.bot.set_webhook(  # type: ignore[attr-defined]
        f"{base}/telegram", secret_token=webhook_secret(TOKEN)
    )
    fake.add_user(HANAKO, "花子")
    fake.send_text(HANAKO, "/start")
    welcome, _ = await fake.messages_eventually(HANAKO, 2)
    assert "東京社保協" in welcome.text
    assert log == ["start echo", "listening echo None"]


async def test_each_channels_messenger_sends_its_members_outbox(
    serving_with: Callable[[Sequence[ChannelKind]], asyncio.Future[Serving]],
) -> None:
    echo = EchoKind("echo", [])
    serving = await serving_with([TELEGRAM, echo])
    async with httpx.AsyncClient() as client:
        await client.post(f"{serving.base}/echo/callback", json={"from": 7, "text": "/start"})
        (channel,) = echo.built
        consent = channel.last_replies[-1].buttons[0][0].action.encode()
        await client.post(f"{serving.base}/echo/callback", json={"from": 7, "button": consent})

    queued = await serving.app.inbound.defer(MemberRef("echo", "7"), [Outgoing("お知らせです")])
    assert queued == 1
    await channel.messenger.until_sent(1)
    assert channel.messenger.texts("7") == ["お知らせです"]


async def test_healthz_is_503_while_a_channel_is_down(
    serving_with: Callable[[Sequence[ChannelKind]], asyncio.Future[Serving]],
) -> None:
    echo = EchoKind("echo", [])
    serving = await serving_with([TELEGRAM, echo])
    (channel,) = echo.built
    channel.up = False
    async with httpx.AsyncClient() as client:
        health = await client.get(f"{serving.base}/healthz")
    assert health.status_code == 503


async def test_everything_stops_in_the_reverse_order(
    serving_with: Callable[[Sequence[ChannelKind]], asyncio.Future[Serving]],
) -> None:
    log: list[str] = []
    first, second = EchoKind("first", log), EchoKind("second", log)
    serving = await serving_with([first, second])
    assert serving.app.scheduler.running, "the jobs run once every channel started"
    base = serving.base

    serving.stop.set()
    await serving.task
    assert log == [
        "start first",
        "start second",
        "listening first None",
        "listening second None",
        "stop second",
        "stop first",
    ]
    assert not serving.app.scheduler.running
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"{base}/healthz")


async def test_a_channel_that_is_refused_stops_those_that_started(
    serving_with: Callable[[Sequence[ChannelKind]], asyncio.Future[Serving]],
) -> None:
    log: list[str] = []
    good, refused = EchoKind("good", log), EchoKind("refused", log, refuse=True)
    with pytest.raises(ChannelRefused) as refusal:
        await serving_with([good, refused])
    assert refusal.value.setting == "ECHO_TOKEN"
    assert log == ["start good", "start refused", "stop refused", "stop good"]


async def test_a_second_process_on_the_same_port_is_refused_naming_web_port(
    serving_with: Callable[[Sequence[ChannelKind]], asyncio.Future[Serving]],
    settings: Settings,
    fake: FakeTelegram,
    database_url: str,
) -> None:
    log: list[str] = []
    serving = await serving_with([EchoKind("first", log)])
    assert serving.running.web is not None
    taken = serving.running.web.port
    configured = webhook_settings(settings, fake, database_url)
    web = WebConfig(listen="127.0.0.1", port=taken)
    app = build(replace(configured, config=configured.config.model_copy(update={"web": web})))
    try:
        with pytest.raises(ChannelRefused) as refusal:
            await serve(app, asyncio.Event(), registry=[EchoKind("second", log)])
    finally:
        app.close()
    assert refusal.value.setting == "web.port"
    assert refusal.value.message == f"cannot listen on 127.0.0.1:{taken} (address already in use)"
    assert log[-2:] == ["start second", "stop second"]


def test_the_registry_has_telegram() -> None:
    assert REGISTRY[0].name == "telegram"


def test_nothing_enabled_is_the_console(settings: Settings) -> None:
    assert choose_channels(settings, "auto") == ["console"]


def test_an_enabled_channel_without_its_secret_is_refused_in_one_line(
    settings: Settings, fake: FakeTelegram, database_url: str
) -> None:
    configured = telegram_settings(settings, fake, database_url)
    without_token = replace(configured, secrets=Secrets(database_url=database_url))
    with pytest.raises(StartupError) as refused:
        choose_channels(without_token, "auto")
    message = str(refused.value)
    assert message.startswith("TELEGRAM_BOT_TOKEN is not set, and config.example.yaml turns")
    assert "channels.telegram.enabled: false" in message
    assert "\n" not in message


async def test_serve_refuses_before_starting_anything_without_a_secret(
    settings: Settings, fake: FakeTelegram, database_url: str
) -> None:
    configured = telegram_settings(settings, fake, database_url)
    app = build(replace(configured, secrets=Secrets(database_url=database_url)))
    try:
        with pytest.raises(StartupError, match="TELEGRAM_BOT_TOKEN is not set"):
            await serve(app, asyncio.Event())
    finally:
        app.close()
    assert fake.requests() == [], "Telegram was not even asked"
    assert not app.scheduler.running


async def test_a_channel_asked_for_by_name_without_its_secret_is_refused_too(
    settings: Settings, fake: FakeTelegram, database_url: str
) -> None:
    configured = telegram_settings(settings, fake, database_url)
    app = build(replace(configured, secrets=Secrets(database_url=database_url)))
    try:
        with pytest.raises(StartupError, match="TELEGRAM_BOT_TOKEN is not set"):
            await serve(app, asyncio.Event(), channels=["telegram"])
    finally:
        app.close()
    assert fake.requests() == []


async def test_polling_needs_no_web_server(
    settings: Settings, fake: FakeTelegram, database_url: str
) -> None:
    app = build(telegram_settings(settings, fake, database_url))
    stop = asyncio.Event()
    seen: list[Running] = []

    def started(running: Running) -> None:
        seen.append(running)
        stop.set()

    try:
        await serve(app, stop, started=started)
    finally:
        app.close()
    (running,) = seen
    assert running.web is None
    assert [channel.name for channel in running.channels] == ["telegram"]


async def test_a_forged_telegram_post_reaches_nothing(
    serving_with: Callable[[Sequence[ChannelKind]], asyncio.Future[Serving]],
) -> None:
    serving = await serving_with([TELEGRAM])
    update = {
        "update_id": 5,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": HANAKO, "type": "private"},
            "from": {"id": HANAKO, "is_bot": False, "first_name": "x"},
            "text": "/start",
        },
    }
    async with httpx.AsyncClient() as client:
        wrong = await client.post(
            f"{serving.base}/telegram", json=update, headers={SECRET_HEADER: "guess"}
        )
    assert wrong.status_code == 403
    with serving.app.database.unit_of_work() as uow:
        assert uow.members.stats().total == 0
