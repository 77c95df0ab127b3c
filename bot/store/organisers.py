"""Who organises (the config's list and the database's), and members' open dialogs."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, delete, or_, select, update
from sqlalchemy.orm import Session

from bot.domain.dialogs import Dialog
from bot.domain.members import Role
from bot.domain.ports import OrganiserEntry
from bot.store.dialect import insert_ignoring_conflicts
from bot.store.tables import DialogRow, MemberRow, OrganiserRow

organisers = cast(Table, OrganiserRow.__table__)
dialogs = cast(Table, DialogRow.__table__)
members = cast(Table, MemberRow.__table__)


class SqlOrganisers:
    def __init__(self, session: Session) -> None:
        self._session = session

    def listed(self) -> list[OrganiserEntry]:
        o = organisers.c
        return [
            OrganiserEntry(row.channel, row.external_id, row.note, row.added_by, row.added_at)
            for row in self._session.execute(select(organisers).order_by(o.channel, o.added_at))
        ]

    def contains(self, channel: str, external_id: str) -> bool:
        o = organisers.c
        found = self._session.execute(
            select(o.id).where(o.channel == channel, o.external_id == external_id)
        ).first()
        return found is not None

    def add(self, entry: OrganiserEntry) -> bool:
        values = {
            "channel": entry.channel,
            "external_id": entry.external_id,
            "note": entry.note,
            "added_by": entry.added_by,
            "added_at": entry.added_at,
        }
        dialect = self._session.get_bind().dialect.name
        statement = insert_ignoring_conflicts(
            dialect, OrganiserRow, values, ["channel", "external_id"]
        ).returning(OrganiserRow.id)
        return self._session.execute(statement).scalar_one_or_none() is not None

    def remove(self, channel: str, external_id: str) -> bool:
        o = organisers.c
        result = self._session.execute(
            delete(organisers)
            .where(o.channel == channel, o.external_id == external_id)
            .returning(o.id)
        )
        return result.first() is not None

    def sync_roles(self, configured: Mapping[str, Collection[str]]) -> list[int]:
        """Make every stored member's role what the config and this table say now; the
        dialogs of those who lost the role are closed. Returns the ids of members whose
        role changed."""
        m, o = members.c, organisers.c
        listed = select(o.id).where(o.channel == m.channel, o.external_id == m.external_id)
        in_config = [
            and_(m.channel == channel, m.external_id.in_(sorted(ids)))
            for channel, ids in configured.items()
            if ids
        ]
        organises = or_(listed.exists(), *in_config) if in_config else listed.exists()
        promoted = self._session.execute(
            update(members)
            .where(organises, m.role != Role.ORGANISER.value)
            .values(role=Role.ORGANISER.value)
            .returning(m.id)
        ).scalars()
        changed = list(promoted)
        demoted = list(
            self._session.execute(
                update(members)
                .where(~organises, m.role == Role.ORGANISER.value)
                .values(role=Role.MEMBER.value)
                .returning(m.id)
            ).scalars()
        )
        if demoted:
            self._session.execute(delete(dialogs).where(dialogs.c.member_id.in_(demoted)))
        return changed + demoted


class SqlDialogs:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, member_id: int) -> Dialog | None:
        row = self._session.execute(select(dialogs).where(dialogs.c.member_id == member_id)).first()
        if row is None:
            return None
        return Dialog(row.name, row.token, row.started_at, row.expires_at, dict(row.data))

    def save(self, member_id: int, dialog: Dialog | None) -> None:
        """Store `dialog` as the member's only one (None: close theirs)."""
        self._session.execute(delete(dialogs).where(dialogs.c.member_id == member_id))
        if dialog is not None:
            self._session.execute(
                dialogs.insert().values(
                    member_id=member_id,
                    name=dialog.name,
                    token=dialog.token,
                    data=dict(dialog.data),
                    started_at=dialog.started_at,
                    expires_at=dialog.expires_at,
                )
            )

    def forget_expired(self, now: datetime) -> int:
        result = self._session.execute(
            delete(dialogs).where(dialogs.c.expires_at <= now).returning(dialogs.c.member_id)
        )
        return len(result.all())
