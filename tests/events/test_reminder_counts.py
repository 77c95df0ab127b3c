"""参加状況 of one event tells organisers how many reminders went out and who then said 行けない."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import update

from bot.domain.deliveries import EVENT_CHANGE, REMINDER, About
from bot.domain.events import ReminderCounts
from bot.domain.members import Member
from bot.store.database import Database
from bot.store.tables import DeliveryRow
from tests.dialogs.chat import Chat
from tests.events.conftest import occurrence_id
from tests.fakes.clock import FakeClock


def delivered(
    database: Database,
    stored: Member,
    occurrence: int,
    reference: str,
    *,
    state: str = "sent",
    sent_at: object = None,
    purpose: str = REMINDER,
) -> None:
    """A reminder for `occurrence` to `stored`, in `state` (sent at `sent_at`)."""
    with database.unit_of_work() as uow:
        uow.outbox.enqueue(
            purpose,
            f"{reference}:{occurrence}",
            stored,
            {"kind": purpose},
            stored.created_at,
            about=About(occurrence_id=occurrence),
        )
        uow.commit()
    with database.session() as session:
        session.execute(
            update(DeliveryRow)
            .where(
                DeliveryRow.member_id == stored.id,
                DeliveryRow.reference == f"{reference}:{occurrence}",
            )
            .values(state=state, sent_at=sent_at)
        )
        session.commit()


def counts(database: Database, occurrence: int) -> ReminderCounts:
    with database.unit_of_work() as uow:
        return uow.rsvps.reminder_counts(occurrence)


def test_reminders_sent_and_the_members_who_said_no_after_theirs(
    member: Callable[..., Chat],
    stored: Callable[[str], Member],
    database: Database,
    clock: FakeClock,
) -> None:
    rally = occurrence_id(database, "rally-1207")
    study = occurrence_id(database, "itabashi-study-1210")
    chats = {name: member(name, "板橋区", name=name) for name in ("alice", "bob", "carol", "dave")}
    for chat in chats.values():
        chat.open_event("12.7大集会")
        chat.press("参加する")
    # bob said no before any reminder reached him: the reminder did not cause it.
    chats["bob"].open_event("12.7大集会")
    chats["bob"].press("行けない")
    people = {name: stored(name) for name in chats}
    assert counts(database, rally) == ReminderCounts(0, 0, 0)

    clock.advance(timedelta(hours=1))
    first = clock.now()
    delivered(database, people["alice"], rally, "day_before", sent_at=first)
    delivered(database, people["bob"], rally, "day_before", sent_at=first)
    delivered(database, people["carol"], rally, "day_before", sent_at=first)
    # Not reminders of the rally that went out: queued, failed, skipped, another event's,
    # another purpose.
    delivered(database, people["dave"], rally, "day_before", state="queued")
    delivered(database, people["dave"], rally, "same_day", state="failed")
    delivered(database, people["alice"], rally, "nudge", state="skipped")
    delivered(database, people["dave"], study, "invitation", sent_at=first)
    delivered(database, people["dave"], rally, "change", sent_at=first, purpose=EVENT_CHANGE)

    clock.advance(timedelta(hours=1))
    chats["alice"].open_event("12.7大集会")
    chats["alice"].press("行けない")  # after her reminder: counted
    clock.advance(timedelta(hours=1))
    delivered(database, people["alice"], rally, "same_day", sent_at=clock.now())

    assert counts(database, rally) == ReminderCounts(sent=4, members=3, declined=1)
    assert counts(database, study) == ReminderCounts(sent=1, members=1, declined=0)

    organiser = member("console-organiser", "都全体")
    organiser.say("参加状況")
    organiser.press(next(label for label in organiser.labels() if "12.7大集会" in label))
    assert "不参加: 2人" in organiser.text
    assert "自動のお知らせ: 4通（3人）／そのあと「行けなくなった」: 1人" in organiser.text

    organiser.say("参加状況")
    organiser.press(next(label for label in organiser.labels() if "4の日" in label))
    assert "自動のお知らせ: まだ送っていません" in organiser.text
