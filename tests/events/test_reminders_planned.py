"""Reminders planned into the outbox from the stored calendar and answers, then sent fresh:
re-planned at once on a change, each (member, occurrence, kind) once. SQLite and PostgreSQL,
on an injected clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.config import Settings, reminder_book
from bot.domain.deliveries import Later, Pending, message_payload
from bot.domain.messages import Outgoing
from bot.services.calendar_sync import CalendarSync
from bot.services.conversation import Conversation
from bot.services.deliveries import DeliveryContent
from bot.services.reminders import ReminderPlanner
from bot.store.database import Database
from bot.store.outbox import about_of
from bot.store.tables import DeliveryRow, EventRow, MemberRow, OccurrenceRow, RsvpRow
from tests.dialogs.chat import Chat
from tests.events.conftest import CALENDAR, RALLY, TOKYO, Outbox, at, called_off
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


def pending_of(row: DeliveryRow, session: Session) -> Pending:
    member = session.get(MemberRow, row.member_id)
    assert member is not None
    return Pending(
        id=row.id,
        purpose=row.purpose,
        reference=row.reference,
        member_id=row.member_id,
        language=member.language,
        role=member.role,
        payload=row.payload,
        about=about_of(row),
        due_at=row.due_at,
    )


def rally_answer(chat: Chat, button: str) -> None:
    chat.open_event("12.7大集会")
    chat.press(button)
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
    outbox: Outbox,
) -> None:
    ayako = member("ayako", "豊島区")
    rally_answer(ayako, "参加する")
    planner.plan_now()

    clock.set(at("2026-12-06", "10:00"))
    (day_before,) = [
        message
        for row, message in rendered(database, conversation.screens, clock, "reminder")
        if row.reference.startswith("day_before")
    ]
    await outbox.send()

    assert isinstance(day_before, Outgoing)
    assert [b.label for row in day_before.buttons for b in row] == ["行けなくなった"]
    (sent,) = [text for text in outbox.messenger.texts("ayako") if "明日は" in text]
    assert "明日は「保険証を残せ 12.7大集会」です" in sent
    assert "日比谷野外音楽堂" in sent


async def test_a_reminder_whose_occurrence_was_deleted_by_hand_is_skipped_not_sent(
    member: Member,
    planner: ReminderPlanner,
    database: Database,
    clock: FakeClock,
    outbox: Outbox,
) -> None:
    """The outbox refers to occurrences without a foreign key (migration 0011): a row whose
    occurrence is gone (deleted in the database by hand) is found out when it is due."""
    ayako = member("ayako", "豊島区")
    rally_answer(ayako, "参加する")
    planner.plan_now()
    occurrence = occurrence_of(database, "rally-1207")
    with database.sessions.begin() as session:
        session.execute(delete(RsvpRow).where(RsvpRow.occurrence_id == occurrence))
        session.execute(delete(OccurrenceRow).where(OccurrenceRow.id == occurrence))

    clock.set(at("2026-12-06", "10:00"))
    await outbox.send()

    (day_before,) = [
        state
        for reference, state in reminders(database).items()
        if reference.endswith(f":day_before:{occurrence}")
    ]
    assert day_before[:2] == ("skipped", "event gone")
    assert not [text for text in outbox.messenger.texts("ayako") if "明日は" in text]


def planned_for(database: Database, external_id: str) -> dict[str, tuple[str, str | None, str]]:
    """ "kind event-slug" (or the digest's reference) -> (state, skip reason, due in Tokyo
    time) of one member's reminders."""
    with database.session() as session:
        rows = session.execute(
            select(DeliveryRow, EventRow.slug)
            .join(MemberRow, MemberRow.id == DeliveryRow.member_id)
            .outerjoin(OccurrenceRow, OccurrenceRow.id == DeliveryRow.occurrence_id)
            .outerjoin(EventRow, EventRow.id == OccurrenceRow.event_id)
            .where(DeliveryRow.purpose == "reminder", MemberRow.external_id == external_id)
        ).all()
    return {
        (f"{row.reference.split(':')[0]} {slug}" if slug else row.reference): (
            row.state,
            row.skip_reason,
            f"{row.due_at.astimezone(TOKYO):%m-%d %H:%M}",
        )
        for row, slug in rows
    }


def test_members_without_an_answer_are_invited_once_and_nudged_once(
    member: Member, planner: ReminderPlanner, database: Database, clock: FakeClock
) -> None:
    bunta = member("bunta", "板橋区")  # the study meeting is 板橋区's; the rally is for all

    planner.plan_now()
    clock.advance(timedelta(hours=1))
    planner.plan_now()

    assert planned_for(database, "bunta") == {
        "invitation rally-1207": ("queued", None, "11-30 10:00"),
        "nudge rally-1207": ("queued", None, "12-04 10:00"),
        "invitation itabashi-study-1210": ("queued", None, "11-30 10:00"),
        "nudge itabashi-study-1210": ("queued", None, "12-07 10:00"),
    }

    bunta.open_event("マイナ保険証 学習会")
    bunta.press("参加する")
    planner.plan_now()

    mine = planned_for(database, "bunta")
    assert mine["nudge itabashi-study-1210"][:2] == ("skipped", "answered")
    assert mine["day_before itabashi-study-1210"] == ("queued", None, "12-09 10:00")
    assert mine["same_day itabashi-study-1210"] == ("queued", None, "12-10 16:30")


def test_rallies_only_hears_of_rallies_but_still_of_what_it_said_it_would_join(
    member: Member, planner: ReminderPlanner, database: Database
) -> None:
    chie = member("chie", "板橋区")
    chie.say("通知設定")
    chie.press("集会のお知らせだけにする")

    planner.plan_now()
    assert set(planned_for(database, "chie")) == {"invitation rally-1207", "nudge rally-1207"}

    chie.open_event("マイナ保険証 学習会")
    chie.press("参加する")
    planner.plan_now()
    assert {"day_before itabashi-study-1210", "same_day itabashi-study-1210"} <= set(
        planned_for(database, "chie")
    )


def test_recurring_street_actions_come_as_one_monthly_digest_with_a_button_per_date(
    member: Member,
    planner: ReminderPlanner,
    database: Database,
    conversation: Conversation,
    clock: FakeClock,
) -> None:
    member("dai", "豊島区")

    planner.plan_now()

    mine = planned_for(database, "dai")
    assert mine["digest:sugamo-4nohi:2026-12"] == ("queued", None, "12-01 10:00")
    assert not [key for key in mine if key.endswith("sugamo-4nohi")], "no invitation per date"

    clock.set(at("2026-12-01", "10:00"))
    (digest,) = [
        message
        for row, message in rendered(database, conversation.screens, clock, "reminder")
        if row.reference.startswith("digest")
    ]
    assert isinstance(digest, Outgoing)
    assert "【12月の「4の日 巣鴨駅宣伝」】" in digest.text
    labels = [button.label for row in digest.buttons for button in row]
    assert labels == ["12月4日(金) 参加", "12月14日(月) 参加", "12月24日(木) 参加"]


def test_a_full_day_moves_an_invitation_to_the_next_morning(
    member: Member, planner: ReminderPlanner, database: Database, clock: FakeClock
) -> None:
    member("emi", "板橋区")
    with database.unit_of_work() as uow:
        emi = uow.members.get("console", "emi")
        assert emi is not None
        for n in range(3):  # three announcements already today: the daily cap
            uow.outbox.enqueue(
                "broadcast",
                f"broadcast:{n}",
                emi,
                message_payload(Outgoing("お知らせ")),
                clock.now(),
            )
        uow.commit()

    planner.plan_now()

    mine = planned_for(database, "emi")
    assert mine["invitation rally-1207"] == ("queued", None, "12-01 08:00")
    assert mine["invitation itabashi-study-1210"] == ("queued", None, "12-01 08:00")


async def test_a_reminder_claimed_in_quiet_hours_waits_for_the_morning(
    member: Member,
    planner: ReminderPlanner,
    database: Database,
    conversation: Conversation,
    clock: FakeClock,
    settings: Settings,
) -> None:
    rally_answer(member("fumi", "豊島区"), "参加する")
    planner.plan_now()
    content = DeliveryContent(
        database.unit_of_work,
        conversation.screens,
        clock,
        quiet=reminder_book(settings.config.reminders, TOKYO).quiet,
    )

    clock.set(at("2026-12-05", "22:30"))  # the bot was down at 10:00; it is late now
    day_before = next(
        message
        for row, message in rendered(database, conversation.screens, clock, "reminder")
        if row.reference.startswith("day_before")
    )
    assert isinstance(day_before, Outgoing), "without quiet hours it would go at once"
    with database.session() as session:
        row = session.scalars(
            select(DeliveryRow).where(DeliveryRow.reference.like("day_before:%"))
        ).one()
        pending = pending_of(row, session)

    (later,) = content.render([pending]).values()

    assert later == Later(at("2026-12-06", "08:00"), "quiet hours")


def test_a_reminder_planned_as_new_that_exists_after_all_is_kept_not_fatal(
    member: Member,
    planner: ReminderPlanner,
    database: Database,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Under the planning lock new reminders go in as plain INSERTs; a row planning did not
    read (here: one whose occurrence link was lost) must not fail every run after."""
    ayako = member("ayako", "豊島区")
    rally_answer(ayako, "参加する")
    rally = occurrence_of(database, RALLY.slug)
    with database.session() as session:
        ayako_id = session.scalar(select(MemberRow.id).where(MemberRow.external_id == "ayako"))
        session.add(
            DeliveryRow(
                purpose="reminder",
                reference=f"day_before:{rally}",
                member_id=ayako_id,
                payload={"kind": "reminder", "reminder": "day_before"},
                lane=2,
                occurrence_id=None,
                state="sent",
                due_at=clock.now() - timedelta(days=90),
                attempts=1,
                created_at=clock.now() - timedelta(days=90),
            )
        )
        session.commit()

    applied = planner.plan_now()

    assert applied.queued >= 1, "the other reminders are still planned"
    with database.session() as session:
        rows = session.scalars(
            select(DeliveryRow).where(DeliveryRow.reference == f"day_before:{rally}")
        ).all()
    assert [row.state for row in rows] == ["sent"], "kept, not sent twice"
    if database.url.get_backend_name() == "postgresql":  # the plain INSERT, under the lock
        assert "was in the outbox already" in caplog.text


def occurrence_of(database: Database, slug: str) -> int:
    with database.session() as session:
        return int(
            session.scalars(
                select(OccurrenceRow.id).join(EventRow).where(EventRow.slug == slug)
            ).first()
            or 0
        )
