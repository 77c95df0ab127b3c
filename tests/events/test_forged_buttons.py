"""Hole 2: buttons forged or kept from before reach nothing hidden, and store nobody unasked.

Occurrence ids are sequential, so a forged payload can name an event deleted from the
schedule files; and a person who never answered the consent question can press anything.
Every press goes through `bot.services.buttons.decode`, which refuses both.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from bot.domain.calendar import Calendar
from bot.domain.members import Member as MemberRecord
from bot.domain.messages import Incoming, MemberRef
from bot.services.calendar_sync import CalendarSync
from bot.services.conversation import Conversation
from bot.store.database import Database
from bot.store.tables import MemberRow, RsvpRow
from tests.dialogs.chat import Chat
from tests.events.conftest import RALLY, SUGAMO_4, occurrence_id

Member = Callable[..., Chat]
STALE = "このボタンはもう使えません"
CONSENT = "受け取りますか"
APOLOGY = "申し訳ありません"


def count(database: Database, row: type[RsvpRow] | type[MemberRow]) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(row)) or 0)


def remove_the_study(calendar_sync: CalendarSync) -> None:
    """Delete the 学習会 from the schedule files (it stays in the database, hidden)."""
    report = calendar_sync.sync(Calendar(events=(RALLY, SUGAMO_4)))
    assert report.events_removed == ("itabashi-study-1210",)


def test_an_event_deleted_from_the_schedules_takes_no_answer_and_no_guests(
    member: Member, calendar_sync: CalendarSync, database: Database
) -> None:
    alice = member("alice", "板橋区")
    study = occurrence_id(database, "itabashi-study-1210")
    remove_the_study(calendar_sync)

    for payload in (f"1:rsvp:{study}:going", f"1:rsvp:{study}:maybe", f"1:guests:{study}:2"):
        replies = alice.press_raw(payload)
        assert STALE in alice.text, payload
        assert APOLOGY not in alice.text
        assert not [a for reply in replies for a in reply.attachments], "no .ics for it"
    assert count(database, RsvpRow) == 0


def test_an_answer_given_before_the_deletion_cannot_be_changed_after(
    member: Member, calendar_sync: CalendarSync, database: Database
) -> None:
    alice = member("alice", "板橋区")
    alice.open_event("学習会")
    alice.press("参加する")
    remove_the_study(calendar_sync)

    alice.press("2人")  # the guest question, still on her screen

    assert STALE in alice.text
    with database.session() as session:
        assert session.scalars(select(RsvpRow.guests)).all() == [0]


def test_organisers_buttons_refuse_a_deleted_event_too(
    member: Member, calendar_sync: CalendarSync, database: Database
) -> None:
    organiser = member("console-organiser", "都全体")
    study = occurrence_id(database, "itabashi-study-1210")
    remove_the_study(calendar_sync)
    for payload in (f"1:attendance:{study}", f"1:attendees:{study}"):
        organiser.press_raw(payload)
        assert STALE in organiser.text


@pytest.mark.parametrize(
    "payload",
    [
        "1:rsvp:{rally}:going",
        "1:guests:{rally}:4",
        "1:region:itabashi:onboarding",
        "1:regions_done:onboarding",
        "1:notify:on",
        "1:lang:en",
        "1:menu:events",
        "1:menu:settings",
        "1:events:0",
        "1:ask_human",
        "1:page:1:regions:onboarding",
        "1:attendees:{rally}",
        "1:nosuch:1",
        "garbage",
    ],
)
def test_someone_who_never_consented_gets_the_welcome_and_is_not_stored(
    conversation: Conversation, calendar_sync: CalendarSync, database: Database, payload: str
) -> None:
    stranger = Chat(conversation, MemberRef("telegram", "999", display_name="見知らぬ人"))
    stranger.press_raw(payload.format(rally=occurrence_id(database, "rally-1207")))

    assert CONSENT in stranger.text
    assert APOLOGY not in stranger.text
    assert count(database, MemberRow) == 0
    assert count(database, RsvpRow) == 0


@pytest.mark.parametrize(
    "incoming",
    [
        lambda ref: Incoming.from_text(ref, "参加します"),
        lambda ref: Incoming.from_text(ref, "/stop"),
        lambda ref: Incoming.from_text(ref, "配信停止"),
        lambda ref: Incoming.from_text(ref, "予定"),
        lambda ref: Incoming.from_text(ref, "/frobnicate"),
        lambda ref: Incoming.from_text(ref, "/start ev_rally-1207"),
        lambda ref: Incoming.from_text(ref, "/help"),
        lambda ref: Incoming.from_media(ref, "sticker"),
    ],
    ids=["word", "stop", "stop-word", "events-word", "unknown-command", "flyer", "help", "media"],
)
def test_no_word_or_command_stores_someone_before_consent(
    conversation: Conversation,
    calendar_sync: CalendarSync,
    database: Database,
    incoming: Callable[[MemberRef], Incoming],
) -> None:
    replies = conversation.reply_to(incoming(MemberRef("telegram", "999", display_name="名前")))

    assert replies
    assert APOLOGY not in "\n".join(r.text for r in replies)
    assert count(database, MemberRow) == 0


def test_a_flyer_card_before_consent_asks_for_consent_when_pressed(
    conversation: Conversation, calendar_sync: CalendarSync, database: Database
) -> None:
    newcomer = Chat(conversation, MemberRef("telegram", "999"))
    newcomer.say("/start ev_rally-1207")
    newcomer.press("参加する")
    assert CONSENT in newcomer.text
    assert count(database, MemberRow) == 0

    newcomer.press("はい、受け取ります")
    assert count(database, MemberRow) == 1
    newcomer.say("/start ev_rally-1207")
    newcomer.press("参加する")
    assert count(database, RsvpRow) == 1


def test_a_member_stored_before_this_rule_but_pending_is_asked_for_consent(
    conversation: Conversation, calendar_sync: CalendarSync, database: Database
) -> None:
    now = RALLY.starts_at  # any moment: the row is only what an older version stored
    with database.unit_of_work() as uow:
        uow.members.register(MemberRecord("telegram", "777", now, now))
        uow.commit()
    pending = Chat(conversation, MemberRef("telegram", "777"))
    pending.press_raw(f"1:rsvp:{occurrence_id(database, 'rally-1207')}:going")

    assert CONSENT in pending.text
    assert count(database, RsvpRow) == 0
