"""Pacing: stay under a channel's flood limits, overall and per chat, and obey its 429s.

Telegram allows about 30 messages a second overall and about one a second per chat; a bot that
goes faster gets HTTP 429 and must wait. Pacing ourselves keeps a broadcast from ever getting
there. python-telegram-bot's AIORateLimiter is not used: in 22.8 it ends a global pause early
(issue 5338) and has no per-private-chat limit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

# Chats not heard of for a while are forgotten once this many are remembered.
_PRUNE_ABOVE = 2048


@dataclass
class _Chat:
    next_at: float = float("-inf")
    held_until: float = float("-inf")
    waiting: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Pacer:
    """Spaces messages at most `per_second` overall and `per_chat_per_second` to each chat.

    `acquire` waits for the moment a message may go; a chat that must wait (its own rate, or a
    429 it got) never holds up other chats. `monotonic` and `sleep` are injectable so that
    tests run on fake time.
    """

    def __init__(
        self,
        *,
        per_second: float = 30.0,
        per_chat_per_second: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if per_second <= 0 or per_chat_per_second <= 0:
            raise ValueError("rates must be positive")
        self._interval = 1.0 / per_second
        self._chat_interval = 1.0 / per_chat_per_second
        self._monotonic = monotonic
        self._sleep = sleep
        self._next_at = float("-inf")
        self._held_until = float("-inf")
        self._chats: dict[str, _Chat] = {}

    async def acquire(self, chat: str, count: int = 1) -> None:
        """Wait until `count` messages may be sent to `chat` now, and count them as sent."""
        state = self._chats.get(chat)
        if state is None:
            state = self._chats[chat] = _Chat()
        state.waiting += 1
        try:
            # One message at a time per chat, so that the chat's spacing is measured from
            # the moment its previous message really went.
            async with state.lock:
                await self._wait_for_turn(state, count)
        finally:
            state.waiting -= 1
            if len(self._chats) > _PRUNE_ABOVE:
                self._prune()

    async def _wait_for_turn(self, state: _Chat, count: int) -> None:
        while True:
            now = self._monotonic()
            ready = max(state.next_at, state.held_until, self._held_until)
            if ready > now:
                await self._sleep(ready - now)
                continue
            # The overall slot is reserved only once the chat itself may send: reserving it
            # earlier would leave it unused while other chats wait behind it.
            slot = max(now, self._next_at)
            self._next_at = slot + count * self._interval
            if slot > now:
                await self._sleep(slot - now)
                now = self._monotonic()
                if max(state.held_until, self._held_until) > now:
                    continue  # a 429 arrived while we waited for the slot
            state.next_at = now + count * self._chat_interval
            return

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
            if not state.waiting and state.next_at <= now and state.held_until <= now
        ]
        for name in idle:
            del self._chats[name]
