"""One outbox dispatcher for LINE in a process of its own, for the SIGKILL test (issue 13).

Run as `python -m tests.delivery.line_worker --database-url ... --api-host ... --token ...`.
It wires what the app wires for LINE: the real queue, the real LineMessenger (line-bot-sdk v3)
talking to the fake LINE API at `--api-host`, a Pacer, the outbox's database work on one
CoreWorker thread, and `DeliveryContent` built from `--render-config` (as
tests.delivery.process_worker builds it).

`--slow-record S`: the outcome of each multicast is written S seconds late, as if the
database were slow, so that a kill comes after LINE accepted a multicast and before its rows
are recorded: the crash a retry key is for.

It talks to the test as tests.delivery.process_worker does: `ready`, then `go` on stdin;
`stop` (or stdin closing) ends it, with a JSON line of the multicasts and pushes it made.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from bot.channels.core_worker import CoreWorker
from bot.channels.line.messenger import LineMessenger
from bot.config import LineConfig
from bot.delivery.dispatcher import Dispatcher
from bot.delivery.model import Claim, DeliveryQueue
from bot.delivery.pacing import Pacer
from bot.domain.capabilities import Capabilities
from bot.domain.clock import SystemClock
from bot.domain.messages import Outgoing
from bot.store.database import Database
from bot.store.deliveries import SqlDeliveryQueue
from tests.delivery.process_worker import _renderer, _say, _until_stopped

CHANNEL = "line"


class CountingLine:
    """The real messenger, counting its calls."""

    def __init__(self, inner: LineMessenger) -> None:
        self._inner = inner
        self.capabilities: Capabilities = inner.capabilities
        self.multicasts = 0
        self.pushes = 0

    def parts(self, message: Outgoing) -> int:
        return self._inner.parts(message)

    async def send(self, external_id: str, message: Outgoing, *, retry_key: str) -> str:
        self.pushes += 1
        return await self._inner.send(external_id, message, retry_key=retry_key)

    async def send_many(
        self, external_ids: Sequence[str], message: Outgoing, *, retry_key: str
    ) -> str:
        self.multicasts += 1
        return await self._inner.send_many(external_ids, message, retry_key=retry_key)


class SlowRecords:
    """The real queue, but a multicast's outcome is written `delay` seconds late."""

    def __init__(self, queue: SqlDeliveryQueue, delay: float) -> None:
        self._queue = queue
        self._delay = delay

    def mark_sent_many(
        self, claims: Collection[Claim], channel_message_id: str, now: datetime
    ) -> set[int]:
        time.sleep(self._delay)  # on the outbox's thread, as a slow database would be
        return self._queue.mark_sent_many(claims, channel_message_id, now)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._queue, name)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--api-host", required=True, help="the fake LINE API's base_url")
    parser.add_argument("--token", required=True)
    parser.add_argument("--render-config", type=Path, required=True)
    parser.add_argument("--per-second", type=float, default=2000.0)
    parser.add_argument("--lease", type=float, default=30.0, help="seconds")
    parser.add_argument("--batch", type=int, default=15)
    parser.add_argument("--idle", type=float, default=0.1, help="seconds between polls")
    parser.add_argument("--slow-record", type=float, default=0.0, help="seconds")
    return parser.parse_args(argv)


async def _main(args: argparse.Namespace) -> None:
    database = Database(args.database_url)
    outbox = CoreWorker(threads=1, name="outbox")
    outbox.start()
    line = LineMessenger(
        LineConfig(enabled=True, api_host=args.api_host), args.token, lambda attachment: None
    )
    messenger = CountingLine(line)
    queue: DeliveryQueue = SqlDeliveryQueue(database.sessions)
    if args.slow_record:
        queue = cast(
            DeliveryQueue, SlowRecords(SqlDeliveryQueue(database.sessions), args.slow_record)
        )
    dispatcher = Dispatcher(
        queue,
        {CHANNEL: messenger},
        SystemClock(),
        run_blocking=outbox.run,
        pacers={CHANNEL: Pacer(per_second=args.per_second, per_chat_per_second=10.0)},
        renderer=_renderer(args.render_config, database),
        batch=args.batch,
        lease=timedelta(seconds=args.lease),
    )
    await line.open()
    try:
        _say("ready")
        if (await asyncio.to_thread(sys.stdin.readline)).strip() != "go":
            return
        stop = asyncio.Event()
        watching = asyncio.create_task(_until_stopped(stop))
        await dispatcher.run(stop, idle=args.idle)
        await watching
        _say(f'{{"multicasts": {messenger.multicasts}, "pushes": {messenger.pushes}}}')
    finally:
        await line.close()
        outbox.stop()
        database.dispose()


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(_main(_arguments(argv)))


if __name__ == "__main__":
    main()
