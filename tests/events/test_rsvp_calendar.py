"""「カレンダーに追加」: the .ics file comes only when that button is pressed, after the answer is
stored and confirmed, so a file that fails cannot spoil the answer; it can be asked again."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from icalendar import Calendar as ICalendar
from sqlalchemy import select

from bot.domain.capabilities import PRESETS, Capabilities
from bot.domain.messages import MemberRef
from bot.services.calendar_sync import CalendarSync
from bot.services.conversation import Conversation
from bot.store.database import Database
from bot.store.tables import RsvpRow
from tests.dialogs.chat import Chat
from tests.events.conftest import CALENDAR, RALLY, SUGAMO_4, called_off, occurrence_id

Member = Callable[..., Chat]
STALE = "このボタンはもう使えません"


def answers(database: Database) -> list[tuple[str, int]]:
    with database.session() as session:
        return [(r.status, r.guests) for r in session.scalars(select(RsvpRow))]


def attachments(chat: Chat) -> list[str]:
    return [a.filename for reply in chat.replies for a in reply.attachments]


def test_no_answer_sends_a_file(member: Member) -> None:
    chat = member("alice", "板橋区")
    for button, then in (("参加する", "ひとりで行く"), ("未定", None), ("行けない", None)):
        chat.open_event("12.7大集会")
        chat.press(button)
        assert attachments(chat) == []
        if then:
            chat.press(then)
            assert attachments(chat) == []


def test_the_file_comes_when_asked_as_often_as_asked(member: Member, database: Database) -> None:
    chat = member("alice", "板橋区")
    chat.open_event("学習会")
    chat.press("参加する")
    chat.press("3人")
    add = chat.button("カレンダーに追加")

    for _ in range(2):  # the first one did not arrive, say
        chat.press_raw(add.action.encode())
        (sent,) = chat.replies
        assert (
            sent.text
            == "「マイナ保険証 学習会」をカレンダーに入れるファイルです。開くと追加できます。"
        )
        (ics,) = sent.attachments
        assert ics.filename == "itabashi-study-1210-once.ics"
        assert ics.media_type == "text/calendar"
        event = ICalendar.from_ical(ics.content).walk("VEVENT")[0]
        assert str(event["SUMMARY"]) == "マイナ保険証 学習会"
    assert answers(database) == [("going", 3)], "asking for the file changes no answer"


def test_a_cancelled_event_sends_no_file(
    member: Member, calendar_sync: CalendarSync, database: Database
) -> None:
    chat = member("alice", "板橋区")
    chat.open_event("12.7大集会")
    chat.press("参加する")
    chat.press("ひとりで行く")
    add = chat.button("カレンダーに追加")
    calendar_sync.sync(CALENDAR.__class__(events=(called_off(RALLY, "雨天"), *CALENDAR.events[1:])))

    chat.press_raw(add.action.encode())

    assert chat.text == "この予定は中止になりました。"
    assert attachments(chat) == []
    assert answers(database) == [("going", 0)]


def test_a_deleted_event_sends_no_file(
    member: Member, calendar_sync: CalendarSync, database: Database
) -> None:
    chat = member("alice", "板橋区")
    study = occurrence_id(database, "itabashi-study-1210")
    calendar_sync.sync(CALENDAR.__class__(events=(RALLY, SUGAMO_4)))
    chat.press_raw(f"1:rsvp:{study}:calendar")
    assert STALE in chat.text
    assert attachments(chat) == []


def _answer_going(conversation: Conversation, ref: MemberRef) -> Chat:
    chat = Chat(conversation, ref)
    chat.say("/start")
    chat.press("はい、受け取ります")
    chat.press("板橋区")
    chat.press("決定")
    chat.open_event("12.7大集会")
    chat.press("参加する")
    chat.press("ひとりで行く")
    return chat


def test_line_is_offered_the_calendar_it_gets_as_a_link(
    conversation: Conversation, calendar_sync: CalendarSync, database: Database
) -> None:
    chat = _answer_going(conversation, MemberRef("line", "U0123456789abcdef"))
    (confirmation,) = chat.replies
    assert [b.label for row in confirmation.buttons for b in row] == ["カレンダーに追加"]
    chat.press("カレンダーに追加")
    assert attachments(chat) == ["rally-1207-once.ics"], "the channel makes it a link"


def test_a_channel_that_cannot_send_files_is_not_offered_the_button(
    conversation: Conversation,
    calendar_sync: CalendarSync,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fax = Capabilities(
        "fax",
        max_text_chars=1000,
        max_buttons=10,
        max_buttons_per_row=1,
        max_label_chars=20,
        can_send_files=False,
    )
    monkeypatch.setitem(PRESETS, "fax", fax)
    chat = _answer_going(conversation, MemberRef("fax", "0312345678"))

    (confirmation,) = chat.replies
    assert confirmation.text == "12月7日(月)の「保険証を残せ 12.7大集会」に参加で受け付けました。"
    assert confirmation.buttons == ()
    assert confirmation.menu, "the menu instead"
    assert answers(database) == [("going", 0)]
