"""The LINE channel's life: its registry entry, starting against the fake, stopping."""

from __future__ import annotations

import uuid
from dataclasses import replace

import httpx
import pytest

from bot.channels.line import KIND
from bot.channels.line.channel import LineChannel
from bot.channels.line.kind import HOST_SETTING, SECRET_SETTING, TOKEN_SETTING
from bot.channels.registry import ChannelRefused
from bot.config import LineConfig, Secrets, Settings
from bot.domain.messages import Attachment, Outgoing
from tests.fakes.line_api import FakeLine
from tests.line.conftest import HANAKO, LineBot, links, shown

CALENDAR = Attachment(
    "rally-1207-once.ics",
    "text/calendar",
    b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:rally\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
)


def with_secrets(settings: Settings, **secrets: str | None) -> Settings:
    return replace(settings, secrets=Secrets(**secrets))


def test_the_registry_entry_says_what_is_missing_without_showing_it(settings: Settings) -> None:
    assert not KIND.enabled(settings), "off in the example"
    nothing = KIND.missing(settings)
    assert nothing is not None
    assert SECRET_SETTING in nothing
    assert TOKEN_SETTING in nothing
    only_secret = KIND.missing(with_secrets(settings, line_channel_secret="abc"))
    assert only_secret is not None
    assert TOKEN_SETTING in only_secret
    assert "abc" not in only_secret
    both = with_secrets(settings, line_channel_secret="abc", line_channel_access_token="xyz")
    assert KIND.missing(both) is None


async def test_started_the_channel_checks_the_token(line_bot: LineBot) -> None:
    bot = line_bot
    assert bot.channel.healthy()
    assert [r.status for r in bot.fake.requests("get_message_quota")] == [200]
    async with httpx.AsyncClient() as client:
        health = await client.get(f"{bot.url}/healthz")
    assert health.status_code == 200


async def test_a_wrong_token_or_host_is_refused_with_the_setting_to_change(
    fake: FakeLine, line_bot: LineBot
) -> None:
    context = line_bot.app.context("line")
    texts = context.catalogues["ja"]
    wrong_token = LineChannel(
        LineConfig(enabled=True, api_host=fake.base_url),
        fake.channel_secret,
        "not-the-token",
        context.inbound,
        texts,
        context.pacer,
    )
    with pytest.raises(ChannelRefused) as refused:
        await wrong_token.start()
    assert refused.value.setting == TOKEN_SETTING
    assert "not-the-token" not in refused.value.message
    await wrong_token.stop()
    nowhere = LineChannel(
        LineConfig(enabled=True, api_host="http://127.0.0.1:9"),
        fake.channel_secret,
        fake.access_token,
        context.inbound,
        texts,
        context.pacer,
    )
    with pytest.raises(ChannelRefused) as unreachable:
        await nowhere.start()
    assert unreachable.value.setting == HOST_SETTING
    await nowhere.stop()


async def test_stopping_finishes_the_events_already_taken(line_bot: LineBot) -> None:
    bot = line_bot
    await bot.register(HANAKO)
    before = len(bot.fake.messages(HANAKO))
    for word in ("ヘルプ", "通知設定", "予定"):
        await bot.post(bot.fake.text_event(HANAKO, word))
    await bot.channel.stop()
    assert len(bot.fake.messages(HANAKO)) == before + 3, "every event answered before it stopped"
    assert not bot.channel.healthy()
    refused = await bot.sender.apost([bot.fake.text_event(HANAKO, "ヘルプ")])
    assert refused.status == 503, "LINE is asked to come back later"


async def test_a_slow_answer_holds_up_no_other_member(line_bot: LineBot) -> None:
    bot = line_bot
    slow, quick = "U" + "41" * 16, "U" + "42" * 16
    await bot.register(slow)
    await bot.register(quick)
    bot.fake.delay_next(1, 3.0, endpoints="reply_message")
    await bot.post(bot.fake.text_event(slow, "ヘルプ"))
    await bot.fake.until(lambda: len(bot.fake.faults) == 0, description="the slow reply began")
    before = len(bot.fake.messages(slow))
    (answer,) = await bot.say(quick, "ヘルプ")
    assert "使い方" in shown(answer)
    assert len(bot.fake.messages(slow)) == before, "the slow member's answer is still on its way"
    await bot.fake.messages_eventually(slow, before + 1)


async def test_a_calendar_file_is_a_link_on_our_web_app(line_bot: LineBot) -> None:
    bot = line_bot
    await bot.register(HANAKO)
    message = Outgoing("カレンダーに入れるファイルです。", attachments=(CALENDAR,))
    await bot.channel.messenger.send(HANAKO, message, retry_key=str(uuid.uuid4()))
    sent = bot.fake.last_message(HANAKO)
    ((label, address),) = links(sent)
    assert label == "カレンダーに追加"
    assert address.startswith(f"{bot.url}/line/ics/")
    async with httpx.AsyncClient() as client:
        served = await client.get(address)
    assert served.status_code == 200
    assert served.content == CALENDAR.content
    assert served.headers["content-type"].startswith("text/calendar")
    personal = Outgoing(
        "登録情報です。", attachments=(Attachment("me.json", "application/json", b"{}"),)
    )
    await bot.channel.messenger.send(HANAKO, personal, retry_key=str(uuid.uuid4()))
    assert links(bot.fake.last_message(HANAKO)) == [], "personal data never goes behind a link"
