"""First contact, consent, regions, /stop and /start again: replies and what gets stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from bot.domain.members import Member, Role, Subscription
from bot.store.database import Database
from tests.dialogs.chat import Chat
from tests.fakes.clock import FakeClock

Stored = Callable[[str], Member]


def register(chat: Chat, *regions: str) -> None:
    chat.say("/start")
    chat.press("はい、受け取ります")
    for region in regions:
        chat.press(region)
    chat.press("決定")


def is_stored(database: Database, external_id: str) -> bool:
    with database.unit_of_work() as uow:
        return uow.members.get("console", external_id) is not None


def test_start_welcomes_says_what_is_stored_and_asks_consent(
    chat: Chat, stored: Stored, database: Database
) -> None:
    chat.say("/start")

    assert "東京社保協" in chat.text
    assert "【記録すること】" in chat.text
    assert chat.labels() == ["はい、受け取ります", "いいえ、受け取りません"]
    assert not is_stored(database, "alice"), "nothing is stored before the consent answer"

    chat.press("はい、受け取ります")
    member = stored("alice")
    assert member.subscription is Subscription.SUBSCRIBED
    assert member.display_name == "アリス"


def test_any_first_message_starts_the_welcome(chat: Chat, database: Database) -> None:
    chat.say("こんにちは")

    assert "受け取りますか" in chat.text
    assert not is_stored(database, "alice")
    chat.say("保険証はいつまで使えますか")
    assert "受け取りますか" in chat.text, "the welcome again, until they answer"
    assert not is_stored(database, "alice")


def test_consent_is_recorded_with_its_time_then_regions_are_asked(
    chat: Chat, stored: Stored, clock: FakeClock
) -> None:
    chat.say("/start")
    chat.press("はい、受け取ります")

    assert "地域を選んでください" in chat.text
    assert "都全体" in chat.labels()
    member = stored("alice")
    assert member.subscription is Subscription.SUBSCRIBED
    assert member.consent_at == clock.now()


def test_declining_consent_still_registers_without_notifications(
    chat: Chat, stored: Stored
) -> None:
    chat.say("/start")
    chat.press("いいえ、受け取りません")

    assert "お知らせは送りません" in chat.text
    member = stored("alice")
    assert member.subscription is Subscription.UNSUBSCRIBED
    assert member.consent_at is not None, "when they answered the welcome (what is kept)"
    assert member.unsubscribed_at is not None


def test_regions_toggle_and_are_stored_at_each_press(chat: Chat, stored: Stored) -> None:
    chat.say("/start")
    chat.press("はい、受け取ります")
    chat.press("板橋区")
    assert stored("alice").regions == {"itabashi"}
    assert "✓ 板橋区" in chat.labels()

    chat.press("渋谷区")
    chat.press("✓ 板橋区")
    assert stored("alice").regions == {"shibuya"}

    chat.press("決定")
    assert "登録が終わりました" in chat.text
    assert "渋谷区" in chat.text
    assert chat.labels() == ["予定", "質問", "通知設定", "ヘルプ"]


def test_done_without_a_region_asks_again(chat: Chat, stored: Stored) -> None:
    chat.say("/start")
    chat.press("はい、受け取ります")
    chat.press("決定")

    assert "1つ以上" in chat.text
    assert "決定" in chat.labels()
    assert stored("alice").regions == set()


def test_stop_unsubscribes_at_once_and_says_how_to_come_back(
    chat: Chat, stored: Stored, clock: FakeClock
) -> None:
    register(chat, "板橋区")
    clock.advance(timedelta(days=3))

    chat.say("/stop")

    assert "止めました" in chat.text
    assert "配信再開" in chat.text
    member = stored("alice")
    assert member.subscription is Subscription.UNSUBSCRIBED
    assert member.unsubscribed_at == clock.now()
    assert member.regions == {"itabashi"}, "stopping keeps the member's choices"


def test_stop_as_a_plain_word(chat: Chat, stored: Stored) -> None:
    register(chat, "板橋区")
    chat.say("配信停止")
    assert stored("alice").subscription is Subscription.UNSUBSCRIBED


def test_start_again_resubscribes_with_a_new_consent_time(
    chat: Chat, stored: Stored, clock: FakeClock
) -> None:
    register(chat, "板橋区")
    chat.say("/stop")
    clock.advance(timedelta(days=10))

    chat.say("/start")

    assert "再開しました" in chat.text
    member = stored("alice")
    assert member.subscription is Subscription.SUBSCRIBED
    assert member.consent_at == clock.now()
    assert member.unsubscribed_at is None
    assert member.regions == {"itabashi"}


def test_resume_word_after_stop(chat: Chat, stored: Stored) -> None:
    register(chat, "板橋区")
    chat.say("配信停止")
    chat.say("配信再開")
    assert stored("alice").subscription is Subscription.SUBSCRIBED


def test_stop_twice_is_calm(chat: Chat) -> None:
    register(chat, "板橋区")
    chat.say("/stop")
    chat.say("/stop")
    assert "すでに止まっています" in chat.text


def test_start_when_already_registered_shows_the_menu(chat: Chat, stored: Stored) -> None:
    register(chat, "板橋区")
    consent = stored("alice").consent_at

    chat.say("/start")

    assert "ボタンから選んでください" in chat.text
    assert "予定" in chat.labels()
    assert stored("alice").consent_at == consent


def test_last_seen_moves_with_every_message(chat: Chat, stored: Stored, clock: FakeClock) -> None:
    chat.say("/start")
    chat.press("はい、受け取ります")
    created = stored("alice").created_at
    clock.advance(timedelta(hours=5))
    chat.say("ヘルプ")
    member = stored("alice")
    assert member.created_at == created
    assert member.last_seen_at == clock.now()


def test_a_message_clears_an_unreachable_mark(
    chat: Chat, stored: Stored, database: Database
) -> None:
    register(chat, "板橋区")
    with database.unit_of_work() as uow:
        member = uow.members.get("console", "alice")
        assert member is not None
        member.mark_unreachable(member.last_seen_at, "blocked")
        uow.members.save(member)
        uow.commit()
    assert stored("alice").unreachable_at is not None

    chat.say("メニュー")

    assert stored("alice").unreachable_at is None
    assert stored("alice").unreachable_reason is None


def test_role_follows_the_configuration(chat: Chat, stored: Stored) -> None:
    chat.say("/start")
    chat.press("いいえ、受け取りません")
    assert stored("alice").role is Role.MEMBER
