"""Reminders in the database: what planning reads, and writing its plan into the outbox.

A plan is applied in a constant number of statements whatever its size: one INSERT for the
new reminders (the outbox's unique key (purpose, reference, member) refuses a second of the
same kind for the same member and occurrence), one UPDATE batch for those whose time moved or
that are wanted again, one for those no longer wanted (skipped with a reason, never sent).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta, tzinfo
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.domain.deliveries import REMINDER, About, Lane, lane_of
from bot.domain.events import OccurrenceStatus, RsvpStatus
from bot.domain.members import Subscription
from bot.domain.reminders import (
    REVIVABLE,
    SKIP_REPLANNED,
    Applied,
    PlanMember,
    PlanOccurrence,
    Reminder,
    ReminderKind,
    Stored,
    decode_overrides,
)
from bot.store.dialect import among
from bot.store.outbox import about_values, fan_out
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
        """Members who may get reminders: agreed to notices and reachable."""
        m = members.c
        rows = self._session.execute(
            select(m.id, m.notify_scope).where(
                m.subscription == Subscription.SUBSCRIBED.value, m.unreachable_at.is_(None)
            )
        ).all()
        regions: dict[int, set[str]] = {}
        for member_id, region in self._session.execute(
            select(member_regions.c.member_id, member_regions.c.region)
            .join(members, members.c.id == member_regions.c.member_id)
            .where(
                members.c.subscription == Subscription.SUBSCRIBED.value,
                members.c.unreachable_at.is_(None),
            )
        ):
            regions.setdefault(member_id, set()).add(region)
        return [
            PlanMember(
                id=row.id,
                regions=frozenset(regions.get(row.id, ())),
                scope=scope_of(row.notify_scope),
            )
            for row in rows
        ]

    def answers(self, occurrence_ids: Collection[int]) -> dict[tuple[int, int], RsvpStatus]:
        if not occurrence_ids:
            return {}
        r = rsvps.c
        return {
            (row.occurrence_id, row.member_id): RsvpStatus(row.status)
            for row in self._session.execute(
                select(r.occurrence_id, r.member_id, r.status).where(
                    r.occurrence_id.in_(sorted(occurrence_ids))
                )
            )
        }

    def stored(self, occurrence_ids: Collection[int], now: datetime) -> list[Stored]:
        """The reminders already in the outbox for these occurrences, and recent digests."""
        d = deliveries.c
        about = [d.reference.like(f"{ReminderKind.DIGEST.value}:%")]
        if occurrence_ids:
            about.append(d.occurrence_id.in_(sorted(occurrence_ids)))
        rows = self._session.execute(
            select(
                d.id, d.member_id, d.reference, d.state, d.skip_reason, d.due_at, d.occurrence_id
            ).where(
                d.purpose == REMINDER,
                or_(*about),
                or_(d.occurrence_id.is_not(None), d.due_at >= now - LOOK_AHEAD),
            )
        ).all()
        return [Stored(*row) for row in rows]

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
        """How organisers know these members: their name, else channel and id."""
        if not member_ids:
            return {}
        m = members.c
        return {
            row.id: row.display_name or f"{row.channel}:{row.external_id}"
            for row in self._session.execute(
                select(m.id, m.display_name, m.channel, m.external_id).where(
                    m.id.in_(sorted(member_ids))
                )
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

    def _insert(
        self, condition: ColumnElement[bool], payload: dict[str, Any], constants: dict[str, Any]
    ) -> int:
        """Queue new reminders: under the planning lock, as plain INSERTs (they were read
        missing); should one exist after all, that statement is done again keeping it."""
        if not self._locked:
            return fan_out(self._session, condition, payload, constants)
        try:
            with self._session.begin_nested():
                return fan_out(self._session, condition, payload, constants, new=True)
        except IntegrityError:
            log.warning("a reminder planned as new was in the outbox already; kept it")
            return fan_out(self._session, condition, payload, constants)

    def apply(
        self,
        planned: list[Reminder],
        stored: list[Stored],
        reasons: Mapping[tuple[int, str], str],
        now: datetime,
    ) -> Applied:
        """Make the outbox hold `planned`: insert, move, revive; skip queued reminders no
        longer planned, with `reasons[(member, reference)]` (default: no longer planned)."""
        by_key = {(row.member_id, row.reference): row for row in stored}
        # The same reminder (kind, occurrence, time) for many members is one INSERT ... SELECT.
        new: dict[tuple[Any, ...], list[Reminder]] = defaultdict(list)
        moves: list[dict[str, Any]] = []
        revivals: list[dict[str, Any]] = []
        wanted: set[tuple[int, str]] = set()
        for reminder in planned:
            key = (reminder.member_id, reminder.reference)
            wanted.add(key)
            row = by_key.get(key)
            if row is None:
                new[_same_row_but_member(reminder)].append(reminder)
            elif row.state == "queued":
                if row.due_at != reminder.due_at and not (
                    row.due_at <= now and reminder.due_at <= now
                ):
                    moves.append({"row_id": row.id, "new_due": reminder.due_at})
            elif row.state == "skipped" and row.skip_reason in REVIVABLE:
                revivals.append({"row_id": row.id, "new_due": reminder.due_at})
        skips: dict[str, list[int]] = {}
        for key, row in by_key.items():
            if row.state == "queued" and key not in wanted:
                skips.setdefault(reasons.get(key, SKIP_REPLANNED), []).append(row.id)
        queued = 0
        for group in new.values():
            payload, constants = _payload(group[0]), _constants(group[0], now)
            ids = [reminder.member_id for reminder in group]
            for start in range(0, len(ids), FAN_OUT_CHUNK):
                chunk = among(members.c.id, ids[start : start + FAN_OUT_CHUNK], self._dialect)
                queued += self._insert(chunk, payload, constants)
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


def _same_row_but_member(reminder: Reminder) -> tuple[Any, ...]:
    """What makes two members' reminders the same row but for the member."""
    return (
        reminder.reference,
        reminder.due_at,
        reminder.expect_rsvp,
        reminder.unanswered,
        reminder.slug,
        reminder.month,
    )


def _payload(reminder: Reminder) -> dict[str, Any]:
    payload: dict[str, Any] = {"kind": REMINDER, "reminder": reminder.kind.value}
    if reminder.unanswered:
        payload["unanswered"] = True
    if reminder.month is not None:
        payload.update(slug=reminder.slug, month=reminder.month)
    return payload


def _constants(reminder: Reminder, now: datetime) -> dict[str, Any]:
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
