"""Reminders in the database: what planning reads, and writing its plan into the outbox.

A plan is applied in a few statements whatever the number of members: the new reminders in
one INSERT (PostgreSQL; SQLite: one per batch of reminders alike but for the member), the
outbox's unique key (purpose, reference, member) refusing a second of the same kind for the
same member and occurrence; one UPDATE batch for those whose time moved or that are wanted
again, one for those no longer wanted (skipped with a reason, never sent). What is stored is
read back a group of alike rows at a time, their ids and members aggregated by the database.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta, tzinfo
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.domain.deliveries import REMINDER, About, Lane, lane_of
from bot.domain.events import OccurrenceStatus, RsvpStatus
from bot.domain.members import Subscription
from bot.domain.reminders import (
    REVIVABLE,
    SKIP_REPLANNED,
    Applied,
    Batch,
    PlanMember,
    PlanOccurrence,
    ReminderKind,
    Stored,
    decode_overrides,
)
from bot.store.dialect import among
from bot.store.outbox import about_values, expect_rsvp_column, fan_out
from bot.store.repositories import scope_of
from bot.store.tables import (
    DeliveryRow,
    EventRegionRow,
    EventRow,
    MemberRegionRow,
    MemberRow,
    OccurrenceRow,
    RsvpRow,
)

deliveries = cast(Table, DeliveryRow.__table__)
events = cast(Table, EventRow.__table__)
event_regions = cast(Table, EventRegionRow.__table__)
occurrences = cast(Table, OccurrenceRow.__table__)
members = cast(Table, MemberRow.__table__)
member_regions = cast(Table, MemberRegionRow.__table__)
rsvps = cast(Table, RsvpRow.__table__)

log = logging.getLogger(__name__)

FAN_OUT_CHUNK = 20_000
PLANNING_LOCK_KEY = 0x63625F706C616E  # "cb_plan": one reminder planner at a time
"""Members per INSERT ... SELECT (SQLite takes at most 32,766 bound values a statement)."""
LOOK_AHEAD = timedelta(days=62)
"""Occurrences planning looks at: a month's digest and the invitations of what is published."""


class SqlReminderStore:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._locked = False

    @property
    def _dialect(self) -> str:
        return self._session.get_bind().dialect.name

    # --- what planning reads --------------------------------------------------------------

    def occurrences(self, now: datetime, everywhere: Collection[str]) -> list[PlanOccurrence]:
        """Occurrences not yet started (up to `LOOK_AHEAD`), in order of their start."""
        o, e = occurrences.c, events.c
        rows = self._session.execute(
            select(
                o.id,
                o.starts_at,
                o.status,
                o.called_off_at,
                o.published_at,
                o.rsvp_deadline,
                e.id.label("event_id"),
                e.slug,
                e.kind,
                e.title,
                e.rsvp_enabled,
                e.rrule,
                e.reminders,
            )
            .join(events, events.c.id == o.event_id)
            .where(o.starts_at > now, o.starts_at <= now + LOOK_AHEAD, e.removed_at.is_(None))
            .order_by(o.starts_at, o.id)
        ).all()
        regions: dict[int, set[str]] = {}
        event_ids = sorted({row.event_id for row in rows})
        if event_ids:
            for event_id, region in self._session.execute(
                select(event_regions.c.event_id, event_regions.c.region).where(
                    event_regions.c.event_id.in_(event_ids)
                )
            ):
                regions.setdefault(event_id, set()).add(region)
        result = []
        for row in rows:
            codes = frozenset(regions.get(row.event_id, ()))
            result.append(
                PlanOccurrence(
                    id=row.id,
                    slug=row.slug,
                    kind=row.kind,
                    title=row.title,
                    starts_at=row.starts_at,
                    published_at=row.published_at,
                    regions=codes,
                    everyone=not codes or bool(codes & set(everywhere)),
                    cancelled=row.status == OccurrenceStatus.CANCELLED.value
                    or row.called_off_at is not None,
                    rsvp_enabled=row.rsvp_enabled,
                    answers_close_at=row.rsvp_deadline,
                    recurring=row.rrule is not None,
                    overrides=decode_overrides(row.reminders) if row.reminders else None,
                )
            )
        return result

    def members(self) -> list[PlanMember]:
        """Members who may get reminders: agreed to notices and reachable, with their
        channel (whose reminder kinds the config may restrict)."""
        m = members.c
        rows = self._session.execute(
            select(m.id, m.notify_scope, m.channel).where(
                m.subscription == Subscription.SUBSCRIBED.value, m.unreachable_at.is_(None)
            )
        ).all()
        regions: dict[int, set[str]] = defaultdict(set)
        for member_id, region in self._session.execute(
            select(member_regions.c.member_id, member_regions.c.region)
            .join(members, members.c.id == member_regions.c.member_id)
            .where(
                members.c.subscription == Subscription.SUBSCRIBED.value,
                members.c.unreachable_at.is_(None),
            )
        ):
            regions[member_id].add(region)
        scopes = {stored: scope_of(stored) for stored in {scope for _, scope, _ in rows}}
        nowhere: frozenset[str] = frozenset()
        return [
            PlanMember(
                id=member_id,
                regions=frozenset(regions[member_id]) if member_id in regions else nowhere,
                scope=scopes[scope],
                channel=channel,
            )
            for member_id, scope, channel in rows
        ]

    def answers(self, occurrence_ids: Collection[int]) -> dict[tuple[int, int], RsvpStatus]:
        if not occurrence_ids:
            return {}
        r = rsvps.c
        status = {s.value: s for s in RsvpStatus}
        return {
            (occurrence_id, member_id): status[answer]
            for occurrence_id, member_id, answer in self._session.execute(
                select(r.occurrence_id, r.member_id, r.status).where(
                    r.occurrence_id.in_(sorted(occurrence_ids))
                )
            )
        }

    def stored(self, occurrence_ids: Collection[int], now: datetime) -> list[Stored]:
        """The reminders already in the outbox for these occurrences, and recent digests: a
        group per (reference, state, reason, time), its rows' ids and members aggregated by
        the database (tens of thousands of rows, a few dozen groups)."""
        d = deliveries.c
        about = [d.reference.like(f"{ReminderKind.DIGEST.value}:%")]
        if occurrence_ids:
            about.append(d.occurrence_id.in_(sorted(occurrence_ids)))
        alike = (d.reference, d.state, d.skip_reason, d.due_at, d.occurrence_id)
        postgres = self._dialect == "postgresql"
        ids: ColumnElement[Any]
        member_ids: ColumnElement[Any]
        if postgres:  # both in the order of the ids, so that they pair up
            ids = func.array_agg(aggregate_order_by(d.id, d.id))
            member_ids = func.array_agg(aggregate_order_by(d.member_id, d.id))
        else:  # one pass over the group's rows feeds both: they pair up
            ids, member_ids = func.group_concat(d.id), func.group_concat(d.member_id)
        rows = self._session.execute(
            select(*alike, ids.label("ids"), member_ids.label("member_ids"))
            .where(
                d.purpose == REMINDER,
                or_(*about),
                or_(d.occurrence_id.is_not(None), d.due_at >= now - LOOK_AHEAD),
            )
            .group_by(*alike)
        ).all()
        return [
            Stored(
                reference=row.reference,
                state=row.state,
                skip_reason=row.skip_reason,
                due_at=row.due_at,
                occurrence_id=row.occurrence_id,
                ids=row.ids if postgres else _integers(row.ids),
                member_ids=row.member_ids if postgres else _integers(row.member_ids),
            )
            for row in rows
        ]

    def other_pushes(
        self, since: datetime, until: datetime, zone: tzinfo
    ) -> Counter[tuple[int, Any]]:
        """Each member's pushes that count against the daily cap and that planning does not
        decide (announcements, reminders already sent), by local day."""
        d = deliveries.c
        rows = self._session.execute(
            select(d.member_id, d.due_at).where(
                d.lane >= int(Lane.REMINDERS),
                d.due_at >= since,
                d.due_at < until,
                d.state.in_(["queued", "sending", "sent"]),
                ~and_(d.purpose == REMINDER, d.state == "queued"),
            )
        ).all()
        return Counter((member_id, due.astimezone(zone).date()) for member_id, due in rows)

    def labels(self, member_ids: Collection[int]) -> dict[int, str]:
        """How organisers know these members: their name, else their member number (never
        their channel id: organisers do not need it)."""
        if not member_ids:
            return {}
        m = members.c
        return {
            row.id: row.display_name or f"#{row.id}"
            for row in self._session.execute(
                select(m.id, m.display_name).where(m.id.in_(sorted(member_ids)))
            )
        }

    # --- writing the plan -----------------------------------------------------------------

    def lock(self) -> None:
        """One planner at a time (PostgreSQL: an advisory lock until this transaction ends;
        SQLite has one writer anyway). Taken before planning reads the outbox, so what it
        reads as missing is still missing when it writes."""
        if self._dialect == "postgresql":
            self._session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": PLANNING_LOCK_KEY}
            )
            self._locked = True

    def _insert(self, batches: list[Batch], now: datetime) -> int:
        """Queue new reminders, in one statement whatever their number.

        PostgreSQL, under the planning lock: a plain INSERT of every row (they were read
        missing); should one exist after all, or its member be gone, that is done again
        keeping what exists, an INSERT ... SELECT per batch. SQLite (one writer): one INSERT
        executed for each row, keeping what exists and leaving out members who are gone."""
        if self._dialect == "sqlite":
            return self._insert_sqlite(batches, now)
        if self._locked:
            try:
                with self._session.begin_nested():
                    return self._insert_new_postgres(batches, now)
            except IntegrityError:
                log.warning("a reminder planned as new was in the outbox already; kept it")
        queued = 0
        for batch in batches:
            payload, constants = _payload(batch), _constants(batch, now)
            ids = batch.member_ids
            for start in range(0, len(ids), FAN_OUT_CHUNK):
                chunk = among(members.c.id, ids[start : start + FAN_OUT_CHUNK], self._dialect)
                queued += fan_out(self._session, chunk, payload, constants)
        return queued

    def _insert_sqlite(self, batches: list[Batch], now: datetime) -> int:
        """An INSERT ... SELECT per batch, its members sent as one JSON array (not one bound
        value each): as `fan_out`, a member who is gone is left out and an existing row kept."""
        dialect = self._session.get_bind().dialect
        # The values as SQLAlchemy would bind them: datetimes as its text, in UTC.
        when = deliveries.c.due_at.type.dialect_impl(dialect).bind_processor(dialect)
        as_json = deliveries.c.payload.type.dialect_impl(dialect).bind_processor(dialect)
        assert when is not None
        assert as_json is not None
        lane, created = int(lane_of(REMINDER)), when(now)
        connection = self._session.connection()
        queued = 0
        for batch in batches:
            result = connection.exec_driver_sql(
                _INSERT_SQLITE,
                (
                    REMINDER,
                    batch.reference,
                    as_json(_payload(batch)),
                    lane,
                    batch.occurrence_id,
                    expect_rsvp_column(About(expect_rsvp=batch.expect_rsvp)),
                    when(batch.due_at),
                    created,
                    json.dumps(batch.member_ids),
                ),
            )
            queued += result.rowcount
        return queued

    def _insert_new_postgres(self, batches: list[Batch], now: datetime) -> int:
        """Every row of `batches` in one INSERT: a row per member, the columns it shares with
        its batch joined in (JSON parsed once a batch). A batch's members travel as one text
        of numbers the server splits (tens of thousands of integers are slower to encode one
        by one in Python than to parse). Checked by the database (the unique key, the
        members' foreign key); no member is read again: the planner has just read them under
        its lock."""
        result = self._session.connection().exec_driver_sql(
            _INSERT_NEW_POSTGRES,
            (
                [b.reference for b in batches],
                [json.dumps(_payload(b)) for b in batches],
                [b.occurrence_id for b in batches],
                [expect_rsvp_column(About(expect_rsvp=b.expect_rsvp)) for b in batches],
                [b.due_at for b in batches],
                [",".join(map(str, b.member_ids)) for b in batches],
                REMINDER,
                int(lane_of(REMINDER)),
                now,
            ),
        )
        return int(result.rowcount)

    def apply(
        self,
        planned: list[Batch],
        stored: list[Stored],
        reasons: Mapping[tuple[int, str], str],
        now: datetime,
    ) -> Applied:
        """Make the outbox hold `planned`: insert, move, revive; skip queued reminders no
        longer planned, with `reasons[(member, reference)]` (default: no longer planned)."""
        by_reference: dict[str, list[tuple[Stored, dict[int, int]]]] = defaultdict(list)
        for group in stored:
            by_reference[group.reference].append((group, group.rows()))
        new: list[Batch] = []
        moves: list[dict[str, Any]] = []
        revivals: list[dict[str, Any]] = []
        wanted: dict[str, set[int]] = defaultdict(set)
        for batch in planned:
            wanted[batch.reference].update(batch.member_ids)
            groups = by_reference.get(batch.reference)
            if not groups:
                new.append(batch)
                continue
            due, found = batch.due_at, 0
            for group, rows in groups:
                if group.state == "queued":
                    if group.due_at == due or (group.due_at <= now and due <= now):
                        found += sum(1 for m in batch.member_ids if m in rows)
                        continue
                    changes = moves
                elif group.state == "skipped" and group.skip_reason in REVIVABLE:
                    changes = revivals
                else:
                    found += sum(1 for m in batch.member_ids if m in rows)
                    continue
                these = [{"row_id": rows[m], "new_due": due} for m in batch.member_ids if m in rows]
                changes.extend(these)
                found += len(these)
            if found < len(batch.member_ids):
                missing = [m for m in batch.member_ids if not any(m in r for _, r in groups)]
                new.append(batch.with_members(missing))
        skips: dict[str, list[int]] = {}
        for reference, groups in by_reference.items():
            kept = wanted.get(reference, ())
            for group, rows in groups:
                if group.state != "queued":
                    continue
                for member_id, row_id in rows.items():
                    if member_id not in kept:
                        reason = reasons.get((member_id, reference), SKIP_REPLANNED)
                        skips.setdefault(reason, []).append(row_id)
        queued = self._insert(new, now) if new else 0
        d = deliveries.c
        if moves:
            self._session.connection().execute(
                update(deliveries)
                .where(d.id == bindparam("row_id"), d.state == "queued")
                .values(due_at=bindparam("new_due")),
                moves,
            )
        if revivals:
            self._session.connection().execute(
                update(deliveries)
                .where(d.id == bindparam("row_id"), d.state == "skipped")
                .values(due_at=bindparam("new_due"), state="queued", skip_reason=None),
                revivals,
            )
        for reason, ids in skips.items():
            self._session.execute(
                update(deliveries)
                .where(d.id.in_(ids), d.state == "queued")
                .values(state="skipped", skip_reason=reason)
            )
        return Applied(
            queued=queued,
            moved=len(moves),
            revived=len(revivals),
            skipped={reason: len(ids) for reason, ids in skips.items()} or None,
        )


_INSERT_SQLITE = f"""
INSERT INTO {deliveries.name} (member_id, purpose, reference, payload, lane, occurrence_id,
    expect_rsvp, state, due_at, attempts, created_at)
SELECT id, ?, ?, ?, ?, ?, ?, 'queued', ?, 0, ?
FROM {members.name} WHERE id IN (SELECT value FROM json_each(?))
ON CONFLICT (purpose, reference, member_id) DO NOTHING
"""

_INSERT_NEW_POSTGRES = f"""
WITH batch AS MATERIALIZED (
    SELECT reference, payload::jsonb AS payload, occurrence_id, expect_rsvp, due_at, members
    FROM unnest(%b::text[], %b::text[], %b::int8[], %b::text[], %b::timestamptz[], %b::text[])
        AS b(reference, payload, occurrence_id, expect_rsvp, due_at, members)
)
INSERT INTO {deliveries.name} (purpose, reference, member_id, payload, lane, occurrence_id,
    expect_rsvp, state, due_at, attempts, created_at)
SELECT %b, batch.reference, row.member_id, batch.payload, %b, batch.occurrence_id,
    batch.expect_rsvp, 'queued', batch.due_at, 0, %b::timestamptz
FROM batch
CROSS JOIN LATERAL unnest(string_to_array(batch.members, ',')::int8[]) AS row(member_id)
"""


def _integers(joined: str) -> list[int]:
    """SQLite's `group_concat` of integers, back as integers."""
    return [int(part) for part in joined.split(",")]


def _payload(reminder: Batch) -> dict[str, Any]:
    payload: dict[str, Any] = {"kind": REMINDER, "reminder": reminder.kind.value}
    if reminder.unanswered:
        payload["unanswered"] = True
    if reminder.month is not None:
        payload.update(slug=reminder.slug, month=reminder.month)
    return payload


def _constants(reminder: Batch, now: datetime) -> dict[str, Any]:
    """The columns of a reminder's row but the member and the payload."""
    about = About(occurrence_id=reminder.occurrence_id, expect_rsvp=reminder.expect_rsvp)
    return {
        "purpose": REMINDER,
        "reference": reminder.reference,
        "lane": int(lane_of(REMINDER)),
        **about_values(about),
        "state": "queued",
        "due_at": reminder.due_at,
        "attempts": 0,
        "created_at": now,
    }
