"""The outbox: deliveries written in the same transaction as the change that caused them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.domain.members import Member
from bot.domain.messages import Outgoing
from bot.store.dialect import insert_ignoring_conflicts
from bot.store.tables import DeliveryRow


class SqlOutbox:
    def __init__(self, session: Session) -> None:
        self._session = session
        self.enqueued = False  # something new to send once this transaction commits

    def enqueue(
        self,
        purpose: str,
        reference: str,
        member: Member,
        message: Outgoing,
        due_at: datetime,
        *,
        now: datetime | None = None,
    ) -> bool:
        if member.id is None:
            raise ValueError("only stored members can be sent messages")
        statement = insert_ignoring_conflicts(
            self._session.get_bind().dialect.name,
            DeliveryRow,
            {
                "purpose": purpose,
                "reference": reference,
                "member_id": member.id,
                "payload": message.to_payload(),
                "state": "queued",
                "due_at": due_at,
                "attempts": 0,
                "created_at": now or due_at,
            },
            ["purpose", "reference", "member_id"],
        ).returning(DeliveryRow.id)
        inserted = self._session.execute(statement).scalar_one_or_none() is not None
        self.enqueued = self.enqueued or inserted
        return inserted
