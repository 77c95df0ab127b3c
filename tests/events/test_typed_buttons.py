"""Words work like buttons on the event screens: 「もっと」 for 「もっと見る」, an event's button
typed opens it, and the same words on several buttons ask which one is meant instead of
guessing."""

from __future__ import annotations

from collections.abc import Callable

from bot.services.calendar_sync import CalendarSync
from tests.dialogs.chat import Chat
from tests.events.conftest import CALENDAR, RALLY, at, with_changes

Member = Callable[..., Chat]


def test_a_common_way_of_saying_a_label_presses_it(member: Member) -> None:
    alice = member("alice", "豊島区", "板橋区")
    alice.say("予定")
    assert "もっと見る" in alice.labels()
    assert "12月24日" in alice.text

    alice.say("もっと")

    assert "12月24日" not in alice.text
    assert alice.text.startswith("・1月4日(月) 12:00 4の日 巣鴨駅宣伝"), "the next page of events"


def test_an_events_button_typed_opens_its_card(member: Member) -> None:
    alice = member("alice", "板橋区")
    alice.say("予定")
    alice.say("12月10日 マイナ保険証 学習会")
    assert alice.text.startswith("【学習会】マイナ保険証 学習会\n12月10日(木) 18:30〜20:30")
    alice.say("参加する")
    assert "あなたの返事: 参加" in alice.text


def parts_of_the_rally(calendar_sync: CalendarSync, second_part_at: str) -> None:
    """The rally in two parts, their titles alike: their buttons are cut to the same words."""
    first = with_changes(RALLY, title="保険証を残せ 12.7大集会 第1部")
    second = with_changes(
        RALLY,
        slug="rally-1207-part-2",
        title="保険証を残せ 12.7大集会 第2部",
        starts_at=at("2026-12-07", second_part_at),
        ends_at=None,
    )
    calendar_sync.sync(CALENDAR.__class__(events=(first, second, *CALENDAR.events[1:])))


def test_buttons_that_would_read_the_same_show_their_times(
    member: Member, calendar_sync: CalendarSync
) -> None:
    parts_of_the_rally(calendar_sync, "15:30")
    alice = member("alice", "板橋区")
    alice.say("予定")
    assert alice.labels()[:3] == [
        "12月7日 13:00 保険証を残せ…",
        "12月7日 15:30 保険証を残せ…",
        "12月10日 マイナ保険証 学習会",
    ]
    alice.say("12月7日 15:30 保険証を残せ…")
    assert alice.text.startswith("【集会】保険証を残せ 12.7大集会 第2部\n12月7日(月) 15:30〜")


def test_the_same_words_on_several_buttons_ask_which(
    member: Member, calendar_sync: CalendarSync
) -> None:
    parts_of_the_rally(calendar_sync, "13:00")  # two halls at once
    alice = member("alice", "板橋区")
    alice.say("予定")
    assert alice.labels().count("12月7日 13:00 保険証を残せ…") == 2
    alice.say("12月7日 13:00 保険証を残せ…")
    assert "同じ言葉のボタンがいくつかあります" in alice.text
