"""Lanes, the shared budget's ledger and retention, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bot.app import build
from bot.config import Secrets, Settings
from bot.domain.deliveries import Lane, lane_of
from bot.store.database import Database
from bot.store.deliveries import SqlDeliveryQueue
from bot.store.rate_budget import SqlSlotLedger
from bot.store.tables import DeliveryRow
from tests.delivery.conftest import LEASE, Outbox
from tests.fakes.clock import FakeClock


def test_every_purpose_has_its_lane() -> None:
    assert lane_of("reply") is Lane.INTERACTIVE
    assert lane_of("relay_answer") is Lane.TRANSACTIONAL
    assert lane_of("event_change") is Lane.TRANSACTIONAL
    assert lane_of("reminder") is Lane.REMINDERS
    assert lane_of("broadcast") is Lane.BULK
    assert lane_of("something new") is Lane.BULK, "the lane that can wait"


def test_a_higher_lane_is_claimed_before_older_rows_of_a_lower_one(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    members = [outbox.member(str(1000 + n)) for n in range(40)]
    for member in members:
        outbox.enqueue(member, "一斉送信", due_at=clock.now() - timedelta(minutes=5))
    relay = outbox.enqueue(members[0], "世話人からの返事", purpose="relay_answer")

    claimed = queue.claim(clock.now(), 10, LEASE)

    assert claimed[0].id == relay
    assert claimed[0].lane is Lane.TRANSACTIONAL
    assert [c.lane for c in claimed[1:]] == [Lane.BULK] * 9


def test_a_lower_lane_keeps_a_share_of_every_batch_while_a_higher_one_is_busy(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    members = [outbox.member(str(1000 + n)) for n in range(60)]
    for member in members:
        outbox.enqueue(member, "変更", purpose="event_change")
    for member in members[:5]:
        outbox.enqueue(member, "一斉送信")

    batches = [[c.lane for c in queue.claim(clock.now(), 20, LEASE)] for _ in range(3)]

    for lanes in batches[:2]:
        assert lanes.count(Lane.BULK) == 2, "10% of 20"
        assert lanes.count(Lane.TRANSACTIONAL) == 18
    assert sorted(batches[2]) == [Lane.TRANSACTIONAL] * 19 + [Lane.BULK], "the last bulk row"
    left = [c.lane for c in queue.claim(clock.now(), 20, LEASE)]
    assert left == [Lane.TRANSACTIONAL] * 5


def test_the_share_never_makes_a_batch_larger_than_asked(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    member = outbox.member("1001")
    for purpose in ("reply", "relay_answer", "reminder", "broadcast"):
        outbox.enqueue(member, purpose, purpose=purpose)

    claimed = queue.claim(clock.now(), 2, LEASE)

    assert [c.lane for c in claimed] == [Lane.INTERACTIVE, Lane.TRANSACTIONAL]


def test_the_ledger_hands_out_slots_one_interval_apart_to_everyone(database: Database) -> None:
    first, second = SqlSlotLedger(database.sessions), SqlSlotLedger(database.sessions)
    interval = 1 / 30

    starts = [
        first.reserve("telegram", 1, interval, 1000.0),
        second.reserve("telegram", 2, interval, 1000.0),
        first.reserve("telegram", 1, interval, 1000.0),
        first.reserve("line", 1, interval, 1000.0),
        second.reserve("telegram", 1, interval, 2000.0),  # idle meanwhile: no debt carried
    ]

    assert starts[:3] == [1000.0, 1000.0 + interval, 1000.0 + 3 * interval]
    assert starts[3] == 1000.0, "each channel has its own budget"
    assert starts[4] == 2000.0


def test_messages_done_with_long_ago_keep_no_text(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock, database: Database
) -> None:
    member = outbox.member("1001")
    old = outbox.enqueue(member, "古いお知らせ")
    (claimed,) = queue.claim(clock.now(), 10, LEASE)
    queue.mark_sent(claimed.id, "m1", clock.now())
    clock.advance(timedelta(days=31))
    recent = outbox.enqueue(member, "新しいお知らせ")
    waiting = outbox.enqueue(member, "まだ送っていない")
    (claimed,) = [c for c in queue.claim(clock.now(), 10, LEASE) if c.id == recent]
    queue.mark_sent(claimed.id, "m2", clock.now())

    forgotten = queue.forget_messages(clock.now() - timedelta(days=30))

    assert forgotten == 1
    assert queue.forget_messages(clock.now() - timedelta(days=30)) == 0, "once is enough"
    with database.session() as session:
        payloads = dict(session.execute(select(DeliveryRow.id, DeliveryRow.payload)).all())
    assert payloads[old] == {}
    assert payloads[recent]["message"]["text"] == "新しいお知らせ"
    assert payloads[waiting]["message"]["text"] == "まだ送っていない"
    assert outbox.row(old).state == "sent", "the record that it was sent stays"


def test_the_bot_empties_old_messages_every_night(
    settings: Settings, database_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    app = build(
        Settings(
            config=settings.config,
            path=settings.path,
            secrets=Secrets(database_url=database_url),
        ),
        clock=clock,
    )
    try:
        job = app.scheduler.get_job("deliveries.forget")
        assert job is not None
        assert str(job.trigger) == "cron[hour='4']"
        outbox = Outbox(app.database, clock)
        outbox.enqueue(outbox.member("1001"), "お知らせ")
        queue = SqlDeliveryQueue(app.database.sessions)
        (claimed,) = queue.claim(clock.now(), 10, LEASE)
        queue.mark_sent(claimed.id, "m1", clock.now())
        assert app.forget_old_messages() == 0, "kept for keep_message_days"
        clock.advance(timedelta(days=settings.config.delivery.keep_message_days, minutes=1))
        assert app.forget_old_messages() == 1
    finally:
        app.close()


def test_the_budget_is_shared_through_the_database_on_postgresql_only_unless_told(
    settings: Settings, database_url: str, clock: FakeClock
) -> None:
    def pacer(shared: bool | str) -> bool:
        delivery = settings.config.delivery.model_copy(update={"shared_budget": shared})
        config = settings.config.model_copy(update={"delivery": delivery})
        app = build(
            Settings(config=config, path=settings.path, secrets=Secrets(database_url=database_url)),
            clock=clock,
        )
        try:
            return app.pacer("telegram").shared
        finally:
            app.close()

    assert settings.config.delivery.shared_budget == "auto"
    assert pacer("auto") is database_url.startswith("postgresql")
    assert pacer(True) is True
    assert pacer(False) is False


def test_line_is_paced_by_its_own_rate_not_telegrams(
    settings: Settings, database_url: str, clock: FakeClock
) -> None:
    app = build(
        Settings(
            config=settings.config, path=settings.path, secrets=Secrets(database_url=database_url)
        ),
        clock=clock,
    )
    try:
        assert app.pacer("telegram").per_second == settings.config.delivery.per_second
        assert app.pacer("line").per_second == settings.config.channels.line.per_second
        assert app.pacer("line").per_second > 10 * settings.config.delivery.per_second
    finally:
        app.close()
