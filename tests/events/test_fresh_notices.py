"""Notices are written when they are sent: every change told once, nothing stale, the member's
language of that moment. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

from bot.domain.calendar import EventSpec, Venue
from bot.services.calendar_sync import CalendarSync
from bot.store.database import Database
from tests.dialogs.chat import Chat
from tests.events.conftest import CALENDAR, RALLY, STUDY, Outbox, at, called_off, with_changes
from tests.fakes.clock import FakeClock

Member = Callable[..., Chat]
KOMABA = Venue("駒場公園", "東京都目黒区駒場四丁目")


def synced(calendar_sync: CalendarSync, rally: EventSpec) -> int:
    return calendar_sync.sync(
        CALENDAR.__class__(events=(rally, *CALENDAR.events[1:]))
    ).notices_queued


def going(chat: Chat, title: str = "12.7大集会") -> None:
    chat.open_event(title)
    chat.press("参加する")
    if "何人" in chat.text:
        chat.press("1人")


async def test_cancelled_restored_and_cancelled_again_is_three_notices(
    member: Member, calendar_sync: CalendarSync, outbox: Outbox
) -> None:
    alice = member("alice", "板橋区")
    going(alice)
    rain = called_off(RALLY, "雨天のため中止")

    told = []
    for state in (rain, RALLY, rain):
        assert synced(calendar_sync, state) == 1
        told += await outbox.send()

    assert [text.splitlines()[0] for _, text in told] == [
        "【中止】「保険証を残せ 12.7大集会」(12月7日(月) 13:00〜15:00) は中止になりました。",
        "【予定どおり行います】「保険証を残せ 12.7大集会」は中止をとりやめ、予定どおり行います。",
        "【中止】「保険証を残せ 12.7大集会」(12月7日(月) 13:00〜15:00) は中止になりました。",
    ]
    assert synced(calendar_sync, rain) == 0, "nothing changed: nobody is told again"


async def test_a_venue_moved_back_and_forth_tells_every_move(
    member: Member, calendar_sync: CalendarSync, outbox: Outbox
) -> None:
    alice = member("alice", "板橋区")
    going(alice)
    elsewhere = with_changes(RALLY, venue=KOMABA)

    told = []
    for state in (elsewhere, RALLY, elsewhere):
        synced(calendar_sync, state)
        told += await outbox.send()

    lines = [line for _, text in told for line in text.splitlines()]
    moves = [line for line in lines if line.startswith("場所:") and "→" in line]
    assert moves == [
        "場所: 日比谷野外音楽堂 → 駒場公園",
        "場所: 駒場公園 → 日比谷野外音楽堂",
        "場所: 日比谷野外音楽堂 → 駒場公園",
    ]


async def test_a_notice_to_someone_who_has_since_said_no_is_not_sent(
    member: Member, calendar_sync: CalendarSync, outbox: Outbox
) -> None:
    alice, bob = member("alice", "板橋区"), member("bob", "板橋区")
    going(alice)
    going(bob)
    synced(calendar_sync, with_changes(RALLY, venue=KOMABA))
    bob.open_event("12.7大集会")
    bob.press("行けない")

    told = await outbox.send()

    assert [chat for chat, _ in told] == ["alice"]
    assert outbox.skipped() == ["rsvp changed"]


async def test_a_change_notice_overtaken_by_a_cancellation_is_not_sent(
    member: Member, calendar_sync: CalendarSync, outbox: Outbox
) -> None:
    alice = member("alice", "板橋区")
    going(alice)
    synced(calendar_sync, with_changes(RALLY, venue=KOMABA))
    synced(calendar_sync, called_off(with_changes(RALLY, venue=KOMABA), "雨天のため中止"))

    told = await outbox.send()

    assert len(told) == 1
    assert "中止になりました" in told[0][1]
    assert outbox.skipped() == ["event cancelled"]


async def test_nothing_is_sent_about_an_event_that_has_started(
    member: Member, calendar_sync: CalendarSync, outbox: Outbox, clock: FakeClock
) -> None:
    alice = member("alice", "板橋区")
    going(alice, "学習会")
    calendar_sync.sync(
        CALENDAR.__class__(events=(RALLY, CALENDAR.events[1], with_changes(STUDY, venue=KOMABA)))
    )
    clock.set(at("2026-12-10", "18:31"))  # the dispatcher was down until after the start

    assert await outbox.send() == []
    assert outbox.skipped() == ["event started"]


async def test_a_notice_speaks_the_language_the_member_has_when_it_is_sent(
    member: Member, calendar_sync: CalendarSync, outbox: Outbox, database: Database
) -> None:
    alice = member("alice", "板橋区")
    going(alice)
    synced(calendar_sync, with_changes(RALLY, venue=KOMABA))
    with database.unit_of_work() as uow:
        stored = uow.members.get("console", "alice")
        assert stored is not None
        stored.language = "en"
        uow.members.save(stored)
        uow.commit()

    ((_, text),) = await outbox.send()

    assert text.startswith('[Change] "保険証を残せ 12.7大集会"')
    assert "Place: 日比谷野外音楽堂 -> 駒場公園" in text


async def test_a_promotion_for_an_event_cancelled_meanwhile_is_not_sent(
    member: Member, calendar_sync: CalendarSync, outbox: Outbox
) -> None:
    people = [member(name, "板橋区") for name in ("alice", "bob", "chie", "dai")]
    for chat in people:
        going(chat)
    assert "キャンセル待ち" in people[3].text
    people[0].open_event("12.7大集会")
    people[0].press("行けない")  # a seat frees: dai is promoted
    synced(calendar_sync, called_off(RALLY, "雨天のため中止"))

    told = await outbox.send()

    assert all("空きが出ました" not in text for _, text in told)
    assert "event cancelled" in outbox.skipped()
