"""Planning, whatever the calendar, answers and clock: the guarantees hold (hypothesis)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.events import RsvpStatus
from bot.domain.reminders import (
    OutboxState,
    PlanMember,
    PlanOccurrence,
    PolicyBook,
    QuietHours,
    ReminderKind,
    Scope,
    plan,
)

TOKYO = ZoneInfo("Asia/Tokyo")
BASE = datetime(2026, 12, 1, 0, 0, tzinfo=TOKYO)
REGIONS = ["toshima", "itabashi", "nerima"]
KINDS = ["rally", "street", "study"]
CHANNELS = ["telegram", "line", "console"]

minutes = st.integers(min_value=0, max_value=60 * 24 * 20)


@st.composite
def occurrences(draw: st.DrawFn) -> list[PlanOccurrence]:
    count = draw(st.integers(min_value=1, max_value=6))
    result = []
    for index in range(count):
        starts = BASE + timedelta(minutes=draw(minutes))
        published = starts - timedelta(minutes=draw(st.integers(0, 60 * 24 * 30)))
        result.append(
            PlanOccurrence(
                id=index + 1,
                slug=f"event-{index % 3}",
                kind=draw(st.sampled_from(KINDS)),
                title="t",
                starts_at=starts,
                published_at=published,
                regions=frozenset(draw(st.sets(st.sampled_from(REGIONS), max_size=2))),
                everyone=draw(st.booleans()),
                cancelled=draw(st.booleans()),
                rsvp_enabled=draw(st.booleans()),
                recurring=draw(st.booleans()),
            )
        )
    return result


@st.composite
def members(draw: st.DrawFn) -> list[PlanMember]:
    count = draw(st.integers(min_value=1, max_value=8))
    return [
        PlanMember(
            id=100 + index,
            regions=frozenset(draw(st.sets(st.sampled_from(REGIONS), max_size=3))),
            subscribed=draw(st.booleans()),
            reachable=draw(st.booleans()),
            scope=draw(st.sampled_from(list(Scope))),
            channel=draw(st.sampled_from(CHANNELS)),
        )
        for index in range(count)
    ]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple:
    occ = draw(occurrences())
    mem = draw(members())
    answers = {
        (o.id, m.id): draw(st.sampled_from(list(RsvpStatus)))
        for o in occ
        for m in mem
        if draw(st.booleans())
    }
    quiet = QuietHours(
        start=time(draw(st.integers(18, 23)), draw(st.sampled_from([0, 30]))),
        end=time(draw(st.integers(5, 9)), draw(st.sampled_from([0, 30]))),
    )
    # Most often LINE members get only some kinds (the frugal policy), sometimes every kind.
    restricted = draw(st.sampled_from([(), ("line",), ("line", "console")]))
    book = PolicyBook(
        zone=TOKYO,
        quiet=quiet,
        daily_cap=draw(st.integers(1, 4)),
        by_kind={"street": {"same_day_before": timedelta(hours=1), "digest": True}},
        channel_kinds={
            channel: frozenset(draw(st.sets(st.sampled_from(list(ReminderKind)))))
            for channel in restricted
        },
    )
    other = {
        (m.id, (BASE + timedelta(days=d)).date()): draw(st.integers(0, 3))
        for m in mem
        for d in range(3)
        if draw(st.booleans())
    }
    now = BASE + timedelta(minutes=draw(minutes))
    return occ, mem, answers, OutboxState(other_pushes=other), book, now


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_nothing_is_due_in_quiet_hours(scenario: tuple) -> None:
    occ, mem, answers, outbox, book, now = scenario
    for reminder in plan(occ, mem, answers, outbox, book, now):
        assert not book.quiet.contains(reminder.due_at.astimezone(TOKYO).time()), reminder


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_nothing_is_due_at_or_after_the_start(scenario: tuple) -> None:
    occ, mem, answers, outbox, book, now = scenario
    starts = {o.id: o.starts_at for o in occ}
    for reminder in plan(occ, mem, answers, outbox, book, now):
        assert reminder.due_at < reminder.before
        if reminder.occurrence_id is not None:
            assert reminder.due_at < starts[reminder.occurrence_id]


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_one_reminder_per_member_occurrence_and_kind(scenario: tuple) -> None:
    occ, mem, answers, outbox, book, now = scenario
    planned = plan(occ, mem, answers, outbox, book, now)
    # A digest is of a recurring event (its slug) and a month: two events, two digests.
    keys = Counter((r.member_id, r.occurrence_id, r.kind, r.slug, r.month) for r in planned)
    assert all(n == 1 for n in keys.values()), keys
    references = Counter((r.member_id, r.reference) for r in planned)
    assert all(n == 1 for n in references.values())


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_nothing_for_members_who_stopped_or_cannot_be_reached(scenario: tuple) -> None:
    occ, mem, answers, outbox, book, now = scenario
    closed = {m.id for m in mem if not (m.subscribed and m.reachable)}
    assert not [r for r in plan(occ, mem, answers, outbox, book, now) if r.member_id in closed]


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_never_more_than_the_daily_cap(scenario: tuple) -> None:
    occ, mem, answers, outbox, book, now = scenario
    per_day = Counter(outbox.other_pushes)
    for reminder in plan(occ, mem, answers, outbox, book, now):
        per_day[(reminder.member_id, reminder.due_at.astimezone(TOKYO).date())] += 1
    for key, count in per_day.items():
        assert count <= max(book.daily_cap, outbox.other_pushes.get(key, 0)), key


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_nothing_for_a_cancelled_or_past_event_and_nothing_already_due_is_in_the_past(
    scenario: tuple,
) -> None:
    occ, mem, answers, outbox, book, now = scenario
    by_id = {o.id: o for o in occ}
    for reminder in plan(occ, mem, answers, outbox, book, now):
        assert reminder.due_at >= now
        if reminder.occurrence_id is not None:
            assert not by_id[reminder.occurrence_id].cancelled


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_invitations_and_nudges_only_to_members_without_an_answer(scenario: tuple) -> None:
    occ, mem, answers, outbox, book, now = scenario
    for reminder in plan(occ, mem, answers, outbox, book, now):
        key = (reminder.occurrence_id, reminder.member_id)
        if reminder.kind in (ReminderKind.INVITATION, ReminderKind.NUDGE):
            assert key not in answers
        if reminder.kind in (ReminderKind.DAY_BEFORE, ReminderKind.SAME_DAY):
            assert answers[key] in (RsvpStatus.GOING, RsvpStatus.MAYBE)


@settings(max_examples=200, deadline=None)
@given(scenarios(), st.integers(min_value=0, max_value=24 * 10))
def test_a_horizon_ends_with_a_day_and_keeps_every_guarantee(scenario: tuple, hours: int) -> None:
    occ, mem, answers, outbox, book, now = scenario
    until = now + timedelta(hours=hours)
    last_day = until.astimezone(TOKYO).date()
    planned = plan(occ, mem, answers, outbox, book, now, until=until)
    unbounded = {(r.member_id, r.reference) for r in plan(occ, mem, answers, outbox, book, now)}
    for reminder in planned:
        assert reminder.due_at.astimezone(TOKYO).date() <= last_day
        assert not book.quiet.contains(reminder.due_at.astimezone(TOKYO).time())
        assert reminder.due_at < reminder.before
        assert (reminder.member_id, reminder.reference) in unbounded or reminder.kind in (
            ReminderKind.INVITATION,
            ReminderKind.DIGEST,
        ), "only what the cap moved to a later day may differ"


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_a_line_member_never_gets_a_reminder_kind_the_line_policy_leaves_out(
    scenario: tuple,
) -> None:
    occ, mem, answers, outbox, book, now = scenario
    on = {m.id: m.channel for m in mem}
    for reminder in plan(occ, mem, answers, outbox, book, now):
        allowed = book.channel_kinds.get(on[reminder.member_id])
        assert allowed is None or reminder.kind in allowed, reminder


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_restricting_a_channel_changes_nothing_for_members_on_the_others(
    scenario: tuple,
) -> None:
    occ, mem, answers, outbox, book, now = scenario
    free = {m.id for m in mem if m.channel not in book.channel_kinds}

    def planned(policy: PolicyBook) -> set[tuple]:
        return {
            (r.member_id, r.reference, r.due_at)
            for r in plan(occ, mem, answers, outbox, policy, now)
            if r.member_id in free
        }

    assert planned(book) == planned(replace(book, channel_kinds={}))
