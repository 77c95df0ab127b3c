"""`campaign-bot outbox`'s service and store on SQLite and PostgreSQL: counts, list, retry, drop."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.services.outbox_admin import (
    DROP_ACTION,
    DROPPED_REASON,
    RETRY_ACTION,
    OutboxAdmin,
    Outcome,
    Reason,
    Result,
)
from bot.store.database import Database
from bot.store.deliveries import SqlDeliveryQueue
from bot.store.outbox_admin import SqlOutboxAdmin
from bot.store.tables import AuditRow, DeliveryRow
from tests.delivery.conftest import LEASE, Outbox
from tests.fakes.clock import FakeClock

BLOCKED = "Forbidden: bot was blocked by the user"
TIMEOUT = "network: timed out"


@pytest.fixture
def admin(database: Database, clock: FakeClock) -> OutboxAdmin:
    return OutboxAdmin(SqlOutboxAdmin(database.sessions), clock)


def set_row(database: Database, delivery_id: int, **values: Any) -> None:
    with database.session() as session:
        session.execute(update(DeliveryRow).where(DeliveryRow.id == delivery_id).values(**values))
        session.commit()


def audit_rows(database: Database) -> list[AuditRow]:
    with database.session() as session:
        return list(session.scalars(select(AuditRow).order_by(AuditRow.id)))


@pytest.fixture
def mixed(outbox: Outbox, database: Database, clock: FakeClock) -> dict[str, int]:
    """One row in each situation an organiser meets, for two purposes."""
    now = clock.now()
    member = outbox.member("1001")
    other = outbox.member("1002")
    rows = {
        "queued_due": outbox.enqueue(member, "a", purpose="reminder", due_at=now),
        "queued_later": outbox.enqueue(
            member, "b", purpose="reminder", due_at=now + timedelta(hours=3)
        ),
        "sending": outbox.enqueue(member, "c", purpose="broadcast"),
        "failed_1": outbox.enqueue(member, "d", purpose="reminder"),
        "failed_2": outbox.enqueue(other, "d", purpose="reminder"),
        "failed_other": outbox.enqueue(member, "e", purpose="reminder"),
        "skipped_1": outbox.enqueue(member, "f", purpose="reminder"),
        "skipped_2": outbox.enqueue(other, "f", purpose="reminder"),
        "skipped_3": outbox.enqueue(member, "g", purpose="reminder"),
        "skipped_broadcast": outbox.enqueue(other, "h", purpose="broadcast"),
        "sent": outbox.enqueue(other, "i", purpose="reminder"),
    }
    set_row(database, rows["sending"], state="sending", lease_until=now + LEASE, attempts=1)
    for name in ("failed_1", "failed_2"):
        set_row(database, rows[name], state="failed", last_error=BLOCKED, attempts=1)
    set_row(database, rows["failed_other"], state="failed", last_error=TIMEOUT, attempts=5)
    for name in ("skipped_1", "skipped_2", "skipped_3"):
        set_row(database, rows[name], state="skipped", skip_reason="event cancelled")
    set_row(database, rows["skipped_broadcast"], state="skipped", skip_reason="unreachable")
    set_row(database, rows["sent"], state="sent", sent_at=now, attempts=1)
    return rows


def test_the_overview_counts_open_rows_by_purpose_and_state_and_groups_the_reasons(
    admin: OutboxAdmin, mixed: dict[str, int], clock: FakeClock
) -> None:
    tally = admin.tally()

    assert dict(tally.counts) == {
        ("reminder", "queued"): 2,
        ("reminder", "failed"): 3,
        ("reminder", "skipped"): 3,
        ("broadcast", "sending"): 1,
        ("broadcast", "skipped"): 1,
    }, "sent rows are not counted"
    assert list(tally.reasons) == [
        Reason("skipped", "reminder", "event cancelled", 3),
        Reason("failed", "reminder", BLOCKED, 2),
        Reason("failed", "reminder", TIMEOUT, 1),
        Reason("skipped", "broadcast", "unreachable", 1),
    ]
    assert tally.more_reasons == 0
    assert tally.next_due == clock.now()
    assert tally.due_now == 1

    top = admin.tally(reasons=2)
    assert [r.count for r in top.reasons] == [3, 2]
    assert top.more_reasons == 2


def test_the_overview_of_an_empty_outbox(
    admin: OutboxAdmin, outbox: Outbox, database: Database
) -> None:
    set_row(database, outbox.enqueue(outbox.member("1001"), "sent long ago"), state="sent")
    tally = admin.tally()
    assert dict(tally.counts) == {}
    assert list(tally.reasons) == []
    assert (tally.next_due, tally.due_now) == (None, 0)


def test_the_list_filters_by_state_and_purpose_newest_first_and_bounded(
    admin: OutboxAdmin, mixed: dict[str, int]
) -> None:
    entries, total = admin.entries()
    assert total == 10, "every row but the sent one"
    assert mixed["sent"] not in {e.id for e in entries}
    assert entries[0].id == mixed["queued_later"], "the latest due first"

    failed, total = admin.entries(state="failed")
    assert total == 3
    assert {e.id for e in failed} == {mixed["failed_1"], mixed["failed_2"], mixed["failed_other"]}
    by_id = {e.id: e for e in failed}
    assert by_id[mixed["failed_other"]].reason == TIMEOUT
    assert by_id[mixed["failed_other"]].attempts == 5
    assert by_id[mixed["failed_1"]].channel == "telegram"

    skipped_broadcasts, total = admin.entries(state="skipped", purpose="broadcast")
    assert [e.id for e in skipped_broadcasts] == [mixed["skipped_broadcast"]]
    assert skipped_broadcasts[0].reason == "unreachable"

    sent, total = admin.entries(state="sent")
    assert [e.id for e in sent] == [mixed["sent"]]

    two, total = admin.entries(limit=2)
    assert (len(two), total) == (2, 10)
    assert admin.entries(purpose="no-such-purpose") == ([], 0)
    with pytest.raises(ValueError, match="unknown state"):
        admin.entries(state="lost")


def test_retry_queues_failed_and_skipped_rows_now_and_refuses_every_other_id(
    admin: OutboxAdmin, mixed: dict[str, int], outbox: Outbox, clock: FakeClock, database: Database
) -> None:
    clock.advance(timedelta(minutes=7))
    named = [
        mixed["failed_other"],
        mixed["skipped_1"],
        mixed["queued_later"],
        mixed["sending"],
        mixed["sent"],
        999_999,
        mixed["failed_other"],  # named twice: answered once
    ]

    results = admin.retry(named)

    assert results == [
        Result(mixed["failed_other"], Outcome.DONE, "failed"),
        Result(mixed["skipped_1"], Outcome.DONE, "skipped"),
        Result(mixed["queued_later"], Outcome.WRONG_STATE, "queued"),
        Result(mixed["sending"], Outcome.WRONG_STATE, "sending"),
        Result(mixed["sent"], Outcome.WRONG_STATE, "sent"),
        Result(999_999, Outcome.UNKNOWN),
    ]
    for name in ("failed_other", "skipped_1"):
        row = outbox.row(mixed[name])
        assert row.state == "queued"
        assert row.due_at == clock.now()
        assert row.attempts == 0
        assert (row.last_error, row.skip_reason, row.lease_until) == (None, None, None)
    assert outbox.row(mixed["sending"]).state == "sending"
    assert outbox.row(mixed["sent"]).state == "sent"
    assert outbox.row(mixed["queued_later"]).due_at == clock.now() + timedelta(hours=3) - timedelta(
        minutes=7
    )

    (audit,) = audit_rows(database)
    assert audit.action == RETRY_ACTION
    assert audit.actor_label == "cli"
    assert audit.detail == {"deliveries": sorted([mixed["failed_other"], mixed["skipped_1"]])}
    assert audit.at == clock.now()

    # The dispatcher takes them at once.
    claimed = {d.id for d in SqlDeliveryQueue(database.sessions).claim(clock.now(), 50, LEASE)}
    assert {mixed["failed_other"], mixed["skipped_1"], mixed["queued_due"]} <= claimed


def test_retry_refuses_a_row_whose_text_was_emptied_by_retention(
    admin: OutboxAdmin, mixed: dict[str, int], database: Database, outbox: Outbox
) -> None:
    set_row(database, mixed["failed_1"], payload={})
    set_row(database, mixed["sent"], payload={})

    results = admin.retry([mixed["failed_1"], mixed["sent"], mixed["failed_2"]])

    assert [r.outcome for r in results] == [Outcome.FORGOTTEN, Outcome.WRONG_STATE, Outcome.DONE]
    assert outbox.row(mixed["failed_1"]).state == "failed"
    assert outbox.row(mixed["failed_2"]).state == "queued"


def test_drop_skips_queued_and_failed_rows_and_writes_an_audit_row(
    admin: OutboxAdmin, mixed: dict[str, int], outbox: Outbox, clock: FakeClock, database: Database
) -> None:
    results = admin.drop(
        [
            mixed["queued_due"],
            mixed["failed_1"],
            mixed["sending"],
            mixed["sent"],
            mixed["skipped_1"],
            -3,
        ]
    )

    assert results == [
        Result(mixed["queued_due"], Outcome.DONE, "queued"),
        Result(mixed["failed_1"], Outcome.DONE, "failed"),
        Result(mixed["sending"], Outcome.WRONG_STATE, "sending"),
        Result(mixed["sent"], Outcome.WRONG_STATE, "sent"),
        Result(mixed["skipped_1"], Outcome.WRONG_STATE, "skipped"),
        Result(-3, Outcome.UNKNOWN),
    ]
    for name in ("queued_due", "failed_1"):
        row = outbox.row(mixed[name])
        assert (row.state, row.skip_reason) == ("skipped", DROPPED_REASON)
    assert outbox.row(mixed["skipped_1"]).skip_reason == "event cancelled"
    assert outbox.row(mixed["sending"]).state == "sending"

    (audit,) = audit_rows(database)
    assert audit.action == DROP_ACTION
    assert audit.detail == {
        "deliveries": sorted([mixed["queued_due"], mixed["failed_1"]]),
        "reason": DROPPED_REASON,
    }
    # The dropped row is not sent although it was due.
    claimed = SqlDeliveryQueue(database.sessions).claim(clock.now(), 50, LEASE)
    assert mixed["queued_due"] not in {d.id for d in claimed}
    assert admin.tally().counts[("reminder", "skipped")] == 5


def test_an_action_that_changes_nothing_writes_no_audit_row(
    admin: OutboxAdmin, mixed: dict[str, int], database: Database
) -> None:
    assert [r.ok for r in admin.drop([mixed["sent"], 424242])] == [False, False]
    assert [r.ok for r in admin.retry([mixed["queued_due"]])] == [False]
    assert admin.retry([]) == []
    assert audit_rows(database) == []
