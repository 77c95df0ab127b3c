"""Fakes for dispatcher tests: virtual time, a scripted messenger, a direct `run_blocking`."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from bot.delivery.model import Unreachable
from bot.domain.messages import Outgoing

P = ParamSpec("P")
R = TypeVar("R")

BLOCKED = "Forbidden: bot was blocked by the user"


async def direct(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """`run_blocking` for tests: call the store right here, on the event loop."""
    return function(*args, **kwargs)


class FakeTime:
    """A monotonic clock and a `sleep` for code under test: time stands still while anything
    can run, and jumps to the next wake-up once every task is asleep.

    Run the code with `await fake_time.run(coroutine)`; a burst that takes 100 s of fake time
    finishes at once.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(seconds, 0.0), next(self._order), future))
        await future

    async def run(self, awaitable: Awaitable[R]) -> R:
        task = asyncio.ensure_future(awaitable)
        while True:
            await _settle()
            if task.done():
                return task.result()
            while self._sleepers and self._sleepers[0][2].done():  # cancelled sleeps
                heapq.heappop(self._sleepers)
            if not self._sleepers:
                await _settle()
                if task.done():
                    return task.result()
                task.cancel()
                raise AssertionError("the code under test waits for something other than time")
            wake, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, wake)
            future.set_result(None)


async def _settle() -> None:
    """Let every task that can run, run, until all of them wait."""
    loop = asyncio.get_running_loop()
    # The loop's queue of ready callbacks tells exactly when nothing can run any more; it is
    # private, so fall back to plenty of turns where it does not exist.
    ready: deque[Any] | None = getattr(loop, "_ready", None)
    for _ in range(10_000 if ready is not None else 200):
        await asyncio.sleep(0)
        if ready is not None and not ready:
            return


@dataclass(frozen=True)
class Sent:
    external_id: str
    text: str
    retry_key: str
    at: float


class FakeMessenger:
    """Records what it sends, at what (fake) time; scripted failures per chat.

    `fail(chat, error, ...)` makes the next sends to `chat` raise those errors in turn;
    `block(chat)` makes every send to `chat` raise `Unreachable`.
    """

    def __init__(self, time: Callable[[], float] = lambda: 0.0, parts: int = 1) -> None:
        self.sent: list[Sent] = []
        self.attempts: list[str] = []
        self._time = time
        self._parts = parts
        self._script: dict[str, deque[Exception]] = {}
        self._blocked: set[str] = set()
        self._changed = asyncio.Event()
        self.on_send: Callable[[], None] = lambda: None
        """Called on every send, e.g. to move a clock as if sending took long."""

    def fail(self, external_id: str, *errors: Exception) -> None:
        self._script.setdefault(external_id, deque()).extend(errors)

    def block(self, external_id: str) -> None:
        self._blocked.add(external_id)

    def parts(self, message: Outgoing) -> int:
        return self._parts

    async def send(self, external_id: str, message: Outgoing, *, retry_key: str) -> str:
        self.attempts.append(external_id)
        self._changed.set()
        self.on_send()
        script = self._script.get(external_id)
        if script:
            raise script.popleft()
        if external_id in self._blocked:
            raise Unreachable(BLOCKED)
        self.sent.append(Sent(external_id, message.text, retry_key, self._time()))
        return f"msg-{len(self.sent)}"

    def texts(self, external_id: str) -> list[str]:
        return [s.text for s in self.sent if s.external_id == external_id]

    async def until_sent(self, count: int, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait (in real time) until `count` messages were sent."""
        async with asyncio.timeout(timeout):
            while len(self.sent) < count:
                self._changed.clear()
                await self._changed.wait()
