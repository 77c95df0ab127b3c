"""Issue 13's acceptance: a broadcast to 1,200 LINE members is 3 multicasts, and a SIGKILL
between them followed by a restart delivers nobody twice, as the fake LINE API records it.

The bot is tests/delivery/line_worker.py: the real queue, dispatcher, renderer and
LineMessenger (line-bot-sdk v3) in a process of its own, talking HTTP to tests/fakes/line_api.
The first process writes its multicasts' outcomes slowly (`--slow-record`), so that the kill
comes after LINE accepted the first multicast and before its rows were recorded.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.domain.broadcasts import Target
from bot.services import broadcasts
from bot.services.broadcasts import Draft
from bot.store.database import Database
from tests.conftest import EXAMPLE_CONFIG, ROOT
from tests.delivery.crash_run import states, wait_until_done
from tests.delivery.line_fakes import line_id, seed_members
from tests.delivery.test_processes import Worker
from tests.fakes.line_api import DEFAULT_ACCESS_TOKEN, FakeLine

pytestmark = pytest.mark.slow

MEMBERS = 1200
LEASE = 2.0
TEXT = "本日18時からの新宿駅西口の街頭宣伝は、雨のため19時からに変更します。"


class LineWorker(Worker):
    """A LINE dispatcher process (tests.delivery.line_worker) and the lines it prints."""

    def __init__(self, name: str, log_dir: Path, *args: str) -> None:
        self.name = name
        self.log = log_dir / f"{name}.log"
        self._lines: queue.Queue[str | None] = queue.Queue()
        with self.log.open("w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.delivery.line_worker", *args],
                cwd=ROOT,
                env=os.environ.copy(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()


def accepted_multicasts(fake: FakeLine) -> int:
    return sum(1 for request in fake.requests("multicast") if request.status == 200)


@pytest.mark.timeout(300)
def test_a_sigkill_between_multicasts_delivers_nobody_twice(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    with FakeLine() as fake:
        users = [fake.add_user(line_id(n)) for n in range(1, MEMBERS + 1)]
        now = datetime.now(UTC)
        seed_members(database, users, now)
        with database.unit_of_work() as uow:
            broadcasts.send(uow, Draft(Target(), TEXT, urgent=True), None, "test", now)
            uow.commit()
        args = [
            f"--database-url={database_url}",
            f"--api-host={fake.base_url}",
            f"--token={DEFAULT_ACCESS_TOKEN}",
            f"--render-config={EXAMPLE_CONFIG}",
            f"--lease={LEASE}",
        ]

        first = LineWorker("bot-0", tmp_path, *args, "--slow-record=60")
        try:
            first.ready(timeout=90)
            first.go()
            deadline = time.monotonic() + 30
            while accepted_multicasts(fake) < 1:
                assert time.monotonic() < deadline, f"no multicast reached LINE: {states(database)}"
                time.sleep(0.005)
            first.kill()  # SIGKILL while the accepted multicast is being recorded
        finally:
            first.kill()
        assert states(database) == {"sending": 500, "queued": 700}

        second = LineWorker("bot-1", tmp_path, *args)
        try:
            second.ready(timeout=90)
            second.go()
            wait_until_done(database, timeout=60)
            report = second.finish()
        finally:
            second.kill()

        multicasts = fake.requests("multicast")
        received = Counter(user for user in users for _ in fake.messages(user))
        texts = {text for user in users for text in fake.texts(user)}
        assert fake.internal_errors == []
    assert received == Counter(users), "every member got it once, nobody twice"
    assert len(texts) == 1
    assert TEXT in texts.pop()
    assert sorted((request.status, len(request.body["to"])) for request in multicasts) == [
        (200, 200),
        (200, 500),
        (200, 500),
        (409, 500),
    ]
    (repeat,) = [request for request in multicasts if request.status == 409]
    assert repeat.retry_key == multicasts[0].retry_key
    assert set(repeat.body["to"]) == set(multicasts[0].body["to"]), "the same request again"
    assert report == {"multicasts": 3, "pushes": 0}
    assert states(database) == {"sent": MEMBERS}
