"""The outbox as the dispatcher uses it: claim due rows, then record what became of each.

Unlike the repositories, every call here is its own transaction and commits: a claim must be
durable before anything is sent, and an outcome as soon as it is known.

Outcomes are fenced: given a `Claim`, an update applies only while the row is still sending
under that claim's attempt, so a process whose lease ran out cannot overwrite the outcome of
the process that claimed the row after it. Given a bare id (an operator's command), it applies
whoever holds the row.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Select,
    Table,
    and_,
    bindparam,
    func,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery.model import Channels, Claim, ClaimedDelivery
from bot.delivery.policy import LOWER_LANE_SHARE, SKIP_UNREACHABLE, skip_reason
from bot.domain.deliveries import Lane
from bot.domain.privacy import consent_skip
from bot.store.dialect import for_update_skip_locked
from bot.store.outbox import about_of
from bot.store.repositories import members
from bot.store.tables import DeliveryRow

deliveries = cast(Table, DeliveryRow.__table__)

_MAX_ERROR_CHARS = 2000
_MAX_REASON_CHARS = 64  # deliveries.skip_reason
_MAX_MEMBER_REASON_CHARS = 200  # members.unreachable_reason
_MAX_MESSAGE_ID_CHARS = 64  # deliveries.channel_message_id
_FORGOTTEN: dict[str, Any] = {}


def _held_by(claim: Claim | int) -> ColumnElement[bool]:
    """The row of `claim`, while that claim still holds it; a bare id: the row, whoever
    holds it."""
    d = deliveries.c
    if isinstance(claim, int):
        return d.id == claim
    return and_(d.id == claim.delivery_id, d.state == "sending", d.attempts == claim.attempt)


def _all_held_by(claims: Collection[Claim]) -> ColumnElement[bool]:
    d = deliveries.c
    pairs = sorted((claim.delivery_id, claim.attempt) for claim in claims)
    return and_(tuple_(d.id, d.attempts).in_(pairs), d.state == "sending")


def _claimable(now: datetime) -> ColumnElement[bool]:
    """Due rows, and rows whose sender vanished (crashed) without recording an outcome."""
    d = deliveries.c
    return or_(
        and_(d.state == "queued", d.due_at <= now),
        and_(d.state == "sending", d.lease_until < now),
    )


def _free(now: datetime, table: Any = deliveries) -> ColumnElement[bool]:
    """Rows nobody holds: queued (due or not), or left sending by a crash. The rest of a
    multicast's rows is taken with the row that is due, whenever each is due."""
    d = table.c
    return or_(d.state == "queued", and_(d.state == "sending", d.lease_until < now))


def _rows(channels: Channels) -> Select[Any]:
    """Outbox rows with their member's channel, ids, language and standing (of `channels`)."""
    d, m = deliveries.c, members.c
    statement = select(
        d.id,
        d.purpose,
        d.reference,
        d.member_id,
        d.payload,
        d.retry_key,
        d.due_at,
        d.lane,
        d.occurrence_id,
        d.relay_id,
        d.broadcast_id,
        d.expect_rsvp,
        d.attempts,
        d.state,
        d.lease_until,
        m.channel,
        m.external_id,
        m.language,
        m.role,
        m.subscription,
        m.unreachable_at,
        m.consent_version,
    ).join_from(deliveries, members, m.id == d.member_id)
    if channels is not None:
        # A channel maps to the ids it can reach (the console reaches only the person at the
        # terminal), or to None for everyone on it.
        reach = channels if isinstance(channels, Mapping) else dict.fromkeys(channels)
        statement = statement.where(
            or_(
                *(
                    m.channel == channel
                    if ids is None
                    else and_(m.channel == channel, m.external_id.in_(sorted(ids)))
                    for channel, ids in sorted(reach.items())
                )
            )
        )
    return statement


def _locked(session: Session, statement: Select[Any]) -> list[Any]:
    dialect = session.get_bind().dialect.name
    return list(session.execute(for_update_skip_locked(statement, dialect, of=deliveries)).all())


def _candidates(
    session: Session,
    now: datetime,
    limit: int,
    channels: Channels,
    lane: Lane,
    passed: Collection[int],
) -> list[Any]:
    """Due rows of one lane, oldest first, but for `passed`; locked where the database can."""
    d = deliveries.c
    statement = (
        _rows(channels)
        .where(d.lane == int(lane), _claimable(now))
        .order_by(d.due_at, d.id)
        .limit(limit)
    )
    if passed:
        statement = statement.where(d.id.not_in(sorted(passed)))
    return _locked(session, statement)


def _allot(candidates: dict[Lane, list[Any]], limit: int, share: float) -> list[Any]:
    """Fill the batch by lane, highest first, after giving every waiting lane its share.

    The share (at least one row) is what keeps a lower lane from being starved for ever while
    a higher one is busy; it also bounds how far a lower lane can slow a higher one.
    """
    floor = max(1, int(limit * share))
    taken = {lane: min(len(rows), floor) for lane, rows in candidates.items()}
    while sum(taken.values()) > limit:  # more lanes waiting than the batch has room for
        lowest = max(lane for lane, count in taken.items() if count)
        taken[lowest] -= 1
    room = limit - sum(taken.values())
    for lane in sorted(candidates):
        extra = min(room, len(candidates[lane]) - taken[lane])
        taken[lane] += extra
        room -= extra
    return [row for lane in sorted(candidates) for row in candidates[lane][: taken[lane]]]


def claim_in(
    session: Session,
    now: datetime,
    limit: int,
    lease: timedelta,
    *,
    channels: Channels = None,
    share: float = LOWER_LANE_SHARE,
    batches: Mapping[str, int] | None = None,
) -> list[ClaimedDelivery]:
    """`SqlDeliveryQueue.claim` inside a transaction the caller commits."""
    batches = {channel: size for channel, size in (batches or {}).items() if size > 1}
    claimed: list[ClaimedDelivery] = []
    passed: set[int] = set()
    # Rows a claim may add to its due rows so that they go in full multicasts.
    room = max(batches.values(), default=0)
    while len(claimed) < limit:
        wanted = limit - len(claimed)
        candidates = {
            lane: _candidates(session, now, wanted, channels, lane, passed) for lane in Lane
        }
        rows = _allot({lane: rows for lane, rows in candidates.items() if rows}, wanted, share)
        if not rows:
            break
        sendable = _skip_unsendable(session, rows, _claimable(now))
        claimed += _take(session, [r for r in sendable if r.channel not in batches], now, lease)
        runs: dict[tuple[str, str, str], list[Any]] = {}
        for row in sendable:
            if row.channel in batches:
                runs.setdefault((row.channel, row.purpose, row.reference), []).append(row)
        for (channel, purpose, reference), found in runs.items():
            more = min(room, batches[channel] - len(found))
            if more > 0:
                added = _run_rows(
                    session, now, channels, channel, purpose, reference, more, passed, found
                )
                room -= len(added)
                found += _skip_unsendable(session, added, _claimable(now))
            claimed += _take_run(session, found, now, lease, passed)
        passed.update(row.id for row in rows)
    return claimed


def _skip_unsendable(
    session: Session, rows: list[Any], condition: ColumnElement[bool]
) -> list[Any]:
    """Mark the rows their member cannot or should not get as skipped; returns the others."""
    sendable = []
    skipped: dict[str, list[int]] = {}
    for row in rows:
        reason = skip_reason(
            row.purpose, row.subscription, unreachable=row.unreachable_at is not None
        ) or consent_skip(row.purpose, row.role, row.consent_version)
        if reason is None:
            sendable.append(row)
        else:
            skipped.setdefault(reason, []).append(row.id)
    for reason, ids in skipped.items():
        session.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(ids), condition)
            .values(state="skipped", skip_reason=reason, lease_until=None)
        )
    return sendable


def _run_rows(
    session: Session,
    now: datetime,
    channels: Channels,
    channel: str,
    purpose: str,
    reference: str,
    limit: int,
    passed: Collection[int],
    found: list[Any],
) -> list[Any]:
    """More due rows of the same purpose and reference on `channel`, for one multicast."""
    d = deliveries.c
    reach: Channels = {channel: None}
    if isinstance(channels, Mapping):
        reach = {channel: channels.get(channel)}
    not_these = sorted({*passed, *(row.id for row in found)})
    statement = (
        _rows(reach)
        .where(
            d.purpose == purpose,
            d.reference == reference,
            _claimable(now),
            d.id.not_in(not_these),
        )
        .order_by(d.due_at, d.id)
        .limit(limit)
    )
    return _locked(session, statement)


def _take_run(
    session: Session, rows: list[Any], now: datetime, lease: timedelta, passed: set[int]
) -> list[ClaimedDelivery]:
    """Claim rows of one purpose and reference on a multicast channel.

    A row never tried (every earlier claim given back) is free to join any multicast. A row
    tried before keeps its key: alone if no other row has it, else only together with every
    row of that key still to be sent, as one multicast, or not at all. Its key may have gone
    out with exactly those rows, and a platform that deduplicates on the key (LINE) accepts
    a repeat of it as the same request whoever it names: a part sent on its own, then the
    rest on their own, would have the rest dropped as duplicates.
    """
    fresh = [row for row in rows if row.attempts == 0 or not row.retry_key]
    tried = [row for row in rows if not (row.attempts == 0 or not row.retry_key)]
    # A key never sent may still be in a row whose multicast was given back untried: a new
    # one, so that it cannot name a request of other rows.
    claimed = _take(session, fresh, now, lease, new_keys=True)
    if not tried:
        return claimed
    d = deliveries.c
    purpose, reference = rows[0].purpose, rows[0].reference
    keys = list(dict.fromkeys(row.retry_key for row in tried))
    holders: dict[str, list[Any]] = {}
    for row in session.execute(
        _rows(None).where(d.purpose == purpose, d.reference == reference, d.retry_key.in_(keys))
    ):
        holders.setdefault(row.retry_key, []).append(row)
    for key in keys:
        group = holders.get(key, [])
        if len(group) < 2:
            claimed += _take(session, [row for row in tried if row.retry_key == key], now, lease)
            continue
        pending = [row for row in group if row.state in ("queued", "sending")]
        passed |= {row.id for row in pending}
        claimed += _take_group(session, pending, now, lease)
    return claimed


def _take_group(
    session: Session, pending: list[Any], now: datetime, lease: timedelta
) -> list[ClaimedDelivery]:
    """Claim every unsent row of one shared key, or none (another process holds some of
    them); rows whose member cannot get it any more are skipped."""
    if not pending:
        return []
    d = deliveries.c
    free = _locked(session, select(d.id).where(d.id.in_([row.id for row in pending]), _free(now)))
    if len(free) != len(pending):
        return []
    # Written only once every row is locked (PostgreSQL): two claims each waiting to write a
    # row the other has locked would be a deadlock.
    rows = _skip_unsendable(session, pending, _free(now))
    if not rows:
        return []
    ids = sorted(row.id for row in rows)
    # One statement takes all or nothing: on SQLite, a claim that read the rows before our
    # lock may have taken some meanwhile; on PostgreSQL they are locked by now.
    other = deliveries.alias("other")
    all_free = (
        select(func.count())
        .select_from(other)
        .where(other.c.id.in_(ids), _free(now, other))
        .scalar_subquery()
    )
    taken = _take(session, rows, now, lease, condition=and_(_free(now), all_free == len(ids)))
    if taken and len(taken) != len(ids):
        raise RuntimeError(f"a multicast's rows were claimed in part: {ids}")
    return [replace(row, shared_key=True) for row in taken]


def _take(
    session: Session,
    rows: list[Any],
    now: datetime,
    lease: timedelta,
    *,
    condition: ColumnElement[bool] | None = None,
    new_keys: bool = False,
) -> list[ClaimedDelivery]:
    """Mark `rows` sending (those still meeting `condition`, by default: claimable) and give
    each a retry key if it has none (`new_keys`: a new one in any case)."""
    if not rows:
        return []
    d = deliveries.c
    # Still claimable is checked again: on SQLite the select above ran outside the write lock,
    # so another process may have claimed a row since. Only rows updated here are ours.
    taken = {
        row.id: row
        for row in session.execute(
            update(deliveries)
            .where(
                d.id.in_([row.id for row in rows]),
                _claimable(now) if condition is None else condition,
            )
            .values(state="sending", lease_until=now + lease, attempts=d.attempts + 1)
            .returning(d.id, d.attempts, d.retry_key)
        )
    }
    keys = {
        id_: str(uuid.uuid4()) if new_keys or not row.retry_key else row.retry_key
        for id_, row in taken.items()
    }
    written = [
        {"b_id": id_, "b_key": keys[id_]}
        for id_, row in taken.items()
        if keys[id_] != row.retry_key
    ]
    if written:
        session.execute(
            update(deliveries)
            .where(d.id == bindparam("b_id"))
            .values(retry_key=bindparam("b_key")),
            written,
        )
    return [
        ClaimedDelivery(
            id=row.id,
            purpose=row.purpose,
            reference=row.reference,
            member_id=row.member_id,
            language=row.language,
            role=row.role,
            payload=row.payload,
            about=about_of(row),
            due_at=row.due_at,
            lane=Lane(row.lane),
            channel=row.channel,
            external_id=row.external_id,
            attempts=taken[row.id].attempts,
            retry_key=keys[row.id],
        )
        for row in rows
        if row.id in taken
    ]


def _retry_values(error: str | None, due_at: datetime, count_attempt: bool) -> dict[str, Any]:
    values: dict[str, Any] = {"state": "queued", "due_at": due_at, "lease_until": None}
    if error is not None:
        values["last_error"] = error[:_MAX_ERROR_CHARS]
    if not count_attempt:
        values["attempts"] = deliveries.c.attempts - 1
    return values


class SqlDeliveryQueue:
    """The `DeliveryQueue` port on SQLAlchemy; each method commits its own transaction."""

    def __init__(
        self, sessions: sessionmaker[Session], *, lower_lane_share: float = LOWER_LANE_SHARE
    ) -> None:
        self._sessions = sessions
        self._share = lower_lane_share

    def claim(
        self,
        now: datetime,
        limit: int,
        lease: timedelta,
        *,
        channels: Channels = None,
        batches: Mapping[str, int] | None = None,
    ) -> list[ClaimedDelivery]:
        """Take up to `limit` due rows, highest lane first, and mark them sending until
        `now + lease`; every waiting lower lane gets a share of the batch.

        `batches` names the channels that multicast, with how many members a call reaches: a
        due row of theirs brings up to that many due rows of its purpose and reference (one
        broadcast part, one reminder) into the claim, at most that many more in all. A row
        whose key a multicast may have used (`shared_key`) comes with every unsent row of its
        key, or, when another process holds some of them, not at all.

        Due: queued with `due_at <= now`, or sending with an expired lease (the process that
        claimed them stopped before recording an outcome: at most one duplicate, never a loss).
        Rows for unreachable members, or for members without a subscription when the purpose
        needs one, are marked skipped in the same transaction instead. On PostgreSQL rows that
        another dispatcher is claiming are passed over (`SKIP LOCKED`).
        """
        with self._sessions.begin() as session:
            return claim_in(
                session,
                now,
                limit,
                lease,
                channels=channels,
                share=self._share,
                batches=batches,
            )

    def share_key(self, claims: Collection[Claim], retry_key: str) -> set[int]:
        """Write `retry_key` into the rows of `claims` still ours; returns their ids. Done
        before their multicast goes, so that a retry after a crash names the same request."""
        return self._update_many(claims, retry_key=retry_key)

    def mark_sent_many(
        self, claims: Collection[Claim], channel_message_id: str, now: datetime
    ) -> set[int]:
        """The multicast of these rows reached the platform; returns the ids still ours."""
        return self._update_many(
            claims,
            state="sent",
            channel_message_id=channel_message_id[:_MAX_MESSAGE_ID_CHARS],
            sent_at=now,
            lease_until=None,
        )

    def mark_retry_many(
        self,
        claims: Collection[Claim],
        error: str | None,
        due_at: datetime,
        *,
        count_attempt: bool = True,
    ) -> set[int]:
        """`mark_retry` for the rows of one multicast, all due at once (so that they are
        claimed together again); returns the ids still ours."""
        return self._update_many(claims, **_retry_values(error, due_at, count_attempt))

    def mark_failed_many(self, claims: Collection[Claim], error: str) -> set[int]:
        """Give up on the rows of one multicast; returns the ids still ours."""
        return self._update_many(
            claims, state="failed", last_error=error[:_MAX_ERROR_CHARS], lease_until=None
        )

    def _update_many(self, claims: Collection[Claim], **values: Any) -> set[int]:
        if not claims:
            return set()
        with self._sessions.begin() as session:
            result = session.execute(
                update(deliveries)
                .where(_all_held_by(claims))
                .values(**values)
                .returning(deliveries.c.id)
            )
            return set(result.scalars())

    def renew(self, claims: Collection[Claim], until: datetime) -> set[int]:
        """Extend the lease of the claims still ours; returns the ids of their rows (a row
        missing from it was claimed by another process once our lease had run out)."""
        if not claims:
            return set()
        with self._sessions.begin() as session:
            result = session.execute(
                update(deliveries)
                .where(_all_held_by(claims))
                .values(lease_until=until)
                .returning(deliveries.c.id)
            )
            return set(result.scalars())

    def mark_skipped_many(self, reasons: Mapping[Claim, str]) -> int:
        """Skip several claimed rows at once (rendering found them stale), each with its
        reason; returns how many were still ours."""
        if not reasons:
            return 0
        by_reason: dict[str, list[Claim]] = {}
        for claim, reason in reasons.items():
            by_reason.setdefault(reason[:_MAX_REASON_CHARS], []).append(claim)
        skipped = 0
        with self._sessions.begin() as session:
            for reason, claims in by_reason.items():
                result = session.execute(
                    update(deliveries)
                    .where(_all_held_by(claims))
                    .values(state="skipped", skip_reason=reason, lease_until=None)
                )
                skipped += cast(CursorResult[Any], result).rowcount
        return skipped

    def forget_messages(self, done_before: datetime) -> int:
        """Empty the payload of rows done with (sent, failed, skipped) before `done_before`:
        what a message said is not kept longer than needed. Returns how many were emptied."""
        d = deliveries.c
        with self._sessions.begin() as session:
            result = session.execute(
                update(deliveries)
                .where(
                    d.state.in_(["sent", "failed", "skipped"]),
                    func.coalesce(d.sent_at, d.created_at) < done_before,
                    d.payload != literal(_FORGOTTEN, d.payload.type),
                )
                .values(payload=_FORGOTTEN)
            )
            return cast(CursorResult[Any], result).rowcount

    def _update(self, claim: Claim | int, **values: Any) -> bool:
        with self._sessions.begin() as session:
            result = session.execute(update(deliveries).where(_held_by(claim)).values(**values))
            return cast(CursorResult[Any], result).rowcount > 0

    def mark_sent(self, claim: Claim | int, channel_message_id: str, now: datetime) -> bool:
        """It reached the platform; `channel_message_id` is the platform's id for it.
        False: the claim no longer held the row, nothing was recorded."""
        return self._update(
            claim,
            state="sent",
            channel_message_id=channel_message_id[:_MAX_MESSAGE_ID_CHARS],
            sent_at=now,
            lease_until=None,
        )

    def mark_retry(
        self,
        claim: Claim | int,
        error: str | None,
        due_at: datetime,
        *,
        count_attempt: bool = True,
    ) -> bool:
        """Queue it again for `due_at`, keeping `error` (None: the previous one) as last error.

        `count_attempt=False` gives back the attempt counted by the claim, for rows that were
        not really tried or that the platform only asked us to send later.
        """
        return self._update(claim, **_retry_values(error, due_at, count_attempt))

    def mark_failed(self, claim: Claim | int, error: str) -> bool:
        """Give up on it: it failed for good, or too many times."""
        return self._update(
            claim, state="failed", last_error=error[:_MAX_ERROR_CHARS], lease_until=None
        )

    def mark_skipped(self, claim: Claim | int, reason: str) -> bool:
        """It will not be sent, for `reason` (e.g. the member is unreachable)."""
        return self._update(
            claim, state="skipped", skip_reason=reason[:_MAX_REASON_CHARS], lease_until=None
        )

    def mark_member_unreachable(self, member_id: int, reason: str, now: datetime) -> int:
        """The platform says the member cannot get messages: record it (the first time) and
        skip their queued deliveries. Returns how many deliveries were skipped."""
        with self._sessions.begin() as session:
            session.execute(
                update(members)
                .where(members.c.id == member_id, members.c.unreachable_at.is_(None))
                .values(
                    unreachable_at=now,
                    unreachable_reason=reason[:_MAX_MEMBER_REASON_CHARS],
                )
            )
            result = session.execute(
                update(deliveries)
                .where(deliveries.c.member_id == member_id, deliveries.c.state == "queued")
                .values(state="skipped", skip_reason=SKIP_UNREACHABLE)
            )
            return cast(CursorResult[Any], result).rowcount
