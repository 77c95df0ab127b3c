"""Broadcasts as stored, their fan-out into the outbox, and their progress counted from it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, case, func, select, update
from sqlalchemy.orm import Session

from bot.delivery.policy import SKIP_NO_CONSENT, SKIP_UNREACHABLE, SKIP_UNSUBSCRIBED
from bot.domain.broadcasts import (
    OPEN_STATUSES,
    PART_SPACING,
    SKIP_CANCELLED,
    Broadcast,
    BroadcastStatus,
    Progress,
    Reach,
    Target,
)
from bot.domain.deliveries import BROADCAST, BROADCAST_PROGRESS, REMINDER, About, Lane
from bot.domain.members import Subscription
from bot.domain.ports import NewBroadcast
from bot.store.outbox import (
    SqlOutbox,
    about_values,
    audience_condition,
    deliveries,
    fan_out,
    membership,
)
from bot.store.repositories import members
from bot.store.tables import BroadcastRow

broadcasts = cast(Table, BroadcastRow.__table__)


def reference(broadcast_id: int, part: int) -> str:
    return f"broadcast:{broadcast_id}:{part}"


class SqlBroadcasts:
    def __init__(self, session: Session, outbox: SqlOutbox) -> None:
        self._session = session
        self._outbox = outbox

    def reach(self, target: Target) -> Reach:
        m = members.c
        stopped = m.subscription != Subscription.SUBSCRIBED.value
        unreachable = m.unreachable_at.is_not(None)
        # One row per channel: the recipients on LINE are what its monthly quota counts.
        rows = self._session.execute(
            select(
                m.channel,
                func.count().label("total"),
                func.coalesce(func.sum(case((unreachable, 1), else_=0)), 0).label("unreachable"),
                func.coalesce(func.sum(case((and_(~unreachable, stopped), 1), else_=0)), 0).label(
                    "stopped"
                ),
            )
            .where(*membership(target.audience()) or [m.id.is_not(None)])
            .group_by(m.channel)
        ).all()
        by_channel = {
            str(row.channel): int(row.total) - int(row.stopped) - int(row.unreachable)
            for row in rows
        }
        return Reach(
            recipients=sum(by_channel.values()),
            stopped=sum(int(row.stopped) for row in rows),
            unreachable=sum(int(row.unreachable) for row in rows),
            by_channel={channel: count for channel, count in by_channel.items() if count},
        )

    def create(self, new: NewBroadcast) -> Broadcast:
        values: dict[str, Any] = {
            "author_member_id": new.author.id if new.author else None,
            "author_label": new.author_label[:100],
            "channel": None,
            "audience": {"target": new.target.encode()},
            "text": new.text,
            "status": (
                BroadcastStatus.SCHEDULED
                if new.send_at > new.created_at
                else BroadcastStatus.SENDING
            ).value,
            "recipients": 0,
            "urgent": new.urgent,
            "occurrence_id": new.occurrence_id,
            "parts": len(new.parts),
            "created_at": new.created_at,
            "send_at": new.send_at,
        }
        broadcast_id = self._session.execute(
            broadcasts.insert().values(**values).returning(broadcasts.c.id)
        ).scalar_one()
        condition = audience_condition(new.target.audience(), purpose=BROADCAST)
        recipients = 0
        for part in range(len(new.parts)):
            constants = {
                "purpose": BROADCAST,
                "reference": reference(broadcast_id, part),
                "lane": int(Lane.BULK),
                **about_values(About(broadcast_id=broadcast_id)),
                "state": "queued",
                "due_at": new.send_at + part * PART_SPACING,
                "attempts": 0,
                "created_at": new.created_at,
            }
            payload = {"kind": BROADCAST, "part": part}
            queued = fan_out(self._session, condition, payload, constants)
            if part == 0:
                recipients = queued
        self._session.execute(
            update(broadcasts).where(broadcasts.c.id == broadcast_id).values(recipients=recipients)
        )
        # The dispatcher is woken when this commits, not at its next round.
        self._outbox.enqueued = self._outbox.enqueued or recipients > 0
        found = self.get(broadcast_id)
        assert found is not None
        return found

    def get(self, broadcast_id: int) -> Broadcast | None:
        row = self._session.execute(
            select(broadcasts).where(broadcasts.c.id == broadcast_id)
        ).first()
        return _broadcast(row) if row is not None else None

    def recent(self, limit: int) -> list[Broadcast]:
        rows = self._session.execute(
            select(broadcasts).order_by(broadcasts.c.id.desc()).limit(limit)
        )
        return [_broadcast(row) for row in rows]

    def open(self) -> list[Broadcast]:
        rows = self._session.execute(
            select(broadcasts)
            .where(broadcasts.c.status.in_(sorted(s.value for s in OPEN_STATUSES)))
            .order_by(broadcasts.c.id)
        )
        return [_broadcast(row) for row in rows]

    def progress(self, broadcast: Broadcast) -> Progress:
        """Counted on each member's last part: a member is sent when their whole copy is."""
        d = deliveries.c
        reason = d.skip_reason
        rows = self._session.execute(
            select(d.state, reason, func.count())
            .where(
                d.broadcast_id == broadcast.id,
                d.reference == reference(broadcast.id, broadcast.parts - 1),
            )
            .group_by(d.state, reason)
        ).all()
        counts: dict[str, int] = {}
        for state, why, number in rows:
            if state == "skipped":
                key = {
                    SKIP_UNREACHABLE: "skipped_unreachable",
                    SKIP_UNSUBSCRIBED: "skipped_stopped",
                    SKIP_NO_CONSENT: "skipped_stopped",
                    SKIP_CANCELLED: "skipped_cancelled",
                }.get(why or "", "skipped_other")
            else:
                key = {"sent": "sent", "failed": "failed"}.get(state, "waiting")
            counts[key] = counts.get(key, 0) + int(number)
        return Progress(recipients=broadcast.recipients, **counts)

    def set_status(self, broadcast_id: int, status: BroadcastStatus, now: datetime) -> bool:
        values: dict[str, Any] = {"status": status.value}
        if status is BroadcastStatus.CANCELLED:
            values["cancelled_at"] = now
        if status is BroadcastStatus.DONE:
            values["finished_at"] = now
        b = broadcasts.c
        changed = self._session.execute(
            update(broadcasts)
            .where(b.id == broadcast_id, b.status.in_(sorted(s.value for s in OPEN_STATUSES)))
            .values(**values)
            .returning(b.id)
        ).first()
        return changed is not None

    def skip_waiting(self, broadcast_id: int, reason: str) -> int:
        """Skip its rows still queued (every part, and the author's progress messages);
        returns how many members will not get it."""
        d = deliveries.c
        skipped = self._session.execute(
            update(deliveries)
            .where(d.broadcast_id == broadcast_id, d.state == "queued")
            .values(state="skipped", skip_reason=reason)
            .returning(d.member_id, d.purpose)
        )
        return len({member for member, purpose in skipped if purpose == BROADCAST})

    def progress_message(self, broadcast_id: int, member_id: int) -> str | None:
        d = deliveries.c
        return self._session.execute(
            select(d.channel_message_id)
            .where(
                d.broadcast_id == broadcast_id,
                d.member_id == member_id,
                d.purpose == BROADCAST_PROGRESS,
                d.state == "sent",
                d.channel_message_id.is_not(None),
            )
            .order_by(d.id)
            .limit(1)
        ).scalar_one_or_none()

    def progress_in_flight(self, broadcast_id: int, member_id: int, row_id: int) -> bool:
        d = deliveries.c
        found = self._session.execute(
            select(d.id)
            .where(
                d.broadcast_id == broadcast_id,
                d.member_id == member_id,
                d.purpose == BROADCAST_PROGRESS,
                d.id < row_id,
                d.state.in_(["queued", "sending"]),
            )
            .limit(1)
        ).first()
        return found is not None

    def skip_reminders_of(self, occurrence_id: int, reason: str) -> int:
        d = deliveries.c
        skipped = self._session.execute(
            update(deliveries)
            .where(d.occurrence_id == occurrence_id, d.purpose == REMINDER, d.state == "queued")
            .values(state="skipped", skip_reason=reason)
            .returning(d.id)
        )
        return len(skipped.all())


def _broadcast(row: Any) -> Broadcast:
    return Broadcast(
        id=row.id,
        author=row.author_label,
        author_member_id=row.author_member_id,
        target=Target.parse(row.audience.get("target", "all")),
        text=row.text,
        status=BroadcastStatus(row.status),
        urgent=bool(row.urgent),
        send_at=row.send_at,
        created_at=row.created_at,
        recipients=row.recipients,
        parts=row.parts,
        occurrence_id=row.occurrence_id,
        cancelled_at=row.cancelled_at,
        finished_at=row.finished_at,
    )
