"""The pacer keeps Telegram's limits (30/s overall, 1/s per chat) on fake time, replies first."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from bot.delivery.pacing import REPLY, Pacer
from bot.domain.deliveries import Lane
from tests.delivery.fakes import FakeTime


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


def pacer(time: FakeTime, *, per_chat_burst: int = 1, **rates: float) -> Pacer:
    """Without a per-chat burst unless asked, so that spacing is easy to read."""
    return Pacer(monotonic=time.monotonic, sleep=time.sleep, per_chat_burst=per_chat_burst, **rates)


def busiest_second(moments: list[float]) -> int:
    """The most sends in any one-second window."""
    ordered = sorted(moments)
    return max(sum(1 for t in ordered if start <= t < start + 1.0 - 1e-9) for start in ordered)


async def send_all(
    time: FakeTime, limiter: Pacer, chats: list[str], priority: int = Lane.BULK
) -> list[tuple[str, float]]:
    """Acquire for every chat concurrently (as the dispatcher does); when each got its turn."""
    sent: list[tuple[str, float]] = []

    async def one(chat: str) -> None:
        await limiter.acquire(chat, priority=priority)
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
            await limiter.acquire("1001", count=2, priority=Lane.BULK)
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
        await limiter.acquire(chat, priority=Lane.BULK)
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
    limiter = Pacer(monotonic=time.monotonic, sleep=time.sleep, per_second=1000.0, remember=64)
    await send_all(time, limiter, [f"early{n}" for n in range(100)])
    assert len(limiter._chats) == 100, "chats still within their second are all kept"

    await time.run(time.sleep(2.0))
    # Over twice the chats that could not be forgotten last time: it looks again.
    await send_all(time, limiter, [f"late{n}" for n in range(150)])

    assert not [chat for chat in limiter._chats if chat.startswith("early")]
    assert len(limiter._chats) <= 150


async def test_a_chat_may_get_a_short_burst_then_one_a_second(time: FakeTime) -> None:
    sent = await send_all(time, pacer(time, per_chat_burst=3), ["1001"] * 6, priority=REPLY)

    # A reply may use the overall burst too: the three messages of one answer go at once.
    assert [at for _, at in sent] == pytest.approx([0.0, 0.0, 0.0, 1.0, 2.0, 3.0])


async def test_a_reply_overtakes_pushes_waiting_for_the_same_budget(time: FakeTime) -> None:
    limiter = pacer(time, per_second=10.0)
    sent: list[tuple[str, float]] = []

    async def one(chat: str, priority: int) -> None:
        await limiter.acquire(chat, priority=priority)
        sent.append((chat, time.now))

    async def scenario() -> None:
        pushes = [asyncio.ensure_future(one(f"push{n}", Lane.BULK)) for n in range(30)]
        await time.sleep(1.05)  # the pushes are well under way, 20 still waiting
        await one("member", REPLY)
        await asyncio.gather(*pushes)

    await time.run(scenario())

    at = dict(sent)
    assert at["member"] <= 1.05 + 0.1 + 1e-9
    assert sum(1 for chat, moment in sent if chat != "member" and moment > at["member"]) >= 15
    assert busiest_second([moment for _, moment in sent]) <= 10 + 2  # a reply's small burst


async def test_members_writing_at_once_during_a_broadcast_are_answered_at_once(
    time: FakeTime,
) -> None:
    limiter = pacer(time, per_second=30.0, reply_burst=10)
    sent: list[tuple[str, float]] = []

    async def one(chat: str, priority: int) -> None:
        await limiter.acquire(chat, priority=priority)
        sent.append((chat, time.now))

    async def scenario() -> None:
        pushes = [asyncio.ensure_future(one(f"push{n}", Lane.BULK)) for n in range(200)]
        await time.sleep(2.0)  # the broadcast uses the whole budget
        await asyncio.gather(*(one(f"member{n}", REPLY) for n in range(9)))
        await asyncio.gather(*pushes)

    await time.run(scenario())

    replies = [moment for chat, moment in sent if chat.startswith("member")]
    assert replies == pytest.approx([2.0] * 9)
    # Borrowed from the pushes' share: the busiest second keeps within the burst above the rate.
    assert busiest_second([moment for _, moment in sent]) <= 30 + 10


async def test_replies_beyond_their_burst_wait_their_turn(time: FakeTime) -> None:
    limiter = pacer(time, per_second=10.0, reply_burst=3)
    sent = await send_all(time, limiter, [f"member{n}" for n in range(6)], priority=REPLY)

    assert [at for _, at in sent] == pytest.approx([0.0, 0.0, 0.0, 0.1, 0.2, 0.3])


async def test_a_higher_lane_goes_before_a_lower_one_waiting_longer(time: FakeTime) -> None:
    limiter = pacer(time, per_second=10.0)
    order: list[str] = []

    async def one(chat: str, lane: Lane) -> None:
        await limiter.acquire(chat, priority=lane)
        order.append(chat)

    async def scenario() -> None:
        bulk = [asyncio.ensure_future(one(f"bulk{n}", Lane.BULK)) for n in range(10)]
        await time.sleep(0.25)
        await one("relay", Lane.TRANSACTIONAL)
        await asyncio.gather(*bulk)

    await time.run(scenario())

    assert order.index("relay") <= 4


class MemoryLedger:
    """The database ledger's arithmetic (GCRA) in memory, for two pacers on fake time."""

    def __init__(self, time: FakeTime) -> None:
        self.tat = float("-inf")
        self.time = time

    async def reserve(self, channel: str, count: int, interval: float, now: float) -> float:
        start = max(self.tat, now)
        self.tat = start + count * interval
        return start


async def test_two_pacers_sharing_a_ledger_stay_within_one_budget(time: FakeTime) -> None:
    ledger = MemoryLedger(time)

    def shared() -> Pacer:
        return Pacer(
            monotonic=time.monotonic,
            sleep=time.sleep,
            wall=time.monotonic,
            ledger=("telegram", ledger.reserve),
        )

    first, second = shared(), shared()
    moments: list[float] = []

    async def one(limiter: Pacer, chat: str) -> None:
        await limiter.acquire(chat, priority=Lane.BULK)
        moments.append(time.now)

    async def scenario() -> None:
        await asyncio.gather(
            *(one(first, f"a{n}") for n in range(60)), *(one(second, f"b{n}") for n in range(60))
        )

    await time.run(scenario())

    assert len(moments) == 120
    assert busiest_second(moments) <= 30
    assert max(moments) == pytest.approx(119 / 30, abs=0.1)
