"""Reminders planned into the outbox from the stored calendar and answers, then sent fresh:
re-planned at once on a change, each (member, occurrence, kind) once. SQLite and PostgreSQL,
on an injected clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.config import Settings, reminder_book
from bot.delivery.dispatcher import Dispatcher
from bot.domain.messages import Outgoing
from bot.services.calendar_sync import CalendarSync
from bot.services.conversation import Conversation
from bot.services.deliveries import DeliveryContent
from bot.services.reminders import ReminderPlanner
from bot.store.database import Database
from bot.store.deliveries import SqlDeliveryQueue
from bot.store.tables import DeliveryRow
from tests.delivery.fakes import FakeMessenger, direct
from tests.dialogs.chat import Chat
from tests.events.conftest import CALENDAR, RALLY, TOKYO, at, called_off
from tests.fakes.clock import FakeClock
from tests.outbox_text import rendered

Member = Callable[..., Chat]


@pytest.fixture
def planner(settings: Settings, database: Database, clock: FakeClock) -> ReminderPlanner:
    return ReminderPlanner(
        database.unit_of_work,
        settings.campaign(),
        reminder_book(settings.config.reminders, TOKYO),
        clock,
        plan_ahead=timedelta(days=30),
    )


def reminders(database: Database) -> dict[str, tuple[str, str | None, str]]:
    """reference -> (state, skip reason, due in Tokyo time) of every planned reminder."""
    with database.session() as session:
        rows = session.scalars(select(DeliveryRow).where(DeliveryRow.purpose == "reminder"))
        return {
            f"{row.member_id}:{row.reference}": (
                row.state,
                row.skip_reason,
                f"{row.due_at.astimezone(TOKYO):%m-%d %H:%M}",
            )
            for row in rows
        }


def rally_answer(chat: Chat, button: str) -> None:
    chat.say("予定")
    chat.press(button, on="12.7大集会")
    if "何人" in chat.text:
        chat.press("ひとりで行く")


def test_going_is_reminded_the_day_before_and_on_the_day_and_re_planned_on_change(
    member: Member,
    planner: ReminderPlanner,
    database: Database,
    calendar_sync: CalendarSync,
) -> None:
    ayako = member("ayako", "豊島区")
    rally_answer(ayako, "参加する")

    planner.plan_now()
    mine = {k: v for k, v in reminders(database).items() if "day" in k}
    assert sorted(mine.values()) == [
        ("queued", None, "12-06 10:00"),
        ("queued", None, "12-07 11:00"),
    ]

    rally_answer(ayako, "行けない")
    planner.plan_now()
    assert {v[:2] for k, v in reminders(database).items() if "day" in k} == {
        ("skipped", "rsvp changed")
    }

    rally_answer(ayako, "参加する")  # changed her mind again: the same rows, wanted again
    planner.plan_now()
    assert sorted(v for k, v in reminders(database).items() if "day" in k) == sorted(mine.values())

    calendar_sync.sync(CALENDAR.__class__(events=(called_off(RALLY, "雨天"), *CALENDAR.events[1:])))
    planner.plan_now()
    assert {v[:2] for k, v in reminders(database).items() if "day" in k} == {
        ("skipped", "event cancelled")
    }


def test_planning_twice_changes_nothing(
    member: Member, planner: ReminderPlanner, database: Database
) -> None:
    rally_answer(member("ayako", "豊島区"), "参加する")
    member("bunta", "板橋区")
    first = planner.plan_now()
    before = reminders(database)

    again = planner.plan_now()

    assert first.queued > 0
    assert (again.queued, again.moved, again.revived, again.skipped) == (0, 0, 0, None)
    assert reminders(database) == before


def test_members_who_stopped_notices_get_nothing_planned(
    member: Member, planner: ReminderPlanner, database: Database
) -> None:
    ayako = member("ayako", "豊島区")
    rally_answer(ayako, "参加する")
    planner.plan_now()
    ayako.say("配信停止")

    planner.plan_now()

    assert {v[:2] for v in reminders(database).values()} == {("skipped", "notices stopped")}


async def test_the_day_before_reminder_goes_out_fresh_with_its_buttons(
    member: Member,
    planner: ReminderPlanner,
    database: Database,
    conversation: Conversation,
    clock: FakeClock,
) -> None:
    ayako = member("ayako", "豊島区")
    rally_answer(ayako, "参加する")
    planner.plan_now()
    messenger = FakeMessenger()
    dispatcher = Dispatcher(
        SqlDeliveryQueue(database.sessions),
        {"console": messenger},
        clock,
        run_blocking=direct,
        renderer=DeliveryContent(database.unit_of_work, conversation.screens, clock),
    )

    clock.set(at("2026-12-06", "10:00"))
    (day_before,) = [
        message
        for row, message in rendered(database, conversation.screens, clock, "reminder")
        if row.reference.startswith("day_before")
    ]
    while (await dispatcher.run_once()).claimed:
        pass

    assert isinstance(day_before, Outgoing)
    assert [b.label for row in day_before.buttons for b in row] == ["行けなくなった"]
    (sent,) = [text for text in messenger.texts("ayako") if "明日は" in text]
    assert "明日は「保険証を残せ 12.7大集会」です" in sent
    assert "日比谷野外音楽堂" in sent
