"""One rate budget per channel, shared by replies to members and by the outbox's pushes.

Telegram allows about 30 messages a second overall and about one a second per chat (short
bursts are tolerated); a bot that goes faster gets HTTP 429 and must wait. Every message of a
channel, reply or push, takes its turn here, so that a normal run never sees a 429:

- Replies to members come first: they may use a small burst, and whenever a reply and a push
  wait for the same moment, the reply goes. Pushes use what remains, higher lanes first.
- Per chat, messages are spaced at `per_chat_per_second` with a small burst, so the three
  messages of one answer go at once but a broadcast never floods one person.
- Several processes share the overall budget through a `SlotLedger` (a row in the database):
  each message's slot is reserved there, so two processes never add up to twice the limit.

python-telegram-bot's AIORateLimiter is not used: in 22.8 it ends a global pause early (issue
5338) and has no per-private-chat limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Protocol

# Chats not heard of for a while are forgotten once this many are remembered; the next look
# waits until twice as many as were left are remembered, so that a broadcast to ten thousand
# waiting chats does not walk them all after every message.
_PRUNE_ABOVE = 2048

REPLY = -1
"""The priority of a direct reply to a member; pushes use their lane (0 and up)."""


class SlotLedger(Protocol):
    """A channel's overall budget kept where every process sees it (the database)."""

    def reserve(self, channel: str, count: int, interval: float, now: float) -> float:
        """Reserve `count` slots `interval` seconds apart from `now` (wall-clock seconds) on;
        returns the wall-clock time at which the first of them may be used."""
        ...


BlockingReserve = Callable[[str, int, float, float], Awaitable[float]]


@dataclass
class _Chat:
    tat: float = float("-inf")
    """Theoretical arrival time of the chat's next message (GCRA)."""
    held_until: float = float("-inf")
    waiting: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Pacer:
    """Spaces a channel's messages within `per_second` overall and `per_chat_per_second` to
    each chat, replies before pushes and higher lanes before lower ones.

    `acquire` waits for the moment a message may go; a chat that must wait (its own rate, or a
    429 it got) never holds up other chats. `monotonic` and `sleep` are injectable so that
    tests run on fake time; `ledger` (with `wall` and `run_blocking`) shares the overall budget
    with other processes.
    """

    def __init__(
        self,
        *,
        per_second: float = 30.0,
        per_chat_per_second: float = 1.0,
        per_chat_burst: int = 3,
        reply_burst: int = 10,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        ledger: tuple[str, BlockingReserve] | None = None,
        wall: Callable[[], float] = time.time,
        remember: int = _PRUNE_ABOVE,
    ) -> None:
        """`ledger`: the channel's name and an awaitable `SlotLedger.reserve` (run off the
        event loop by the caller). `remember`: how many chats are kept before those idle
        are forgotten."""
        if per_second <= 0 or per_chat_per_second <= 0:
            raise ValueError("rates must be positive")
        if per_chat_burst < 1 or reply_burst < 1:
            raise ValueError("bursts must be at least 1")
        self._interval = 1.0 / per_second
        self._chat_interval = 1.0 / per_chat_per_second
        self._chat_tolerance = (per_chat_burst - 1) * self._chat_interval
        self._reply_tolerance = (reply_burst - 1) * self._interval
        self._monotonic = monotonic
        self._sleep = sleep
        self._ledger = ledger
        self._wall = wall
        self._tat = float("-inf")
        self._held_until = float("-inf")
        self._chats: dict[str, _Chat] = {}
        self._remember = self._prune_above = remember
        self._waiting: Counter[int] = Counter()
        self._reserving = asyncio.Lock()

    @property
    def per_second(self) -> float:
        return 1.0 / self._interval

    @property
    def shared(self) -> bool:
        """Whether the overall budget is shared with other processes (through a ledger)."""
        return self._ledger is not None

    async def acquire(self, chat: str, count: int = 1, *, priority: int) -> None:
        """Wait until `count` messages may be sent to `chat` now, and count them as sent.

        `priority`: `REPLY` for an answer to what the member just did, else the lane of the
        push (a lower number goes first).
        """
        state = self._chats.get(chat)
        if state is None:
            state = self._chats[chat] = _Chat()
        state.waiting += 1
        try:
            # One message at a time per chat, so that the chat's spacing is measured from
            # the moment its previous message really went.
            async with state.lock:
                await self._chat_turn(state)
                await self._overall_turn([state], count, priority)
        finally:
            state.waiting -= 1
            if len(self._chats) > self._prune_above:
                self._prune()

    async def acquire_many(self, chats: Collection[str], count: int = 1, *, priority: int) -> None:
        """Wait until `count` messages may go to each of `chats` at once (one multicast), and
        count them all: each chat's spacing, and `count` times as many messages as chats
        against the overall budget."""
        states = []
        for chat in sorted(set(chats)):
            state = self._chats.get(chat)
            if state is None:
                state = self._chats[chat] = _Chat()
            states.append(state)
        for state in states:
            state.waiting += 1
        try:
            async with contextlib.AsyncExitStack() as stack:
                # In one order (sorted), so two multicasts never wait for each other's chats.
                for state in states:
                    await stack.enter_async_context(state.lock)
                for state in states:
                    await self._chat_turn(state)
                await self._overall_turn(states, count, priority)
        finally:
            for state in states:
                state.waiting -= 1
            if len(self._chats) > self._prune_above:
                self._prune()

    async def _chat_turn(self, state: _Chat) -> None:
        while True:
            now = self._monotonic()
            # A message in several parts goes at once and makes the next one wait longer.
            ready = max(state.tat - self._chat_tolerance, state.held_until, self._held_until)
            if ready <= now:
                return
            await self._sleep(ready - now)

    async def _overall_turn(self, states: list[_Chat], count: int, priority: int) -> None:
        # The overall slot is taken only once the chat itself may send: taking it earlier
        # would leave it unused while other chats wait behind it.
        total = count * len(states)
        self._waiting[priority] += 1
        try:
            while True:
                now = self._monotonic()
                held = max(self._held_until, *(state.held_until for state in states))
                if held > now:  # a 429 arrived while we waited
                    await self._sleep(held - now)
                    continue
                if any(n and p < priority for p, n in self._waiting.items()):
                    await self._sleep(self._interval / 2)  # someone more urgent goes first
                    continue
                tolerance = self._reply_tolerance if priority == REPLY else 0.0
                ready = self._tat - tolerance
                if ready > now:
                    await self._sleep(min(ready - now, self._interval))
                    continue
                self._tat = max(self._tat, now) + total * self._interval
                break
        finally:
            self._waiting[priority] -= 1
        if self._ledger is not None:
            await self._shared_turn(total, tolerance)
        sent = self._monotonic()
        for state in states:
            state.tat = max(state.tat, sent) + count * self._chat_interval

    async def _shared_turn(self, count: int, tolerance: float) -> None:
        """Reserve the slots in the shared ledger; a reply may use them as early as locally
        (`tolerance`), or it would wait behind the pushes that reserved just before it."""
        assert self._ledger is not None
        channel, reserve = self._ledger
        async with self._reserving:
            start = await reserve(channel, count, self._interval, self._wall())
        wait = start - tolerance - self._wall()
        if wait > 0:
            await self._sleep(wait)

    def like(self, *, per_second: float) -> Pacer:
        """A pacer on the same clock at another rate, one chat at a time (e.g. a limit on
        requests beside this limit on messages)."""
        return Pacer(
            per_second=per_second,
            per_chat_per_second=per_second,
            monotonic=self._monotonic,
            sleep=self._sleep,
        )

    def hold(self, seconds: float, chat: str | None = None) -> None:
        """Send nothing to `chat` (None: to anyone) for `seconds`, as a 429 asks."""
        until = self._monotonic() + seconds
        if chat is None:
            self._held_until = max(self._held_until, until)
            return
        state = self._chats.get(chat)
        if state is None:
            state = self._chats[chat] = _Chat()
        state.held_until = max(state.held_until, until)

    def held_for(self, chat: str) -> float:
        """Seconds until a 429's hold on `chat` (or on everything) ends; 0 if none."""
        state = self._chats.get(chat)
        until = max(self._held_until, state.held_until if state else float("-inf"))
        return max(0.0, until - self._monotonic())

    def _prune(self) -> None:
        now = self._monotonic()
        idle = [
            name
            for name, state in self._chats.items()
            if not state.waiting and state.tat <= now and state.held_until <= now
        ]
        for name in idle:
            del self._chats[name]
        self._prune_above = max(self._remember, 2 * len(self._chats))
