"""Several real dispatcher processes on one outbox (issue 8): one rate budget, leases after a crash.

Each worker is `tests/delivery/process_worker.py` in a process of its own, sending through a
real TelegramMessenger to the fake Bot API served here, with Telegram's default flood limits.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pytest
from sqlalchemy import func, select

from bot.domain.deliveries import message_payload
from bot.domain.members import Member
from bot.domain.messages import Outgoing
from bot.store.database import Database
from bot.store.tables import DeliveryRow
from tests.fakes.telegram_api import FakeTelegram, RateLimits

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456:TEST-TOKEN"
FIRST_CHAT = 50_000

pytestmark = pytest.mark.slow


def text_for(chat: int) -> str:
    return f"お知らせ {chat}"


class Worker:
    """A dispatcher process (tests.delivery.process_worker) and the lines it prints."""

    def __init__(self, name: str, log_dir: Path, *args: str) -> None:
        self.name = name
        self.log = log_dir / f"{name}.log"
        self._lines: queue.Queue[str | None] = queue.Queue()
        with self.log.open("w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.delivery.process_worker", *args],
                cwd=ROOT,
                env=os.environ.copy(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    def _read(self, stdout: IO[str]) -> None:
        for line in stdout:
            self._lines.put(line.strip())
        self._lines.put(None)

    def _next_line(self, timeout: float) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            message = f"{self.name} said nothing for {timeout:g} s{self._tail()}"
            raise AssertionError(message) from None
        if line is None:
            raise AssertionError(f"{self.name} ended ({self.process.poll()}){self._tail()}")
        return line

    def _tail(self) -> str:
        return "; its log:\n" + self.log.read_text()[-3000:]

    def _tell(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def ready(self, timeout: float = 30.0) -> None:
        assert self._next_line(timeout) == "ready"

    def go(self) -> None:
        self._tell("go")

    def finish(self, timeout: float = 15.0) -> dict[str, int]:
        """Stop dispatching; returns what it sent and the 429s it got."""
        self._tell("stop")
        report: dict[str, int] = json.loads(self._next_line(timeout))
        assert self.process.wait(timeout) == 0, self._tail()
        assert "Traceback" not in self.log.read_text(), self._tail()
        return report

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()  # SIGKILL: no clean-up of any kind
        self.process.wait(10)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


@contextmanager
def started(*workers: tuple[str, list[str]], log_dir: Path) -> Iterator[list[Worker]]:
    """Start the workers and wait until each is ready; whatever happens, none outlives this."""
    running: list[Worker] = []
    try:
        for name, args in workers:
            running.append(Worker(name, log_dir, *args))
        for worker in running:
            worker.ready()
        yield running
    finally:
        for worker in running:
            worker.kill()


def worker_args(
    database_url: str, fake: FakeTelegram, *, per_second: float, lease: float, **flags: Any
) -> list[str]:
    args = [
        f"--database-url={database_url}",
        f"--base-url={fake.base_url}",
        f"--token={TOKEN}",
        f"--per-second={per_second}",
        f"--lease={lease}",
    ]
    for name, value in flags.items():
        option = "--" + name.replace("_", "-")
        if value is True:
            args.append(option)
        elif value is not False:
            args.append(f"{option}={value}")
    return args


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    """Telegram's flood limits: 30/s overall (burst 30), 1/s per private chat (burst 3)."""
    with FakeTelegram(token=TOKEN, rate_limits=RateLimits()) as server:
        yield server
    assert server.internal_errors == []


def queue_rows(database: Database, fake: FakeTelegram, count: int) -> list[int]:
    """`count` members, each in a chat of their own with one message queued; their chats."""
    chats = list(range(FIRST_CHAT, FIRST_CHAT + count))
    now = datetime.now(UTC)
    with database.unit_of_work() as uow:
        for chat in chats:
            fake.add_user(chat, started=True)
            member = Member("telegram", str(chat), created_at=now, last_seen_at=now)
            member.subscribe(now)
            stored, _ = uow.members.register(member)
            uow.outbox.enqueue(
                "broadcast", f"test:{chat}", stored, message_payload(Outgoing(text_for(chat))), now
            )
        uow.commit()
    return chats


def rows(database: Database) -> list[DeliveryRow]:
    with database.session() as session:
        return list(session.scalars(select(DeliveryRow).order_by(DeliveryRow.id)))


def states(database: Database) -> dict[str, int]:
    """How many rows are in each state (cheap: the fake shares this process's CPU)."""
    with database.session() as session:
        counted = session.execute(
            select(DeliveryRow.state, func.count()).group_by(DeliveryRow.state)
        )
        return dict(counted.all())


def wait_all_sent(database: Database, timeout: float) -> float:
    """Poll until every row is sent; returns when that was seen (time.monotonic())."""
    deadline = time.monotonic() + timeout
    while True:
        states_now = states(database)
        if set(states_now) == {"sent"}:
            return time.monotonic()
        if time.monotonic() > deadline:
            raise AssertionError(f"not all sent after {timeout:g} s: {states_now}")
        time.sleep(0.1)


def texts_received(fake: FakeTelegram, chats: list[int]) -> Counter[str]:
    return Counter(message.text for chat in chats for message in fake.messages(chat))


def peak_per_second(fake: FakeTelegram) -> int:
    """The most sendMessage calls the fake answered within any one second."""
    times = sorted(r.at for r in fake.requests("sendMessage"))
    start, peak = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        peak = max(peak, end - start + 1)
    return peak


def two_senders(
    database: Database, database_url: str, fake: FakeTelegram, tmp_path: Path, *, shared: bool
) -> tuple[list[dict[str, int]], float]:
    """Two processes, each pacing itself at Telegram's 30/s, dispatch the whole outbox;
    returns their reports and how long it took."""
    args = worker_args(database_url, fake, per_second=30, lease=30, shared_budget=shared)
    with started(("first", args), ("second", args), log_dir=tmp_path) as workers:
        began = time.monotonic()
        for worker in workers:
            worker.go()
        done = wait_all_sent(database, timeout=40)
        return [worker.finish() for worker in workers], done - began


@pytest.mark.timeout(90)
def test_two_processes_under_one_shared_budget_get_no_429(
    database: Database, database_url: str, fake: FakeTelegram, tmp_path: Path
) -> None:
    count = 240  # 8 s at 30/s: far past the 1 s burst Telegram tolerates
    chats = queue_rows(database, fake, count)

    reports, elapsed = two_senders(database, database_url, fake, tmp_path, shared=True)

    rate_limited = fake.stats.rate_limited
    print(
        f"\nshared budget: {count} messages in {elapsed:.1f} s"
        f" by {[r['sent'] for r in reports]}, {rate_limited} x 429,"
        f" peak {peak_per_second(fake)}/s"
    )
    assert rate_limited == 0
    assert [r["rate_limited"] for r in reports] == [0, 0]
    assert len(fake.requests("sendMessage")) == count
    assert texts_received(fake, chats) == Counter(text_for(chat) for chat in chats)
    assert {(row.state, row.attempts) for row in rows(database)} == {("sent", 1)}
    # Both really sent, each pacing itself at what would be the whole budget alone: only the
    # ledger kept them together within 30/s (count - 1 gaps of 1/30 s).
    assert sum(r["sent"] for r in reports) == count
    assert min(r["sent"] for r in reports) >= count // 5
    assert elapsed > (count - 1) / 30 - 0.1


@pytest.mark.timeout(60)
def test_without_the_shared_budget_two_processes_get_429s(
    database: Database, database_url: str, fake: FakeTelegram, tmp_path: Path
) -> None:
    """What the ledger buys: the same two processes, each within 30/s, together exceed it."""
    chats = queue_rows(database, fake, 150)

    reports, elapsed = two_senders(database, database_url, fake, tmp_path, shared=False)

    rate_limited = fake.stats.rate_limited
    print(
        f"\nno shared budget: 150 messages in {elapsed:.1f} s, {rate_limited} x 429,"
        f" peak {peak_per_second(fake)}/s"
    )
    assert rate_limited > 0
    assert sum(r["rate_limited"] for r in reports) == rate_limited
    # A 429 delivers nothing: each message still arrives exactly once.
    assert texts_received(fake, chats) == Counter(text_for(chat) for chat in chats)


def sent_at(database: Database) -> list[datetime]:
    with database.session() as session:
        return list(session.scalars(select(DeliveryRow.sent_at).where(DeliveryRow.state == "sent")))


@pytest.mark.timeout(60)
def test_rows_held_by_a_killed_process_are_sent_once_its_short_lease_runs_out(
    database: Database, database_url: str, fake: FakeTelegram, tmp_path: Path
) -> None:
    lease = 2.0
    chats = queue_rows(database, fake, 40)
    # Slow: 5/s with 30 rows claimed at once, so it holds rows for 6 s, three leases.
    slow = worker_args(database_url, fake, per_second=5, lease=lease, batch=30)
    other = worker_args(database_url, fake, per_second=30, lease=lease)

    with started(("doomed", slow), ("other", other), log_dir=tmp_path) as (doomed, rescuer):
        doomed.go()
        deadline = time.monotonic() + 20
        while not (sent := sent_at(database)):
            assert time.monotonic() < deadline, "the slow worker sent nothing"
            time.sleep(0.05)
        # The doomed process has claimed its 30 rows; the other takes the last 10 and then
        # watches the outbox: it would take the doomed one's rows if their lease lapsed.
        rescuer.go()
        time.sleep(max(0.0, (min(sent) - datetime.now(UTC)).total_seconds() + lease + 0.5))
        doomed.process.send_signal(signal.SIGKILL)
        killed_at = datetime.now(UTC)
        assert doomed.process.wait(10) == -signal.SIGKILL

        at_kill = rows(database)
        held = {row.id: row.lease_until for row in at_kill if row.state == "sending"}
        # It held rows for longer than their lease while another process was looking for
        # work: only renewing the lease kept them its own.
        assert (killed_at - min(sent)).total_seconds() > lease
        assert {row.attempts for row in at_kill if row.state != "queued"} == {1}, (
            "a row was claimed twice while its first owner was alive"
        )
        assert len(held) >= 5, "the killed process held claimed rows"
        assert all(until is not None and until > killed_at for until in held.values())

        wait_all_sent(database, timeout=lease + 15)
        report = rescuer.finish()

    stored = {row.id: row for row in rows(database)}
    redelivered = {
        id_: (stored[id_].sent_at - killed_at).total_seconds()  # type: ignore[operator]
        for id_ in held
    }
    print(
        f"\nkilled holding {len(held)} rows; redelivered {min(redelivered.values()):.2f}"
        f" to {max(redelivered.values()):.2f} s after the kill (lease {lease:g} s)"
    )
    for id_, until in held.items():
        row = stored[id_]
        assert row.sent_at is not None
        assert until is not None
        assert row.sent_at >= until, "taken over only once its lease ran out"
        assert row.sent_at <= killed_at + timedelta(seconds=lease + 3)
        assert row.attempts == 2
    assert {row.state for row in stored.values()} == {"sent"}
    assert report["sent"] >= len(held) + 10

    received = texts_received(fake, chats)
    assert set(received) == {text_for(chat) for chat in chats}
    duplicates = {text: n for text, n in received.items() if n > 1}
    assert len(duplicates) <= 1, duplicates
    assert set(duplicates.values()) <= {2}, duplicates
    in_flight = {text_for(int(stored[id_].reference.split(":")[1])) for id_ in held}
    assert set(duplicates) <= in_flight, "only a message in flight at the kill may go twice"
