"""A fake Telegram Bot API server and the real bot, on python-telegram-bot, talking to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from bot.app import App, build, telegram_channel, telegram_service
from bot.channels.telegram.channel import TelegramChannel
from bot.config import ChannelsConfig, Secrets, Settings, TelegramConfig
from bot.faq.matcher import FaqEngine
from bot.store.database import Database
from tests.fakes.clock import FakeClock
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123456:TEST-TOKEN"


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TOKEN) as server:
        yield server


ORGANISER_ID = 9001


# Telegram's per-chat pace (1/s after a burst of 3) would make every journey here take
# seconds; tests about pacing itself are marked `real_pacing` and keep the shipped values.
QUICK_PACING = {"per_chat_per_second": 100.0, "per_chat_burst": 20}


def telegram_settings(
    settings: Settings,
    fake: FakeTelegram,
    database_url: str,
    *,
    delivery: dict[str, object] | None = None,
    **telegram: object,
) -> Settings:
    """The example configuration, pointed at the fake server, with one Telegram organiser."""
    config = settings.config
    if delivery:
        config = config.model_copy(update={"delivery": config.delivery.model_copy(update=delivery)})
    channels = ChannelsConfig(
        console=config.channels.console,
        telegram=TelegramConfig(
            enabled=True, base_url=fake.base_url, base_file_url=fake.base_file_url, **telegram
        ),
    )
    return Settings(
        config=config.model_copy(
            update={
                "channels": channels,
                "organisers": config.organisers.model_copy(
                    update={"telegram": [str(ORGANISER_ID)]}
                ),
            }
        ),
        path=settings.path,
        secrets=Secrets(telegram_bot_token=TOKEN, database_url=database_url),
    )


def _pacing(request: pytest.FixtureRequest) -> dict[str, object] | None:
    return None if request.node.get_closest_marker("real_pacing") else QUICK_PACING


@dataclass
class RunningBot:
    app: App
    channel: TelegramChannel
    database: Database


@pytest.fixture
async def running(
    request: pytest.FixtureRequest,
    settings: Settings,
    fake: FakeTelegram,
    database_url: str,
    clock: FakeClock,
    shipped_engine: FaqEngine,
) -> AsyncIterator[RunningBot]:
    """The whole bot, polling the fake server, with the test database and a fixed clock."""
    app = build(
        telegram_settings(settings, fake, database_url, delivery=_pacing(request)), clock=clock
    )
    app.library.engine = shipped_engine  # built once per session, not per test
    channel = telegram_channel(app)
    await channel.start()
    try:
        yield RunningBot(app, channel, app.database)
    finally:
        await channel.stop()
        app.close()


@pytest.fixture
async def serving(
    request: pytest.FixtureRequest,
    settings: Settings,
    fake: FakeTelegram,
    database_url: str,
    clock: FakeClock,
    shipped_engine: FaqEngine,
) -> AsyncIterator[RunningBot]:
    """The whole bot as `campaign-bot run` serves it: replies, and the outbox being sent."""
    app = build(
        telegram_settings(settings, fake, database_url, delivery=_pacing(request)), clock=clock
    )
    app.library.engine = shipped_engine
    async with telegram_service(app) as channel:
        yield RunningBot(app, channel, app.database)
    app.close()
