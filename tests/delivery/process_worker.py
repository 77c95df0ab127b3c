"""One outbox dispatcher in a process of its own, for tests that need several processes.

Run as `python -m tests.delivery.process_worker --database-url ... --base-url ...`. It wires
what the app wires (SqlDeliveryQueue, a real TelegramMessenger, a Pacer, the SqlSlotLedger when
`--shared-budget`, the outbox's database work on one CoreWorker thread), without config or CLI.

The crash, storm and bench runs turn `--concurrency`, `--in-flight` and `--first-backoff`
(seconds before the first retry of a failed send, doubling after; the product waits 30 s).
Without `--render-config` the rows must carry fixed messages; with it (a config file, e.g.
config.example.yaml) every row is rendered when claimed by `DeliveryContent`, built as bot.app
builds it (that config's regions, the message catalogues, its quiet hours): what broadcasts,
reminders and notices need.

It talks to the test over its standard streams, one line at a time:
- it prints `ready` once its Bot client is initialised, then waits for `go` on stdin;
- it dispatches until it reads `stop` (or stdin closes), then prints a JSON line with what it
  sent, how many 429s it got, the sends that failed for now (5xx, dropped connections) and the
  members found unreachable, and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import os
import sys
from datetime import timedelta
from pathlib import Path

from bot.channels.core_worker import CoreWorker
from bot.channels.telegram.messenger import TelegramMessenger
from bot.config import load_settings
from bot.delivery.dispatcher import Dispatcher
from bot.delivery.model import RateLimited, TemporaryFailure, Unreachable
from bot.delivery.pacing import BlockingReserve, Pacer
from bot.delivery.policy import exponential_backoff
from bot.domain.capabilities import Capabilities
from bot.domain.clock import SystemClock
from bot.domain.messages import Outgoing
from bot.domain.reminders import QuietHours
from bot.services.deliveries import DeliveryContent
from bot.services.screens import Screens
from bot.store.database import Database
from bot.store.deliveries import SqlDeliveryQueue
from bot.store.rate_budget import SqlSlotLedger
from bot.texts import Catalogues

# As tests/conftest.py: python-telegram-bot builds RetryAfter with a timedelta, without warning.
os.environ.setdefault("PTB_TIMEDELTA", "1")

CHANNEL = "telegram"


class CountingMessenger:
    """The real messenger, counting what it sent, the 429s it got, the sends that failed for
    now and the members found unreachable."""

    def __init__(self, inner: TelegramMessenger) -> None:
        self._inner = inner
        self.capabilities: Capabilities = inner.capabilities
        self.sent = 0
        self.rate_limited = 0
        self.failed_for_now = 0
        self.unreachable = 0

    def parts(self, message: Outgoing) -> int:
        return self._inner.parts(message)

    async def send(self, external_id: str, message: Outgoing, *, retry_key: str) -> str:
        try:
            message_id = await self._inner.send(external_id, message, retry_key=retry_key)
        except RateLimited:
            self.rate_limited += 1
            raise
        except TemporaryFailure:
            self.failed_for_now += 1
            raise
        except Unreachable:
            self.unreachable += 1
            raise
        self.sent += 1
        return message_id


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--base-url", required=True, help="the fake Bot API's base_url")
    parser.add_argument("--token", required=True)
    parser.add_argument("--per-second", type=float, default=30.0)
    parser.add_argument("--lease", type=float, default=30.0, help="seconds")
    parser.add_argument("--batch", type=int, default=15)
    parser.add_argument("--idle", type=float, default=0.1, help="seconds between polls")
    parser.add_argument("--shared-budget", action="store_true")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--in-flight", type=int, default=None, help="default: the dispatcher's")
    parser.add_argument("--first-backoff", type=float, default=30.0, help="seconds")
    parser.add_argument(
        "--render-config",
        type=Path,
        default=None,
        help="render rows at send time as the app does, with this config (default: fixed only)",
    )
    return parser.parse_args(argv)


def _renderer(config: Path, database: Database) -> DeliveryContent:
    """The dispatcher's renderer as bot.app.build makes it (its Screens are the ones
    Conversation makes: the campaign and the catalogues)."""
    settings = load_settings(config, env={})
    quiet = settings.config.reminders.quiet_hours
    return DeliveryContent(
        database.unit_of_work,
        Screens(settings.campaign(), Catalogues.load()),
        SystemClock(),
        quiet=QuietHours(quiet.start, quiet.end),
    )


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def _until_stopped(stop: asyncio.Event) -> None:
    while True:
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line or line.strip() == "stop":
            stop.set()
            return


async def _main(args: argparse.Namespace) -> None:
    database = Database(args.database_url)
    # As bot.app wires them: the outbox's database work on a thread of its own, and the
    # budget's reservations on another (they must not wait behind a claim).
    outbox = CoreWorker(threads=1, name="outbox")
    outbox.start()
    budget = CoreWorker(threads=1, name="budget")
    budget.start()
    ledger = SqlSlotLedger(database.sessions)

    async def reserve(channel: str, count: int, interval: float, now: float) -> float:
        return await budget.run(ledger.reserve, channel, count, interval, now)

    shared: tuple[str, BlockingReserve] | None = (CHANNEL, reserve) if args.shared_budget else None
    pacer = Pacer(per_second=args.per_second, ledger=shared)
    telegram = TelegramMessenger(
        args.token, base_url=args.base_url, connections=max(16, args.concurrency)
    )
    messenger = CountingMessenger(telegram)
    options = {} if args.in_flight is None else {"in_flight": args.in_flight}
    renderer = None if args.render_config is None else _renderer(args.render_config, database)
    dispatcher = Dispatcher(
        SqlDeliveryQueue(database.sessions),
        {CHANNEL: messenger},
        SystemClock(),
        run_blocking=outbox.run,
        pacers={CHANNEL: pacer},
        renderer=renderer,
        batch=args.batch,
        lease=timedelta(seconds=args.lease),
        concurrency=args.concurrency,
        backoff=functools.partial(exponential_backoff, first=timedelta(seconds=args.first_backoff)),
        **options,
    )
    await telegram.initialize()
    try:
        _say("ready")
        if (await asyncio.to_thread(sys.stdin.readline)).strip() != "go":
            return
        stop = asyncio.Event()
        watching = asyncio.create_task(_until_stopped(stop))
        await dispatcher.run(stop, idle=args.idle)
        await watching
        report = {
            "sent": messenger.sent,
            "rate_limited": messenger.rate_limited,
            "failed_for_now": messenger.failed_for_now,
            "unreachable": messenger.unreachable,
        }
        _say(json.dumps(report))
    finally:
        await telegram.shutdown()
        outbox.stop()
        budget.stop()
        database.dispose()


def _without_traceback(record: logging.LogRecord) -> bool:
    """python-telegram-bot logs nginx's HTML error page (a 5xx in the storm) with the JSON
    decoder's traceback; the line is kept, the traceback (not ours, and expected) dropped, so
    that a traceback in the log still means a bug of ours."""
    if record.getMessage().startswith("Can not load invalid JSON data"):
        record.exc_info = None
        record.exc_text = None
    return True


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("telegram.request.BaseRequest").addFilter(_without_traceback)
    asyncio.run(_main(_arguments(argv)))


if __name__ == "__main__":
    main()
