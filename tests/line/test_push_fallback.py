"""Answers the bot pushes (the reply token is too old): what LINE will not take now goes
through the outbox, with a retry key, and arrives once."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from sqlalchemy import select

from bot.store.tables import DeliveryRow
from tests.line.conftest import HANAKO, LineBot, postback_data, shown


@pytest.fixture
def channel_options() -> dict[str, Any]:
    # Every event looks a minute old by the time it is answered: its token is not tried.
    ticks = itertools.count(step=60)
    return {"monotonic": lambda: float(next(ticks))}


async def test_an_old_token_is_not_tried(line_bot: LineBot) -> None:
    bot = line_bot
    await bot.answer(HANAKO, lambda: bot.fake.follow_event(HANAKO), 2)
    assert bot.fake.requests("reply_message") == []
    assert {m.endpoint for m in bot.fake.messages(HANAKO)} == {"push_message"}
    assert len(bot.fake.requests("push_message")) == 1, "both messages in one call"


async def test_a_push_lost_on_the_way_back_is_tried_again_with_its_key(
    line_bot: LineBot,
) -> None:
    bot = line_bot
    await bot.answer(HANAKO, lambda: bot.fake.follow_event(HANAKO), 2)
    bot.fake.fail_next(status=500, endpoints="push_message", after=True)
    await bot.tap(HANAKO, "はい、受け取ります", 2)
    texts = [shown(m) for m in await bot.settled(HANAKO)]
    assert sum(t.startswith("ありがとうございます") for t in texts) == 1, "once, not twice"
    failed, repeated = bot.fake.requests("push_message")[1:3]
    assert (failed.status, repeated.status) == (500, 409)
    assert failed.retry_key == repeated.retry_key


async def test_what_line_will_not_take_now_goes_through_the_outbox_once(
    line_bot: LineBot,
) -> None:
    bot = line_bot
    await bot.answer(HANAKO, lambda: bot.fake.follow_event(HANAKO), 2)
    bot.fake.fail_next(3, status=503, endpoints="push_message")
    before = len(bot.fake.messages(HANAKO))
    await bot.post(
        bot.fake.postback_event(
            HANAKO, postback_data(bot.fake.messages(HANAKO), "はい、受け取ります")
        )
    )
    thanks, picker = (await bot.fake.messages_eventually(HANAKO, before + 2))[before:]
    assert shown(thanks).startswith("ありがとうございます")
    assert "地域を選んでください" in shown(picker)

    def states() -> list[str]:
        with bot.app.database.session() as session:
            return [r.state for r in session.scalars(select(DeliveryRow))]

    await bot.fake.until(lambda: states() == ["sent", "sent"], description="sent by the outbox")
    tried, outbox = bot.fake.requests("push_message")[1:4], bot.fake.requests("push_message")[4:]
    assert [r.status for r in tried] == [503, 503, 503], "tried within the turn, then left"
    assert len({r.retry_key for r in tried}) == 1
    assert [r.status for r in outbox] == [200, 200], "one row a reply, each with its key"
    assert all(r.retry_key not in (None, tried[0].retry_key) for r in outbox)
    assert len(await bot.settled(HANAKO)) == before + 2, "nothing twice"
