"""Everything stored about one member, read back (登録情報) or deleted (登録削除).

Both work from the schema itself: every column with a foreign key to `members.id` is a place
where a member's data lives (`member_references`). A table added later with such a column is
exported and cleaned without a change here; only tables that keep something on purpose after
登録削除 (past answers, relays, announcements) are named below.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Column, String, Table, delete, or_, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from bot.domain.privacy import (
    FORGOTTEN_CHANNEL,
    FORGOTTEN_LABEL,
    Cutoffs,
    Forgotten,
    MemberData,
    Purged,
)
from bot.store import retention
from bot.store.tables import (
    AuditRow,
    Base,
    BroadcastRow,
    DeliveryRow,
    MemberRow,
    OccurrenceRow,
    OrganiserRow,
    RelayRow,
    RsvpRow,
)

members = cast(Table, MemberRow.__table__)
rsvps = cast(Table, RsvpRow.__table__)
occurrences = cast(Table, OccurrenceRow.__table__)
deliveries = cast(Table, DeliveryRow.__table__)
relays = cast(Table, RelayRow.__table__)
broadcasts = cast(Table, BroadcastRow.__table__)
audit_log = cast(Table, AuditRow.__table__)
organisers = cast(Table, OrganiserRow.__table__)

FORGOTTEN_REASON = "forgotten"

_LABELS = (
    (occurrences, occurrences.c.called_off_by),
    (broadcasts, broadcasts.c.author_label),
    (audit_log, audit_log.c.actor_label),
    (organisers, organisers.c.added_by),
)
"""Columns holding an organiser's label (`channel:id name`) rather than a member reference."""

# What a member's export leaves out of a row that names them in another role: the words of
# another member's question they answered as an organiser.
_NOT_THEIRS = {("relays", "answered_by"): frozenset({"question", "member_id"})}


def member_references(tables: Iterable[Table] | None = None) -> list[tuple[Table, Column[Any]]]:
    """Every (table, column) whose column refers to a member (a foreign key to members.id)."""
    found = []
    for table in tables if tables is not None else Base.metadata.sorted_tables:
        for column in table.columns:
            if any(key.column.table.name == "members" for key in column.foreign_keys):
                found.append((table, column))
    return found


def _plain(value: Any) -> Any:
    """A value as JSON holds it: times as ISO 8601 text."""
    if isinstance(value, datetime):
        return value.isoformat()
    return value


class SqlPrivacy:
    """登録情報 and 登録削除 on SQLAlchemy Core; never commits (the unit of work does)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def export(self, member_id: int) -> MemberData:
        """Every row about the member, table by table (members first); empty if unknown."""
        data: MemberData = {}
        row = self._session.execute(select(members).where(members.c.id == member_id)).first()
        if row is None:
            return data
        data["members"] = [{key: _plain(value) for key, value in row._mapping.items()}]
        for table, column in member_references():
            hidden = _NOT_THEIRS.get((table.name, column.name), frozenset())
            # Another member's id in the same row is theirs, not this member's data.
            shown = [
                c
                for c in table.columns
                if c.name not in hidden and (c is column or not _refers_to_member(c))
            ]
            primary = list(table.primary_key.columns)
            rows = self._session.execute(
                select(*shown).where(column == member_id).order_by(*primary)
            ).mappings()
            found = [{key: _plain(value) for key, value in r.items()} for r in rows]
            if found:
                data.setdefault(table.name, []).extend(found)
        listed = self._session.execute(
            select(organisers).where(
                organisers.c.channel == row.channel, organisers.c.external_id == row.external_id
            )
        ).mappings()
        entries = [{key: _plain(value) for key, value in r.items()} for r in listed]
        if entries:
            data["organisers"] = entries
        return data

    def forget(self, member_id: int, now: datetime) -> Forgotten:
        """Delete or anonymise everything that identifies the member, in the caller's
        transaction: answers to events still to come, their outbox rows (and those telling
        organisers of their questions), dialogs, regions, tags, limits, their organiser entry.
        Kept, anonymously: answers to past events (the numbers who came), the relays (a count,
        their words deleted), announcements they wrote (members received them), audit entries
        (with the name replaced). The member row stays as a nameless placeholder those point to.
        """
        row = self._session.execute(select(members).where(members.c.id == member_id)).first()
        if row is None or row.channel == FORGOTTEN_CHANNEL:
            return Forgotten()
        deleted: dict[str, int] = {}

        def count(table: str, result: Any) -> None:
            deleted[table] = deleted.get(table, 0) + len(result.all())

        own_relays = select(relays.c.id).where(relays.c.member_id == member_id)
        d = deliveries.c
        count(
            "deliveries",
            self._session.execute(
                delete(deliveries)
                .where(or_(d.member_id == member_id, d.relay_id.in_(own_relays)))
                .returning(d.id)
            ),
        )
        past = select(occurrences.c.id).where(occurrences.c.starts_at < now)
        to_come = self._session.execute(
            delete(rsvps)
            .where(rsvps.c.member_id == member_id, rsvps.c.occurrence_id.not_in(past))
            .returning(rsvps.c.occurrence_id, rsvps.c.status)
        ).all()
        deleted["rsvps"] = len(to_come)
        kept_answers = len(
            self._session.execute(select(rsvps.c.id).where(rsvps.c.member_id == member_id)).all()
        )
        kept_relays = len(
            self._session.execute(
                update(relays)
                .where(relays.c.member_id == member_id)
                .values(question="", answer=None)
                .returning(relays.c.id)
            ).all()
        )
        kept_broadcasts = len(
            self._session.execute(
                update(broadcasts)
                .where(broadcasts.c.author_member_id == member_id)
                .values(author_member_id=None, author_label=FORGOTTEN_LABEL)
                .returning(broadcasts.c.id)
            ).all()
        )
        self._session.execute(
            update(audit_log)
            .where(audit_log.c.actor_member_id == member_id)
            .values(actor_member_id=None, actor_label=FORGOTTEN_LABEL)
        )
        self._scrub_audit(row.channel, row.external_id, row.display_name)
        ref = f"{row.channel}:{row.external_id}"
        for table, column in _LABELS:
            # Who called an event off, who added an organiser: labels that start with the
            # person's channel and id, followed by their name.
            self._session.execute(
                update(table)
                .where(column.contains(ref, autoescape=True))
                .values({column.name: FORGOTTEN_LABEL})
            )
        count(
            "organisers",
            self._session.execute(
                delete(organisers)
                .where(
                    organisers.c.channel == row.channel,
                    organisers.c.external_id == row.external_id,
                )
                .returning(organisers.c.id)
            ),
        )
        # Everywhere else a member is referred to (now and in tables added later): a column
        # that may be empty is emptied, a row that needs the member goes.
        kept = {("rsvps", "member_id"), ("relays", "member_id")}
        for table, column in member_references():
            if (table.name, column.name) in kept or table.name in ("deliveries",):
                continue
            if table.name in ("broadcasts", "audit_log"):
                continue  # handled above, with their labels
            if column.nullable:
                self._session.execute(
                    update(table).where(column == member_id).values({column.name: None})
                )
            else:
                result = self._session.execute(delete(table).where(column == member_id))
                deleted[table.name] = deleted.get(table.name, 0) + max(
                    cast(Any, result).rowcount or 0, 0
                )
        self._session.execute(
            update(members)
            .where(members.c.id == member_id)
            .values(
                channel=FORGOTTEN_CHANNEL,
                external_id=f"{FORGOTTEN_CHANNEL}:{uuid.uuid4().hex}",
                display_name=None,
                role="member",
                subscription="unsubscribed",
                notify_scope="all",
                consent_at=None,
                unsubscribed_at=now,
                unreachable_at=now,
                unreachable_reason=FORGOTTEN_REASON,
                created_at=now,
                last_seen_at=now,
                last_question=None,
                last_question_at=None,
                last_answer=None,
                shown=None,
                consent_version=None,
            )
        )
        return Forgotten(
            deleted={table: n for table, n in deleted.items() if n},
            past_answers=kept_answers,
            relays=kept_relays,
            broadcasts=kept_broadcasts,
            freed=tuple(sorted({row.occurrence_id for row in to_come if row.status == "going"})),
        )

    def _scrub_audit(self, channel: str, external_id: str, name: str | None) -> None:
        """Audit entries whose details name the member (an organiser added by id, say) keep
        the entry with the name and id replaced."""
        needles = [f"{channel}:{external_id}", external_id]
        if name and len(name) >= 2:
            needles.append(name)
        detail = sql_cast(audit_log.c.detail, String)
        found = self._session.execute(
            select(audit_log.c.id, audit_log.c.detail).where(
                or_(*(detail.contains(needle, autoescape=True) for needle in needles))
            )
        ).all()
        for entry_id, value in found:
            self._session.execute(
                update(audit_log)
                .where(audit_log.c.id == entry_id)
                .values(detail=_replaced(value, needles))
            )

    def purge(self, cutoffs: Cutoffs, *, dry_run: bool = False) -> Purged:
        """Questions, finished deliveries and audit entries older than `cutoffs` go (or are
        only counted, `dry_run`)."""
        return retention.purge(self._session, cutoffs, dry_run=dry_run)

    def find(self, text: str, limit: int = 50) -> list[dict[str, Any]]:
        """Members whose name contains `text`, or whose number or channel id is `text`: the
        organisers' way to find the member who asked to be deleted."""
        m = members.c
        conditions = [m.display_name.contains(text, autoescape=True), m.external_id == text]
        if text.isdigit():
            conditions.append(m.id == int(text))
        if ":" in text:
            channel, _, external = text.partition(":")
            conditions.append((m.channel == channel) & (m.external_id == external))
        rows = self._session.execute(
            select(m.id, m.channel, m.external_id, m.display_name, m.created_at, m.last_seen_at)
            .where(m.channel != FORGOTTEN_CHANNEL, or_(*conditions))
            .order_by(m.id)
            .limit(limit)
        ).mappings()
        return [dict(r) for r in rows]


def _refers_to_member(column: Column[Any]) -> bool:
    return any(key.column.table.name == "members" for key in column.foreign_keys)


def _replaced(value: Any, needles: list[str]) -> Any:
    if isinstance(value, str):
        for needle in sorted(needles, key=len, reverse=True):
            value = value.replace(needle, FORGOTTEN_LABEL)
        return value
    if isinstance(value, list):
        return [_replaced(item, needles) for item in value]
    if isinstance(value, dict):
        return {key: _replaced(item, needles) for key, item in value.items()}
    return value
