"""予定 on a phone (issue 12): a short list in one message, one button per event, and the card
on a tap; no web address in anything a member reads, only named links under the message."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta

import pytest

from bot.calendar.schedule_file import load_calendar
from bot.config import Settings, reminder_book
from bot.domain.calendar import Calendar, EventSpec, Venue
from bot.domain.capabilities import LINE
from bot.domain.messages import Link, Outgoing
from bot.services.calendar_sync import CalendarSync
from bot.services.conversation import Conversation
from bot.services.event_cards import LABEL_CHARS
from bot.services.events import PAGE
from bot.services.reminders import ReminderPlanner
from bot.store.database import Database
from tests.calendar.helpers import EXAMPLES, REGIONS
from tests.dialogs.chat import LIST_MARKS, Chat
from tests.events.conftest import (
    CALENDAR,
    FORM,
    HIBIYA,
    ONLINE,
    RALLY,
    STUDY,
    TOKYO,
    ZOOM,
    at,
    with_changes,
)
from tests.fakes.clock import FakeClock
from tests.outbox_text import rendered

Member = Callable[..., Chat]
BUDGET = 2
"""Messages one tap on 予定 or 「もっと見る」 may cost (issue 12)."""


def addressless(text: str) -> bool:
    """No web address and no percent-encoded text."""
    return "http" not in text and "%E" not in text and "www." not in text


def listed(chat: Chat) -> list[str]:
    return [line for line in chat.text.splitlines() if line.startswith(LIST_MARKS)]


def whole_list(chat: Chat) -> list[list[Outgoing]]:
    """Every tap of 予定 and 「もっと見る」 until the end of the list: the replies of each."""
    taps = [chat.say("予定")]
    while "もっと見る" in chat.labels():
        taps.append(chat.press("もっと見る"))
    return taps


def every_region(settings: Settings) -> list[str]:
    return [region.name for region in settings.campaign().regions if not region.for_everyone]


def synced(calendar_sync: CalendarSync, *events: EventSpec) -> None:
    calendar_sync.sync(Calendar(events=events))


def many_events(count: int) -> list[EventSpec]:
    """`count` Tokyo-wide events, one a day from 12月1日, with long titles and a map each."""
    return [
        with_changes(
            RALLY,
            slug=f"many-{n:02d}",
            title=f"保険証を残せ 連続行動 第{n + 1}回 ターミナル駅前リレー宣伝",
            starts_at=at("2026-12-01", "10:00") + timedelta(days=n),
            ends_at=None,
            capacity=None,
        )
        for n in range(count)
    ]


@pytest.mark.parametrize("calendar", ["the tests' calendar", "the shipped schedules"])
def test_the_list_is_one_message_a_tap_with_the_default_calendars(
    calendar: str,
    member: Member,
    settings: Settings,
    calendar_sync: CalendarSync,
    database: Database,
    clock: FakeClock,
) -> None:
    if calendar == "the shipped schedules":
        calendar_sync.sync(load_calendar(EXAMPLES, REGIONS, TOKYO))
    else:
        calendar_sync.sync(CALENDAR)
    chat = member("everywhere", *every_region(settings))
    with database.unit_of_work() as uow:
        upcoming = uow.calendar.upcoming(None, clock.now(), limit=1000)
    assert len(upcoming) > PAGE, "the calendar fills more than one page"

    taps = whole_list(chat)

    assert all(len(replies) <= BUDGET for replies in taps)
    assert [len(replies) for replies in taps] == [1] * len(taps), "in fact, one each"
    lines = [line for replies in taps for r in replies for line in r.text.splitlines()]
    assert len([line for line in lines if line.startswith("・")]) == len(upcoming)
    assert all(addressless(r.text) for replies in taps for r in replies)
    for occurrence in upcoming[:PAGE]:
        (card,) = chat.open_event(occurrence.title)
        assert addressless(card.text), card.text
        assert all(link.url.startswith("https://") for link in card.links)


def test_many_events_page_by_page_one_message_a_tap(
    member: Member, calendar_sync: CalendarSync
) -> None:
    events = many_events(23)
    synced(calendar_sync, *events)
    chat = member("alice", "板橋区")

    taps = whole_list(chat)

    assert len(taps) == 5, "23 events, five a page"
    assert [len(replies) for replies in taps] == [1] * 5
    seen = [line for replies in taps for r in replies for line in r.text.splitlines()]
    days = [line.split(" ")[0] for line in seen if line.startswith("・")]
    assert days == [f"・12月{n + 1}日({'火水木金土日月'[n % 7]})" for n in range(23)], "in order"
    first, *_, last = (replies[0] for replies in taps)
    assert first.text.startswith(
        "これからの予定です。\n\n・12月1日(火) 10:00 保険証を残せ 連続行動"
    )
    assert [b.label for b in first.all_buttons()][:2] == [
        "12月1日 保険証を残せ 連続行動…",
        "12月2日 保険証を残せ 連続行動…",
    ]
    assert all(len(b.label) <= LABEL_CHARS for replies in taps for b in replies[0].all_buttons())
    assert "予定はここまでです。" in last.text
    assert last.menu, "the menu comes back at the end of the list"


def test_on_line_the_list_needs_no_paging_and_no_shortened_labels(
    member: Member, calendar_sync: CalendarSync, conversation: Conversation
) -> None:
    synced(calendar_sync, *many_events(12))
    chat = member("alice", "板橋区")
    line = Chat(conversation, chat.member, capabilities=LINE)  # as LINE shows the replies

    taps = whole_list(line)

    assert [len(replies) for replies in taps] == [1, 1, 1]
    for replies in taps:
        (shown,) = replies
        assert len(shown.all_buttons()) <= LINE.max_buttons
        assert "①" not in shown.text, "no label had to be cut and listed again"
        assert "次へ" not in [b.label for b in shown.all_buttons()]


def test_the_card_names_its_links_and_keeps_the_rest(
    member: Member, calendar_sync: CalendarSync
) -> None:
    synced(calendar_sync, RALLY, ONLINE, STUDY)
    chat = member("alice", "板橋区")

    (rally,) = chat.open_event("12.7大集会")
    assert rally.text.splitlines() == [
        "【集会】保険証を残せ 12.7大集会",
        "12月7日(月) 13:00〜15:00",
        "場所: 日比谷野外音楽堂（東京都千代田区日比谷公園1-5）",
        "主催: 東京社保協",
        "問い合わせ: 東京社保協 03-0000-0000",
        "定員: 3人（残り3人）",
    ]
    assert rally.links == (Link("地図を開く", HIBIYA.map_url or ""),)
    assert [b.label for b in rally.all_buttons()] == ["参加する", "未定", "行けない"]

    (online,) = chat.open_event("オンライン学習会")
    assert online.text.splitlines()[2:] == [
        "申し込みはこちら: 下の「関連ページを開く」から",
        "資料: 下の「関連ページ2を開く」から。",
        "※ 会場でも見られます（下の「関連ページ3を開く」から）",
    ]
    assert online.links == (
        Link("オンラインで参加", ZOOM),
        Link("関連ページを開く", FORM),
        Link("関連ページ2を開く", "https://example.org/slides.pdf"),
        Link("関連ページ3を開く", HIBIYA.map_url or ""),
    )


def test_an_address_the_card_offers_already_is_named_once(
    member: Member, calendar_sync: CalendarSync
) -> None:
    event = with_changes(ONLINE, description=f"ZOOMで行います（{ZOOM}）", note=None)
    synced(calendar_sync, event)
    chat = member("alice", "板橋区")
    (card,) = chat.open_event("オンライン学習会")
    assert "ZOOMで行います（下の「オンラインで参加」から）" in card.text
    assert card.links == (Link("オンラインで参加", ZOOM),)


def test_links_in_english(member: Member, calendar_sync: CalendarSync) -> None:
    synced(calendar_sync, RALLY, ONLINE)
    chat = member("alice", "板橋区")
    chat.say("settings")
    chat.press("English")
    (rally,) = chat.open_event("12.7大集会")
    assert [link.label for link in rally.links] == ["Open the map"]
    (online,) = chat.open_event("オンライン学習会")
    assert '申し込みはこちら: see "Open the page" below' in online.text
    assert [link.label for link in online.links] == [
        "Join online",
        "Open the page",
        "Open page 2",
        "Open page 3",
    ]


def test_a_cancelled_online_event_offers_no_way_to_join(
    member: Member, calendar_sync: CalendarSync
) -> None:
    synced(calendar_sync, with_changes(ONLINE, cancelled=True, description="", note=None))
    chat = member("alice", "板橋区")
    (card,) = chat.open_event("オンライン学習会")
    assert card.text.startswith("【中止】")
    assert card.links == ()


def test_no_address_in_anything_a_member_reads_on_a_whole_journey(
    member: Member,
    settings: Settings,
    calendar_sync: CalendarSync,
    database: Database,
    conversation: Conversation,
    clock: FakeClock,
) -> None:
    synced(calendar_sync, RALLY, ONLINE, STUDY)
    alice, bob = member("alice", "板橋区"), member("bob", "板橋区")
    read: list[Outgoing] = []

    def seen(replies: Iterable[Outgoing]) -> None:
        read.extend(replies)

    seen(alice.say("予定"))
    seen(alice.open_event("12.7大集会"))
    seen(alice.press("参加する"))
    seen(alice.press("1人"))
    seen(alice.press("カレンダーに追加"))
    seen(alice.open_event("オンライン学習会"))
    seen(alice.press("未定"))
    seen(bob.open_event("マイナ保険証 学習会"))
    seen(bob.say("/start ev_online-study-1212"))  # a flyer's QR code
    ReminderPlanner(
        database.unit_of_work,
        settings.campaign(),
        reminder_book(settings.config.reminders, TOKYO),
        clock,
        plan_ahead=timedelta(days=30),
    ).plan_now()
    moved = with_changes(RALLY, venue=Venue("芝公園23号地", "東京都港区芝公園2", HIBIYA.map_url))
    synced(calendar_sync, moved, with_changes(ONLINE, cancelled=True, note="講師の都合"), STUDY)
    notices = [
        message
        for purpose in ("reminder", "event_change")
        for _, message in rendered(database, conversation.screens, clock, purpose)
        if isinstance(message, Outgoing)
    ]
    purposes = {row.purpose for row, _ in rendered(database, conversation.screens, clock)}
    assert {"reminder", "event_change"} <= purposes
    assert len(notices) >= 4, "invitations, and notices of the move and the cancellation"
    seen(notices)
    seen(alice.say("予定"))
    seen(alice.open_event("12.7大集会"))

    offending = [reply.text for reply in read if not addressless(reply.text)]
    assert offending == []
    links = [link for reply in read for link in reply.links]
    assert {link.label for link in links} >= {"地図を開く", "オンラインで参加", "関連ページを開く"}


def test_an_invitation_offers_the_map_as_the_card_does(
    member: Member,
    settings: Settings,
    database: Database,
    conversation: Conversation,
    clock: FakeClock,
) -> None:
    member("alice", "板橋区")
    ReminderPlanner(
        database.unit_of_work,
        settings.campaign(),
        reminder_book(settings.config.reminders, TOKYO),
        clock,
    ).plan_now()
    (invitation,) = [
        message
        for row, message in rendered(database, conversation.screens, clock, "reminder")
        if row.reference.startswith("invitation") and isinstance(message, Outgoing)
        if "12.7大集会" in message.text
    ]
    assert invitation.links == (Link("地図を開く", HIBIYA.map_url or ""),)
