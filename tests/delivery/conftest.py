"""Members and outbox rows made directly through the store, and the queue under test."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.domain.deliveries import message_payload
from bot.domain.members import Member, Subscription
from bot.domain.messages import Outgoing
from bot.store.database import Database
from bot.store.deliveries import SqlDeliveryQueue
from bot.store.tables import DeliveryRow, MemberRow
from tests.fakes.clock import FakeClock

LEASE = timedelta(minutes=5)


@pytest.fixture
def queue(database: Database) -> SqlDeliveryQueue:
    return SqlDeliveryQueue(database.sessions)


@dataclass
class Outbox:
    """Writes members and deliveries the way the services do: through a unit of work."""

    database: Database
    clock: FakeClock

    def member(
        self,
        external_id: str,
        *,
        channel: str = "telegram",
        subscription: Subscription = Subscription.SUBSCRIBED,
        unreachable: bool = False,
    ) -> Member:
        now = self.clock.now()
        member = Member(channel, external_id, created_at=now, last_seen_at=now)
        if subscription is Subscription.SUBSCRIBED:
            member.subscribe(now)
        elif subscription is Subscription.UNSUBSCRIBED:
            member.unsubscribe(now)
        if unreachable:
            member.mark_unreachable(now, "Forbidden: bot was blocked by the user")
        with self.database.unit_of_work() as uow:
            stored, _ = uow.members.register(member)
            uow.commit()
        return stored

    def enqueue(
        self,
        member: Member,
        text: str,
        *,
        purpose: str = "broadcast",
        reference: str | None = None,
        due_at: datetime | None = None,
        message: Outgoing | None = None,
    ) -> int:
        """Queue `text` (or `message`) for `member`; returns the row's id."""
        with self.database.unit_of_work() as uow:
            uow.outbox.enqueue(
                purpose,
                reference or text,
                member,
                message_payload(message or Outgoing(text)),
                due_at or self.clock.now(),
            )
            uow.commit()
        rows = [r for r in self.rows() if r.member_id == member.id]
        return max(r.id for r in rows if r.reference == (reference or text))

    def broadcast(self, external_ids: list[str], text: str) -> None:
        """One subscribed member per id and `text` queued for each, in one transaction."""
        now = self.clock.now()
        with self.database.unit_of_work() as uow:
            for external_id in external_ids:
                member = Member("telegram", external_id, created_at=now, last_seen_at=now)
                member.subscribe(now)
                stored, _ = uow.members.register(member)
                uow.outbox.enqueue(
                    "broadcast", "broadcast:1", stored, message_payload(Outgoing(text)), now
                )
            uow.commit()

    def rows(self) -> list[DeliveryRow]:
        with self.database.session() as session:
            return list(session.scalars(select(DeliveryRow).order_by(DeliveryRow.id)))

    def row(self, delivery_id: int) -> DeliveryRow:
        with self.database.session() as session:
            row = session.get(DeliveryRow, delivery_id)
            assert row is not None
            return row

    def states(self) -> dict[int, str]:
        return {row.id: row.state for row in self.rows()}

    def stored_member(self, member: Member) -> MemberRow:
        with self.database.session() as session:
            row = session.get(MemberRow, member.id)
            assert row is not None
            return row


@pytest.fixture
def outbox(database: Database, clock: FakeClock) -> Outbox:
    return Outbox(database, clock)
