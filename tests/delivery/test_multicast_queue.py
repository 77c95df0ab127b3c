"""The outbox queue for a multicast channel (LINE), SQLite and PostgreSQL: a due row brings
the rows of its purpose and reference; a key shared by a multicast is claimed with every
unsent row of it, or not at all; keys never sent are renewed; outcomes of many at once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.delivery.model import ClaimedDelivery
from bot.store.database import Database
from bot.store.deliveries import SqlDeliveryQueue, claim_in
from bot.store.tables import DeliveryRow, MemberRow
from tests.delivery.conftest import LEASE, Outbox
from tests.delivery.line_fakes import line_id
from tests.fakes.clock import FakeClock

BATCHES = {"line": 10}
PART = "broadcast:1:0"


def queue_part(
    outbox: Outbox, clock: FakeClock, users: list[str], reference: str = PART
) -> list[int]:
    """One row of `reference` for each of `users` (LINE members, made if new)."""
    ids = []
    for user in users:
        member = outbox.member(user, channel="line")
        ids.append(outbox.enqueue(member, "お知らせ", reference=reference))
    return ids


def crash_after_sharing(
    queue: SqlDeliveryQueue, clock: FakeClock, rows: list[ClaimedDelivery], key: str
) -> None:
    """A dispatcher wrote `key` into `rows` for their multicast, then died; their lease ends."""
    assert queue.share_key([row.claim for row in rows], key) == {row.id for row in rows}
    clock.advance(LEASE + timedelta(seconds=1))


KEY = "9b0d6f5e-0c1a-4a55-8f7e-3c2d1b0a9f88"


def test_a_due_row_brings_the_rows_of_its_part_up_to_a_multicast(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    part = queue_part(outbox, clock, [line_id(n) for n in range(12)])
    other = queue_part(outbox, clock, [line_id(n) for n in range(3)], reference="broadcast:2:0")
    telegram = outbox.enqueue(outbox.member("5001"), "お知らせ", reference=PART)

    claimed = queue.claim(clock.now(), 2, LEASE, batches=BATCHES)

    assert [row.id for row in claimed] == part[:10]
    assert {(row.attempts, row.shared_key) for row in claimed} == {(1, False)}
    assert len({row.retry_key for row in claimed}) == 10, "keys of their own until grouped"
    states = outbox.states()
    assert {states[id_] for id_ in [*part[10:], *other, telegram]} == {"queued"}


def test_a_shared_key_comes_with_every_unsent_row_of_it(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    part = queue_part(outbox, clock, [line_id(n) for n in range(6)])
    first = queue.claim(clock.now(), 10, LEASE, batches=BATCHES)
    crash_after_sharing(queue, clock, first[:4], KEY)

    again = queue.claim(clock.now(), 1, LEASE, batches={"line": 2})

    assert [row.id for row in again] == part[:4], "beyond the limit and the batch: all of it"
    assert {(row.retry_key, row.shared_key, row.attempts) for row in again} == {(KEY, True, 2)}
    rest = queue.claim(clock.now(), 10, LEASE, batches=BATCHES)
    assert [row.id for row in rest] == part[4:]
    assert [(row.shared_key, row.attempts) for row in rest] == [(False, 2), (False, 2)]
    assert [row.retry_key for row in rest] == [row.retry_key for row in first[4:]], (
        "a key of its own that may have gone out in a push is kept"
    )


def test_a_shared_key_partly_held_by_another_process_is_left_alone(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock, database: Database
) -> None:
    part = queue_part(outbox, clock, [line_id(n) for n in range(6)])
    first = queue.claim(clock.now(), 10, LEASE, batches=BATCHES)
    crash_after_sharing(queue, clock, first[:4], KEY)
    with database.sessions.begin() as session:
        session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id == part[2])
            .values(lease_until=clock.now() + LEASE, attempts=2)
        )

    claimed = queue.claim(clock.now(), 10, LEASE, batches=BATCHES)

    assert [row.id for row in claimed] == part[4:]
    assert [outbox.row(id_).attempts for id_ in part[:4]] == [1, 1, 2, 1], "untouched"
    assert queue.mark_sent_many([row.claim for row in claimed], "request-1", clock.now())

    clock.advance(LEASE + timedelta(seconds=1))
    together = queue.claim(clock.now(), 10, LEASE, batches=BATCHES)
    assert [row.id for row in together] == part[:4]
    assert {row.retry_key for row in together} == {KEY}


def test_a_member_who_left_is_skipped_and_the_rest_of_the_key_claimed(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock, database: Database
) -> None:
    part = queue_part(outbox, clock, [line_id(n) for n in range(4)])
    first = queue.claim(clock.now(), 10, LEASE, batches=BATCHES)
    crash_after_sharing(queue, clock, first, KEY)
    with database.sessions.begin() as session:
        session.execute(
            update(MemberRow)
            .where(MemberRow.external_id == line_id(1))
            .values(unreachable_at=clock.now(), unreachable_reason="unfollow")
        )

    claimed = queue.claim(clock.now(), 10, LEASE, batches=BATCHES)

    assert [row.id for row in claimed] == [part[0], part[2], part[3]]
    assert {row.shared_key for row in claimed} == {True}
    assert outbox.row(part[1]).state == "skipped"


def test_rows_given_back_untried_get_new_keys_on_a_multicast_channel(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    """Their multicast never went: its key may name nothing any more (other rows of it may
    have gone in another multicast since)."""
    queue_part(outbox, clock, [line_id(n) for n in range(3)])
    telegram = outbox.enqueue(outbox.member("5001"), "お知らせ", reference=PART)
    first = queue.claim(clock.now(), 10, LEASE, batches=BATCHES)
    line = [row for row in first if row.channel == "line"]
    (push,) = [row for row in first if row.id == telegram]
    assert queue.share_key([row.claim for row in line], KEY)
    back = queue.mark_retry_many(
        [row.claim for row in first], None, clock.now(), count_attempt=False
    )
    assert back == {row.id for row in first}

    again = queue.claim(clock.now(), 10, LEASE, batches=BATCHES)

    keys = {row.id: row.retry_key for row in again}
    assert {row.attempts for row in again} == {1}
    assert KEY not in keys.values()
    assert len(set(keys.values())) == 4
    assert keys[telegram] == push.retry_key, "Telegram's rows keep theirs"


def test_outcomes_of_a_multicast_are_recorded_only_for_claims_still_held(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    queue_part(outbox, clock, [line_id(n) for n in range(3)])
    stale = queue.claim(clock.now(), 10, LEASE, batches=BATCHES)
    clock.advance(LEASE + timedelta(seconds=1))
    current = queue.claim(clock.now(), 10, LEASE, batches=BATCHES)

    assert queue.share_key([row.claim for row in stale], KEY) == set()
    assert queue.mark_sent_many([row.claim for row in stale], "request-1", clock.now()) == set()
    assert queue.mark_failed_many([row.claim for row in stale], "refused") == set()
    assert {outbox.row(row.id).state for row in current} == {"sending"}

    sent = queue.mark_sent_many([row.claim for row in current], "request-2", clock.now())
    assert sent == {row.id for row in current}
    assert {
        (outbox.row(row.id).state, outbox.row(row.id).channel_message_id) for row in current
    } == {("sent", "request-2")}


def test_dispatchers_claiming_at_once_take_each_shared_key_whole(
    database: Database, queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    """Four groups of ten rows left sending by a crash, a member of each gone since; four
    dispatchers claim at once, a few rows at a time: every group goes to one of them, all of
    it but the row of the member who left, and no claim waits for another."""
    queue_part(outbox, clock, [line_id(n) for n in range(40)])
    first = queue.claim(clock.now(), 40, LEASE, batches={"line": 40})
    assert len(first) == 40
    groups = {
        f"00000000-0000-4000-8000-00000000000{n}": first[n * 10 : n * 10 + 10] for n in range(4)
    }
    for key, rows in groups.items():
        assert queue.share_key([row.claim for row in rows], key)
    gone = [rows[-1].external_id for rows in groups.values()]
    with database.sessions.begin() as session:
        session.execute(
            update(MemberRow)
            .where(MemberRow.external_id.in_(gone))
            .values(unreachable_at=clock.now(), unreachable_reason="unfollow")
        )
    clock.advance(LEASE + timedelta(seconds=1))
    claims: list[list[ClaimedDelivery]] = [[] for _ in range(4)]
    errors: list[BaseException] = []

    def dispatcher(mine: list[ClaimedDelivery]) -> None:
        own = SqlDeliveryQueue(database.sessions)
        try:
            for _ in range(20):
                mine.extend(own.claim(clock.now(), 3, LEASE, batches={"line": 5}))
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    threads = [threading.Thread(target=dispatcher, args=(mine,)) for mine in claims]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    owners = {
        key: Counter(n for n, mine in enumerate(claims) for row in mine if row.retry_key == key)
        for key in groups
    }
    assert all(len(owner) == 1 for owner in owners.values()), owners
    assert all(sum(owner.values()) == 9 for owner in owners.values()), owners
    assert {outbox.row(rows[-1].id).state for rows in groups.values()} == {"skipped"}


def test_an_open_claim_of_a_shared_key_makes_another_pass_it_over(
    database: Database, queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    if database.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has a single writer: a second claim waits instead of skipping")
    part = queue_part(outbox, clock, [line_id(n) for n in range(6)])
    first = queue.claim(clock.now(), 10, LEASE, batches=BATCHES)
    crash_after_sharing(queue, clock, first, KEY)

    with Session(database.engine) as one, Session(database.engine) as other:
        mine = claim_in(one, clock.now(), 1, LEASE, batches={"line": 2})
        # `one` holds its rows locked, not committed: `other` takes none of the key.
        theirs = claim_in(other, clock.now(), 10, LEASE, batches=BATCHES)
        one.commit()
        other.commit()

    assert [row.id for row in mine] == part
    assert theirs == []
