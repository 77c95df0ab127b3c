"""Issue 11: a broadcast survives SIGKILL at random moments; a cancel stops what has not gone.

The broadcast is made as the product makes it (`bot.services.broadcasts.send` in a unit of
work: the bulk lane, one row per member, rendered when claimed). The bot is
tests/delivery/process_worker.py with `--render-config`: the real queue, dispatcher,
`DeliveryContent` renderer and TelegramMessenger, talking HTTP to the fake Bot API.

The broadcast is urgent (緊急): the test runs at any hour, and a normal broadcast claimed in the
quiet hours (21:00-8:00 in Tokyo) waits for the morning. Set CRASH_SEED to replay a run.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.domain.broadcasts import SKIP_CANCELLED, Broadcast, BroadcastStatus, Target
from bot.services import broadcasts
from bot.services.broadcasts import Draft
from bot.store.database import Database
from tests.conftest import EXAMPLE_CONFIG
from tests.delivery.crash_run import (
    Recorder,
    broadcast_recipients,
    count,
    kill_points,
    reasons,
    received,
    recorded_fake,
    run_with_kills,
    seed_members,
    states,
    wait_until_done,
)
from tests.delivery.test_processes import Worker, worker_args
from tests.fakes.telegram_api import FakeTelegram

pytestmark = pytest.mark.slow

MEMBERS = 400
RATE = 200.0
KILLS = 2
LEASE = 2.0
BATCH = 20
IN_FLIGHT = 16  # the dispatcher's default bound on sends awaiting Telegram's answer
FIRST_CHAT = 75_000
TEXT = "本日18時からの新宿駅西口の街頭宣伝は、雨のため19時からに変更します。"
RECEIVED = f"【緊急のお知らせ】\n{TEXT}"


@pytest.fixture
def fake() -> Iterator[tuple[FakeTelegram, Recorder]]:
    """Telegram's per-chat limits, 200/s overall (above Telegram's 30/s, for the test's speed)."""
    with recorded_fake(RATE) as found:
        yield found


def queue_broadcast(database: Database, server: FakeTelegram) -> tuple[list[int], Broadcast]:
    """MEMBERS subscribed members, known to the fake, and an urgent broadcast to everyone."""
    chats = list(range(FIRST_CHAT, FIRST_CHAT + MEMBERS))
    for chat in chats:
        server.add_user(chat, started=True)
    now = datetime.now(UTC)
    seed_members(database, chats, now)
    with database.unit_of_work() as uow:
        sent = broadcasts.send(uow, Draft(Target(), TEXT, urgent=True), None, "test", now)
        uow.commit()
    assert sent.recipients == MEMBERS
    assert broadcast_recipients(database, sent.id) == set(chats)
    return chats, sent


def bot_args(database_url: str, server: FakeTelegram, per_second: float) -> list[str]:
    return worker_args(
        database_url,
        server,
        per_second=per_second,
        lease=LEASE,
        batch=BATCH,
        render_config=EXAMPLE_CONFIG,
    )


@pytest.mark.timeout(120)
def test_every_member_gets_the_broadcast_through_two_sigkills(
    database: Database,
    database_url: str,
    fake: tuple[FakeTelegram, Recorder],
    tmp_path: Path,
) -> None:
    server, recorder = fake
    seed = int(os.environ.get("CRASH_SEED") or random.randrange(1 << 30))
    chats, broadcast = queue_broadcast(database, server)
    began = time.monotonic()

    kills = run_with_kills(
        database,
        bot_args(database_url, server, RATE),
        delivered=lambda: recorder.delivered,
        kill_at=kill_points(random.Random(seed), MEMBERS, KILLS),
        log_dir=tmp_path,
        timeout=90,
    )

    wanted = {(chat, RECEIVED) for chat in chats}
    got = received(server, chats)
    counts = count(
        wanted,
        got,
        kills=kills,
        http_429=recorder.http_429,
        seconds=time.monotonic() - began,
    )
    print(f"\nbroadcast crash run (seed {seed}): {counts.line()}")
    assert (counts.rows, counts.sent, counts.lost) == (MEMBERS, MEMBERS, 0)
    assert set(got) == wanted, "each member got the broadcast as rendered, and nothing else"
    assert states(database) == {"sent": MEMBERS}
    assert kills == KILLS
    # A member's copy can go twice only if it was on its way when a crash came.
    assert counts.per_member_max <= kills, "at most one duplicate per member and crash"
    assert counts.duplicates <= kills * IN_FLIGHT, "only what was on its way goes twice"
    with database.unit_of_work() as uow:
        after = uow.broadcasts.get(broadcast.id)
        assert after is not None
        assert uow.broadcasts.progress(after).sent == MEMBERS


@pytest.mark.timeout(90)
def test_a_cancel_mid_way_stops_what_has_not_gone(
    database: Database,
    database_url: str,
    fake: tuple[FakeTelegram, Recorder],
    tmp_path: Path,
) -> None:
    """Paced at 50/s, cancelled after 50 messages: only what the dispatcher had already claimed
    (a batch or two) still goes; every other row is skipped as cancelled."""
    server, recorder = fake
    chats, broadcast = queue_broadcast(database, server)

    bot = Worker("bot", tmp_path, *bot_args(database_url, server, 50.0))
    try:
        bot.ready()
        bot.go()
        deadline = time.monotonic() + 30
        while recorder.delivered < 50:
            assert time.monotonic() < deadline, f"only {recorder.delivered} delivered"
            time.sleep(0.005)
        with database.unit_of_work() as uow:
            cancelled = broadcasts.cancel(uow, broadcast.id, None, datetime.now(UTC))
            uow.commit()
        at_cancel = recorder.delivered
        wait_until_done(database, timeout=30)
        report = bot.finish()
    finally:
        bot.kill()

    assert cancelled is not None
    _, skipped = cancelled
    got = received(server, chats)
    delivered = recorder.delivered
    print(
        f"\ncancel: {at_cancel} delivered at the cancel, {delivered} in the end "
        f"({delivered - at_cancel} after it), {skipped} skipped by the cancel, "
        f"outbox {reasons(database)}, bot {report}"
    )
    assert set(got) <= {(chat, RECEIVED) for chat in chats}
    assert max(got.values()) == 1, "nothing went twice"
    # In flight at the cancel: the rows claimed (and rendered) before it, a batch or two.
    assert delivered - at_cancel <= 2 * BATCH
    assert delivered < MEMBERS // 2
    assert reasons(database) == {
        ("sent", None): delivered,
        ("skipped", SKIP_CANCELLED): MEMBERS - delivered,
    }
    assert skipped <= MEMBERS - delivered
    assert report["sent"] == delivered
    with database.unit_of_work() as uow:
        after = uow.broadcasts.get(broadcast.id)
        assert after is not None
        assert after.status is BroadcastStatus.CANCELLED
        progress = uow.broadcasts.progress(after)
    assert (progress.sent, progress.skipped_cancelled) == (delivered, MEMBERS - delivered)
