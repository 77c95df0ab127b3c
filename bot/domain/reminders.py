"""Reminder policy and planning: who is reminded of what, and when. Pure: no clock, no I/O.

`plan` is a function of (occurrences, members, answers, what is already in the outbox, policy,
now). It returns every reminder that should be in the outbox now; the store writes the new ones,
moves the ones whose time changed and skips the ones no longer wanted. The guarantees, each
pinned by property tests:

- nothing is due inside quiet hours; a reminder that would fall inside moves to the last
  allowed moment before it (invitations and digests, which are not tied to a start, to the
  first allowed moment after);
- nothing is due at or after the event's start;
- one reminder per (member, occurrence, kind): the reference names both, and the outbox's
  unique key (purpose, reference, member) holds it in the database too;
- nothing for a member who stopped notices or cannot be reached;
- at most `daily_cap` pushes a member's day, counting the announcements already queued;
- a member on a channel whose kinds are restricted (`PolicyBook.channel_kinds`: LINE's pushes
  cost the campaign money) gets none of the kinds it leaves out.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from bot.domain.deliveries import SKIP_EVENT_CANCELLED, SKIP_EVENT_GONE, SKIP_RSVP_CHANGED
from bot.domain.events import RsvpStatus
from bot.domain.members import Scope


class ReminderKind(enum.StrEnum):
    DAY_BEFORE = "day_before"
    """To members who answered going or maybe: the day before, with buttons to confirm or
    to say they cannot come."""
    SAME_DAY = "same_day"
    """To the same members: on the day, a few hours before."""
    INVITATION = "invitation"
    """To members of the event's regions who have not answered: once, when it is published."""
    NUDGE = "nudge"
    """To the same members, still without an answer: once, a few days before."""
    DIGEST = "digest"
    """Recurring actions (the 4th/14th/24th): the month's dates on the 1st, one answer
    button per date."""


# Under the daily cap, the reminders of events a member said they would attend come first.
PRIORITY: Mapping[ReminderKind, int] = {
    ReminderKind.SAME_DAY: 0,
    ReminderKind.DAY_BEFORE: 1,
    ReminderKind.NUDGE: 2,
    ReminderKind.INVITATION: 3,
    ReminderKind.DIGEST: 4,
}

ATTENDING = frozenset({RsvpStatus.GOING, RsvpStatus.MAYBE})
GAP = timedelta(hours=2)
"""The least time between a day-before reminder and the on-the-day one."""


BIG_KINDS = frozenset({"rally"})
_ALL_KINDS = frozenset(ReminderKind)


@dataclass(frozen=True)
class QuietHours:
    """Local times between which nothing is sent; `start` after `end` spans midnight."""

    start: time = time(21, 0)
    end: time = time(8, 0)

    def contains(self, local: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def before(self, moment: datetime, zone: tzinfo) -> datetime:
        """`moment`, or the last allowed minute before it if it falls in quiet hours."""
        local = moment.astimezone(zone)
        if not self.contains(local.time()):
            return moment
        start_day = local.date()
        if self.start > self.end and local.time() < self.end:
            start_day -= timedelta(days=1)  # after midnight: quiet began the evening before
        began = datetime.combine(start_day, self.start, tzinfo=zone)
        return (began - timedelta(minutes=1)).astimezone(moment.tzinfo)

    def after(self, moment: datetime, zone: tzinfo) -> datetime:
        """`moment`, or the end of the quiet hours it falls in."""
        local = moment.astimezone(zone)
        if not self.contains(local.time()):
            return moment
        end_day = local.date()
        if self.start > self.end and local.time() >= self.start:
            end_day += timedelta(days=1)
        return datetime.combine(end_day, self.end, tzinfo=zone).astimezone(moment.tzinfo)


_OFF_WHEN_ZERO = ("same_day_before", "nudge_before")


@dataclass(frozen=True)
class ReminderPolicy:
    """What is sent for one event. Config gives the defaults, per kind and per event."""

    enabled: bool = True
    day_before_at: time | None = time(10, 0)
    """Local time of the day-before reminder (None: none)."""
    same_day_before: timedelta | None = timedelta(hours=2)
    """How long before the start the on-the-day reminder goes (None: none)."""
    invite: bool = True
    invite_ahead: timedelta = timedelta(days=3)
    """Only events published at least this long before they start get an invitation."""
    nudge_before: timedelta | None = timedelta(days=3)
    """The one nudge to members without an answer goes this many days before, at
    `day_before_at` (or 10:00). None: no nudge."""
    digest: bool = False
    """A recurring event is announced by a monthly digest instead of invitations and nudges."""

    def merged(self, overrides: Mapping[str, Any]) -> ReminderPolicy:
        """This policy with `overrides` applied; a zero length turns that reminder off."""
        known = {f.name for f in fields(self)}
        given = {k: v for k, v in overrides.items() if k in known}
        for name in _OFF_WHEN_ZERO:
            if given.get(name) == timedelta(0):
                given[name] = None
        return replace(self, **given)


@dataclass(frozen=True)
class PolicyBook:
    """The reminder policy of every event: defaults, then its kind's, then its own."""

    zone: tzinfo
    default: ReminderPolicy = ReminderPolicy()
    by_kind: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    quiet: QuietHours = QuietHours()
    daily_cap: int = 3
    digest_at: time = time(10, 0)
    invite_within: timedelta = timedelta(days=1)
    """An invitation not queued within this long of publication is not sent any more (a bot
    started for the first time does not invite members to everything at once)."""
    enabled: bool = True
    channel_kinds: Mapping[str, frozenset[ReminderKind]] = field(default_factory=dict)
    """Channel -> the only kinds its members get (a channel not named: every kind). The rest
    of the policy applies to them as to everyone."""

    def policy(self, kind: str, overrides: Mapping[str, Any] | None = None) -> ReminderPolicy:
        policy = self.default.merged(self.by_kind.get(kind, {}))
        return policy.merged(overrides) if overrides else policy

    def left_out(self, channel: str | None) -> frozenset[ReminderKind]:
        """The kinds members on `channel` do not get."""
        allowed = self.channel_kinds.get(channel) if channel is not None else None
        return _ALL_KINDS - allowed if allowed is not None else frozenset()


@dataclass(frozen=True)
class PlanOccurrence:
    id: int
    slug: str
    kind: str
    title: str
    starts_at: datetime
    published_at: datetime
    regions: frozenset[str]
    """The event's regions, with every region `for_everyone` reaching all members."""
    everyone: bool = False
    cancelled: bool = False
    rsvp_enabled: bool = True
    answers_close_at: datetime | None = None
    recurring: bool = False
    overrides: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class PlanMember:
    id: int
    regions: frozenset[str] = frozenset()
    subscribed: bool = True
    reachable: bool = True
    scope: Scope = Scope.ALL
    channel: str | None = None
    """Where the member is ("telegram", "line", "console"); None: unrestricted."""


@dataclass(frozen=True)
class Reminder:
    """One reminder that should be in the outbox."""

    member_id: int
    kind: ReminderKind
    reference: str
    due_at: datetime
    occurrence_id: int | None
    before: datetime
    """It must go before this moment (the start, or the close of answers) or not at all."""
    expect_rsvp: frozenset[RsvpStatus] = frozenset()
    """The member's answer must still be one of these when it is sent (empty: any)."""
    unanswered: bool = False
    """It is sent only while the member has not answered (invitations and nudges)."""
    slug: str = ""
    month: str | None = None
    """For a digest: the month it lists, "2026-12"."""


@dataclass(frozen=True)
class Batch:
    """Reminders alike but for their member: the same kind, reference and moment for each of
    `member_ids`, one outbox row each. Planning works on these (a few dozen for ten thousand
    members), not on one object per reminder."""

    kind: ReminderKind
    reference: str
    due_at: datetime
    occurrence_id: int | None
    before: datetime
    member_ids: list[int]
    expect_rsvp: frozenset[RsvpStatus] = frozenset()
    unanswered: bool = False
    slug: str = ""
    month: str | None = None

    def __len__(self) -> int:
        return len(self.member_ids)

    def with_members(self, member_ids: list[int], due_at: datetime | None = None) -> Batch:
        """The same reminder for `member_ids` (at `due_at`, if given)."""
        return Batch(
            self.kind,
            self.reference,
            self.due_at if due_at is None else due_at,
            self.occurrence_id,
            self.before,
            member_ids,
            self.expect_rsvp,
            self.unanswered,
            self.slug,
            self.month,
        )

    def reminders(self) -> list[Reminder]:
        return [
            Reminder(
                member_id,
                self.kind,
                self.reference,
                self.due_at,
                self.occurrence_id,
                self.before,
                self.expect_rsvp,
                self.unanswered,
                self.slug,
                self.month,
            )
            for member_id in self.member_ids
        ]


def reminders_of(batches: Iterable[Batch]) -> list[Reminder]:
    """One `Reminder` per member of each batch."""
    return [reminder for batch in batches for reminder in batch.reminders()]


_DURATIONS = ("same_day_before", "invite_ahead", "nudge_before")
_TIMES = ("day_before_at",)


def encode_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Policy overrides as JSON: durations in seconds, times as "HH:MM"."""
    encoded: dict[str, Any] = {}
    for name, value in overrides.items():
        if name in _DURATIONS and value is not None:
            encoded[name] = int(value.total_seconds())
        elif name in _TIMES and value is not None:
            encoded[name] = value.strftime("%H:%M")
        else:
            encoded[name] = value
    return encoded


def decode_overrides(encoded: Mapping[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = {}
    for name, value in encoded.items():
        if name in _DURATIONS and value is not None:
            decoded[name] = timedelta(seconds=int(value))
        elif name in _TIMES and value is not None:
            decoded[name] = time.fromisoformat(str(value))
        else:
            decoded[name] = value
    return decoded


SKIP_REPLANNED = "no longer planned"
SKIP_ANSWERED = "answered"
SKIP_STOPPED = "notices stopped"
SKIP_CHANNEL = "kind off on channel"
"""The member's channel no longer gets this kind (reminders.channels in the config)."""
REVIVABLE = frozenset(
    {SKIP_REPLANNED, SKIP_RSVP_CHANGED, SKIP_EVENT_CANCELLED, SKIP_ANSWERED, SKIP_CHANNEL}
)
"""Reasons that stop standing when the plan wants the reminder again (never sent)."""


@dataclass(frozen=True)
class Stored:
    """Reminders in the outbox alike but for the member: the same reference, state, skip
    reason, time and occurrence. `ids[i]` is the row of `member_ids[i]`."""

    reference: str
    state: str
    skip_reason: str | None
    due_at: datetime
    occurrence_id: int | None
    ids: Sequence[int]
    member_ids: Sequence[int]

    def rows(self) -> dict[int, int]:
        """Member -> the id of their row."""
        return dict(zip(self.member_ids, self.ids, strict=True))


@dataclass(frozen=True)
class Applied:
    """What applying a plan changed."""

    queued: int = 0
    moved: int = 0
    revived: int = 0
    skipped: Mapping[str, int] | None = None

    @property
    def changed(self) -> bool:
        return bool(self.queued or self.moved or self.revived or self.skipped)


def skip_reason(
    reminder_key: tuple[int, str],
    row: Stored,
    occurrence: PlanOccurrence | None,
    answers: Mapping[tuple[int, int], RsvpStatus],
    subscribed: Collection[int],
    left_out: Collection[str] = (),
) -> str:
    """Why a queued reminder is no longer planned, in words an organiser can read.
    `left_out`: the kinds the member's channel does not get."""
    member_id = reminder_key[0]
    if member_id not in subscribed:
        return SKIP_STOPPED
    kind = row.reference.split(":", 1)[0]
    if row.occurrence_id is not None:
        if occurrence is None:
            return SKIP_EVENT_GONE
        if occurrence.cancelled:
            return SKIP_EVENT_CANCELLED
    if kind in left_out:
        return SKIP_CHANNEL
    if row.occurrence_id is not None:
        answer = answers.get((row.occurrence_id, member_id))
        if kind in (ReminderKind.INVITATION.value, ReminderKind.NUDGE.value):
            if answer is not None:
                return SKIP_ANSWERED
        elif answer not in (RsvpStatus.GOING, RsvpStatus.MAYBE):
            return SKIP_RSVP_CHANGED
    return SKIP_REPLANNED


def reference(kind: ReminderKind, occurrence_id: int) -> str:
    return f"{kind.value}:{occurrence_id}"


def digest_reference(slug: str, month: str) -> str:
    return f"{ReminderKind.DIGEST.value}:{slug}:{month}"


@dataclass(frozen=True)
class OutboxState:
    """What the outbox already holds, as planning needs it, by reference.

    `kept`: reference -> members with a reminder that may not be planned again (sent, being
    sent, failed, or skipped for a reason that stands). `queued`: reference -> members whose
    reminder is still waiting (planning keeps or moves it). `other_pushes`: the member's non-
    transactional pushes that are not reminders planned here, by local day."""

    kept: Mapping[str, Collection[int]] = field(default_factory=dict)
    queued: Mapping[str, Collection[int]] = field(default_factory=dict)
    other_pushes: Mapping[tuple[int, date], int] = field(default_factory=dict)


def outbox_state(
    stored: Iterable[Stored], other_pushes: Mapping[tuple[int, date], int]
) -> OutboxState:
    """What planning must know of the reminders stored: those waiting, and those it may not
    plan again (sent, being sent, failed, or skipped for a reason that still stands)."""
    kept: dict[str, set[int]] = defaultdict(set)
    queued: dict[str, set[int]] = defaultdict(set)
    for group in stored:
        if group.state == "queued":
            queued[group.reference].update(group.member_ids)
        elif not (group.state == "skipped" and group.skip_reason in REVIVABLE):
            kept[group.reference].update(group.member_ids)
    return OutboxState(dict(kept), dict(queued), dict(other_pushes))


def plan(
    occurrences: Iterable[PlanOccurrence],
    members: Iterable[PlanMember],
    answers: Mapping[tuple[int, int], RsvpStatus],
    outbox: OutboxState,
    book: PolicyBook,
    now: datetime,
    *,
    until: datetime | None = None,
) -> list[Reminder]:
    """Every reminder that should be in the outbox now (see the module's guarantees), due by
    the end of `until`'s day at the latest (None: however far ahead).

    `answers`: (occurrence id, member id) -> the member's answer. The horizon ends with a day,
    so that the daily cap weighs every reminder of a day against each other, in one run.
    """
    return reminders_of(plan_batches(occurrences, members, answers, outbox, book, now, until=until))


def plan_batches(
    occurrences: Iterable[PlanOccurrence],
    members: Iterable[PlanMember],
    answers: Mapping[tuple[int, int], RsvpStatus],
    outbox: OutboxState,
    book: PolicyBook,
    now: datetime,
    *,
    until: datetime | None = None,
) -> list[Batch]:
    """`plan`, as batches of reminders alike but for the member: what the planner writes."""
    if not book.enabled:
        return []
    last = _end_of_day(until, book.zone) if until is not None else None
    reachable = [m for m in members if m.subscribed and m.reachable]
    everyone = _unique_ids(m.id for m in reachable)
    open_ids = set(everyone)
    narrow = {m.id for m in reachable if m.scope is not Scope.ALL}  # big actions only
    attending: dict[int, list[int]] = defaultdict(list)
    answered: dict[int, set[int]] = defaultdict(set)
    for (occurrence_id, member_id), status in answers.items():
        answered[occurrence_id].add(member_id)
        if status in ATTENDING and member_id in open_ids:
            attending[occurrence_id].append(member_id)
    by_region: dict[str, list[int]] = defaultdict(list)
    for member in reachable:
        for region in member.regions:
            by_region[region].append(member.id)
    audiences: dict[frozenset[str], list[int]] = {}
    candidates: list[Batch] = []
    digests: dict[tuple[str, str], PlanOccurrence] = {}
    for occurrence in occurrences:
        if occurrence.cancelled or occurrence.starts_at <= now:
            continue
        policy = book.policy(occurrence.kind, occurrence.overrides)
        if not policy.enabled:
            continue
        candidates.extend(_attending(occurrence, policy, attending[occurrence.id], book, now, last))
        if policy.digest and occurrence.recurring:
            month = occurrence.starts_at.astimezone(book.zone).strftime("%Y-%m")
            digests.setdefault((occurrence.slug, month), occurrence)
            continue
        if occurrence.everyone:
            audience = everyone
        elif occurrence.regions in audiences:
            audience = audiences[occurrence.regions]
        else:
            audience = audiences[occurrence.regions] = _unique_ids(
                i for r in sorted(occurrence.regions) for i in by_region.get(r, ())
            )
        candidates.extend(
            _unanswered(
                occurrence,
                policy,
                audience,
                answered.get(occurrence.id, set()),
                narrow,
                outbox,
                book,
                now,
                last,
            )
        )
    for (slug, month), first in digests.items():
        candidates.extend(_digest(slug, month, first, reachable, outbox, book, now, last))
    off = _off_by_kind(reachable, book)
    wanted: list[Batch] = []
    for batch in candidates:  # a pass over a batch's members only when something is dropped
        kept = outbox.kept.get(batch.reference) or ()
        left_out = off.get(batch.kind) or ()
        if kept and left_out:
            batch = batch.with_members(
                [i for i in batch.member_ids if i not in kept and i not in left_out]
            )
        elif kept or left_out:
            dropped = kept or left_out
            batch = batch.with_members([i for i in batch.member_ids if i not in dropped])
        if batch.member_ids:
            wanted.append(batch)
    return _capped(wanted, outbox, book, last)


def _off_by_kind(members: list[PlanMember], book: PolicyBook) -> dict[ReminderKind, set[int]]:
    """Kind -> the members whose channel leaves it out; only the kinds some channel leaves
    out (nothing at all when no channel is restricted). Worked out once a plan, a channel at
    a time, so that a batch is filtered in one pass before the daily cap counts it."""
    if not book.channel_kinds:
        return {}
    by_channel: dict[str | None, list[int]] = defaultdict(list)
    for member in members:
        by_channel[member.channel].append(member.id)
    off: dict[ReminderKind, set[int]] = {}
    for channel, ids in by_channel.items():
        for kind in book.left_out(channel):
            off.setdefault(kind, set()).update(ids)
    return off


def _end_of_day(moment: datetime, zone: tzinfo) -> datetime:
    """The local midnight that ends `moment`'s day, as an instant."""
    day = moment.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(moment.tzinfo)


def _by(due: datetime | None, last: datetime | None) -> datetime | None:
    """`due`, unless it is after the horizon."""
    return due if due is not None and (last is None or due < last) else None


def _unique_ids(ids: Iterable[int]) -> list[int]:
    """`ids` without repeats, in the order first seen."""
    return list(dict.fromkeys(ids))


def _wants(member: PlanMember, occurrence: PlanOccurrence) -> bool:
    return member.scope is Scope.ALL or occurrence.kind in BIG_KINDS


def _attending(
    occurrence: PlanOccurrence,
    policy: ReminderPolicy,
    attending: list[int],
    book: PolicyBook,
    now: datetime,
    last: datetime | None,
) -> list[Batch]:
    """The day before and on the day, to members who said 参加 or 未定, wherever they live and
    whatever their scope: they asked to come."""
    if not attending:
        return []
    zone, start = book.zone, occurrence.starts_at
    same_day = day_before = None
    if policy.same_day_before is not None:
        ideal = start - policy.same_day_before
        same_day = _allowed_now(book.quiet.before(ideal, zone), now, book, start)
    if policy.day_before_at is not None:
        eve = start.astimezone(zone).date() - timedelta(days=1)
        ideal = datetime.combine(eve, policy.day_before_at, tzinfo=zone)
        day_before = _allowed_now(book.quiet.before(ideal, zone), now, book, start)
    if day_before is not None and same_day is not None and day_before > same_day - GAP:
        day_before = None  # so late it would come with the on-the-day one, which says it all
    return [
        Batch(
            kind,
            reference(kind, occurrence.id),
            due,
            occurrence.id,
            before=start,
            member_ids=list(attending),
            expect_rsvp=ATTENDING,
            slug=occurrence.slug,
        )
        for kind, due in (
            (ReminderKind.DAY_BEFORE, _by(day_before, last)),
            (ReminderKind.SAME_DAY, _by(same_day, last)),
        )
        if due is not None
    ]


def _allowed_now(
    due: datetime, now: datetime, book: PolicyBook, start: datetime
) -> datetime | None:
    """A time that has passed becomes now, or the end of the quiet hours now is in; None if
    that is no longer before the start."""
    if due >= now:
        return due if due < start else None
    moment = book.quiet.after(now, book.zone)
    return moment if moment < start else None


def _unanswered(
    occurrence: PlanOccurrence,
    policy: ReminderPolicy,
    audience: list[int],
    answered: Collection[int],
    narrow: Collection[int],
    outbox: OutboxState,
    book: PolicyBook,
    now: datetime,
    last: datetime | None,
) -> list[Batch]:
    """One invitation when published (if far enough ahead), and at most one nudge, to the
    members of `audience` who have not answered (of those in `narrow`, for big actions only)."""
    if not occurrence.rsvp_enabled:
        return []
    zone, start = book.zone, occurrence.starts_at
    closes = min(start, occurrence.answers_close_at or start)
    invitation: datetime | None = None
    fresh = False
    if policy.invite and start - occurrence.published_at >= policy.invite_ahead:
        invitation = book.quiet.after(max(occurrence.published_at, now), zone)
        fresh = now - occurrence.published_at <= book.invite_within
        if invitation >= closes:
            invitation = None
    nudge: datetime | None = None
    if policy.nudge_before is not None:
        day = start.astimezone(zone).date() - timedelta(days=policy.nudge_before.days or 1)
        ideal = datetime.combine(day, policy.day_before_at or time(10, 0), tzinfo=zone)
        nudge = _allowed_now(book.quiet.before(ideal, zone), now, book, closes)
        published = occurrence.published_at
        if nudge is not None and (nudge <= published or nudge - published < timedelta(days=1)):
            nudge = None  # so soon after the invitation it would be a second one
    invitation, nudge = _by(invitation, last), _by(nudge, last)
    if invitation is None and nudge is None:
        return []
    ids = [i for i in audience if i not in answered] if answered else audience
    if narrow and occurrence.kind not in BIG_KINDS:
        ids = [i for i in ids if i not in narrow]
    batches: list[Batch] = []
    if invitation is not None:
        invite_ref = reference(ReminderKind.INVITATION, occurrence.id)
        if not fresh:
            queued = outbox.queued.get(invite_ref, ())
            invited = [i for i in ids if i in queued] if queued else []
        else:
            invited = list(ids)
        batches.append(
            Batch(
                ReminderKind.INVITATION,
                invite_ref,
                invitation,
                occurrence.id,
                before=closes,
                member_ids=invited,
                unanswered=True,
                slug=occurrence.slug,
            )
        )
    if nudge is not None:
        batches.append(
            Batch(
                ReminderKind.NUDGE,
                reference(ReminderKind.NUDGE, occurrence.id),
                nudge,
                occurrence.id,
                before=closes,
                member_ids=list(ids),
                unanswered=True,
                slug=occurrence.slug,
            )
        )
    return batches


def _digest(
    slug: str,
    month: str,
    first: PlanOccurrence,
    members: list[PlanMember],
    outbox: OutboxState,
    book: PolicyBook,
    now: datetime,
    last: datetime | None,
) -> list[Batch]:
    """The month's digest of a recurring event, on the 1st (or, the first month it is
    announced, as soon as it is published)."""
    zone = book.zone
    year, number = (int(part) for part in month.split("-"))
    first_day = datetime.combine(date(year, number, 1), book.digest_at, tzinfo=zone)
    due = book.quiet.after(max(first_day, now), zone)
    ref = digest_reference(slug, month)
    if due >= first.starts_at or _by(due, last) is None:
        return []  # nothing of the month is left to announce by then, or not yet
    late = now - max(first_day, first.published_at) > book.invite_within
    audience = members if first.everyone else [m for m in members if m.regions & first.regions]
    queued = outbox.queued.get(ref, ())
    ids = _unique_ids(
        member.id
        for member in audience
        if _wants(member, first) and not (late and member.id not in queued)
    )
    return [
        Batch(
            ReminderKind.DIGEST,
            ref,
            due,
            None,
            before=first.starts_at,
            member_ids=ids,
            slug=slug,
            month=month,
        )
    ]


def _capped(
    wanted: list[Batch], outbox: OutboxState, book: PolicyBook, last: datetime | None
) -> list[Batch]:
    """At most `daily_cap` pushes per member and local day; the most useful kinds first, the
    others moved to a later day while they still make sense, else left out.

    A member's reminders are weighed in the order (kind's priority, due time), those alike in
    both in the order planned; the order between members does not matter, each has days of
    their own: so a batch at a time, in that order, each member in turn."""
    used: dict[date, dict[int, int]] = defaultdict(dict)
    for (member_id, day), count in outbox.other_pushes.items():
        used[day][member_id] = count
    days, cap = _Days(book), book.daily_cap
    kept: list[Batch] = []
    for batch in sorted(wanted, key=lambda b: (PRIORITY[b.kind], b.due_at)):
        moments = [batch.due_at]
        if batch.kind not in TIED:  # up to two following mornings, while still before
            due: datetime | None = batch.due_at
            while len(moments) < 3:
                assert due is not None
                due = days.next_allowed(due, last)
                if due is None or due >= batch.before:
                    break
                moments.append(due)
        counters = [used[days.local(moment)] for moment in moments]
        placed: list[list[int]] = [[] for _ in moments]
        if len(moments) == 1:
            counts, into = counters[0], placed[0]
            for member_id in batch.member_ids:
                count = counts.get(member_id, 0)
                if count < cap:
                    counts[member_id] = count + 1
                    into.append(member_id)
        else:
            tries = list(zip(counters, placed, strict=True))
            for member_id in batch.member_ids:
                for counts, into in tries:
                    count = counts.get(member_id, 0)
                    if count < cap:
                        counts[member_id] = count + 1
                        into.append(member_id)
                        break
        for moment, ids in zip(moments, placed, strict=True):
            if ids:
                kept.append(batch.with_members(ids, moment))
    return kept


TIED = frozenset({ReminderKind.SAME_DAY, ReminderKind.DAY_BEFORE, ReminderKind.NUDGE})
"""Kinds whose moment is the point: when their day is full they are left out, not moved."""


class _Days:
    """Local days and following mornings, worked out once per moment: ten thousand members'
    reminders share a handful of moments."""

    def __init__(self, book: PolicyBook) -> None:
        self._book = book
        self._local: dict[datetime, date] = {}
        self._next: dict[datetime, datetime] = {}
        self._allowed: dict[tuple[datetime, datetime | None], datetime | None] = {}

    def local(self, moment: datetime) -> date:
        day = self._local.get(moment)
        if day is None:
            day = self._local[moment] = moment.astimezone(self._book.zone).date()
        return day

    def next_allowed(self, moment: datetime, last: datetime | None) -> datetime | None:
        """`next_morning`, unless it is past the horizon `last`."""
        key = (moment, last)
        if key not in self._allowed:
            self._allowed[key] = _by(self.next_morning(moment), last)
        return self._allowed[key]

    def next_morning(self, moment: datetime) -> datetime:
        """The first allowed moment of the following day: where an invitation or a digest
        goes when its day is full."""
        following = self._next.get(moment)
        if following is None:
            zone, quiet = self._book.zone, self._book.quiet
            morning = datetime.combine(self.local(moment) + timedelta(days=1), quiet.end, zone)
            following = quiet.after(morning, zone).astimezone(moment.tzinfo)
            self._next[moment] = following
        return following
