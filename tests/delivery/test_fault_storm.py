"""A storm of 429s, 5xx answers and dropped connections from the fake Bot API (issue 10).

The bot is tests/delivery/process_worker.py in processes of its own; the fake records every
sendMessage it answers. Retries start after 0.2 s instead of the product's 30 s, so that the
storm passes within the test. Set STORM_SEED to replay a storm.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.delivery.policy import SKIP_UNREACHABLE
from bot.domain.deliveries import REMINDER
from bot.store.database import Database
from bot.store.tables import DeliveryRow, MemberRow
from tests.delivery.crash_run import (
    Recorder,
    expected,
    received,
    recorded_fake,
    reminder_text,
    seed_reminders,
    wait_until_done,
)
from tests.delivery.test_processes import Worker, worker_args
from tests.fakes.telegram_api import FakeTelegram

pytestmark = pytest.mark.slow

MEMBERS = 200
REFERENCES = ["reminder:occ-7:day-before", "reminder:occ-7:1h-before"]
RATE = 200.0
FIRST_CHAT = 90_000
BLOCKED = 10
SEND = "sendMessage"


@pytest.fixture
def fake() -> Iterator[tuple[FakeTelegram, Recorder]]:
    with recorded_fake(RATE) as found:
        yield found


class Storm:
    """Every few milliseconds, a few more sendMessage calls fail: 429 (retry after 1 s), a 5xx
    (JSON or nginx's page), or a dropped connection; all before the message is processed,
    except `after` of them in all (the message is sent, only the answer is lost)."""

    def __init__(self, fake: FakeTelegram, rng: random.Random, *, after: int = 0) -> None:
        self._fake = fake
        self._rng = rng
        self._after = after
        self.injected = {"429": 0, "5xx": 0, "drop": 0, "answer lost": 0}

    def _one(self) -> None:
        fake, rng = self._fake, self._rng
        count = rng.randint(1, 3)
        kinds = ["429", "5xx", "drop"] + (["answer lost"] if self._after else [])
        kind = rng.choice(kinds)
        if kind == "answer lost":
            self._after -= 1
            count = 1
            if rng.random() < 0.5:
                fake.drop_next(methods=SEND, after=True)
            else:
                fake.fail_next(status=502, methods=SEND, after=True)
        elif kind == "429":
            fake.rate_limit_next(count, retry_after=1, methods=SEND)
        elif kind == "5xx":
            status = rng.choice([500, 502, 503, 504])
            fake.fail_next(count, status=status, methods=SEND, html=rng.random() < 0.5)
        else:
            fake.drop_next(count, methods=SEND)
        self.injected[kind] += count

    @contextmanager
    def raging(self, seconds: float) -> Iterator[None]:
        stop = threading.Event()

        def rage() -> None:
            until = time.monotonic() + seconds
            while not stop.wait(0.02) and time.monotonic() < until:
                self._one()

        thread = threading.Thread(target=rage, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


def seed(database: Database, server: FakeTelegram) -> tuple[list[int], set[int]]:
    """The members (each with both reminders queued) and the ones who blocked the bot."""
    chats = list(range(FIRST_CHAT, FIRST_CHAT + MEMBERS))
    for chat in chats:
        server.add_user(chat, started=True)
    blocked = set(chats[:: MEMBERS // BLOCKED])
    for chat in blocked:
        server.block(chat)
    assert seed_reminders(database, chats, REFERENCES, datetime.now(UTC)) == 2 * MEMBERS
    return chats, blocked


def storm_seed() -> int:
    return int(os.environ.get("STORM_SEED") or random.randrange(1 << 30))


def outcome(database: Database) -> dict[int, set[tuple[str, str | None]]]:
    """Per chat, the (state, skip reason) of its rows."""
    with database.session() as session:
        found = session.execute(
            select(MemberRow.external_id, DeliveryRow.state, DeliveryRow.skip_reason)
            .join(MemberRow, MemberRow.id == DeliveryRow.member_id)
            .where(DeliveryRow.purpose == REMINDER)
        )
        result: dict[int, set[tuple[str, str | None]]] = {}
        for chat, state, reason in found:
            result.setdefault(int(chat), set()).add((state, reason))
        return result


def unreachable(database: Database) -> dict[int, str | None]:
    with database.session() as session:
        found = session.execute(
            select(MemberRow.external_id, MemberRow.unreachable_reason).where(
                MemberRow.unreachable_at.is_not(None)
            )
        )
        return {int(chat): reason for chat, reason in found}


def bot_args(database_url: str, server: FakeTelegram, **flags: object) -> list[str]:
    return worker_args(
        database_url, server, per_second=RATE, lease=2.0, batch=30, first_backoff=0.2, **flags
    )


@pytest.mark.timeout(90)
def test_under_a_storm_nothing_is_lost_and_blocked_members_are_skipped(
    database: Database, database_url: str, fake: tuple[FakeTelegram, Recorder], tmp_path: Path
) -> None:
    server, recorder = fake
    chats, blocked = seed(database, server)
    storm = Storm(server, random.Random(number := storm_seed()), after=6)

    bot = Worker("bot", tmp_path, *bot_args(database_url, server))
    try:
        bot.ready()
        with storm.raging(seconds=3.0):
            bot.go()
            time.sleep(3.0)
        wait_until_done(database, timeout=40)
        report = bot.finish()
    finally:
        bot.kill()

    wanted = {(chat, text) for chat, text in expected(database) if chat not in blocked}
    got = received(server, chats)
    duplicates = sum(times - 1 for times in got.values())
    print(
        f"\nstorm (seed {number}): injected {storm.injected}; answered {dict(recorder.statuses)};"
        f" bot {report}; duplicates {duplicates}"
    )
    assert wanted - set(got) == set(), "lost"
    assert set(got) == wanted, "nothing reached a member who blocked the bot"
    assert storm.injected["429"] + storm.injected["5xx"] + storm.injected["drop"] >= 50
    assert report["rate_limited"] >= 1
    assert report["failed_for_now"] >= 1
    # Only a message whose answer was lost can arrive twice (Telegram cannot deduplicate).
    assert duplicates <= storm.injected["answer lost"]
    states = outcome(database)
    for chat in chats:
        if chat in blocked:
            assert states[chat] == {("skipped", SKIP_UNREACHABLE)}, chat
        else:
            assert states[chat] == {("sent", None)}, chat
    assert unreachable(database) == dict.fromkeys(blocked, "Forbidden: bot was blocked by the user")
    assert report["unreachable"] == len(blocked), "each blocked member was tried once, not twice"


@pytest.mark.timeout(90)
def test_two_processes_on_one_database_never_send_the_same_row_twice(
    database: Database, database_url: str, fake: tuple[FakeTelegram, Recorder], tmp_path: Path
) -> None:
    """Under a storm, with some answers slower than the 1 s lease: each row's lease is renewed
    while it is being sent, so the other process never takes it over."""
    server, recorder = fake
    chats, blocked = seed(database, server)
    storm = Storm(server, random.Random(number := storm_seed()))
    server.delay_next(8, 2.5, methods=SEND)  # answers that outlast the lease twice over
    args = worker_args(
        database_url,
        server,
        per_second=RATE / 2,
        lease=1.0,
        batch=20,
        first_backoff=0.2,
        shared_budget=True,
    )

    bots = [Worker(name, tmp_path, *args) for name in ("first", "second")]
    try:
        for bot in bots:
            bot.ready()
        with storm.raging(seconds=2.0):
            for bot in bots:
                bot.go()
            time.sleep(2.0)
        wait_until_done(database, timeout=40)
        reports = [bot.finish() for bot in bots]
    finally:
        for bot in bots:
            bot.kill()

    print(
        f"\ntwo processes (seed {number}): injected {storm.injected};"
        f" answered {dict(recorder.statuses)}; bots {reports}"
    )
    wanted = {(chat, text) for chat, text in expected(database) if chat not in blocked}
    got = received(server, chats)
    twice = {row: times for row, times in got.items() if times > 1}
    assert twice == {}, "a row was sent twice"
    assert set(got) == wanted
    assert all(report["sent"] > 0 for report in reports), "both processes sent"
    assert sum(report["sent"] for report in reports) == len(wanted)
    assert {reminder_text(reference) for reference in REFERENCES} == {text for _, text in got}
    with database.session() as session:
        attempts = set(session.scalars(select(DeliveryRow.attempts)))
    assert max(attempts) >= 2, "the storm made some rows go again"
