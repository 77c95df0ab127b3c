"""A card pressed on its own is redrawn in place with the answer as it now stands (the reply's
first message, `replace`), so no card keeps showing an answer that changed; a card inside a
reminder, a notice or a broadcast is left as it was (its words stay), and the answer comes as
new messages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.config import Settings, reminder_book
from bot.domain.messages import Outgoing
from bot.services.conversation import Conversation
from bot.services.reminders import ReminderPlanner
from bot.store.database import Database
from bot.store.tables import RsvpRow
from tests.dialogs.chat import Chat
from tests.events.conftest import TOKYO, at, occurrence_id
from tests.fakes.clock import FakeClock
from tests.outbox_text import rendered

Member = Callable[..., Chat]
STALE = "このボタンはもう使えません"


def statuses(database: Database) -> list[str]:
    with database.session() as session:
        return list(session.scalars(select(RsvpRow.status).order_by(RsvpRow.id)))


def test_the_card_pressed_is_redrawn_with_each_new_answer(
    member: Member, database: Database
) -> None:
    chat = member("alice", "板橋区")
    chat.say("予定")
    chat.press("12月7日 保険証を残せ 12.7大集会")
    (shown,) = chat.replies
    assert not shown.replace, "the card comes below the list, which stays for the next event"

    chat.press("未定")
    card, told = chat.replies
    assert card.replace
    assert "あなたの返事: 未定" in card.text
    assert told.text == "12月7日(月)の「保険証を残せ 12.7大集会」を未定で受け付けました。"
    assert told.menu, "the menu is back in reach"

    chat.press("行けない", on="あなたの返事: 未定")  # on the redrawn card
    assert "あなたの返事: 不参加" in chat.replies[0].text
    assert chat.replies[0].replace

    chat.press("参加する", on="あなたの返事: 不参加")
    assert "あなたの返事: 参加" in chat.replies[0].text
    assert chat.replies[0].replace
    assert "何人ですか" in chat.replies[1].text
    assert statuses(database) == ["going"]


def test_the_same_answer_again_redraws_the_card_and_changes_nothing(
    member: Member, database: Database
) -> None:
    chat = member("alice", "板橋区")
    chat.open_event("12.7大集会")
    chat.press("未定")
    chat.press("未定", on="あなたの返事: 未定")
    assert chat.replies[0].replace
    assert "未定で受け付けました" in chat.replies[1].text
    assert statuses(database) == ["maybe"]


def test_a_card_that_ended_a_page_before_the_list_is_redrawn_with_its_show_more(
    member: Member, database: Database
) -> None:
    # Before the list, 予定 sent a card per event, the last of a page with 「もっと見る」; its
    # answer buttons (`going.c3`) are still in members' chats.
    chat = member("toshima", "豊島区")
    sugamo = occurrence_id(database, "sugamo-4nohi")

    chat.press_raw(f"1:rsvp:{sugamo}:going.c3")

    card = chat.replies[0]
    assert card.replace
    assert card.text.startswith("【街頭宣伝】4の日 巣鴨駅宣伝\n12月4日(金) 12:00〜13:00")
    assert "あなたの返事: 参加" in card.text
    assert card.text.endswith("ほかの予定は「もっと見る」を押すと出ます。")
    assert [b.label for b in card.all_buttons()] == ["参加する", "未定", "行けない", "もっと見る"]
    chat.press("もっと見る")
    assert chat.text.startswith("・12月24日(木) 12:00 4の日 巣鴨駅宣伝"), "from the fourth on"


def test_a_card_from_a_flyer_link_is_redrawn_too(member: Member) -> None:
    chat = member("alice", "板橋区")
    chat.say("/start ev_rally-1207")
    chat.press("行けない", on="12.7大集会")
    assert chat.replies[0].replace
    assert "あなたの返事: 不参加" in chat.replies[0].text


def test_a_card_inside_an_invitation_is_left_alone(
    member: Member,
    settings: Settings,
    database: Database,
    conversation: Conversation,
    clock: FakeClock,
) -> None:
    alice = member("alice", "板橋区")
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
    going = next(b for b in invitation.all_buttons() if b.label == "参加する")

    alice.press_raw(going.action.encode())

    assert not [reply for reply in alice.replies if reply.replace], "its words stay"
    (question,) = alice.replies
    assert "何人ですか" in question.text
    assert statuses(database) == ["going"]


def test_the_day_before_reminder_is_left_alone(
    member: Member,
    settings: Settings,
    database: Database,
    conversation: Conversation,
    clock: FakeClock,
) -> None:
    alice = member("alice", "板橋区")
    alice.open_event("12.7大集会")
    alice.press("参加する")
    alice.press("ひとりで行く")
    ReminderPlanner(
        database.unit_of_work,
        settings.campaign(),
        reminder_book(settings.config.reminders, TOKYO),
        clock,
        plan_ahead=timedelta(days=30),
    ).plan_now()
    clock.set(at("2026-12-06", "10:00"))
    (reminder,) = [
        message
        for row, message in rendered(database, conversation.screens, clock, "reminder")
        if row.reference.startswith("day_before") and isinstance(message, Outgoing)
    ]

    alice.press_raw(reminder.all_buttons()[0].action.encode())  # 行けなくなった

    (told,) = alice.replies
    assert not told.replace
    assert told.text == "12月7日(月)の「保険証を残せ 12.7大集会」を不参加で受け付けました。"
    assert statuses(database) == ["no"]


@pytest.mark.parametrize("answer", ["going.x", "going.c-1", "going.cc", "going.", "maybe.c.c"])
def test_forged_card_markers_are_refused(member: Member, database: Database, answer: str) -> None:
    chat = member("alice", "板橋区")
    rally = occurrence_id(database, "rally-1207")
    chat.press_raw(f"1:rsvp:{rally}:{answer}")
    assert STALE in chat.text
    assert statuses(database) == []
