"""The outbox queue on SQLite and PostgreSQL: claiming, leases, skipping, outcomes."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from bot.domain.deliveries import Lane
from bot.domain.members import Subscription
from bot.store.database import Database
from bot.store.deliveries import SqlDeliveryQueue, claim_in
from tests.delivery.conftest import LEASE, Outbox
from tests.fakes.clock import FakeClock


def test_claim_takes_due_rows_and_marks_them_sending(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    hanako = outbox.member("1001")
    due = outbox.enqueue(hanako, "明日の集会")
    later = outbox.enqueue(hanako, "来週の集会", due_at=clock.now() + timedelta(hours=1))

    (claimed,) = queue.claim(clock.now(), 10, LEASE)

    assert claimed.id == due
    assert (claimed.channel, claimed.external_id, claimed.member_id) == (
        "telegram",
        "1001",
        hanako.id,
    )
    assert claimed.payload["message"]["text"] == "明日の集会"
    assert (claimed.language, claimed.role, claimed.lane) == ("ja", "member", Lane.BULK)
    assert claimed.attempts == 1
    row = outbox.row(due)
    assert row.state == "sending"
    assert row.lease_until == clock.now() + LEASE
    assert row.retry_key == claimed.retry_key
    assert len(claimed.retry_key) == 36
    assert outbox.row(later).state == "queued"


def test_claim_takes_the_oldest_first_and_at_most_the_limit(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    members = [outbox.member(str(2000 + n)) for n in range(5)]
    start = clock.now() - timedelta(minutes=10)
    ids = [
        outbox.enqueue(member, f"お知らせ {n}", due_at=start + timedelta(minutes=5 - n))
        for n, member in enumerate(members)
    ]

    first = queue.claim(clock.now(), 3, LEASE)
    second = queue.claim(clock.now(), 3, LEASE)

    assert [d.id for d in first] == [ids[4], ids[3], ids[2]]
    assert [d.id for d in second] == [ids[1], ids[0]]
    assert queue.claim(clock.now(), 3, LEASE) == []


def test_a_claimed_row_is_not_claimed_again_while_its_lease_runs(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    outbox.enqueue(outbox.member("1001"), "お知らせ")
    queue.claim(clock.now(), 10, LEASE)

    clock.advance(LEASE - timedelta(seconds=1))
    assert queue.claim(clock.now(), 10, LEASE) == []


def test_a_row_left_sending_by_a_crash_is_retried_after_its_lease_with_the_same_key(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    delivery = outbox.enqueue(outbox.member("1001"), "お知らせ")
    (before_crash,) = queue.claim(clock.now(), 10, LEASE)
    # The process dies here: no outcome is ever recorded.

    clock.advance(LEASE + timedelta(seconds=1))
    (after_crash,) = queue.claim(clock.now(), 10, LEASE)

    assert after_crash.id == delivery
    assert after_crash.attempts == 2
    assert after_crash.retry_key == before_crash.retry_key
    assert outbox.row(delivery).lease_until == clock.now() + LEASE


def test_enqueueing_the_same_purpose_reference_and_member_twice_makes_one_row(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    hanako = outbox.member("1001")
    outbox.enqueue(hanako, "変更のお知らせ", purpose="event_change", reference="occ:7:v2")
    outbox.enqueue(hanako, "変更のお知らせ", purpose="event_change", reference="occ:7:v2")

    assert len(outbox.rows()) == 1
    assert len(queue.claim(clock.now(), 10, LEASE)) == 1


def test_rows_for_unreachable_members_are_skipped_not_claimed(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    blocked = outbox.member("1001", unreachable=True)
    change = outbox.enqueue(blocked, "変更", purpose="event_change")
    broadcast = outbox.enqueue(blocked, "お知らせ", purpose="broadcast")

    assert queue.claim(clock.now(), 10, LEASE) == []

    for delivery in (change, broadcast):
        row = outbox.row(delivery)
        assert (row.state, row.skip_reason) == ("skipped", "unreachable")


@pytest.mark.parametrize(
    ("purpose", "sent"),
    [
        ("event_change", True),
        ("waitlist_promoted", True),
        ("relay_question", True),
        ("relay_answer", True),
        ("reminder", False),
        ("broadcast", False),
    ],
)
def test_unsubscribed_members_still_get_what_they_asked_for_but_no_notices(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock, purpose: str, sent: bool
) -> None:
    stopped = outbox.member("1001", subscription=Subscription.UNSUBSCRIBED)
    delivery = outbox.enqueue(stopped, "本文", purpose=purpose)

    claimed = queue.claim(clock.now(), 10, LEASE)

    if sent:
        assert [d.id for d in claimed] == [delivery]
    else:
        assert claimed == []
        row = outbox.row(delivery)
        assert (row.state, row.skip_reason) == ("skipped", "unsubscribed")


def test_members_who_never_agreed_get_no_reminders(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    undecided = outbox.member("1001", subscription=Subscription.PENDING)
    reminder = outbox.enqueue(undecided, "明日です", purpose="reminder")
    promoted = outbox.enqueue(undecided, "席が空きました", purpose="waitlist_promoted")

    assert [d.id for d in queue.claim(clock.now(), 10, LEASE)] == [promoted]
    assert outbox.row(reminder).skip_reason == "not subscribed"


def test_skipped_rows_do_not_use_up_the_batch(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    stopped = outbox.member("1001", subscription=Subscription.UNSUBSCRIBED)
    for n in range(5):
        outbox.enqueue(stopped, f"お知らせ {n}", due_at=clock.now() - timedelta(minutes=1))
    wanted = [outbox.enqueue(outbox.member(str(2000 + n)), f"予定 {n}") for n in range(3)]

    claimed = queue.claim(clock.now(), 3, LEASE)

    assert [d.id for d in claimed] == wanted
    assert sum(1 for state in outbox.states().values() if state == "skipped") == 5


def test_claim_can_leave_channels_without_a_messenger_alone(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    on_console = outbox.enqueue(outbox.member("alice", channel="console"), "こんにちは")
    on_telegram = outbox.enqueue(outbox.member("1001"), "こんにちは")

    claimed = queue.claim(clock.now(), 10, LEASE, channels={"telegram"})

    assert [d.id for d in claimed] == [on_telegram]
    assert outbox.row(on_console).state == "queued"
    assert outbox.row(on_console).attempts == 0


def test_outcomes_are_recorded(queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock) -> None:
    ids = [outbox.enqueue(outbox.member(str(1000 + n)), f"本文 {n}") for n in range(4)]
    queue.claim(clock.now(), 10, LEASE)
    sent, retried, failed, skipped = ids

    queue.mark_sent(sent, "4711", clock.now())
    queue.mark_retry(retried, "Bad Gateway", clock.now() + timedelta(seconds=30))
    queue.mark_failed(failed, "Bad Request: can't parse entities")
    queue.mark_skipped(skipped, "unreachable")

    row = outbox.row(sent)
    assert (row.state, row.channel_message_id, row.sent_at, row.lease_until) == (
        "sent",
        "4711",
        clock.now(),
        None,
    )
    row = outbox.row(retried)
    assert (row.state, row.last_error, row.attempts) == ("queued", "Bad Gateway", 1)
    assert row.due_at == clock.now() + timedelta(seconds=30)
    row = outbox.row(failed)
    assert (row.state, row.last_error) == ("failed", "Bad Request: can't parse entities")
    row = outbox.row(skipped)
    assert (row.state, row.skip_reason) == ("skipped", "unreachable")


def test_a_retry_becomes_due_at_its_new_time_and_keeps_its_key(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    delivery = outbox.enqueue(outbox.member("1001"), "お知らせ")
    (first,) = queue.claim(clock.now(), 10, LEASE)
    queue.mark_retry(delivery, "Timed out", clock.now() + timedelta(minutes=1))

    clock.advance(timedelta(seconds=59))
    assert queue.claim(clock.now(), 10, LEASE) == []
    clock.advance(timedelta(seconds=1))
    (second,) = queue.claim(clock.now(), 10, LEASE)

    assert (second.attempts, second.retry_key) == (2, first.retry_key)
    assert outbox.row(delivery).last_error == "Timed out"


def test_a_row_put_back_untried_does_not_count_as_an_attempt(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    delivery = outbox.enqueue(outbox.member("1001"), "お知らせ")
    queue.claim(clock.now(), 10, LEASE)
    queue.mark_retry(delivery, None, clock.now(), count_attempt=False)

    row = outbox.row(delivery)
    assert (row.state, row.attempts, row.last_error) == ("queued", 0, None)


def test_an_unreachable_member_is_recorded_and_their_queued_rows_skipped(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    hanako, taro = outbox.member("1001"), outbox.member("1002")
    in_flight = outbox.enqueue(hanako, "一通目")
    queue.claim(clock.now(), 10, LEASE)
    queue.mark_sent(in_flight, "1", clock.now())
    queued = [outbox.enqueue(hanako, f"お知らせ {n}") for n in range(2)]
    other = outbox.enqueue(taro, "お知らせ")

    skipped = queue.mark_member_unreachable(
        hanako.id or 0, "Forbidden: bot was blocked by the user", clock.now()
    )

    assert skipped == 2
    stored = outbox.stored_member(hanako)
    assert stored.unreachable_at == clock.now()
    assert stored.unreachable_reason == "Forbidden: bot was blocked by the user"
    assert [outbox.row(d).skip_reason for d in queued] == ["unreachable", "unreachable"]
    assert outbox.row(in_flight).state == "sent"
    assert outbox.row(other).state == "queued"


def test_several_dispatchers_claiming_at_once_never_share_a_row(
    database: Database, outbox: Outbox, clock: FakeClock
) -> None:
    members = [outbox.member(str(3000 + n)) for n in range(20)]
    for n in range(200):
        outbox.enqueue(members[n % 20], f"お知らせ {n}")
    claims: list[list[int]] = [[] for _ in range(4)]
    errors: list[BaseException] = []

    def dispatcher(mine: list[int]) -> None:
        queue = SqlDeliveryQueue(database.sessions)
        try:
            while batch := queue.claim(clock.now(), 7, LEASE):
                mine.extend(d.id for d in batch)
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    threads = [threading.Thread(target=dispatcher, args=(mine,)) for mine in claims]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    everything = [delivery for mine in claims for delivery in mine]
    assert sorted(everything) == sorted(outbox.states())
    assert len(set(everything)) == 200


def test_skip_locked_lets_two_open_transactions_claim_different_rows(
    database: Database, outbox: Outbox, clock: FakeClock
) -> None:
    if database.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has a single writer: a second claim waits instead of skipping")
    members = [outbox.member(str(4000 + n)) for n in range(6)]
    for member in members:
        outbox.enqueue(member, "お知らせ")

    with Session(database.engine) as first, Session(database.engine) as second:
        mine = claim_in(first, clock.now(), 4, LEASE)
        # `first` still holds its rows locked (not committed): `second` passes over them.
        theirs = claim_in(second, clock.now(), 4, LEASE)
        first.commit()
        second.commit()

    assert len(mine) == 4
    assert len(theirs) == 2
    assert not {d.id for d in mine} & {d.id for d in theirs}
    assert set(outbox.states().values()) == {"sending"}
