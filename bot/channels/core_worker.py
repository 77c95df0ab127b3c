"""Run the synchronous core off the event loop, on a few dedicated threads.

The core talks to the database, which blocks, so the channels' event loop must not call it
directly. `asyncio.to_thread` per message works but makes the loop and a pool of threads fight
over the interpreter lock on every update (the benchmark showed it doubling the CPU cost of an
update). Here each worker thread takes every waiting request at once, handles them one after
another, and wakes the loop once for the whole batch.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class _Job:
    call: Callable[[], Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


_STOP = object()


class CoreWorker:
    def __init__(self, *, threads: int = 1, name: str = "core") -> None:
        self._queue: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._run, name=f"{name}-{index}", daemon=True)
            for index in range(threads)
        ]
        self._started = False

    def start(self) -> None:
        if not self._started:
            self._started = True
            for thread in self._threads:
                thread.start()

    def stop(self) -> None:
        """Finish what is queued, then end the threads."""
        if not self._started:
            return
        for _ in self._threads:
            self._queue.put(_STOP)
        for thread in self._threads:
            thread.join()
        self._started = False

    async def run(self, function: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """`function(*args, **kwargs)` on a worker thread; its result or exception comes back."""
        if not self._started:
            raise RuntimeError("CoreWorker.start() was not called")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._queue.put(_Job(lambda: function(*args, **kwargs), future, loop))
        return await future

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            done: dict[asyncio.AbstractEventLoop, list[tuple[_Job, Any, BaseException | None]]] = {}
            stops = 0
            for job in batch:
                if not isinstance(job, _Job):
                    stops += 1
                    continue
                try:
                    done.setdefault(job.loop, []).append((job, job.call(), None))
                except BaseException as exc:  # handed to the awaiting coroutine
                    done.setdefault(job.loop, []).append((job, None, exc))
            for loop, results in done.items():
                try:
                    loop.call_soon_threadsafe(_settle, results)
                except RuntimeError:
                    log.warning(
                        "event loop closed before %d replies were handed over", len(results)
                    )
            if stops:
                for _ in range(stops - 1):  # the other threads' stop signals
                    self._queue.put(_STOP)
                return


def _settle(results: list[tuple[_Job, Any, BaseException | None]]) -> None:
    for job, result, error in results:
        if job.future.done():  # the awaiting coroutine was cancelled
            continue
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)
