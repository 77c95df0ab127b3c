"""Repositories: the SQL behind the core's ports. They never commit; the unit of work does."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.domain.members import Member, Role, Subscription
from bot.domain.ports import MemberStats
from bot.store.dialect import insert_ignoring_conflicts
from bot.store.tables import AuditRow, MemberRegionRow, MemberRow


def _to_member(row: MemberRow) -> Member:
    return Member(
        id=row.id,
        channel=row.channel,
        external_id=row.external_id,
        display_name=row.display_name,
        language=row.language,
        role=Role(row.role),
        regions={r.region for r in row.regions},
        subscription=Subscription(row.subscription),
        consent_at=row.consent_at,
        unsubscribed_at=row.unsubscribed_at,
        unreachable_at=row.unreachable_at,
        unreachable_reason=row.unreachable_reason,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
    )


def _copy_to_row(member: Member, row: MemberRow) -> None:
    row.display_name = member.display_name
    row.language = member.language
    row.role = member.role.value
    row.subscription = member.subscription.value
    row.consent_at = member.consent_at
    row.unsubscribed_at = member.unsubscribed_at
    row.unreachable_at = member.unreachable_at
    row.unreachable_reason = member.unreachable_reason
    row.last_seen_at = member.last_seen_at
    stored = {r.region for r in row.regions}
    if stored != member.regions:
        row.regions[:] = [r for r in row.regions if r.region in member.regions]
        row.regions.extend(MemberRegionRow(region=code) for code in member.regions - stored)


class SqlMemberRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def _row(self, channel: str, external_id: str) -> MemberRow | None:
        return self._session.scalars(
            select(MemberRow).where(
                MemberRow.channel == channel, MemberRow.external_id == external_id
            )
        ).one_or_none()

    def get(self, channel: str, external_id: str) -> Member | None:
        row = self._row(channel, external_id)
        return _to_member(row) if row else None

    def get_by_id(self, member_id: int) -> Member | None:
        row = self._session.get(MemberRow, member_id)
        return _to_member(row) if row else None

    def register(self, member: Member) -> tuple[Member, bool]:
        """Insert unless the (channel, external id) exists; safe when two updates race."""
        values = {
            "channel": member.channel,
            "external_id": member.external_id,
            "display_name": member.display_name,
            "language": member.language,
            "role": member.role.value,
            "subscription": member.subscription.value,
            "created_at": member.created_at,
            "last_seen_at": member.last_seen_at,
        }
        dialect = self._session.get_bind().dialect.name
        statement = insert_ignoring_conflicts(
            dialect, MemberRow, values, ["channel", "external_id"]
        ).returning(MemberRow.id)
        inserted = self._session.execute(statement).scalar_one_or_none()
        row = self._row(member.channel, member.external_id)
        if row is None:  # pragma: no cover - the insert or the other writer made it exist
            raise RuntimeError("member vanished during registration")
        return _to_member(row), inserted is not None

    def save(self, member: Member) -> None:
        if member.id is None:
            raise ValueError("save() needs a member that was registered first")
        row = self._session.get(MemberRow, member.id)
        if row is None:
            raise LookupError(f"member {member.id} does not exist")
        _copy_to_row(member, row)
        self._session.flush()

    def stats(self) -> MemberStats:
        by_state: dict[str, int] = dict(
            self._session.execute(
                select(MemberRow.subscription, func.count())
                .where(MemberRow.unreachable_at.is_(None))
                .group_by(MemberRow.subscription)
            ).all()
        )
        unreachable = self._session.scalar(
            select(func.count()).where(MemberRow.unreachable_at.is_not(None))
        )
        by_region: dict[str, int] = dict(
            self._session.execute(
                select(MemberRegionRow.region, func.count())
                .join(MemberRow)
                .where(
                    MemberRow.subscription == Subscription.SUBSCRIBED.value,
                    MemberRow.unreachable_at.is_(None),
                )
                .group_by(MemberRegionRow.region)
            ).all()
        )
        reachable = sum(by_state.values())
        return MemberStats(
            total=reachable + (unreachable or 0),
            subscribed=by_state.get(Subscription.SUBSCRIBED.value, 0),
            pending=by_state.get(Subscription.PENDING.value, 0),
            unsubscribed=by_state.get(Subscription.UNSUBSCRIBED.value, 0),
            unreachable=unreachable or 0,
            subscribed_by_region=by_region,
        )


class SqlAuditLog:
    def __init__(self, session: Session) -> None:
        self._session = session

    def record(
        self, actor: Member | None, action: str, detail: Mapping[str, Any], at: datetime
    ) -> None:
        label = f"{actor.channel}:{actor.external_id}" if actor else "cli"
        self._session.add(
            AuditRow(
                actor_member_id=actor.id if actor else None,
                actor_label=label,
                action=action,
                detail=dict(detail),
                at=at,
            )
        )
