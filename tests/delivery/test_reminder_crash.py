"""Issue 10's crash test: due reminders survive SIGKILL at random moments.

The bot (tests/delivery/process_worker.py: the real queue, dispatcher and TelegramMessenger)
sends 2,000 due reminders, 2 to each of 1,000 members, through the fake Bot API at 500/s; it is
SIGKILLed three times at random moments and started again at once. Every member gets every
reminder; a crash can repeat only what was on its way (sent, answer not yet recorded): at most
one reminder per member and crash, since a member's reminders go one after another, and at most
the dispatcher's `in_flight` in all. Set CRASH_SEED to replay a run.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.store.database import Database
from tests.delivery.crash_run import (
    Recorder,
    count,
    expected,
    kill_points,
    received,
    recorded_fake,
    run_with_kills,
    seed_reminders,
    states,
)
from tests.delivery.test_processes import worker_args
from tests.fakes.telegram_api import FakeTelegram

pytestmark = pytest.mark.slow

MEMBERS = 1_000
REFERENCES = ["reminder:occ-41:day-before", "reminder:occ-41:2h-before"]
RATE = 500.0
KILLS = 3
LEASE = 2.0
IN_FLIGHT = 16  # the dispatcher's bound on sends awaiting Telegram's answer at once
FIRST_CHAT = 70_000


@pytest.fixture
def fake() -> Iterator[tuple[FakeTelegram, Recorder]]:
    """Telegram's per-chat limits, 500/s overall (a paid broadcast's rate, for the test's speed)."""
    with recorded_fake(RATE) as found:
        yield found


@pytest.mark.timeout(120)
def test_every_member_gets_every_reminder_through_three_sigkills(
    database: Database,
    database_url: str,
    fake: tuple[FakeTelegram, Recorder],
    tmp_path: Path,
) -> None:
    server, recorder = fake
    seed = int(os.environ.get("CRASH_SEED") or random.randrange(1 << 30))
    chats = list(range(FIRST_CHAT, FIRST_CHAT + MEMBERS))
    for chat in chats:
        server.add_user(chat, started=True)
    queued = seed_reminders(database, chats, REFERENCES, datetime.now(UTC))
    assert queued == MEMBERS * len(REFERENCES)
    args = worker_args(database_url, server, per_second=RATE, lease=LEASE, batch=50)
    began = datetime.now(UTC)

    kills = run_with_kills(
        database,
        args,
        delivered=lambda: recorder.delivered,
        kill_at=kill_points(random.Random(seed), queued, KILLS),
        log_dir=tmp_path,
        timeout=90,
    )

    counts = count(
        expected(database),
        got := received(server, chats),
        kills=kills,
        http_429=recorder.http_429,
        seconds=(datetime.now(UTC) - began).total_seconds(),
    )
    print(f"\ncrash run (seed {seed}): {counts.line()}")
    assert counts.rows == queued
    assert (counts.sent, counts.lost) == (queued, 0)
    assert set(got) == expected(database), "nothing arrived that was not queued"
    assert states(database) == {"sent": queued}
    assert kills == KILLS
    assert counts.per_member_max <= kills, "a crash repeats at most one reminder per member"
    assert counts.duplicates <= KILLS * IN_FLIGHT, "only what was on its way goes twice"
