"""A member's messages are answered while ten thousand change notices are queued and sent.

Before the set-based fan-out, a change notifying thousands held the database's write lock for
longer than SQLite's busy timeout, and members writing then got the apology. SQLite and
PostgreSQL.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from bot.calendar.recurrence import expand
from bot.config import Settings
from bot.delivery.dispatcher import Dispatcher
from bot.delivery.pacing import Pacer
from bot.domain.members import Role, Subscription
from bot.domain.messages import MemberRef
from bot.services.calendar_sync import CalendarSync
from bot.services.conversation import Conversation
from bot.services.deliveries import DeliveryContent
from bot.store.database import Database
from bot.store.deliveries import SqlDeliveryQueue
from bot.store.tables import DeliveryRow, MemberRow, OccurrenceRow, RsvpRow
from bot.texts import Catalogues
from tests.delivery.fakes import FakeMessenger, direct
from tests.dialogs.chat import Chat
from tests.events.conftest import CALENDAR, STUDY, called_off
from tests.fakes.clock import FakeClock

AUDIENCE = 10_000
pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def ten_thousand_going(database: Database, occurrence_id: int, clock: FakeClock) -> None:
    now = clock.now()
    with database.engine.begin() as connection:
        connection.execute(
            insert(MemberRow),
            [
                {
                    "channel": "telegram",
                    "external_id": str(100_000 + n),
                    "display_name": f"会員{n}",
                    "language": "ja",
                    "role": Role.MEMBER.value,
                    "subscription": Subscription.SUBSCRIBED.value,
                    "consent_at": now,
                    "created_at": now,
                    "last_seen_at": now,
                }
                for n in range(AUDIENCE)
            ],
        )
        ids = connection.scalars(select(MemberRow.id).where(MemberRow.channel == "telegram")).all()
        connection.execute(
            insert(RsvpRow),
            [
                {
                    "occurrence_id": occurrence_id,
                    "member_id": member_id,
                    "status": "going",
                    "guests": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                for member_id in ids
            ],
        )


def test_members_are_answered_while_ten_thousand_notices_are_queued_and_sent(
    database: Database, settings: Settings, clock: FakeClock
) -> None:
    conversation = Conversation(
        database.unit_of_work, settings.campaign(), Catalogues.load(), clock
    )
    sync = CalendarSync(database.unit_of_work, clock, expand)
    sync.sync(CALENDAR)
    with database.session() as session:
        study = session.scalars(select(OccurrenceRow.id).order_by(OccurrenceRow.id)).all()[-1]
    ten_thousand_going(database, study, clock)
    alice = Chat(conversation, MemberRef("console", "alice"))
    alice.say("/start")
    alice.press("はい、受け取ります")
    alice.press("板橋区")
    alice.press("決定")

    messenger = FakeMessenger()
    dispatcher = Dispatcher(
        SqlDeliveryQueue(database.sessions),
        {"telegram": messenger},
        clock,
        run_blocking=direct,
        renderer=DeliveryContent(database.unit_of_work, conversation.screens, clock),
        pacers={"telegram": Pacer(per_second=1e6, per_chat_per_second=1e6)},
        batch=200,
    )
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    sending = threading.Thread(
        target=loop.run_until_complete, args=(dispatcher.run(stop, idle=0.05),)
    )
    reports = []
    fanning_out = threading.Thread(
        target=lambda: reports.append(
            sync.sync(CALENDAR.__class__(events=(*CALENDAR.events[:2], called_off(STUDY, "中止"))))
        )
    )

    sending.start()
    fanning_out.start()
    exchanges = []
    try:
        while fanning_out.is_alive() or len(messenger.sent) < 500:
            clock.advance(timedelta(seconds=1))
            exchanges.append(" ".join(r.text for r in alice.say("予定")))
            exchanges.append(" ".join(r.text for r in alice.say("保険証はいつまで使えますか")))
    finally:
        fanning_out.join()
        loop.call_soon_threadsafe(stop.set)
        sending.join()
        loop.close()

    assert reports[0].notices_queued == AUDIENCE
    assert len(messenger.sent) >= 500, "notices were going out while alice wrote"
    assert len(exchanges) >= 4
    assert all("申し訳ありません" not in text for text in exchanges), "never the apology"
    assert all(text.strip() for text in exchanges)
    with database.session() as session:
        queued = session.scalar(
            select(func.count())
            .select_from(DeliveryRow)
            .where(DeliveryRow.purpose == "event_change")
        )
    assert queued == AUDIENCE
