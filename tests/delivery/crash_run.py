"""A crash run: due reminders sent by a dispatcher process that is SIGKILLed and restarted.

Shared by tests/delivery/test_reminder_crash.py (small, fake in the test's process) and
bench/reminders.py (at scale, fake in a child process). The bot is
`tests/delivery/process_worker.py`: the outbox's real queue, dispatcher and TelegramMessenger
talking HTTP to the fake Bot API, as bot.app wires them.

What arrived is read from the fake (every sendMessage it accepted), what should have arrived
from the outbox: lost is a row whose (chat, text) never arrived, a duplicate one that arrived
more than once.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from bot.domain.deliveries import REMINDER, Audience, message_payload
from bot.domain.messages import Outgoing
from bot.store.database import Database
from bot.store.tables import DeliveryRow, MemberRow
from tests.delivery.line_fakes import seed_members as subscribed
from tests.delivery.test_processes import TOKEN, Worker
from tests.fakes.telegram_api import FakeTelegram, RateLimits, RecordedRequest

Received = tuple[int, str]
"""(chat, text) of one message the fake accepted."""


def reminder_text(reference: str) -> str:
    return f"リマインダー {reference}: 明日10:00 新宿駅西口"


def seed_reminders(
    database: Database, chats: list[int], references: list[str], now: datetime
) -> int:
    """Subscribed members in `chats` (inserted in bulk), and for each reference one due
    REMINDER to all of them, queued through the outbox as the planner does; how many rows."""
    seed_members(database, chats, now)
    queued = 0
    with database.unit_of_work() as uow:
        for reference in references:
            queued += uow.outbox.enqueue_audience(
                REMINDER,
                reference,
                Audience(everyone=True),
                message_payload(Outgoing(reminder_text(reference))),
                now,
                now=now,
            )
        uow.commit()
    return queued


def expected(database: Database) -> set[Received]:
    """(chat, text) of every reminder row: what must arrive, once."""
    with database.session() as session:
        found = session.execute(
            select(MemberRow.external_id, DeliveryRow.reference)
            .join(MemberRow, MemberRow.id == DeliveryRow.member_id)
            .where(DeliveryRow.purpose == REMINDER)
        )
        return {(int(chat), reminder_text(reference)) for chat, reference in found}


def states(database: Database) -> dict[str, int]:
    with database.session() as session:
        counted = session.execute(
            select(DeliveryRow.state, func.count()).group_by(DeliveryRow.state)
        )
        return dict(counted.all())


def wait_until_done(database: Database, timeout: float) -> None:
    """Until no row is queued or sending any more."""
    deadline = time.monotonic() + timeout
    while True:
        now = states(database)
        if not {"queued", "sending"} & set(now):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not done after {timeout:g} s: {now}")
        time.sleep(0.1)


def received(fake: FakeTelegram, chats: Iterable[int]) -> Counter[Received]:
    """Every message the members in `chats` got, as the fake's chats hold them (a message
    whose answer an injected fault lost is there too)."""
    return Counter((chat, message.text) for chat in chats for message in fake.messages(chat))


class Recorder:
    """A fake's listener: how many messages it accepted, its answers to sendMessage, 429s."""

    def __init__(self) -> None:
        self.http_429 = 0
        self.delivered = 0
        self.statuses: Counter[int] = Counter()
        """sendMessage answers by HTTP status (0: the connection was dropped)."""

    def listen(self, request: RecordedRequest) -> None:
        if request.status == 429:
            self.http_429 += 1
        if request.method == "sendMessage":
            self.statuses[request.status] += 1
        if request.method == "sendMessage" and request.status == 200:
            self.delivered += 1


@contextmanager
def recorded_fake(rate: float) -> Iterator[tuple[FakeTelegram, Recorder]]:
    """The fake Bot API at `rate` messages a second overall (Telegram's per-chat limits) with a
    `Recorder` listening; it must end without an error of its own."""
    limits = RateLimits(overall_per_second=rate, overall_burst=int(rate))
    recorder = Recorder()
    with FakeTelegram(token=TOKEN, rate_limits=limits, log_requests=False) as server:
        server.add_listener(recorder.listen)
        yield server, recorder
    assert server.internal_errors == []


@dataclass(frozen=True)
class Counts:
    rows: int
    sent: int
    """Rows that arrived at least once."""
    lost: int
    duplicates: int
    """Messages that arrived beyond the first of their row."""
    per_member_max: int
    """The most duplicates one member got."""
    kills: int
    http_429: int
    seconds: float

    def line(self) -> str:
        return (
            f"rows={self.rows} sent={self.sent} lost={self.lost} duplicates={self.duplicates}"
            f" per_member_max={self.per_member_max} kills={self.kills}"
            f" http_429={self.http_429} seconds={self.seconds:.1f}"
        )


def count(
    wanted: set[Received],
    received: Counter[Received],
    *,
    kills: int,
    http_429: int,
    seconds: float,
) -> Counts:
    per_member: Counter[int] = Counter()
    for (chat, _), times in received.items():
        per_member[chat] += times - 1
    return Counts(
        rows=len(wanted),
        sent=len(wanted & set(received)),
        lost=len(wanted - set(received)),
        duplicates=sum(times - 1 for times in received.values()),
        per_member_max=max(per_member.values(), default=0),
        kills=kills,
        http_429=http_429,
        seconds=seconds,
    )


def kill_points(rng: random.Random, total: int, kills: int) -> list[int]:
    """After how many accepted messages each SIGKILL comes: random, between 10% and 90%."""
    return sorted(rng.randint(total // 10, total * 9 // 10) for _ in range(kills))


def run_with_kills(
    database: Database,
    args: list[str],
    *,
    delivered: Callable[[], int],
    kill_at: Iterable[int],
    log_dir: Path,
    timeout: float,
    on_kill: Callable[[int, int], None] = lambda kill, delivered: None,
) -> int:
    """Run a worker; each time `delivered()` reaches the next of `kill_at`, SIGKILL it and
    start another at once; wait until the outbox is done. Returns how many were killed."""
    workers: list[Worker] = []
    deadline = time.monotonic() + timeout

    def start() -> Worker:
        worker = Worker(f"bot-{len(workers)}", log_dir, *args)
        workers.append(worker)
        worker.ready()
        worker.go()
        return worker

    kills = 0
    try:
        worker = start()
        for point in kill_at:
            while delivered() < point:
                if time.monotonic() > deadline:
                    raise AssertionError(f"only {delivered()} delivered, waiting for {point}")
                time.sleep(0.005)
            worker.kill()  # SIGKILL: no clean-up of any kind
            kills += 1
            on_kill(kills, delivered())
            worker = start()
        wait_until_done(database, max(1.0, deadline - time.monotonic()))
        worker.finish()
    finally:
        for each in workers:
            each.kill()
    return kills


# --- broadcasts (issue 11) ----------------------------------------------------------------------


def seed_members(database: Database, chats: list[int], now: datetime) -> None:
    """Subscribed members in `chats` (subscribed as the domain subscribes them, so that
    whatever consent the audience needs is there), inserted in bulk, with nothing queued."""
    subscribed(database, [str(chat) for chat in chats], now, channel="telegram")


def broadcast_recipients(database: Database, broadcast_id: int) -> set[int]:
    """The chats a broadcast's rows are for."""
    with database.session() as session:
        found = session.scalars(
            select(MemberRow.external_id)
            .join(DeliveryRow, DeliveryRow.member_id == MemberRow.id)
            .where(DeliveryRow.broadcast_id == broadcast_id)
        )
        return {int(chat) for chat in found}


def reasons(database: Database) -> dict[tuple[str, str | None], int]:
    """Every row by (state, skip reason)."""
    with database.session() as session:
        counted = session.execute(
            select(DeliveryRow.state, DeliveryRow.skip_reason, func.count()).group_by(
                DeliveryRow.state, DeliveryRow.skip_reason
            )
        )
        return {(state, reason): int(number) for state, reason, number in counted}
