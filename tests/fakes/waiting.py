"""What the fake servers (Telegram, LINE) share: waiting, from a test, for their state to
change. A fake holds one lock for its state; every change calls `_changed()` with it held,
which wakes blocking waiters (`wait_until`) and asyncio ones (`until`) alike."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
import time
from collections.abc import Callable

RECHECK_INTERVAL = 0.05
"""Predicates about things outside the fake (the bot's database) are re-checked this often."""


def refuse_inside_event_loop(name: str, alternative: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        f"{name}() would block the running event loop, and the bot running in it; "
        f"use {alternative} in async tests"
    )


def describe(predicate: Callable[[], object]) -> str:
    try:
        return inspect.getsource(predicate).strip()
    except (OSError, TypeError):
        return repr(predicate)


class Watched:
    """A fake's state lock and its waiters. Subclasses call `_init_watching()` first and
    define `transcript()`, which a timeout shows."""

    _cond: threading.Condition
    _version: int
    _wakers: set[Callable[[], None]]

    def _init_watching(self) -> None:
        self._cond = threading.Condition(threading.RLock())
        self._version = 0
        self._wakers = set()

    def transcript(self) -> str:
        raise NotImplementedError

    def _changed(self) -> None:
        """Wake everyone waiting for the state to change; call with the lock held."""
        self._version += 1
        self._cond.notify_all()
        for wake in list(self._wakers):
            wake()

    def wait_until(
        self,
        predicate: Callable[[], object],
        timeout: float = 5.0,
        *,
        description: str | None = None,
    ) -> None:
        """Block until `predicate()` is true; TimeoutError shows what the fake saw.

        Re-checked whenever the fake's state changes (and every 50 ms, for conditions
        elsewhere). Not for async tests: use `await fake.until(...)` there.
        """
        refuse_inside_event_loop("wait_until", "await fake.until(...)")
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                version = self._version
            if predicate():
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(self._timeout_message(predicate, timeout, description))
            with self._cond:
                if self._version == version:
                    self._cond.wait(min(remaining, RECHECK_INTERVAL))

    async def until(
        self,
        predicate: Callable[[], object],
        timeout: float = 5.0,  # noqa: ASYNC109 - mirrors wait_until
        *,
        description: str | None = None,
    ) -> None:
        """`wait_until` for asyncio tests: waits without blocking the event loop."""
        loop = asyncio.get_running_loop()
        changed = asyncio.Event()

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                loop.call_soon_threadsafe(changed.set)

        with self._cond:
            self._wakers.add(wake)
        try:
            deadline = loop.time() + timeout
            while True:
                changed.clear()
                if predicate():
                    return
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError(self._timeout_message(predicate, timeout, description))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(remaining, RECHECK_INTERVAL)):
                        await changed.wait()
        finally:
            with self._cond:
                self._wakers.discard(wake)

    def _timeout_message(
        self, predicate: Callable[[], object], timeout: float, description: str | None
    ) -> str:
        what = description or describe(predicate)
        state = "\n".join("  " + line for line in self.transcript().splitlines())
        return f"Timed out after {timeout:g}s waiting for: {what}\nWhat the fake saw:\n{state}"
