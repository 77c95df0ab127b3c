"""The outbox: deliveries written in the same transaction as the change that caused them.

An audience is queued with one INSERT ... SELECT whatever its size, the skip rules applied in
SQL, so that a change notice to ten thousand members holds the write lock for a moment only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session

from bot.domain.deliveries import NOTHING, About, Audience, lane_of, needs_subscription
from bot.domain.events import RsvpStatus
from bot.domain.members import PRIVACY_VERSION, Member, Subscription
from bot.store.dialect import insert_ignoring_conflicts, insert_or_nothing
from bot.store.repositories import members
from bot.store.tables import DeliveryRow, MemberRegionRow, MemberTagRow, RsvpRow

deliveries = cast(Table, DeliveryRow.__table__)
member_regions = cast(Table, MemberRegionRow.__table__)
member_tags = cast(Table, MemberTagRow.__table__)
rsvps = cast(Table, RsvpRow.__table__)


def expect_rsvp_column(about: About) -> str | None:
    return ",".join(sorted(about.expect_rsvp)) or None


def about_of(row: Any) -> About:
    """What a stored delivery is about, read back from its columns (the inverse of the
    values `enqueue` writes)."""
    return About(
        occurrence_id=row.occurrence_id,
        relay_id=row.relay_id,
        broadcast_id=row.broadcast_id,
        expect_rsvp=frozenset(
            RsvpStatus(status) for status in (row.expect_rsvp or "").split(",") if status
        ),
    )


def about_values(about: About) -> dict[str, Any]:
    return {
        "occurrence_id": about.occurrence_id,
        "relay_id": about.relay_id,
        "broadcast_id": about.broadcast_id,
        "expect_rsvp": expect_rsvp_column(about),
    }


def audience_condition(audience: Audience, *, purpose: str) -> ColumnElement[bool]:
    """The members `audience` names who may get a delivery for `purpose` now."""
    m = members.c
    # Never empty: SQLite needs a WHERE in an INSERT ... SELECT ... ON CONFLICT to parse it.
    conditions: list[ColumnElement[bool]] = [m.unreachable_at.is_(None)]
    if needs_subscription(purpose):
        conditions.append(m.subscription == Subscription.SUBSCRIBED.value)
        # Nobody is sent news before answering the welcome text as it is now (issue 15).
        # (None: written straight into the database; see `Member.consent_outdated`.)
        conditions.append(or_(m.consent_version == PRIVACY_VERSION, m.consent_version.is_(None)))
    return and_(*conditions, *membership(audience))


def membership(audience: Audience) -> list[ColumnElement[bool]]:
    """The members `audience` names, whether or not they can get anything now."""
    m = members.c
    conditions: list[ColumnElement[bool]] = []
    if audience.channels:
        conditions.append(m.channel.in_(sorted(audience.channels)))
    if audience.regions:
        conditions.append(
            m.id.in_(
                select(member_regions.c.member_id).where(
                    member_regions.c.region.in_(sorted(audience.regions))
                )
            )
        )
    if audience.tags:
        conditions.append(
            m.id.in_(
                select(member_tags.c.member_id).where(member_tags.c.tag.in_(sorted(audience.tags)))
            )
        )
    if audience.occurrence_id is not None:
        conditions.append(
            m.id.in_(
                select(rsvps.c.member_id).where(
                    rsvps.c.occurrence_id == audience.occurrence_id,
                    rsvps.c.status.in_(sorted(s.value for s in audience.rsvp_statuses)),
                )
            )
        )
    return conditions


def fan_out(
    session: Session,
    condition: ColumnElement[bool],
    payload: Mapping[str, Any],
    constants: Mapping[str, Any],
    *,
    new: bool = False,
) -> int:
    """One INSERT ... SELECT of a delivery, the same for every member matching `condition`
    (`constants`: its columns but the member and the payload); members who already have this
    (purpose, reference) keep theirs. Returns how many rows were queued.

    `new`: the caller holds a lock under which it read that none of these rows exists (the
    reminder planner), so a plain INSERT does: a fifth less work for PostgreSQL than one that
    checks each row for a conflict. A row that exists after all fails the transaction.
    """
    selected = select(
        members.c.id,
        bindparam("payload", dict(payload), type_=deliveries.c.payload.type),
        *(
            literal(value, type_=deliveries.c[name].type).label(name)
            for name, value in constants.items()
        ),
    ).where(condition)
    dialect = session.get_bind().dialect.name
    columns = ["member_id", "payload", *constants]
    if new:
        plain = deliveries.insert().from_select(columns, selected)
        result = session.execute(plain, execution_options={"preserve_rowcount": True})
        return int(result.rowcount)  # type: ignore[attr-defined]
    statement = (
        insert_or_nothing(dialect, deliveries, ["purpose", "reference", "member_id"])
        .from_select(columns, selected)
        .returning(deliveries.c.id)
    )
    # Counted from RETURNING: psycopg gives no rowcount for INSERT ... SELECT ON CONFLICT.
    return len(session.execute(statement).all())


class SqlOutbox:
    def __init__(self, session: Session) -> None:
        self._session = session
        self.enqueued = False  # something new to send once this transaction commits

    @property
    def _dialect(self) -> str:
        return self._session.get_bind().dialect.name

    def enqueue(
        self,
        purpose: str,
        reference: str,
        member: Member,
        payload: Mapping[str, Any],
        due_at: datetime,
        *,
        about: About = NOTHING,
        now: datetime | None = None,
    ) -> bool:
        if member.id is None:
            raise ValueError("only stored members can be sent messages")
        statement = insert_ignoring_conflicts(
            self._dialect,
            DeliveryRow,
            {
                "purpose": purpose,
                "reference": reference,
                "member_id": member.id,
                "payload": dict(payload),
                "lane": int(lane_of(purpose)),
                **about_values(about),
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

    def enqueue_audience(
        self,
        purpose: str,
        reference: str,
        audience: Audience,
        payload: Mapping[str, Any],
        due_at: datetime,
        *,
        about: About = NOTHING,
        now: datetime | None = None,
    ) -> int:
        """One INSERT ... SELECT for the whole audience; returns how many rows were queued.

        Members who cannot get it now (unreachable; unsubscribed where the purpose needs
        consent) are left out; members who already have this (purpose, reference) keep theirs.
        """
        constants: dict[str, Any] = {
            "purpose": purpose,
            "reference": reference,
            "lane": int(lane_of(purpose)),
            **about_values(about),
            "state": "queued",
            "due_at": due_at,
            "attempts": 0,
            "created_at": now or due_at,
        }
        condition = audience_condition(audience, purpose=purpose)
        queued = fan_out(self._session, condition, payload, constants)
        self.enqueued = self.enqueued or queued > 0
        return int(queued)
