"""Outcome fencing: once our lease ran out and another process claimed a row, nothing we do
late (record an outcome, renew, send) touches it; its new owner's outcome is the one that counts.

On SQLite and PostgreSQL, through the real queue; "another process" is a second claim.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.delivery.dispatcher import Dispatcher
from bot.delivery.model import Claim, ClaimedDelivery
from bot.delivery.pacing import Pacer
from bot.store.deliveries import SqlDeliveryQueue
from tests.delivery.conftest import LEASE, Outbox
from tests.delivery.fakes import FakeMessenger, FakeTime, direct
from tests.fakes.clock import FakeClock

LATE = LEASE + timedelta(seconds=1)


def taken_over(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> tuple[ClaimedDelivery, ClaimedDelivery]:
    """One row, claimed by us, then (our lease run out) by another process: (ours, theirs)."""
    outbox.enqueue(outbox.member("1001"), "12月7日の集会は明日です", purpose="reminder")
    (ours,) = queue.claim(clock.now(), 10, LEASE)
    clock.advance(LATE)
    (theirs,) = queue.claim(clock.now(), 10, LEASE)
    assert (ours.id, ours.attempts, theirs.attempts) == (theirs.id, 1, 2)
    return ours, theirs


LATE_OUTCOMES: dict[str, Callable[[SqlDeliveryQueue, Claim, FakeClock], object]] = {
    "sent": lambda queue, claim, clock: queue.mark_sent(claim, "stale-1", clock.now()),
    "retry": lambda queue, claim, clock: queue.mark_retry(claim, "Bad Gateway", clock.now()),
    "put back untried": lambda queue, claim, clock: queue.mark_retry(
        claim, None, clock.now(), count_attempt=False
    ),
    "failed": lambda queue, claim, clock: queue.mark_failed(claim, "Bad Request"),
    "skipped": lambda queue, claim, clock: queue.mark_skipped(claim, "event cancelled"),
    "skipped with others": lambda queue, claim, clock: queue.mark_skipped_many(
        {claim: "event cancelled"}
    ),
}


@pytest.mark.parametrize("outcome", LATE_OUTCOMES)
def test_a_late_outcome_from_a_claim_whose_lease_ran_out_changes_nothing(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock, outcome: str
) -> None:
    ours, theirs = taken_over(queue, outbox, clock)
    before = outbox.row(ours.id)

    recorded = LATE_OUTCOMES[outcome](queue, ours.claim, clock)

    assert recorded in (False, 0)
    after = outbox.row(ours.id)
    assert (after.state, after.attempts, after.lease_until) == ("sending", 2, before.lease_until)
    assert (after.last_error, after.skip_reason, after.channel_message_id) == (None, None, None)
    # The process that holds the row now records its own outcome.
    assert queue.mark_sent(theirs.claim, "4711", clock.now()) is True
    assert (outbox.row(ours.id).state, outbox.row(ours.id).channel_message_id) == ("sent", "4711")


def test_the_owners_outcome_is_not_overwritten_by_the_late_one(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    ours, theirs = taken_over(queue, outbox, clock)
    assert queue.mark_sent(theirs.claim, "4711", clock.now()) is True

    assert queue.mark_retry(ours.claim, "Timed out", clock.now()) is False

    row = outbox.row(ours.id)
    assert (row.state, row.channel_message_id, row.last_error) == ("sent", "4711", None)


def test_an_outcome_is_recorded_once_per_claim(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    delivery = outbox.enqueue(outbox.member("1001"), "お知らせ")
    (claimed,) = queue.claim(clock.now(), 10, LEASE)

    assert queue.mark_sent(claimed.claim, "1", clock.now()) is True
    assert queue.mark_retry(claimed.claim, "Timed out", clock.now()) is False

    assert outbox.row(delivery).state == "sent"


def test_renewing_extends_only_the_leases_still_ours(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    hanako, taro = outbox.member("1001"), outbox.member("1002")
    outbox.enqueue(hanako, "一通目")
    (stale,) = queue.claim(clock.now(), 10, LEASE)
    clock.advance(LATE)
    outbox.enqueue(taro, "二通目")
    # Another process takes the row whose lease ran out (and only that one).
    (theirs,) = queue.claim(clock.now(), 1, LEASE)
    assert theirs.id == stale.id
    (fresh,) = queue.claim(clock.now(), 10, LEASE)
    until = clock.now() + 2 * LEASE

    ours = queue.renew([stale.claim, fresh.claim], until)

    assert ours == {fresh.id}
    assert outbox.row(fresh.id).lease_until == until
    assert outbox.row(stale.id).lease_until == clock.now() + LEASE


def test_an_operator_acting_by_id_is_not_fenced(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    ours, _ = taken_over(queue, outbox, clock)

    assert queue.mark_skipped(ours.id, "dropped by an organiser") is True

    assert outbox.row(ours.id).state == "skipped"


# --- the dispatcher ---------------------------------------------------------------------------


def dispatcher_on_fake_time(
    queue: SqlDeliveryQueue, clock: FakeClock, messenger: FakeMessenger, time: FakeTime
) -> Dispatcher:
    return Dispatcher(
        queue,
        {"telegram": messenger},
        clock,
        run_blocking=direct,
        pacers={"telegram": Pacer(monotonic=time.monotonic, sleep=time.sleep)},
        lease=LEASE,
    )


async def test_a_send_that_outlived_its_lease_is_not_counted_and_the_new_owner_records_it(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    delivery = outbox.enqueue(outbox.member("1001"), "お知らせ")
    time = FakeTime()
    messenger = FakeMessenger(time.monotonic)
    rival: list[ClaimedDelivery] = []

    def stall_past_the_lease() -> None:
        # The platform answers so late that another process took the row meanwhile.
        clock.advance(LATE)
        rival.extend(queue.claim(clock.now(), 10, LEASE))

    messenger.on_send = stall_past_the_lease
    dispatcher = dispatcher_on_fake_time(queue, clock, messenger, time)

    report = await time.run(dispatcher.run_once())

    assert (report.sent, report.taken_over) == (0, 1)
    assert [r.id for r in rival] == [delivery]
    row = outbox.row(delivery)
    assert (row.state, row.attempts, row.channel_message_id) == ("sending", 2, None)
    assert queue.mark_sent(rival[0].claim, "rival-1", clock.now()) is True


async def test_a_row_another_process_took_while_it_waited_is_not_sent_again(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    hanako = outbox.member("1001")
    first = outbox.enqueue(hanako, "一通目", due_at=clock.now() - timedelta(seconds=2))
    second = outbox.enqueue(hanako, "二通目", due_at=clock.now() - timedelta(seconds=1))
    time = FakeTime()
    messenger = FakeMessenger(time.monotonic)
    rival: list[ClaimedDelivery] = []

    def stall_past_the_lease() -> None:
        if not rival:
            clock.advance(LATE)
            rival.extend(queue.claim(clock.now(), 10, LEASE))

    messenger.on_send = stall_past_the_lease
    dispatcher = dispatcher_on_fake_time(queue, clock, messenger, time)

    report = await time.run(dispatcher.run_once())

    # Both rows were taken by the rival; we had sent the first already, the second we leave
    # to the rival instead of sending it a second time.
    assert sorted(r.id for r in rival) == [first, second]
    assert messenger.texts("1001") == ["一通目"]
    assert (report.sent, report.taken_over) == (0, 2)
    assert outbox.row(second).attempts == 2
