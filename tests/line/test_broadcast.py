"""An organiser's 一斉送信 to 1,200 LINE members: composed by tapping the bot's buttons on LINE,
sent by the outbox in multicasts of at most 500, each member reached once."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import insert, select

from bot.domain.members import PRIVACY_VERSION
from bot.store.database import Database
from bot.store.tables import MemberRegionRow, MemberRow
from tests.fakes.line_state import Delivered
from tests.line.conftest import ORGANISER, QUICK_PACING, LineBot, quick_replies, shown

REGION, REGION_NAME = "nerima", "練馬区"
MEMBERS = 1200
TEXT = "12月6日(土) 14:00から練馬駅北口で街頭宣伝をします。"
FOLLOW_SECONDS = 60.0


@pytest.fixture
def delivery_options() -> dict[str, Any]:
    # The shared pace counts each recipient of a multicast as a message; at the example's 25
    # a second, 1,200 would take most of a minute.
    return {**QUICK_PACING, "per_second": 1000.0}


def crowd() -> list[str]:
    return [f"U{n:032x}" for n in range(1, MEMBERS + 1)]


def seed(database: Database, users: list[str], now: datetime) -> None:
    """Registered, subscribed LINE members of 練馬区, stored in bulk."""
    with database.sessions.begin() as session:
        session.execute(
            insert(MemberRow),
            [
                {
                    "channel": "line",
                    "external_id": user,
                    "display_name": f"会員{n}",
                    "language": "ja",
                    "role": "member",
                    "subscription": "subscribed",
                    "consent_at": now,
                    "consent_version": PRIVACY_VERSION,
                    "created_at": now,
                    "last_seen_at": now,
                }
                for n, user in enumerate(users)
            ],
        )
        ids = dict(session.execute(select(MemberRow.external_id, MemberRow.id)).all())
        session.execute(
            insert(MemberRegionRow),
            [{"member_id": ids[user], "region": REGION} for user in users],
        )


def more_for(bot: LineBot, count: int) -> Callable[[], bool]:
    return lambda: len(bot.fake.messages(ORGANISER)) > count


def report(bot: LineBot) -> list[Delivered]:
    return [m for m in bot.fake.messages(ORGANISER) if "一斉送信が終わりました" in shown(m)]


async def test_a_broadcast_to_1200_line_members_is_three_multicasts(line_bot: LineBot) -> None:
    bot = line_bot
    users = crowd()
    seed(bot.app.database, users, bot.app.clock.now())
    for user in users:
        bot.fake.add_user(user)
    await bot.register(ORGANISER, region="都全体")

    (question,) = await bot.say(ORGANISER, "一斉送信")
    assert quick_replies(question)[:2] == ["全員", "地域をえらぶ"]
    await bot.tap(ORGANISER, "地域をえらぶ")
    (write,) = await bot.tap(ORGANISER, REGION_NAME)
    assert f"あて先: {REGION_NAME}の人" in shown(write)
    _, preview = await bot.say(ORGANISER, TEXT, 2)
    assert f"届く人: {MEMBERS:,}人" in shown(preview)
    (confirm,) = await bot.tap(ORGANISER, "送信する")
    assert "本当によろしいですか" in shown(confirm)
    (started,) = await bot.tap(ORGANISER, "はい、送ります")
    found = re.search(r"番号(\d+)", shown(started))
    assert found is not None, shown(started)

    deadline = time.monotonic() + FOLLOW_SECONDS
    while not report(bot):
        assert time.monotonic() < deadline, bot.fake.transcript()[-2000:]
        await asyncio.to_thread(bot.app.watch_broadcasts)
        with contextlib.suppress(TimeoutError):  # the next tick counts again
            await bot.fake.until(more_for(bot, len(bot.fake.messages(ORGANISER))), timeout=0.5)

    multicasts = bot.fake.requests("multicast")
    assert [len(r.body["to"]) for r in multicasts] == [500, 500, 200]
    assert all(r.retry_key for r in multicasts)
    assert all(len(bot.fake.messages(user)) == 1 for user in users), "everyone once"
    assert bot.fake.texts(users[0]) == [f"【お知らせ】\n{TEXT}"]
    assert f"届いた人: {MEMBERS:,}人" in shown(report(bot)[0])
