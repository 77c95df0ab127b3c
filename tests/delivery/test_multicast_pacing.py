"""Pacing multicasts: N recipients are N messages against the channel's budget and each
recipient's own spacing, but one request against LINE's 200 multicast requests a second."""

from __future__ import annotations

import asyncio

import pytest

from bot.delivery.dispatcher import BATCH_REQUESTS_PER_SECOND, Dispatcher
from bot.delivery.pacing import Pacer
from bot.store.deliveries import SqlDeliveryQueue
from tests.delivery.conftest import LEASE, Outbox
from tests.delivery.fakes import FakeTime, direct
from tests.delivery.line_fakes import Call, FakeLineMessenger, line_id
from tests.fakes.clock import FakeClock


async def test_a_multicast_uses_a_message_of_the_budget_per_recipient() -> None:
    time = FakeTime()
    pacer = Pacer(per_second=100, monotonic=time.monotonic, sleep=time.sleep)
    went: dict[str, float] = {}

    async def multicast() -> None:
        await pacer.acquire_many([f"chat{n}" for n in range(500)], priority=3)
        went["multicast"] = time.now

    async def then_one() -> None:
        await asyncio.sleep(0)  # after the multicast has its turn
        await pacer.acquire("other", priority=3)
        went["other"] = time.now

    await time.run(asyncio.gather(multicast(), then_one()))

    assert went == {"multicast": 0.0, "other": 5.0}


async def test_a_multicast_counts_in_each_recipients_spacing() -> None:
    time = FakeTime()
    pacer = Pacer(
        per_second=100,
        per_chat_per_second=1,
        per_chat_burst=1,
        monotonic=time.monotonic,
        sleep=time.sleep,
    )
    went: dict[str, float] = {}

    async def send(chat: str) -> None:
        await pacer.acquire(chat, priority=3)
        went[chat] = time.now

    async def run() -> None:
        await pacer.acquire_many(["a", "b"], 2, priority=3)
        await asyncio.gather(send("a"), send("c"))

    await time.run(run())

    assert went["c"] == pytest.approx(0.04), "four messages of the budget: two parts to each of two"
    assert went["a"] == pytest.approx(2.0), "two parts to a: its next waits two seconds"


async def test_multicasts_go_at_most_200_requests_a_second(
    queue: SqlDeliveryQueue, outbox: Outbox, clock: FakeClock
) -> None:
    for part in range(3):
        for n in range(2):
            member = outbox.member(line_id(n), channel="line")
            outbox.enqueue(member, f"第{part}部", reference=f"broadcast:1:{part}")
    time = FakeTime()
    line = FakeLineMessenger()
    at: list[float] = []

    def record(call: Call) -> None:
        at.append(time.now)

    line.before_call = record
    dispatcher = Dispatcher(
        queue,
        {"line": line},
        clock,
        run_blocking=direct,
        pacers={"line": Pacer(per_second=1e6, monotonic=time.monotonic, sleep=time.sleep)},
        lease=LEASE,
    )

    report = await time.run(dispatcher.run_once())

    assert (report.multicasts, report.sent) == (3, 6)
    interval = 1 / BATCH_REQUESTS_PER_SECOND
    assert at == pytest.approx([0.0, interval, 2 * interval])
