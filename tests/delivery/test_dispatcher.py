"""The dispatcher over the real queue (SQLite and PostgreSQL) with a scripted messenger."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from bot.delivery.dispatcher import Dispatcher, DispatchReport
from bot.delivery.model import (
    ClaimedDelivery,
    PermanentFailure,
    RateLimited,
    TemporaryFailure,
)
from bot.delivery.pacing import Pacer
from bot.store.deliveries import SqlDeliveryQueue
from bot.store.tables import DeliveryRow
from tests.delivery.conftest import Outbox
from tests.delivery.fakes import BLOCKED, FakeMessenger, FakeTime, direct
from tests.fakes.clock import FakeClock


@dataclass
class Bench:
    dispatcher: Dispatcher
    messenger: FakeMessenger
    time: FakeTime

    async def run_once(self) -> DispatchReport:
        return await self.time.run(self.dispatcher.run_once())

    async def drain(self) -> DispatchReport:
        """`run_once` until nothing is due; the reports added up."""
        total = DispatchReport()
        while (report := await self.run_once()).claimed:
            for name in vars(total):
                setattr(total, name, getattr(total, name) + getattr(report, name))
        return total


def make_bench(queue: SqlDeliveryQueue, clock: FakeClock, **options: Any) -> Bench:
    """A dispatcher for Telegram on fake time, so pacing waits cost nothing."""
    time = FakeTime()
    messenger = FakeMessenger(time.monotonic)
    dispatcher = Dispatcher(
        queue,
        {"telegram": messenger},
        clock,
        run_blocking=direct,
        pacers={"telegram": Pacer(monotonic=time.monotonic, sleep=time.sleep)},
        **options,
    )
    return Bench(dispatcher, messenger, time)


@pytest.fixture
def bench(queue: SqlDeliveryQueue, clock: FakeClock) -> Bench:
    return make_bench(queue, clock)


async def test_due_rows_reach_their_members_and_are_recorded_as_sent(
    bench: Bench, outbox: Outbox, clock: FakeClock
) -> None:
    hanako, taro = outbox.member("1001"), outbox.member("1002")
    first = outbox.enqueue(hanako, "集会の場所が変わりました", purpose="event_change")
    second = outbox.enqueue(taro, "12月7日の集会にご参加ください")
    not_yet = outbox.enqueue(taro, "明日です", due_at=clock.now() + timedelta(days=1))

    report = await bench.run_once()

    assert (report.claimed, report.sent) == (2, 2)
    assert bench.messenger.texts("1001") == ["集会の場所が変わりました"]
    assert bench.messenger.texts("1002") == ["12月7日の集会にご参加ください"]
    for delivery in (first, second):
        row = outbox.row(delivery)
        assert row.state == "sent"
        assert row.sent_at == clock.now()
        assert row.channel_message_id is not None
        assert row.channel_message_id.startswith("msg-")
    assert outbox.row(not_yet).state == "queued"


async def test_a_members_messages_arrive_in_the_order_they_were_due(
    bench: Bench, outbox: Outbox, clock: FakeClock
) -> None:
    hanako = outbox.member("1001")
    for n in (3, 1, 2):
        outbox.enqueue(hanako, f"{n}通目", due_at=clock.now() - timedelta(minutes=10 - n))

    await bench.run_once()

    assert bench.messenger.texts("1001") == ["1通目", "2通目", "3通目"]


async def test_the_retry_key_is_handed_to_the_messenger(
    bench: Bench, outbox: Outbox, clock: FakeClock
) -> None:
    delivery = outbox.enqueue(outbox.member("1001"), "お知らせ")

    await bench.run_once()

    assert bench.messenger.sent[0].retry_key == outbox.row(delivery).retry_key


async def test_a_temporary_failure_is_retried_after_a_backoff(
    bench: Bench, outbox: Outbox, clock: FakeClock
) -> None:
    delivery = outbox.enqueue(outbox.member("1001"), "お知らせ")
    bench.messenger.fail("1001", TemporaryFailure("Bad Gateway"))

    report = await bench.run_once()

    assert report.retried == 1
    row = outbox.row(delivery)
    assert (row.state, row.attempts, row.last_error) == ("queued", 1, "Bad Gateway")
    assert row.due_at == clock.now() + timedelta(seconds=30)
    clock.advance(timedelta(seconds=29))
    assert (await bench.run_once()).claimed == 0
    clock.advance(timedelta(seconds=1))
    assert (await bench.run_once()).sent == 1
    assert bench.messenger.texts("1001") == ["お知らせ"]
    assert outbox.row(delivery).attempts == 2


async def test_backoff_doubles_and_the_dispatcher_gives_up_after_max_attempts(
    bench: Bench, outbox: Outbox, clock: FakeClock
) -> None:
    delivery = outbox.enqueue(outbox.member("1001"), "お知らせ")
    bench.messenger.fail("1001", *(TemporaryFailure("Timed out") for _ in range(8)))

    waits = []
    for _ in range(7):
        await bench.run_once()
        row = outbox.row(delivery)
        assert row.state == "queued"
        waits.append(row.due_at - clock.now())
        clock.set(row.due_at)
    report = await bench.run_once()

    assert [int(w.total_seconds()) for w in waits] == [30, 60, 120, 240, 480, 960, 1920]
    assert report.failed == 1
    row = outbox.row(delivery)
    assert (row.state, row.attempts) == ("failed", 8)
    assert row.last_error == "gave up after 8 attempts: Timed out"
    assert bench.messenger.sent == []


async def test_backoff_is_capped_at_an_hour(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    bench = make_bench(queue, clock, max_attempts=20)
    delivery = outbox.enqueue(outbox.member("1001"), "お知らせ")
    bench.messenger.fail("1001", *(TemporaryFailure("Timed out") for _ in range(10)))

    for _ in range(10):
        await bench.run_once()
        row = outbox.row(delivery)
        wait = row.due_at - clock.now()
        clock.set(row.due_at)

    assert wait == timedelta(hours=1)


async def test_a_permanent_failure_is_not_retried(
    bench: Bench, outbox: Outbox, clock: FakeClock
) -> None:
    delivery = outbox.enqueue(outbox.member("1001"), "お知らせ")
    bench.messenger.fail("1001", PermanentFailure("Bad Request: can't parse entities"))

    report = await bench.run_once()

    assert report.failed == 1
    row = outbox.row(delivery)
    assert (row.state, row.last_error) == ("failed", "Bad Request: can't parse entities")


async def test_an_unexpected_error_from_a_messenger_is_retried_like_a_temporary_one(
    bench: Bench, outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    delivery = outbox.enqueue(outbox.member("1001"), "お知らせ")
    bench.messenger.fail("1001", KeyError("bug"))

    with caplog.at_level(logging.ERROR):
        report = await bench.run_once()

    assert report.retried == 1
    assert outbox.row(delivery).state == "queued"
    assert "unexpected error" in caplog.text


async def test_a_blocked_member_is_marked_unreachable_and_gets_nothing_more(
    bench: Bench, outbox: Outbox, clock: FakeClock
) -> None:
    hanako, taro = outbox.member("1001"), outbox.member("1002")
    hers = [outbox.enqueue(hanako, f"お知らせ {n}") for n in range(3)]
    his = outbox.enqueue(taro, "お知らせ")
    later = outbox.enqueue(hanako, "来週", due_at=clock.now() + timedelta(days=7))
    bench.messenger.block("1001")

    report = await bench.run_once()

    assert (report.sent, report.skipped) == (1, 3)
    assert bench.messenger.attempts.count("1001") == 1
    assert [outbox.row(d).skip_reason for d in [*hers, later]] == ["unreachable"] * 4
    assert outbox.row(his).state == "sent"
    stored = outbox.stored_member(hanako)
    assert stored.unreachable_reason == BLOCKED
    assert stored.unreachable_at == clock.now()

    outbox.enqueue(hanako, "変更のお知らせ", purpose="event_change")
    clock.advance(timedelta(days=8))
    await bench.run_once()
    assert bench.messenger.attempts.count("1001") == 1


async def test_a_short_rate_limit_is_waited_out_and_the_message_sent_once(
    bench: Bench, outbox: Outbox
) -> None:
    hanako, taro = outbox.member("1001"), outbox.member("1002")
    delivery = outbox.enqueue(hanako, "お知らせ")
    outbox.enqueue(taro, "お知らせ")
    bench.messenger.fail("1001", RateLimited(5))

    report = await bench.run_once()

    assert report.sent == 2
    assert [s.external_id for s in bench.messenger.sent] == ["1002", "1001"]
    assert bench.messenger.sent[1].at == pytest.approx(5.0)
    row = outbox.row(delivery)
    assert (row.state, row.attempts) == ("sent", 1)


async def test_a_long_rate_limit_puts_the_members_rows_back_without_using_attempts(
    bench: Bench, outbox: Outbox, clock: FakeClock
) -> None:
    hanako, taro = outbox.member("1001"), outbox.member("1002")
    hers = [outbox.enqueue(hanako, f"お知らせ {n}") for n in range(2)]
    his = outbox.enqueue(taro, "お知らせ")
    bench.messenger.fail("1001", RateLimited(600))

    report = await bench.run_once()

    assert (report.sent, report.deferred) == (1, 2)
    assert outbox.row(his).state == "sent"
    for delivery in hers:
        row = outbox.row(delivery)
        assert (row.state, row.attempts) == ("queued", 0)
        assert row.due_at == clock.now() + timedelta(seconds=600)
    assert outbox.row(hers[0]).last_error == "rate limited: retry after 600 s"

    clock.advance(timedelta(seconds=600))
    bench.time.now += 600
    assert (await bench.run_once()).sent == 2
    assert bench.messenger.texts("1001") == ["お知らせ 0", "お知らせ 1"]


async def test_a_rate_limit_for_everything_holds_every_chat(bench: Bench, outbox: Outbox) -> None:
    outbox.enqueue(outbox.member("1001"), "お知らせ")
    outbox.enqueue(outbox.member("1002"), "お知らせ")
    bench.messenger.fail("1001", RateLimited(10, everything=True))

    await bench.run_once()

    assert sorted(s.at for s in bench.messenger.sent) == pytest.approx([10.0, 10.0 + 1 / 30])


async def test_rows_waiting_for_their_turn_keep_their_lease_so_nobody_else_takes_them(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    hanako = outbox.member("1001")
    ids = [outbox.enqueue(hanako, f"お知らせ {n}") for n in range(3)]
    lease = timedelta(seconds=0.3)
    stolen: list[ClaimedDelivery] = []

    class SlowMessenger(FakeMessenger):
        """Each send takes 0.25 s: the third row is held longer than the lease."""

        async def send(self, external_id: str, message: Any, *, retry_key: str) -> str:
            clock.advance(timedelta(seconds=0.25))
            await asyncio.sleep(0.25)
            if len(self.sent) == 2:  # another process looks for abandoned rows now
                stolen.extend(queue.claim(clock.now(), 10, lease))
            return await super().send(external_id, message, retry_key=retry_key)

    messenger = SlowMessenger()
    dispatcher = Dispatcher(queue, {"telegram": messenger}, clock, run_blocking=direct, lease=lease)

    report = await dispatcher.run_once()

    assert report.sent == 3
    assert stolen == []
    assert [outbox.row(i).state for i in ids] == ["sent"] * 3


async def test_a_row_with_an_undecodable_payload_fails_alone(
    bench: Bench, outbox: Outbox, database_url: str
) -> None:
    hanako = outbox.member("1001")
    broken = outbox.enqueue(hanako, "壊れた")
    fine = outbox.enqueue(hanako, "正常")
    with outbox.database.session() as session:
        session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id == broken)
            .values(payload={"kind": "message", "message": {"buttons": 3}})
        )
        session.commit()

    report = await bench.run_once()

    assert (report.failed, report.sent) == (1, 1)
    row = outbox.row(broken)
    assert row.state == "failed"
    assert row.last_error is not None
    assert row.last_error.startswith("undecodable payload")
    assert outbox.row(fine).state == "sent"


async def test_rows_of_channels_without_a_messenger_stay_queued(
    bench: Bench, outbox: Outbox
) -> None:
    on_console = outbox.enqueue(outbox.member("alice", channel="console"), "こんにちは")
    on_line = outbox.enqueue(outbox.member("U1234", channel="line"), "こんにちは")

    report = await bench.run_once()

    assert report.claimed == 0
    assert [outbox.row(d).state for d in (on_console, on_line)] == ["queued", "queued"]


async def test_a_channel_attached_later_gets_its_queued_rows(bench: Bench, outbox: Outbox) -> None:
    on_console = outbox.enqueue(outbox.member("alice", channel="console"), "こんにちは")
    assert (await bench.run_once()).claimed == 0

    console = FakeMessenger()
    bench.dispatcher.attach("console", console)
    await bench.run_once()

    assert console.texts("alice") == ["こんにちは"]
    assert outbox.row(on_console).state == "sent"

    bench.dispatcher.detach("console")
    outbox.enqueue(outbox.member("alice", channel="console"), "またね")
    assert (await bench.run_once()).claimed == 0


async def test_a_burst_of_100_to_one_member_takes_about_100_seconds(
    bench: Bench, outbox: Outbox
) -> None:
    hanako = outbox.member("1001")
    for n in range(100):
        outbox.enqueue(hanako, f"お知らせ {n}")

    report = await bench.drain()

    assert report.sent == 100
    moments = [s.at for s in bench.messenger.sent]
    # Three at once (the few messages of one answer, spaced by the overall rate only), then
    # one a second.
    assert moments[2] < 0.1
    assert moments[-1] == pytest.approx(97.0, abs=0.1)
    assert min(b - a for a, b in itertools.pairwise(moments[3:])) >= 1.0 - 1e-9


async def test_a_burst_of_100_to_100_members_takes_about_3_seconds(
    bench: Bench, outbox: Outbox
) -> None:
    for n in range(100):
        outbox.enqueue(outbox.member(str(5000 + n)), "お知らせ")

    report = await bench.drain()

    assert report.sent == 100
    moments = sorted(s.at for s in bench.messenger.sent)
    assert moments[-1] == pytest.approx(99 / 30)
    assert max(sum(1 for t in moments if s <= t < s + 1 - 1e-9) for s in moments) <= 30


# --- the loop, in real time ---------------------------------------------------------------


@pytest.fixture
def live(queue: SqlDeliveryQueue, clock: FakeClock) -> tuple[Dispatcher, FakeMessenger]:
    """A dispatcher with a real-time pacer, for `run`."""
    messenger = FakeMessenger()
    return Dispatcher(queue, {"telegram": messenger}, clock, run_blocking=direct), messenger


async def test_wake_makes_the_loop_send_at_once_and_stop_ends_it_promptly(
    live: tuple[Dispatcher, FakeMessenger], outbox: Outbox
) -> None:
    dispatcher, messenger = live
    hanako = outbox.member("1001")
    stop = asyncio.Event()
    loop = asyncio.create_task(dispatcher.run(stop, idle=3600))
    outbox.enqueue(hanako, "最初")
    await messenger.until_sent(1)  # the first round, at start

    outbox.enqueue(outbox.member("1002"), "質問への回答", purpose="relay_answer")
    await asyncio.to_thread(dispatcher.wake)  # as the core's worker threads would
    await messenger.until_sent(2)
    stop.set()

    async with asyncio.timeout(1):
        await loop
    assert messenger.texts("1002") == ["質問への回答"]


async def test_stopping_puts_rows_still_waiting_for_their_turn_back_untried(
    live: tuple[Dispatcher, FakeMessenger], outbox: Outbox
) -> None:
    dispatcher, messenger = live
    hanako = outbox.member("1001")
    ids = [outbox.enqueue(hanako, f"お知らせ {n}") for n in range(5)]
    stop = asyncio.Event()
    loop = asyncio.create_task(dispatcher.run(stop, idle=3600))
    await messenger.until_sent(1)

    stop.set()  # the others wait a second each for their turn in this chat
    async with asyncio.timeout(0.5):
        await loop

    states = [(outbox.row(d).state, outbox.row(d).attempts) for d in ids]
    assert states[0] == ("sent", 1)
    assert len(messenger.sent) + states.count(("queued", 0)) == 5


class FlakyQueue:
    """The real queue, but the first claim fails as if the database had gone away."""

    def __init__(self, queue: SqlDeliveryQueue) -> None:
        self._queue = queue
        self.failures = 1

    def claim(
        self,
        now: datetime,
        limit: int,
        lease: timedelta,
        *,
        channels: Collection[str] | None = None,
    ) -> list[ClaimedDelivery]:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("server closed the connection unexpectedly")
        return self._queue.claim(now, limit, lease, channels=channels)

    def __getattr__(self, name: str) -> object:
        return getattr(self._queue, name)


async def test_the_loop_survives_a_database_outage(
    queue: SqlDeliveryQueue,
    outbox: Outbox,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    messenger = FakeMessenger()
    dispatcher = Dispatcher(
        FlakyQueue(queue),  # type: ignore[arg-type]  # the rest of the port via __getattr__
        {"telegram": messenger},
        clock,
        run_blocking=direct,
    )
    outbox.enqueue(outbox.member("1001"), "お知らせ")
    stop = asyncio.Event()

    with caplog.at_level(logging.ERROR):
        loop = asyncio.create_task(dispatcher.run(stop, idle=0.01))
        await messenger.until_sent(1)
        stop.set()
        await loop

    assert "dispatching failed" in caplog.text
