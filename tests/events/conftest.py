"""A small calendar built in code, synced into the test database at a fixed moment."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.calendar.recurrence import expand
from bot.config import Settings
from bot.delivery.dispatcher import Dispatcher
from bot.domain.calendar import Calendar, EventKind, EventSpec, Venue
from bot.domain.members import Member
from bot.domain.messages import MemberRef
from bot.services.calendar_sync import CalendarSync
from bot.services.conversation import Conversation
from bot.services.deliveries import DeliveryContent
from bot.store.database import Database
from bot.store.deliveries import SqlDeliveryQueue
from bot.store.tables import DeliveryRow, EventRow, OccurrenceRow
from bot.texts import Catalogues
from tests.delivery.fakes import FakeMessenger, direct
from tests.dialogs.chat import Chat
from tests.fakes.clock import FakeClock

TOKYO = ZoneInfo("Asia/Tokyo")


def at(day: str, time: str = "00:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=TOKYO)


HIBIYA = Venue(
    "日比谷野外音楽堂",
    "東京都千代田区日比谷公園1-5",
    "https://www.google.com/maps/search/?api=1&query=%E6%97%A5%E6%AF%94%E8%B0%B7",
)
SUGAMO = Venue("巣鴨駅前", "東京都豊島区巣鴨一丁目")

RALLY = EventSpec(
    slug="rally-1207",
    source="tokyo.yaml",
    title="保険証を残せ 12.7大集会",
    kind=EventKind.RALLY,
    starts_at=at("2026-12-07", "13:00"),
    ends_at=at("2026-12-07", "15:00"),
    regions=frozenset({"tokyo"}),
    venue=HIBIYA,
    capacity=3,
    organiser="東京社保協",
    contact="東京社保協 03-0000-0000",
)
SUGAMO_4 = EventSpec(
    slug="sugamo-4nohi",
    source="toshima.yaml",
    title="4の日 巣鴨駅宣伝",
    kind=EventKind.STREET,
    starts_at=at("2026-12-04", "12:00"),
    ends_at=at("2026-12-04", "13:00"),
    regions=frozenset({"toshima"}),
    venue=SUGAMO,
    rrule="FREQ=MONTHLY;BYMONTHDAY=4,14,24",
)
STUDY = EventSpec(
    slug="itabashi-study-1210",
    source="itabashi.yaml",
    title="マイナ保険証 学習会",
    kind=EventKind.STUDY,
    starts_at=at("2026-12-10", "18:30"),
    ends_at=at("2026-12-10", "20:30"),
    regions=frozenset({"itabashi"}),
    venue=Venue("板橋区立グリーンホール", "東京都板橋区栄町36-1"),
    rsvp_deadline_before=timedelta(days=1),
)
CALENDAR = Calendar(events=(RALLY, SUGAMO_4, STUDY))

ZOOM = "https://us02web.zoom.us/j/81234567890?pwd=%E3%81%82"
FORM = "https://example.org/form?name=%E5%90%8D%E5%89%8D"
# Not in CALENDAR: an online event whose description and note name web pages.
ONLINE = EventSpec(
    slug="online-study-1212",
    source="tokyo.yaml",
    title="オンライン学習会 マイナ保険証のいま",
    kind=EventKind.ONLINE,
    starts_at=at("2026-12-12", "19:00"),
    ends_at=at("2026-12-12", "20:30"),
    regions=frozenset({"tokyo"}),
    online_url=ZOOM,
    description=f"申し込みはこちら: {FORM}\n資料: https://example.org/slides.pdf。",
    note=f"会場でも見られます（{HIBIYA.map_url}）",
)


def with_changes(event: EventSpec, **changes: object) -> EventSpec:
    from dataclasses import replace

    return replace(event, **changes)  # type: ignore[arg-type]


def occurrence_id(database: Database, slug: str) -> int:
    """The id of the event's first stored occurrence."""
    with database.session() as session:
        return session.scalars(
            select(OccurrenceRow.id)
            .join(EventRow)
            .where(EventRow.slug == slug)
            .order_by(OccurrenceRow.starts_at)
            .limit(1)
        ).one()


def called_off(event: EventSpec, note: str) -> EventSpec:
    """What `cancelled: true` with a `note:` on the event makes of it."""
    return with_changes(event, cancelled=True, note=note)


@pytest.fixture
def conversation(settings: Settings, database: Database, clock: FakeClock) -> Conversation:
    return Conversation(database.unit_of_work, settings.campaign(), Catalogues.load(), clock)


@pytest.fixture
def calendar_sync(conversation: Conversation, database: Database, clock: FakeClock) -> CalendarSync:
    sync = CalendarSync(database.unit_of_work, clock, expand)
    sync.sync(CALENDAR)
    return sync


@pytest.fixture
def member(conversation: Conversation, calendar_sync: CalendarSync) -> Callable[..., Chat]:
    """A registered member with the given regions (and display name)."""

    def make(external_id: str, *regions: str, name: str | None = None) -> Chat:
        chat = Chat(conversation, MemberRef("console", external_id, display_name=name))
        chat.say("/start")
        chat.press("はい、受け取ります")
        for region in regions:
            chat.press(region)
        chat.press("決定")
        return chat

    return make


@pytest.fixture
def stored(database: Database) -> Callable[[str], Member]:
    def read(external_id: str) -> Member:
        with database.unit_of_work() as uow:
            found = uow.members.get("console", external_id)
        assert found is not None
        return found

    return read


@dataclass
class Outbox:
    """The real dispatcher and renderer, sending to a recording messenger on the console."""

    dispatcher: Dispatcher
    messenger: FakeMessenger
    database: Database

    async def send(self) -> list[tuple[str, str]]:
        """Send everything due; (member's chat id, text) of what went out this time."""
        before = len(self.messenger.sent)
        while (await self.dispatcher.run_once()).claimed:
            pass
        return [(s.external_id, s.text) for s in self.messenger.sent[before:]]

    def skipped(self) -> list[str | None]:
        with self.database.session() as session:
            rows = session.scalars(
                select(DeliveryRow).where(DeliveryRow.state == "skipped").order_by(DeliveryRow.id)
            )
            return [row.skip_reason for row in rows]


@pytest.fixture
def outbox(database: Database, conversation: Conversation, clock: FakeClock) -> Outbox:
    messenger = FakeMessenger()
    dispatcher = Dispatcher(
        SqlDeliveryQueue(database.sessions),
        {"console": messenger},
        clock,
        run_blocking=direct,
        renderer=DeliveryContent(database.unit_of_work, conversation.screens, clock),
    )
    return Outbox(dispatcher, messenger, database)
