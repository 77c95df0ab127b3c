"""A fake Telegram Bot API server and the real bot, on python-telegram-bot, talking to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from bot.app import App, build, telegram_channel
from bot.channels.telegram.channel import TelegramChannel
from bot.config import ChannelsConfig, Secrets, Settings, TelegramConfig
from bot.store.database import Database
from tests.fakes.clock import FakeClock
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123456:TEST-TOKEN"


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TOKEN) as server:
        yield server


ORGANISER_ID = 9001


def telegram_settings(
    settings: Settings, fake: FakeTelegram, database_url: str, **telegram: object
) -> Settings:
    """The example configuration, pointed at the fake server, with one Telegram organiser."""
    config = settings.config
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


@dataclass
class RunningBot:
    app: App
    channel: TelegramChannel
    database: Database


@pytest.fixture
async def running(
    settings: Settings, fake: FakeTelegram, database_url: str, clock: FakeClock
) -> AsyncIterator[RunningBot]:
    """The whole bot, polling the fake server, with the test database and a fixed clock."""
    app = build(telegram_settings(settings, fake, database_url), clock=clock)
    channel = telegram_channel(app)
    await channel.start()
    try:
        yield RunningBot(app, channel, app.database)
    finally:
        await channel.stop()
        app.close()
