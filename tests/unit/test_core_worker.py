"""The worker that runs the synchronous core off the event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from bot.channels.core_worker import CoreWorker


@pytest.fixture
def worker() -> Iterator[CoreWorker]:
    core = CoreWorker(threads=1)
    core.start()
    yield core
    core.stop()


async def test_results_come_back_to_the_caller(worker: CoreWorker) -> None:
    assert await worker.run(lambda a, b: a + b, 2, 3) == 5


async def test_work_runs_off_the_event_loop_thread(worker: CoreWorker) -> None:
    loop_thread = threading.get_ident()
    assert await worker.run(threading.get_ident) != loop_thread


async def test_exceptions_reach_the_awaiting_coroutine(worker: CoreWorker) -> None:
    def fail() -> None:
        raise LookupError("no such member")

    with pytest.raises(LookupError, match="no such member"):
        await worker.run(fail)
    assert await worker.run(lambda: "still working") == "still working"


async def test_many_requests_at_once_are_all_answered_in_order_per_thread(
    worker: CoreWorker,
) -> None:
    seen: list[int] = []

    def record(n: int) -> int:
        seen.append(n)
        return n * n

    results = await asyncio.gather(*(worker.run(record, n) for n in range(200)))
    assert results == [n * n for n in range(200)]
    assert seen == list(range(200)), "one thread takes requests in the order they came"


def test_stop_ends_every_thread() -> None:
    worker = CoreWorker(threads=3)
    worker.start()
    worker.stop()
    assert not [t for t in threading.enumerate() if t.name.startswith("core-")]


async def test_using_it_unstarted_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="start"):
        await CoreWorker().run(lambda: None)
