"""The frugal LINE policy through the planner and the outbox, on SQLite and PostgreSQL: a kind
taken out for LINE is skipped with its reason at the next planning, Telegram members keep
theirs, the dry run shows it, and allowing the kind again brings back the same rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.calendar.recurrence import expand
from bot.config import RemindersConfig, Settings, reminder_book
from bot.domain.events import Rsvp, RsvpStatus
from bot.domain.members import Member
from bot.domain.reminders import SKIP_CHANNEL
from bot.services.calendar_sync import CalendarSync
from bot.services.reminders import ReminderPlanner
from bot.store.database import Database
from bot.store.tables import DeliveryRow
from tests.events.conftest import CALENDAR, RALLY, TOKYO, occurrence_id
from tests.fakes.clock import FakeClock

FRUGAL = RemindersConfig.model_validate({"channels": {"line": {"kinds": ["day_before", "digest"]}}})


@pytest.fixture
def members(database: Database, clock: FakeClock) -> dict[str, int]:
    """Four members of 豊島区 (the rally is Tokyo-wide, the 4の日 action in 豊島区): on
    Telegram and on LINE, one of each going to the rally, one of each without an answer."""
    CalendarSync(database.unit_of_work, clock, expand).sync(CALENDAR)
    rally = occurrence_id(database, RALLY.slug)
    now = clock.now()
    ids: dict[str, int] = {}
    with database.unit_of_work() as uow:
        for name, channel, going in (
            ("tg-going", "telegram", True),
            ("line-going", "line", True),
            ("tg-quiet", "telegram", False),
            ("line-quiet", "line", False),
        ):
            stored, _ = uow.members.register(
                Member(channel, name, created_at=now, last_seen_at=now)
            )
            assert stored.id is not None
            stored.subscribe(now)
            stored.regions = {"toshima"}
            uow.members.save(stored)
            ids[name] = stored.id
            if going:
                uow.rsvps.save(Rsvp(rally, stored.id, RsvpStatus.GOING, 0, now, now))
        uow.commit()
    return ids


def planner(
    database: Database, settings: Settings, clock: FakeClock, reminders: RemindersConfig
) -> ReminderPlanner:
    return ReminderPlanner(
        database.unit_of_work,
        settings.campaign(),
        reminder_book(reminders, TOKYO),
        clock,
        plan_ahead=timedelta(days=30),
    )


def outbox(database: Database, member_id: int) -> dict[str, tuple[str, str | None]]:
    """The member's reminders: kind -> (state, skip reason)."""
    with database.session() as session:
        rows = session.scalars(
            select(DeliveryRow).where(
                DeliveryRow.purpose == "reminder", DeliveryRow.member_id == member_id
            )
        )
        return {row.reference.split(":")[0]: (row.state, row.skip_reason) for row in rows}


def test_a_kind_taken_out_for_line_is_skipped_with_its_reason_and_comes_back(
    database: Database, settings: Settings, clock: FakeClock, members: dict[str, int]
) -> None:
    planner(database, settings, clock, RemindersConfig()).plan_now()
    every = {
        "tg-going": {"day_before", "same_day", "digest"},
        "tg-quiet": {"invitation", "nudge", "digest"},
    }
    every |= {"line-going": every["tg-going"], "line-quiet": every["tg-quiet"]}
    for name, kinds in every.items():
        assert outbox(database, members[name]) == dict.fromkeys(kinds, ("queued", None)), name

    clock.advance(timedelta(minutes=5))
    applied = planner(database, settings, clock, FRUGAL).plan_now()
    assert applied.skipped == {SKIP_CHANNEL: 3}
    assert outbox(database, members["line-going"]) == {
        "day_before": ("queued", None),
        "same_day": ("skipped", SKIP_CHANNEL),
        "digest": ("queued", None),
    }
    assert outbox(database, members["line-quiet"]) == {
        "invitation": ("skipped", SKIP_CHANNEL),
        "nudge": ("skipped", SKIP_CHANNEL),
        "digest": ("queued", None),
    }
    for name in ("tg-going", "tg-quiet"):  # Telegram members keep everything
        assert outbox(database, members[name]) == dict.fromkeys(every[name], ("queued", None))

    before = outbox(database, members["line-going"])
    assert not planner(database, settings, clock, FRUGAL).plan_now().changed
    assert outbox(database, members["line-going"]) == before

    applied = planner(database, settings, clock, RemindersConfig()).plan_now()
    assert applied.revived == 3  # the same rows, wanted again: none is written twice
    for name, kinds in every.items():
        assert outbox(database, members[name]) == dict.fromkeys(kinds, ("queued", None)), name


def test_the_dry_run_shows_what_line_members_will_get(
    database: Database, settings: Settings, clock: FakeClock, members: dict[str, int]
) -> None:
    preview = planner(database, settings, clock, FRUGAL).preview(days=14)
    by_member: dict[int, set[str]] = {}
    for line in preview:
        by_member.setdefault(line.reminder.member_id, set()).add(line.reminder.kind.value)
    assert by_member[members["line-going"]] == {"day_before", "digest"}
    assert by_member[members["line-quiet"]] == {"digest"}
    assert by_member[members["tg-going"]] == {"day_before", "same_day", "digest"}
    assert by_member[members["tg-quiet"]] == {"invitation", "nudge", "digest"}
    with database.session() as session:  # nothing written
        assert session.scalars(select(DeliveryRow.id)).first() is None
