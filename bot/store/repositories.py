"""Repositories: the SQL behind the core's ports. They never commit; the unit of work does."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.orm import Session

from bot.domain.members import Member, Role, Scope, Subscription
from bot.domain.ports import MemberStats
from bot.domain.privacy import FORGOTTEN_CHANNEL
from bot.store.dialect import insert_ignoring_conflicts
from bot.store.tables import AuditRow, MemberRegionRow, MemberRow

members = cast(Table, MemberRow.__table__)
member_regions = cast(Table, MemberRegionRow.__table__)

# Columns written back by save(); the rest never change after registration.
_MUTABLE = (
    "display_name",
    "language",
    "role",
    "subscription",
    "consent_at",
    "consent_version",
    "unsubscribed_at",
    "unreachable_at",
    "unreachable_reason",
    "last_seen_at",
    "last_question",
    "last_question_at",
    "last_answer",
    "shown",
)


# Built once: constructing a statement costs more than running it on SQLite.
# One round trip for a member and their regions (a row per region, or one with none).
_WITH_REGIONS = select(members, member_regions.c.region).outerjoin(
    member_regions, member_regions.c.member_id == members.c.id
)
_BY_REF = _WITH_REGIONS.where(
    members.c.channel == bindparam("channel"), members.c.external_id == bindparam("external_id")
)
_BY_ID = _WITH_REGIONS.where(members.c.id == bindparam("member_id"))


def scope_of(stored: str) -> Scope:
    return Scope(stored) if stored in _SCOPES else Scope.ALL


_SCOPES = frozenset(scope.value for scope in Scope)


def _columns(member: Member) -> dict[str, Any]:
    values = {name: getattr(member, name) for name in _MUTABLE}
    values["role"] = member.role.value
    values["subscription"] = member.subscription.value
    values["notify_scope"] = member.scope.value
    values["shown"] = [list(choice) for choice in member.shown] or None
    return values


class SqlMemberRepository:
    """Members on SQLAlchemy Core: every message loads and saves one, so this path stays lean."""

    def __init__(self, session: Session) -> None:
        self._session = session
        # What each member looked like when loaded, so save() writes only what changed.
        self._loaded: dict[int, tuple[dict[str, Any], frozenset[str]]] = {}

    def _load(self, statement: Any, params: dict[str, Any]) -> Member | None:
        rows = self._session.execute(statement, params).mappings().all()
        if not rows:
            return None
        row = rows[0]
        regions = {r["region"] for r in rows if r["region"] is not None}
        member = Member(
            id=row["id"],
            channel=row["channel"],
            external_id=row["external_id"],
            display_name=row["display_name"],
            language=row["language"],
            role=Role(row["role"]),
            regions=regions,
            subscription=Subscription(row["subscription"]),
            scope=scope_of(row["notify_scope"]),
            consent_at=row["consent_at"],
            consent_version=row["consent_version"],
            unsubscribed_at=row["unsubscribed_at"],
            unreachable_at=row["unreachable_at"],
            unreachable_reason=row["unreachable_reason"],
            created_at=row["created_at"],
            last_seen_at=row["last_seen_at"],
            last_question=row["last_question"],
            last_question_at=row["last_question_at"],
            last_answer=row["last_answer"],
            shown=[(label, action) for label, action in row["shown"] or []],
        )
        self._loaded[row["id"]] = (_columns(member), frozenset(regions))
        return member

    def get(self, channel: str, external_id: str) -> Member | None:
        return self._load(_BY_REF, {"channel": channel, "external_id": external_id})

    def get_by_id(self, member_id: int) -> Member | None:
        return self._load(_BY_ID, {"member_id": member_id})

    def register(self, member: Member) -> tuple[Member, bool]:
        """Insert unless the (channel, external id) exists; safe when two updates race."""
        existing = self.get(member.channel, member.external_id)
        if existing is not None:
            return existing, False
        values = {
            "channel": member.channel,
            "external_id": member.external_id,
            "created_at": member.created_at,
            **_columns(member),
        }
        dialect = self._session.get_bind().dialect.name
        statement = insert_ignoring_conflicts(
            dialect, MemberRow, values, ["channel", "external_id"]
        ).returning(MemberRow.id)
        inserted = self._session.execute(statement).scalar_one_or_none()
        stored = self.get(member.channel, member.external_id)
        if stored is None:  # pragma: no cover - the insert or the other writer made it exist
            raise RuntimeError("member vanished during registration")
        return stored, inserted is not None

    def save(self, member: Member) -> None:
        if member.id is None:
            raise ValueError("save() needs a member that was registered first")
        if member.id not in self._loaded:
            raise LookupError(f"member {member.id} was not loaded in this unit of work")
        before, regions_before = self._loaded[member.id]
        after = _columns(member)
        changed = {name: value for name, value in after.items() if before[name] != value}
        if changed:
            self._session.execute(
                members.update().where(members.c.id == member.id).values(**changed)
            )
        removed = regions_before - member.regions
        added = member.regions - regions_before
        if removed:
            self._session.execute(
                member_regions.delete().where(
                    member_regions.c.member_id == member.id,
                    member_regions.c.region.in_(removed),
                )
            )
        if added:
            self._session.execute(
                member_regions.insert(),
                [{"member_id": member.id, "region": code} for code in sorted(added)],
            )
        self._loaded[member.id] = (after, frozenset(member.regions))

    def organisers(self) -> list[Member]:
        """Organisers who can be reached, on every channel."""
        ids = self._session.scalars(
            select(members.c.id)
            .where(members.c.role == Role.ORGANISER.value, members.c.unreachable_at.is_(None))
            .order_by(members.c.id)
        ).all()
        found = [self.get_by_id(member_id) for member_id in ids]
        return [member for member in found if member is not None]

    def stats(self) -> MemberStats:
        # What is left of members who deleted their registration (登録削除) is nobody.
        someone = MemberRow.channel != FORGOTTEN_CHANNEL
        by_state: dict[str, int] = dict(
            self._session.execute(
                select(MemberRow.subscription, func.count())
                .where(MemberRow.unreachable_at.is_(None))
                .group_by(MemberRow.subscription)
            ).all()
        )
        unreachable = self._session.scalar(
            select(func.count()).where(MemberRow.unreachable_at.is_not(None), someone)
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
