"""Replies use the event's reply token while LINE takes it (free), else the answer is pushed."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.fakes.line_api import FakeLine
from tests.line.conftest import HANAKO, LineBot, shown


class MovableTime:
    """The fake LINE's clock: real time, plus what a test adds."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def line_time() -> MovableTime:
    return MovableTime()


@pytest.fixture
def fake(line_time: MovableTime) -> Iterator[FakeLine]:
    with FakeLine(clock=line_time) as server:
        yield server


async def test_a_token_line_no_longer_takes_falls_back_to_a_push(
    line_bot: LineBot, line_time: MovableTime
) -> None:
    bot = line_bot
    await bot.register(HANAKO)
    event = bot.fake.text_event(HANAKO, "ヘルプ")
    line_time.offset += 61  # the token expired on LINE's side before the bot answered
    before = len(bot.fake.messages(HANAKO))
    await bot.post(event)
    (answer,) = (await bot.fake.messages_eventually(HANAKO, before + 1))[before:]
    assert "使い方" in shown(answer)
    assert answer.endpoint == "push_message"
    assert bot.fake.reply_token_state(event["replyToken"]) == "expired"
    assert [r.status for r in bot.fake.requests("reply_message")][-1] == 400
    assert bot.fake.quota_used == 1, "a push counts against the month's quota"


async def test_a_used_token_falls_back_to_a_push(line_bot: LineBot) -> None:
    bot = line_bot
    await bot.register(HANAKO)
    event = bot.fake.text_event(HANAKO, "ヘルプ")
    await bot.post(event)
    await bot.fake.messages_eventually(HANAKO, 7)
    # LINE delivers the same event again with a fresh id (a retried webhook, say): the core
    # answers it, and the token is used up.
    again = {**event, "webhookEventId": "01" + "J" * 24}
    await bot.post(again)
    received = await bot.fake.messages_eventually(HANAKO, 8)
    assert received[-1].endpoint == "push_message"
    assert "使い方" in shown(received[-1])


async def test_an_event_first_seen_as_a_redelivery_is_still_answered_free(
    line_bot: LineBot,
) -> None:
    bot = line_bot
    await bot.register(HANAKO)
    before = len(bot.fake.messages(HANAKO))
    missed = bot.fake.text_event(HANAKO, "ヘルプ")  # its first delivery never reached the bot
    await bot.sender.aredeliver([missed])
    (answer,) = (await bot.fake.messages_eventually(HANAKO, before + 1))[before:]
    assert "使い方" in shown(answer)
    assert answer.endpoint == "reply_message", "LINE still took its token"
