"""Members' answers to occurrences."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, and_, case, func, select
from sqlalchemy.orm import Session

from bot.domain.deliveries import REMINDER
from bot.domain.events import Attendee, ReminderCounts, Rsvp, RsvpCounts, RsvpStatus
from bot.store.calendar import events, occurrences
from bot.store.repositories import SqlMemberRepository, members
from bot.store.tables import DeliveryRow, RsvpRow

rsvps = cast(Table, RsvpRow.__table__)
deliveries = cast(Table, DeliveryRow.__table__)
# Answers of people who may turn up: they hear about changes.
_EXPECTED = [RsvpStatus.GOING.value, RsvpStatus.MAYBE.value, RsvpStatus.WAITLIST.value]


def _rsvp(row: Row[Any]) -> Rsvp:
    return Rsvp(
        id=row.id,
        occurrence_id=row.occurrence_id,
        member_id=row.member_id,
        status=RsvpStatus(row.status),
        guests=row.guests,
        created_at=row.created_at,
        updated_at=row.updated_at,
        waitlisted_at=row.waitlisted_at,
    )


class SqlRsvpRepository:
    def __init__(self, session: Session, members_repository: SqlMemberRepository) -> None:
        self.changed = False  # an answer was saved in this transaction
        self._session = session
        self._members = members_repository

    def get(self, occurrence_id: int, member_id: int) -> Rsvp | None:
        row = self._session.execute(
            select(rsvps).where(
                rsvps.c.occurrence_id == occurrence_id, rsvps.c.member_id == member_id
            )
        ).first()
        return _rsvp(row) if row else None

    def save(self, rsvp: Rsvp) -> None:
        self.changed = True
        values = {
            "status": rsvp.status.value,
            "guests": rsvp.guests,
            "updated_at": rsvp.updated_at,
            "waitlisted_at": rsvp.waitlisted_at,
        }
        if rsvp.id is None:
            rsvp.id = self._session.execute(
                rsvps.insert()
                .values(
                    occurrence_id=rsvp.occurrence_id,
                    member_id=rsvp.member_id,
                    created_at=rsvp.created_at,
                    **values,
                )
                .returning(rsvps.c.id)
            ).scalar_one()
        else:
            self._session.execute(rsvps.update().where(rsvps.c.id == rsvp.id).values(**values))

    def counts(self, occurrence_id: int) -> RsvpCounts:
        rows = self._session.execute(
            select(rsvps.c.status, func.count(), func.coalesce(func.sum(rsvps.c.guests), 0))
            .where(rsvps.c.occurrence_id == occurrence_id)
            .group_by(rsvps.c.status)
        ).all()
        by_status = {status: (int(count), int(guests)) for status, count, guests in rows}
        going, guests = by_status.get(RsvpStatus.GOING.value, (0, 0))
        return RsvpCounts(
            going=going,
            guests=guests,
            maybe=by_status.get(RsvpStatus.MAYBE.value, (0, 0))[0],
            no=by_status.get(RsvpStatus.NO.value, (0, 0))[0],
            waitlist=by_status.get(RsvpStatus.WAITLIST.value, (0, 0))[0],
        )

    def of_member(self, member_id: int, occurrence_ids: list[int]) -> dict[int, Rsvp]:
        if not occurrence_ids:
            return {}
        rows = self._session.execute(
            select(rsvps).where(
                rsvps.c.member_id == member_id, rsvps.c.occurrence_id.in_(occurrence_ids)
            )
        )
        return {row.occurrence_id: _rsvp(row) for row in rows}

    def waitlist(self, occurrence_id: int) -> list[Rsvp]:
        rows = self._session.execute(
            select(rsvps)
            .where(
                rsvps.c.occurrence_id == occurrence_id,
                rsvps.c.status == RsvpStatus.WAITLIST.value,
            )
            .order_by(rsvps.c.waitlisted_at, rsvps.c.id)
        )
        return [_rsvp(row) for row in rows]

    def attendees(self, occurrence_id: int) -> list[Attendee]:
        rows = self._session.execute(
            select(
                rsvps.c.member_id,
                members.c.display_name,
                members.c.channel,
                rsvps.c.status,
                rsvps.c.guests,
                rsvps.c.updated_at,
                rsvps.c.waitlisted_at,
                members.c.unreachable_at,
            )
            .join(members, members.c.id == rsvps.c.member_id)
            .where(rsvps.c.occurrence_id == occurrence_id)
            .order_by(rsvps.c.status, rsvps.c.waitlisted_at, rsvps.c.updated_at, rsvps.c.id)
        )
        return [
            Attendee(
                member_id=r.member_id,
                display_name=r.display_name,
                channel=r.channel,
                status=RsvpStatus(r.status),
                guests=r.guests,
                updated_at=r.updated_at,
                waitlisted_at=r.waitlisted_at,
                unreachable=r.unreachable_at is not None,
            )
            for r in rows
        ]

    def answers_to_come(self, slug: str, since: datetime) -> int:
        return int(
            self._session.scalar(
                select(func.count())
                .select_from(rsvps)
                .join(occurrences, occurrences.c.id == rsvps.c.occurrence_id)
                .join(events, events.c.id == occurrences.c.event_id)
                .where(
                    events.c.slug == slug,
                    occurrences.c.starts_at >= since,
                    rsvps.c.status.in_(_EXPECTED),
                )
            )
            or 0
        )

    def reminder_counts(self, occurrence_id: int) -> ReminderCounts:
        d = deliveries.c
        reminded = (
            select(
                d.member_id,
                func.min(d.sent_at).label("first_sent"),
                func.count().label("sent"),
            )
            .where(d.purpose == REMINDER, d.occurrence_id == occurrence_id, d.state == "sent")
            .group_by(d.member_id)
            .subquery()
        )
        declined = case(
            (
                and_(
                    rsvps.c.status == RsvpStatus.NO.value,
                    rsvps.c.updated_at > reminded.c.first_sent,
                ),
                1,
            ),
            else_=0,
        )
        sent, members_reminded, declined_after = self._session.execute(
            select(
                func.coalesce(func.sum(reminded.c.sent), 0),
                func.count(),
                func.coalesce(func.sum(declined), 0),
            )
            .select_from(reminded)
            .outerjoin(
                rsvps,
                and_(
                    rsvps.c.occurrence_id == occurrence_id,
                    rsvps.c.member_id == reminded.c.member_id,
                ),
            )
        ).one()
        return ReminderCounts(
            sent=int(sent), members=int(members_reminded), declined=int(declined_after)
        )
