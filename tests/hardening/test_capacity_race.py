"""Hole 3: twenty members answer 参加 to an event with three seats at the same moment.

Each answer is its own thread and its own unit of work, as on a busy bot with several worker
threads (or processes); on SQLite `FOR UPDATE` is ignored, so the seat must be taken another
way. Whatever the database, never more than three people are going and the rest wait.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import delete, func, select

from bot.calendar.recurrence import expand
from bot.config import Settings
from bot.domain.calendar import Calendar
from bot.domain.events import RsvpStatus
from bot.domain.members import Member
from bot.domain.messages import Action, Incoming, MemberRef
from bot.services.calendar_sync import CalendarSync
from bot.services.conversation import Conversation
from bot.store.database import Database
from bot.store.tables import OccurrenceRow, RsvpRow
from bot.texts import Catalogues
from tests.events.conftest import RALLY
from tests.fakes.clock import FakeClock

MEMBERS = 20
ROUNDS = 50


def test_twenty_answers_at_once_never_take_more_than_three_seats(
    settings: Settings, database: Database, clock: FakeClock
) -> None:
    assert RALLY.capacity == 3
    CalendarSync(database.unit_of_work, clock, expand).sync(Calendar(events=(RALLY,)))
    conversation = Conversation(
        database.unit_of_work, settings.campaign(), Catalogues.load(), clock
    )
    refs = [MemberRef("console", f"m{i}") for i in range(MEMBERS)]
    with database.unit_of_work() as uow:
        for ref in refs:
            member, _ = uow.members.register(
                Member(ref.channel, ref.external_id, clock.now(), clock.now())
            )
            member.subscribe(clock.now())
            member.regions = {"tokyo"}
            uow.members.save(member)
        uow.commit()
    with database.session() as session:
        occurrence_id = session.scalars(select(OccurrenceRow.id)).one()
    press = Action("rsvp", (str(occurrence_id), RsvpStatus.GOING.value))
    apology = Catalogues.load()["ja"]("error.generic")

    over: list[tuple[int, int]] = []
    with ThreadPoolExecutor(MEMBERS) as pool:
        for round_number in range(ROUNDS):
            with database.session() as session:
                session.execute(delete(RsvpRow))
                session.commit()
            start = threading.Barrier(MEMBERS)

            def answer(ref: MemberRef, start: threading.Barrier = start) -> list[str]:
                start.wait()
                return [r.text for r in conversation.reply_to(Incoming(ref, action=press))]

            texts = [text for replies in pool.map(answer, refs) for text in replies]
            assert apology not in texts
            with database.session() as session:
                by_status = dict(
                    session.execute(
                        select(RsvpRow.status, func.sum(1 + RsvpRow.guests)).group_by(
                            RsvpRow.status
                        )
                    ).all()
                )
            going = int(by_status.get(RsvpStatus.GOING.value, 0))
            waiting = int(by_status.get(RsvpStatus.WAITLIST.value, 0))
            if going != 3 or waiting != MEMBERS - 3:
                over.append((round_number, going))
    assert over == [], f"rounds with other than 3 going: {over}"
