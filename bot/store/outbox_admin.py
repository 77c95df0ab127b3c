"""The outbox as organisers see and correct it (`campaign-bot outbox`).

The dispatcher's side (claims, outcomes) is bot/store/deliveries.py; this module only counts,
lists, and moves rows an organiser named, each call one short transaction. A move locks the
named rows first (`lock_rows`), so a dispatcher claiming them at that moment either finishes
before (the row is then `sending` or `sent`, and refused) or waits until the move commits.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, func, literal, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.services.outbox_admin import Entry, Found, Reason, Tally
from bot.store.dialect import lock_rows
from bot.store.repositories import SqlAuditLog, members
from bot.store.tables import DeliveryRow

deliveries = cast(Table, DeliveryRow.__table__)

_REASON_CHARS = 120
"""Errors are grouped by their start: the tail often holds details that differ every time."""
_FORGOTTEN: dict[str, Any] = {}


def _reason_column() -> Any:
    d = deliveries.c
    return func.substr(func.coalesce(d.skip_reason, d.last_error), 1, _REASON_CHARS)


class SqlOutboxAdmin:
    """The `OutboxAdminStore` port on SQLAlchemy; each method commits its own transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def tally(self, now: datetime, *, states: Collection[str], reasons: int) -> Tally:
        d = deliveries.c
        wanted = d.state.in_(sorted(states))
        with self._sessions.begin() as session:
            counts = {
                (purpose, state): int(count)
                for purpose, state, count in session.execute(
                    select(d.purpose, d.state, func.count())
                    .where(wanted)
                    .group_by(d.purpose, d.state)
                )
            }
            reason = _reason_column().label("reason")
            grouped = session.execute(
                select(d.state, d.purpose, reason, func.count().label("n"))
                .where(wanted, reason.is_not(None))
                .group_by(d.state, d.purpose, reason)
                .order_by(func.count().desc(), d.state, d.purpose, reason)
            ).all()
            queued = session.execute(
                select(
                    func.min(d.due_at),
                    func.count().filter(d.due_at <= now),
                ).where(d.state == "queued")
            ).one()
        return Tally(
            counts=counts,
            reasons=[
                Reason(row.state, row.purpose, row.reason, int(row.n)) for row in grouped[:reasons]
            ],
            more_reasons=max(len(grouped) - reasons, 0),
            next_due=queued[0],
            due_now=int(queued[1] or 0),
        )

    def entries(
        self, *, states: Collection[str], purpose: str | None, limit: int
    ) -> tuple[list[Entry], int]:
        d, m = deliveries.c, members.c
        conditions: list[ColumnElement[bool]] = [d.state.in_(sorted(states))]
        if purpose is not None:
            conditions.append(d.purpose == purpose)
        with self._sessions.begin() as session:
            total = session.scalar(select(func.count()).select_from(deliveries).where(*conditions))
            rows = session.execute(
                select(
                    d.id,
                    d.purpose,
                    d.state,
                    d.due_at,
                    d.attempts,
                    func.coalesce(d.skip_reason, d.last_error).label("reason"),
                    d.member_id,
                    m.display_name,
                    m.channel,
                )
                .join(members, m.id == d.member_id)
                .where(*conditions)
                .order_by(d.due_at.desc(), d.id.desc())
                .limit(limit)
            ).all()
        return [
            Entry(
                id=row.id,
                purpose=row.purpose,
                state=row.state,
                due_at=row.due_at,
                attempts=row.attempts,
                reason=row.reason,
                member_id=row.member_id,
                member_name=row.display_name,
                channel=row.channel,
            )
            for row in rows
        ], int(total or 0)

    def _found(self, session: Session, ids: Collection[int]) -> dict[int, tuple[str, bool]]:
        """The named rows' states and whether their message is still kept, locked until
        commit."""
        d = deliveries.c
        lock_rows(session, deliveries, d.id.in_(sorted(ids)), touch=d.state)
        rows = session.execute(
            select(d.id, d.state, d.payload != literal(_FORGOTTEN, d.payload.type)).where(
                d.id.in_(sorted(ids))
            )
        ).all()
        return {row[0]: (row[1], bool(row[2])) for row in rows}

    def _move(
        self,
        ids: Collection[int],
        *,
        from_states: Collection[str],
        keep_message: bool,
        values: dict[str, Any],
        now: datetime,
        action: str,
        detail: dict[str, Any],
    ) -> dict[int, Found]:
        if not ids:
            return {}
        d = deliveries.c
        with self._sessions.begin() as session:
            found = self._found(session, ids)
            movable = sorted(
                delivery_id
                for delivery_id, (state, kept) in found.items()
                if state in from_states and (kept or not keep_message)
            )
            moved: set[int] = set()
            if movable:
                moved = set(
                    session.scalars(
                        update(deliveries)
                        .where(d.id.in_(movable), d.state.in_(sorted(from_states)))
                        .values(**values)
                        .returning(d.id)
                    )
                )
            if moved:
                SqlAuditLog(session).record(
                    None, action, {"deliveries": sorted(moved), **detail}, now
                )
        return {
            delivery_id: Found(state=state, changed=delivery_id in moved, message_kept=kept)
            for delivery_id, (state, kept) in found.items()
        }

    def requeue(
        self, ids: Collection[int], *, from_states: Collection[str], now: datetime, action: str
    ) -> dict[int, Found]:
        return self._move(
            ids,
            from_states=from_states,
            keep_message=True,
            values={
                "state": "queued",
                "due_at": now,
                "attempts": 0,
                "lease_until": None,
                "last_error": None,
                "skip_reason": None,
            },
            now=now,
            action=action,
            detail={},
        )

    def skip(
        self,
        ids: Collection[int],
        *,
        from_states: Collection[str],
        reason: str,
        now: datetime,
        action: str,
    ) -> dict[int, Found]:
        return self._move(
            ids,
            from_states=from_states,
            keep_message=False,
            values={"state": "skipped", "skip_reason": reason, "lease_until": None},
            now=now,
            action=action,
            detail={"reason": reason},
        )
