"""A member's whole journey on LINE: the real line-bot-sdk, the fake LINE API, signed webhooks."""

from __future__ import annotations

from bot.domain.members import Role, Subscription
from tests.line.conftest import HANAKO, ORGANISER, LineBot, labels, quick_replies, shown

MENU = ["予定", "質問", "通知設定", "ヘルプ"]


async def test_first_contact_consent_region_menu(line_bot: LineBot) -> None:
    bot = line_bot
    welcome, consent = await bot.answer(HANAKO, lambda: bot.fake.follow_event(HANAKO), 2)
    assert "東京社保協" in shown(welcome)
    assert "記録すること" in shown(welcome)
    assert quick_replies(consent) == ["はい、受け取ります", "いいえ、受け取りません"]

    thanks, picker = await bot.tap(HANAKO, "はい、受け取ります", 2)
    assert shown(thanks).startswith("ありがとうございます")
    assert "地域を選んでください" in shown(picker)
    # 16 regions and 決定 do not fit LINE's 13 quick replies: the picker has two pages.
    assert "2ページのうち1ページ目です。" in shown(picker)
    assert len(quick_replies(picker)) == 13
    assert "次へ ▶" in quick_replies(picker)

    (toggled,) = await bot.tap(HANAKO, "板橋区")
    assert "✓ 板橋区" in quick_replies(toggled)
    assert bot.member(HANAKO).regions == {"itabashi"}

    (done,) = await bot.tap(HANAKO, "決定")
    assert "登録が終わりました" in shown(done)
    assert quick_replies(done) == MENU, "the main menu as big buttons"
    member = bot.member(HANAKO)
    assert member.subscription is Subscription.SUBSCRIBED
    assert member.consent_at is not None
    assert {m.endpoint for m in bot.fake.messages(HANAKO)} == {"reply_message"}, "all free"
    assert bot.fake.quota_used == 0


async def test_the_second_page_of_regions(line_bot: LineBot) -> None:
    bot = line_bot
    await bot.answer(HANAKO, lambda: bot.fake.follow_event(HANAKO), 2)
    await bot.tap(HANAKO, "はい、受け取ります", 2)
    (second,) = await bot.tap(HANAKO, "次へ ▶")
    assert "2ページのうち2ページ目です。" in shown(second)
    assert "◀ 戻る" in quick_replies(second)
    last_region = [label for label in quick_replies(second) if label not in ("◀ 戻る", "決定")]
    (toggled,) = await bot.tap(HANAKO, last_region[-1])
    assert f"✓ {last_region[-1]}" in quick_replies(toggled), "the page stays where it was"


async def test_menu_settings_stop_and_start_again(line_bot: LineBot) -> None:
    bot = line_bot
    await bot.register(HANAKO)

    (settings,) = await bot.say(HANAKO, "通知設定")
    assert "地域: 板橋区" in shown(settings)
    (picker,) = await bot.tap(HANAKO, "地域を変える")
    assert "地域を選んでください" in shown(picker)
    await bot.tap(HANAKO, "渋谷区")
    (saved,) = await bot.tap(HANAKO, "決定")
    assert "渋谷区、板橋区" in shown(saved)
    assert bot.member(HANAKO).regions == {"shibuya", "itabashi"}

    # No slash commands needed: the same words as the buttons.
    (stopped,) = await bot.say(HANAKO, "配信停止")
    assert "配信再開" in shown(stopped)
    assert bot.member(HANAKO).subscription is Subscription.UNSUBSCRIBED
    (back,) = await bot.say(HANAKO, "配信再開")
    assert "再開しました" in shown(back)
    assert bot.member(HANAKO).subscription is Subscription.SUBSCRIBED


async def test_two_members_at_once_each_get_their_own_answers(line_bot: LineBot) -> None:
    bot = line_bot
    first, second = "U" + "21" * 16, "U" + "22" * 16
    await bot.post(bot.fake.follow_event(first), bot.fake.follow_event(second))
    for user in (first, second):
        welcome, consent = await bot.fake.messages_eventually(user, 2)
        assert "東京社保協" in shown(welcome)
        assert quick_replies(consent)[0] == "はい、受け取ります"
    await bot.post(bot.fake.text_event(first, "ヘルプ"), bot.fake.text_event(second, "/stop"))
    await bot.fake.messages_eventually(first, 3)
    await bot.fake.messages_eventually(second, 3)
    assert "使い方" in shown(bot.fake.last_message(first))
    assert "止めました" in shown(bot.fake.last_message(second))


async def test_a_members_quick_messages_are_answered_in_order(line_bot: LineBot) -> None:
    bot = line_bot
    await bot.register(HANAKO)
    before = len(bot.fake.messages(HANAKO))
    # Four webhook calls in a row, as fast as LINE sends them.
    for word in ("ヘルプ", "通知設定", "メニュー", "予定"):
        await bot.post(bot.fake.text_event(HANAKO, word))
    replies = (await bot.fake.messages_eventually(HANAKO, before + 4))[before:]
    assert "使い方" in shown(replies[0])
    assert "いまの設定" in shown(replies[1])
    assert "ボタンから選んでください" in shown(replies[2])
    assert "予定はありません" in shown(replies[3])


async def test_an_organiser_sees_sign_ups(line_bot: LineBot) -> None:
    bot = line_bot
    await bot.register("U" + "31" * 16)
    await bot.register(ORGANISER, region="都全体")
    assert bot.member(ORGANISER).role is Role.ORGANISER
    assert quick_replies(bot.fake.last_message(ORGANISER)) == [
        *MENU,
        "登録状況",
        "参加状況",
        "一斉送信",
        "送信一覧",
        "中止連絡",
    ]
    (stats,) = await bot.say(ORGANISER, "登録状況")
    assert "登録: 2人" in shown(stats)
    assert "・板橋区: 1人" in shown(stats)


async def test_stickers_pictures_and_places_get_a_friendly_word(line_bot: LineBot) -> None:
    bot = line_bot
    await bot.register(HANAKO)
    for event in (
        lambda: bot.fake.sticker_event(HANAKO),
        lambda: bot.fake.image_event(HANAKO),
        lambda: bot.fake.location_event(HANAKO, 35.67, 139.75, title="日比谷公園"),
    ):
        (answer,) = await bot.answer(HANAKO, event)
        assert "文字で送ってください" in shown(answer)
        assert quick_replies(answer) == MENU
    assert labels(bot.fake.last_message(HANAKO)) == MENU


async def test_unblocking_shows_the_menu_and_keeps_a_stop(line_bot: LineBot) -> None:
    bot = line_bot
    await bot.register(HANAKO)
    await bot.say(HANAKO, "配信停止")
    await bot.post(bot.fake.unfollow_event(HANAKO))
    await bot.fake.until(lambda: bot.member(HANAKO).unreachable_at is not None)

    (menu,) = await bot.answer(HANAKO, lambda: bot.fake.follow_event(HANAKO))
    assert quick_replies(menu) == MENU
    member = bot.member(HANAKO)
    assert member.unreachable_at is None, "reachable again"
    assert member.subscription is Subscription.UNSUBSCRIBED, "adding the bot again is no resume"


async def test_my_data_on_line_is_shown_but_never_offered_as_a_file(line_bot: LineBot) -> None:
    bot = line_bot
    await bot.register(HANAKO)
    (screen,) = await bot.say(HANAKO, "登録情報")
    assert "板橋区" in shown(screen), "what is stored is shown on the screen"
    assert "登録を削除する" in quick_replies(screen)
    assert "ファイルで受け取る" not in quick_replies(screen), "LINE cannot take a file"
