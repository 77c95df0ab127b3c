"""Members' turns across processes: one at a time per member, each platform event once."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, delete
from sqlalchemy.orm import Session

from bot.store.dialect import insert_ignoring_conflicts, lock_member_turn
from bot.store.tables import WebhookEventRow

webhook_events = cast(Table, WebhookEventRow.__table__)


class SqlTurns:
    """`Turns` on the database, inside the unit of work's transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def lock_member(self, channel: str, external_id: str) -> None:
        lock_member_turn(self._session, channel, external_id)

    def first_delivery(self, channel: str, event_id: str, at: datetime) -> bool:
        dialect = self._session.get_bind().dialect.name
        inserted = self._session.execute(
            insert_ignoring_conflicts(
                dialect,
                WebhookEventRow,
                {"channel": channel, "event_id": event_id, "received_at": at},
                ["channel", "event_id"],
            ).returning(webhook_events.c.event_id)
        ).scalar_one_or_none()
        return inserted is not None

    def forget_events(self, before: datetime) -> int:
        result = self._session.execute(
            delete(webhook_events).where(webhook_events.c.received_at < before)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]  # a CursorResult
