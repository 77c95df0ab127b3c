"""The answer deadline as people read it: the last day one may still answer, 「12月3日(木)まで」,
for a deadline at midnight (answers close as the 4th begins), on the card and in the reminders
that carry it; a deadline with a time keeps its time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import Settings, reminder_book
from bot.domain.messages import Outgoing
from bot.services.calendar_sync import CalendarSync
from bot.services.conversation import Conversation
from bot.services.event_cards import last_day
from bot.services.reminders import ReminderPlanner
from bot.store.database import Database
from bot.texts import Catalogues
from tests.dialogs.chat import Chat
from tests.events.conftest import CALENDAR, RALLY, TOKYO, at, with_changes
from tests.fakes.clock import FakeClock
from tests.outbox_text import rendered

Member = Callable[..., Chat]
CATALOGUES = Catalogues.load()


@pytest.fixture
def midnight(calendar_sync: CalendarSync) -> None:
    """The rally takes answers until 12月4日 0:00, that is all of 12月3日."""
    rally = with_changes(RALLY, rsvp_deadline=at("2026-12-04"))
    calendar_sync.sync(CALENDAR.__class__(events=(rally, *CALENDAR.events[1:])))


@pytest.mark.usefixtures("midnight")
def test_a_deadline_at_midnight_reads_as_the_last_day_to_answer(member: Member) -> None:
    chat = member("alice", "板橋区")
    card = chat.open_event("12.7大集会")[0].text
    assert "返事の受付: 12月3日(木)まで" in card
    assert "12月4日" not in card
    assert "0:00" not in card


@pytest.mark.usefixtures("midnight")
def test_answers_are_taken_all_the_last_day_and_not_after(member: Member, clock: FakeClock) -> None:
    alice, bob = member("alice", "板橋区"), member("bob", "板橋区")
    for chat in (alice, bob):
        chat.open_event("12.7大集会")

    clock.set(at("2026-12-03", "23:59"))
    alice.press("参加する")
    assert "あなたの返事: 参加" in alice.replies[0].text

    clock.set(at("2026-12-04"))
    bob.press("参加する")
    card, closed = bob.replies
    assert closed.text == "この予定への返事の受付は終わりました。"
    assert card.replace, "the card pressed is redrawn without its buttons"
    assert card.all_buttons() == []
    assert "返事の受付" not in card.text, "no deadline shown once it passed"


@pytest.mark.usefixtures("midnight")
def test_the_deadline_in_english(member: Member) -> None:
    chat = member("alice", "板橋区")
    chat.say("通知設定")
    chat.press("English")
    chat.say("Events")
    assert "- Mon 7 Dec 13:00 保険証を残せ 12.7大集会 (日比谷野外音楽堂)" in chat.text.splitlines()
    assert "7 Dec 保険証を残せ 12.7大集会" in chat.labels()
    chat.open_event("12.7大集会")
    assert "Replies: until Thu 3 Dec" in chat.text.splitlines()
    chat.open_event("学習会")
    assert "Replies: until Wed 9 Dec 18:30" in chat.text.splitlines()


def test_a_deadline_with_a_time_keeps_its_time(member: Member) -> None:
    chat = member("alice", "板橋区")
    chat.open_event("学習会")
    assert "返事の受付: 12月9日(水) 18:30まで" in chat.text


@pytest.mark.parametrize(
    ("closes", "ja", "en"),
    [
        (at("2026-12-04"), "12月3日(木)", "Thu 3 Dec"),
        # Midnight in Tokyo given in UTC: the campaign's day counts.
        (datetime(2026, 12, 3, 15, 0, tzinfo=UTC), "12月3日(木)", "Thu 3 Dec"),
        (at("2026-12-04", "00:01"), "12月4日(金) 0:01", "Fri 4 Dec 0:01"),
        (at("2026-12-01"), "11月30日(月)", "Mon 30 Nov"),
    ],
)
def test_the_last_day_is_read_in_the_campaigns_time_zone(
    closes: datetime, ja: str, en: str
) -> None:
    assert last_day(CATALOGUES["ja"], closes, TOKYO) == ja
    assert last_day(CATALOGUES["en"], closes, TOKYO) == en


@pytest.mark.usefixtures("midnight")
def test_an_invitation_shows_the_deadline_as_the_card_does(
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
        plan_ahead=timedelta(days=30),
    ).plan_now()

    invitations = [
        message
        for row, message in rendered(database, conversation.screens, clock, "reminder")
        if row.reference.startswith("invitation")
    ]

    texts = [m.text for m in invitations if isinstance(m, Outgoing)]
    (rally,) = [text for text in texts if "12.7大集会" in text]
    assert "返事の受付: 12月3日(木)まで" in rally
    (study,) = [text for text in texts if "学習会" in text]
    assert "返事の受付: 12月9日(水) 18:30まで" in study
