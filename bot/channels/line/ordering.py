"""Handle the events of different members concurrently, but each member's in order."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Item = TypeVar("Item")


class MemberQueues(Generic[Item]):
    """One queue per member, drained by one task while it has items; at most `concurrency`
    members' items handled at a time, at most `limit` items waiting in all.

    A member who taps two buttons quickly gets the answers in the order they tapped, while a
    slow answer to one member (the network, the database) holds up nobody else.
    """

    def __init__(
        self,
        handle: Callable[[Item], Awaitable[None]],
        *,
        concurrency: int = 32,
        limit: int = 10_000,
    ) -> None:
        """`handle` should not raise; what it raises is logged and the queue goes on."""
        self._handle = handle
        self._limit = limit
        self._slots = asyncio.Semaphore(concurrency)
        self._queues: dict[str, deque[Item]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiting = 0
        self._closed = False

    @property
    def waiting(self) -> int:
        """Items taken and not yet handled to the end."""
        return self._waiting

    @property
    def closed(self) -> bool:
        return self._closed

    def offer(self, items: Sequence[tuple[str, Item]]) -> bool:
        """Queue every (member, item), or none of them (False) when there is no room or the
        queues are closing: the caller then asks the sender to try again later."""
        if self._closed or self._waiting + len(items) > self._limit:
            return False
        for member, item in items:
            self._waiting += 1
            queue = self._queues.get(member)
            if queue is not None:
                queue.append(item)
                continue
            self._queues[member] = deque([item])
            task = asyncio.create_task(self._drain(member), name=f"line events of {member}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return True

    async def close(self) -> None:
        """Take nothing more and finish every item already taken."""
        self._closed = True
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _drain(self, member: str) -> None:
        queue = self._queues[member]
        try:
            while queue:
                item = queue[0]
                try:
                    async with self._slots:
                        await self._handle(item)
                except Exception:
                    log.exception("handling an event of a LINE member failed")
                finally:
                    queue.popleft()
                    self._waiting -= 1
        finally:
            del self._queues[member]
