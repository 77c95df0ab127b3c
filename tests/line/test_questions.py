"""Questions on LINE: answers with their named source, もしかして, and the organiser relay."""

from __future__ import annotations

from tests.events.conftest import CALENDAR, STUDY, with_changes
from tests.line.conftest import HANAKO, ORGANISER, LineBot, links, quick_replies, shown
from tests.line.test_rsvp import open_card


async def test_a_question_is_answered_with_source_and_date(line_bot: LineBot) -> None:
    bot = line_bot
    await bot.register(HANAKO)
    (answer,) = await bot.say(HANAKO, "マイナンバーカードを落としてしまいました")
    assert "0120-95-0178" in shown(answer)
    assert "確認日: 2026年11月20日" in shown(answer)
    assert answer.type == "flex", "a page to open keeps its button: a Flex bubble"
    ((source, address),) = links(answer)
    assert source.startswith("出典: ")
    assert address.startswith("https://")
    assert "https://" not in shown(answer)
    assert "世話人に聞く" in [a["label"] for a in answer.actions if a["type"] == "postback"]


async def test_a_close_call_offers_the_neighbouring_answers(line_bot: LineBot) -> None:
    bot = line_bot
    await bot.register(HANAKO)
    (answer,) = await bot.say(HANAKO, "資格確認書の期限")
    assert "近い質問の答えもあります" in shown(answer)
    choices = [a["label"] for a in answer.actions if a["type"] == "postback"]
    others = [label for label in choices if label not in ("くわしく", "世話人に聞く")]
    others = [label for label in others if label not in quick_replies(answer)]
    assert 1 <= len(others) <= 2
    (other,) = await bot.tap(HANAKO, others[0])
    assert "確認日:" in shown(other)
    assert len(links(other)) == 1
    assert shown(other) != shown(answer)


async def test_relay_to_an_organiser_and_back(line_bot: LineBot) -> None:
    bot = line_bot
    await bot.register(ORGANISER, region="都全体")
    await bot.register(HANAKO)
    question = "板橋区役所の国保の窓口は土曜もあいてますか"
    await bot.say(HANAKO, question)
    before = len(bot.fake.messages(ORGANISER))
    (sent,) = await bot.tap(HANAKO, "世話人に聞く")
    assert "世話人に質問を送りました" in shown(sent)

    (relayed,) = (await bot.fake.messages_eventually(ORGANISER, before + 1))[before:]
    assert relayed.endpoint == "push_message", "the organiser is told by the outbox"
    assert "【会員からの質問 #" in shown(relayed)
    assert f"「{question}」" in shown(relayed)
    (prompt,) = await bot.tap(ORGANISER, "返事を書く")
    assert "への返事を書いて送ってください" in shown(prompt)

    before = len(bot.fake.messages(HANAKO))
    reply = "土曜は閉まっています。平日に。"
    (done,) = await bot.say(ORGANISER, reply)
    assert "に返事を送りました" in shown(done)
    (answer,) = (await bot.fake.messages_eventually(HANAKO, before + 1))[before:]
    assert shown(answer).startswith("【世話人からの返事】")
    assert reply in shown(answer)


async def test_a_changed_event_reaches_those_who_answered(line_bot: LineBot) -> None:
    bot = line_bot
    bot.app.calendar_sync.sync(CALENDAR)
    await bot.register(HANAKO)
    await open_card(bot, HANAKO, "学習会")
    await bot.tap(HANAKO, "未定")
    before = len(bot.fake.messages(HANAKO))

    moved = with_changes(STUDY, venue=None)
    bot.app.calendar_sync.sync(CALENDAR.__class__(events=(*CALENDAR.events[:2], moved)))

    (notice,) = (await bot.fake.messages_eventually(HANAKO, before + 1))[before:]
    assert notice.endpoint == "push_message"
    assert shown(notice).startswith("【予定の変更】「マイナ保険証 学習会」")
    assert "場所: 板橋区立グリーンホール → 未定" in shown(notice)
