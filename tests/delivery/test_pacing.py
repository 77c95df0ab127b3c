"""The pacer keeps Telegram's limits (30/s overall, 1/s per chat) on fake time."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from bot.delivery.pacing import Pacer
from tests.delivery.fakes import FakeTime


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


def pacer(time: FakeTime, **rates: float) -> Pacer:
    return Pacer(monotonic=time.monotonic, sleep=time.sleep, **rates)


def busiest_second(moments: list[float]) -> int:
    """The most sends in any one-second window."""
    ordered = sorted(moments)
    return max(sum(1 for t in ordered if start <= t < start + 1.0 - 1e-9) for start in ordered)


async def send_all(time: FakeTime, limiter: Pacer, chats: list[str]) -> list[tuple[str, float]]:
    """Acquire for every chat concurrently (as the dispatcher does); when each got its turn."""
    sent: list[tuple[str, float]] = []

    async def one(chat: str) -> None:
        await limiter.acquire(chat)
        sent.append((chat, time.now))

    async def everything() -> None:
        await asyncio.gather(*(one(chat) for chat in chats))

    await time.run(everything())
    return sent


async def test_a_burst_to_one_chat_goes_at_one_message_a_second(time: FakeTime) -> None:
    sent = await send_all(time, pacer(time), ["1001"] * 100)

    moments = [at for _, at in sent]
    assert moments[0] == 0.0
    assert moments[-1] == pytest.approx(99.0)
    assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(moments))


async def test_a_burst_to_many_chats_goes_at_thirty_a_second(time: FakeTime) -> None:
    sent = await send_all(time, pacer(time), [str(1000 + n) for n in range(100)])

    moments = [at for _, at in sent]
    assert moments[-1] == pytest.approx(99 / 30)
    assert busiest_second(moments) == 30


async def test_rates_are_configurable(time: FakeTime) -> None:
    limiter = pacer(time, per_second=10.0, per_chat_per_second=0.5)

    to_many = await send_all(time, limiter, [str(n) for n in range(20)])
    to_one = [at for _, at in await send_all(time, limiter, ["one"] * 3)]

    assert busiest_second([at for _, at in to_many]) == 10
    assert [b - a for a, b in itertools.pairwise(to_one)] == pytest.approx([2.0, 2.0])


async def test_a_chat_waiting_for_its_turn_does_not_hold_up_the_others(time: FakeTime) -> None:
    chats = ["busy"] * 5 + [str(n) for n in range(20)]

    sent = await send_all(time, pacer(time), chats)

    others = [at for chat, at in sent if chat != "busy"]
    busy = [at for chat, at in sent if chat == "busy"]
    assert max(others) < 1.0
    assert busy[-1] == pytest.approx(4.0, abs=0.05)


async def test_a_message_in_several_parts_counts_as_several(time: FakeTime) -> None:
    limiter = pacer(time)
    sent: list[float] = []

    async def three_long_messages() -> None:
        for _ in range(3):
            await limiter.acquire("1001", count=2)
            sent.append(time.now)

    await time.run(three_long_messages())

    assert sent == pytest.approx([0.0, 2.0, 4.0])


async def test_a_429_holds_the_chat_for_retry_after_and_only_that_chat(time: FakeTime) -> None:
    limiter = pacer(time)
    limiter.hold(7.0, "1001")

    sent = await send_all(time, limiter, ["1001", "1002"])

    assert dict(sent) == {"1002": 0.0, "1001": 7.0}
    assert limiter.held_for("1001") == 0.0


async def test_a_429_for_everything_holds_every_chat(time: FakeTime) -> None:
    limiter = pacer(time)
    limiter.hold(3.0)

    assert limiter.held_for("1001") == 3.0
    sent = await send_all(time, limiter, ["1001", "1002"])

    assert [at for _, at in sent] == pytest.approx([3.0, 3.0 + 1 / 30])


async def test_a_hold_that_arrives_while_waiting_for_a_slot_is_obeyed(time: FakeTime) -> None:
    limiter = pacer(time, per_second=1.0)
    sent: list[tuple[str, float]] = []

    async def one(chat: str) -> None:
        await limiter.acquire(chat)
        sent.append((chat, time.now))

    async def scenario() -> None:
        first = asyncio.ensure_future(one("a"))
        second = asyncio.ensure_future(one("b"))  # waits one second for the overall slot
        await first
        limiter.hold(5.0)  # the 429 for "a" says: everyone, wait
        await second

    await time.run(scenario())

    assert dict(sent) == {"a": 0.0, "b": 5.0}


async def test_forgets_chats_it_has_not_seen_for_a_while(time: FakeTime) -> None:
    limiter = pacer(time, per_second=1000.0)
    await send_all(time, limiter, [str(n) for n in range(3000)])

    async def later() -> None:
        await time.sleep(2.0)
        await limiter.acquire("new")

    await time.run(later())
    assert len(limiter._chats) < 3000
