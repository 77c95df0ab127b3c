"""The webhook at its seam: signed bodies POSTed to `/line/callback`, odd and hostile ones too."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from tests.fakes.line_webhook import encode, envelope, signature
from tests.line.conftest import HANAKO, LineBot, shown

SECRET_WORDS = "わたしの電話番号は090-1234-5678です"


async def raw_post(bot: LineBot, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(f"{bot.url}/line/callback", content=body, headers=headers)


def signed(bot: LineBot, body: bytes) -> dict[str, str]:
    return {"x-line-signature": signature(body, bot.fake.channel_secret)}


async def test_forged_or_missing_signatures_are_400_and_nothing_is_handled(
    line_bot: LineBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot = line_bot
    await bot.register(HANAKO)
    before = len(bot.fake.messages(HANAKO))
    forged = await bot.sender.apost([bot.fake.text_event(HANAKO, SECRET_WORDS)], bad_signature=True)
    assert forged.status == 400
    body = encode(envelope(bot.fake.bot_user_id, [bot.fake.text_event(HANAKO, SECRET_WORDS)]))
    missing = await raw_post(bot, body, {"Content-Type": "application/json"})
    assert missing.status_code == 400
    # The signature of another body: the bytes are what is signed.
    other = encode(envelope(bot.fake.bot_user_id, [bot.fake.text_event(HANAKO, "ヘルプ")]))
    swapped = await raw_post(bot, body, signed(bot, other))
    assert swapped.status_code == 400

    assert await bot.settled(HANAKO) == bot.fake.messages(HANAKO)[:before], "nothing answered"
    assert "signature refused" in caplog.text
    assert SECRET_WORDS not in caplog.text, "the body is never logged"


async def test_malformed_bodies_are_400(line_bot: LineBot) -> None:
    bot = line_bot
    for body in (b"{not json", b"\xff\xfe", b'["events"]', b'{"destination": "x"}'):
        response = await raw_post(bot, body, signed(bot, body))
        assert response.status_code == 400, body
    too_big = b'{"events": [], "x": "' + b"a" * 1_100_000 + b'"}'
    assert (await raw_post(bot, too_big, signed(bot, too_big))).status_code == 413


async def test_an_empty_event_list_is_lines_verify_call(line_bot: LineBot) -> None:
    result = await line_bot.sender.apost([])
    assert result.status == 200


async def test_unknown_and_odd_events_are_acknowledged_and_ignored(
    line_bot: LineBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot = line_bot
    await bot.register(HANAKO)
    before = bot.fake.messages(HANAKO)
    base = bot.fake.text_event(HANAKO, "ヘルプ")
    odd: list[dict[str, Any]] = [
        {**base, "type": "beacon", "beacon": {"hwid": "d41d8cd98f", "type": "enter"}},
        {**base, "type": "videoPlayComplete"},
        {**base, "source": {"type": "group", "groupId": "C" + "1" * 32, "userId": HANAKO}},
        {**base, "source": {"type": "user"}},
        {**base, "message": "not an object"},
        {k: v for k, v in base.items() if k != "type"},
        {**base, "type": "postback", "postback": None},
        "not an event",  # type: ignore[list-item]
    ]
    with caplog.at_level(logging.INFO, logger="bot.channels.line"):
        result = await bot.post(*odd)
    assert result.status == 200
    after = await bot.settled(HANAKO)
    # The postback without data is a button the bot cannot read: a polite word, nothing more.
    assert len(after) == len(before) + 1
    assert "もう使えません" in shown(after[-1])
    assert "LINE beacon event ignored" in caplog.text


async def test_standby_events_are_not_answered(line_bot: LineBot) -> None:
    bot = line_bot
    await bot.register(HANAKO)
    before = bot.fake.messages(HANAKO)
    event = bot.fake.text_event(HANAKO, "ヘルプ")
    await bot.post({**event, "mode": "standby"})
    assert await bot.settled(HANAKO) == before


async def test_redelivered_events_are_handled_once(line_bot: LineBot) -> None:
    bot = line_bot
    first = await bot.post(bot.fake.follow_event(HANAKO))
    await bot.fake.messages_eventually(HANAKO, 2)
    again = await bot.sender.aredeliver(first.events)
    assert again.status == 200
    await bot.tap(HANAKO, "はい、受け取ります", 2)
    help_event = bot.fake.text_event(HANAKO, "ヘルプ")
    await bot.post(help_event)
    await bot.sender.aredeliver([help_event])
    await bot.post(help_event)  # the same event again, not even marked as a redelivery
    received = await bot.settled(HANAKO)
    texts = [shown(m) for m in received]
    assert sum("東京社保協のお知らせボット" in t for t in texts) == 1, "one welcome"
    assert sum("使い方" in t for t in texts) == 1, "one answer to one question"
