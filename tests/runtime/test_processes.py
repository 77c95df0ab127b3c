"""`campaign-bot run` as it is deployed: Telegram in webhook mode, in processes of their own.

One process on SQLite or PostgreSQL: it serves the webhook and /healthz and stops cleanly on
SIGTERM. Two processes on one PostgreSQL database, the test standing in for the load
balancer (and for Telegram, posting the updates the fake Bot API made): (a) a member's
updates split across both are each handled once, in the order they arrived, even when they
arrive together; (b) a timed job runs in one process at a time; (c) the outbox is shared,
nothing is sent twice.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import func, select

from bot.channels.telegram.channel import webhook_secret
from bot.channels.telegram.webhook import SECRET_HEADER
from bot.domain.members import Member
from bot.store.database import Database
from bot.store.locks import JobLocks
from bot.store.tables import AuditRow, BroadcastRow, DeliveryRow
from tests.conftest import EXAMPLE_CONFIG, ROOT
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.conftest import TOKEN

pytestmark = pytest.mark.slow

HANAKO = 1001
TOGETHER = 30
SERVING = re.compile(r"serving telegram on 127\.0\.0\.1:(\d+)")
SKIPPED_BROADCASTS = "looking at broadcasts: another process is at it; this run is skipped"


def until(condition: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    """Wait for `condition`; the timeout only ends a test that would otherwise hang."""
    pause = threading.Event()
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        pause.wait(0.05)
    raise AssertionError(f"never: {what}")


class Bot:
    """One `campaign-bot -v run` process; its log in a file."""

    def __init__(self, name: str, workdir: Path, database_url: str) -> None:
        self.name = name
        self.log = workdir / f"{name}.log"
        script = shutil.which("campaign-bot", path=str(Path(sys.executable).parent))
        assert script, "campaign-bot is not installed in this environment"
        env = {
            **os.environ,
            "CAMPAIGN_BOT_CONFIG": "",
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "DATABASE_URL": database_url,
        }
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [script, "-v", "run"],
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        until(lambda: SERVING.search(self.text()) or self.process.poll() is not None, "serving")
        found = SERVING.search(self.text())
        assert found, f"{name} did not start:\n{self.text()[-3000:]}"
        self.url = f"http://127.0.0.1:{found.group(1)}"

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def post(self, update: dict[str, Any]) -> int:
        """POST an update as Telegram does, with the secret; the status once it is handled."""
        with httpx.Client(timeout=30) as client:
            answer = client.post(
                f"{self.url}/telegram", json=update, headers={SECRET_HEADER: webhook_secret(TOKEN)}
            )
        return answer.status_code

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


@pytest.fixture
def workdir(tmp_path: Path, fake: FakeTelegram) -> Path:
    """config.yaml: the example with Telegram on in webhook mode, pointed at the fake, the web
    server on a free port, replies paced for tests; schedules and knowledge as shipped."""
    config = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    config["channels"]["telegram"].update(
        {
            "enabled": True,
            "mode": "webhook",
            "base_url": fake.base_url,
            "base_file_url": fake.base_file_url,
        }
    )
    config["web"].update({"listen": "127.0.0.1", "port": 0, "public_url": None})
    config["delivery"].update({"per_chat_per_second": 100, "per_chat_burst": 20})
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
    (tmp_path / "schedules").symlink_to(ROOT / "schedules")
    (tmp_path / "knowledge").symlink_to(ROOT / "knowledge")
    return tmp_path


@pytest.fixture
def bots(workdir: Path, database_url: str) -> Iterator[Callable[[str], Bot]]:
    started: list[Bot] = []

    def start(name: str) -> Bot:
        bot = Bot(name, workdir, database_url)
        started.append(bot)
        return bot

    yield start
    for bot in started:
        bot.stop()


def latest_update(fake: FakeTelegram, make: Callable[[], object]) -> dict[str, Any]:
    """What Telegram would post for what `make` did as the member (the fake queues it)."""
    make()
    return fake.pending_updates()[-1]


def test_run_serves_the_webhook_and_stops_cleanly_on_sigterm(
    bots: Callable[[str], Bot], fake: FakeTelegram
) -> None:
    bot = bots("only")
    with httpx.Client() as client:
        health = client.get(f"{bot.url}/healthz")
    assert (health.status_code, health.text) == (200, "ok")

    fake.add_user(HANAKO, "花子")
    assert bot.post(latest_update(fake, lambda: fake.send_text(HANAKO, "/start"))) == 200
    assert "東京社保協" in fake.messages(HANAKO)[0].text, "answered before the 200"

    assert bot.stop() == 0
    assert "Traceback" not in bot.text()
    with httpx.Client() as client, pytest.raises(httpx.ConnectError):
        client.get(f"{bot.url}/healthz")


def on_postgresql(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several processes share a database only on PostgreSQL (SQLite: one)")


def picker_state(fake: FakeTelegram, message_id: int) -> bool:
    """Whether the region picker shows 板橋区 chosen."""
    return "✓ 板橋区" in fake.message(HANAKO, message_id).button_labels


def test_one_members_updates_across_two_processes_are_handled_once_and_in_order(
    bots: Callable[[str], Bot], fake: FakeTelegram, database_url: str
) -> None:
    on_postgresql(database_url)
    a, b = bots("a"), bots("b")
    fake.add_user(HANAKO, "花子")
    assert a.post(latest_update(fake, lambda: fake.send_text(HANAKO, "/start"))) == 200
    (consent,) = [m for m in fake.messages(HANAKO) if "はい、受け取ります" in m.button_labels]
    press = latest_update(
        fake, lambda: fake.press_button(HANAKO, consent.message_id, label="はい、受け取ります")
    )
    assert b.post(press) == 200
    picker = fake.messages(HANAKO)[-1]
    (toggle,) = [data for row in picker.inline_buttons for label, data in row if "板橋区" in label]

    # One after another, alternately, as Telegram sends a chat's updates: each turn sees the
    # one before it, whichever process handled that.
    for number in range(1, 10):
        update = latest_update(
            fake, lambda: fake.press_button(HANAKO, picker.message_id, data=toggle)
        )
        assert (a if number % 2 else b).post(update) == 200
        assert picker_state(fake, picker.message_id) == bool(number % 2), f"press {number}"

    # Many arriving together, half at each process: they take turns (the member's lock in
    # the database), so none is lost and none fails: an even number leaves 板橋区 chosen.
    together = [
        latest_update(fake, lambda: fake.press_button(HANAKO, picker.message_id, data=toggle))
        for _ in range(TOGETHER)
    ]
    with ThreadPoolExecutor(TOGETHER) as pool:
        statuses = list(
            pool.map(
                lambda pair: pair[0].post(pair[1]),
                zip([a, b] * (TOGETHER // 2), together, strict=True),
            )
        )
    assert statuses == [200] * TOGETHER
    database = Database(database_url)
    try:
        with database.unit_of_work() as uow:
            member = uow.members.get("telegram", str(HANAKO))
    finally:
        database.dispose()
    assert member is not None
    assert member.regions == {"itabashi"}
    assert picker_state(fake, picker.message_id)
    assert not any("申し訳ありません" in m.text for m in fake.messages(HANAKO))
    assert len(fake.callback_answers) == 1 + 9 + TOGETHER, "every press answered"

    # Telegram sends an update again when its answer was lost; behind the load balancer the
    # copies may reach both processes at once: one turn, one answer.
    # (Counted by the help's words: outside the quiet hours the shipped schedules'
    # invitations reach her too.)
    def helps() -> int:
        return sum(HELP_WORDS in (m.text or "") for m in fake.messages(HANAKO))

    before = helps()
    assert a.post(latest_update(fake, lambda: fake.send_text(HANAKO, "/help"))) == 200
    one_turn = helps() - before
    again = latest_update(fake, lambda: fake.send_text(HANAKO, "/help"))
    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(lambda bot: bot.post(again), [a, b] * 3)) == [200] * 6
    assert one_turn >= 1
    assert helps() - before == 2 * one_turn
    assert "Traceback" not in a.text() + b.text()


ANNOUNCEMENT = "12月の集会のお知らせです"
HELP_WORDS = "使い方"


def test_a_timed_job_runs_in_one_process_at_a_time_and_the_outbox_is_shared(
    bots: Callable[[str], Bot], fake: FakeTelegram, database_url: str, workdir: Path
) -> None:
    on_postgresql(database_url)
    chats = list(range(50_000, 50_040))
    now = datetime.now(UTC)
    database = Database(database_url)
    try:
        with database.unit_of_work() as uow:
            for chat in chats:
                fake.add_user(chat, f"会員{chat}", started=True)
                member = Member("telegram", str(chat), created_at=now, last_seen_at=now)
                member.subscribe(now)
                uow.members.register(member)
            uow.commit()

        # The test holds the broadcast monitor's lock, as a third process would.
        with JobLocks(database.engine).exclusive("broadcasts.watch") as mine:
            assert mine
            a, b = bots("a"), bots("b")
            (workdir / "message.txt").write_text(ANNOUNCEMENT, encoding="utf-8")
            sent = subprocess.run(
                [
                    *(str(Path(sys.executable).parent / "campaign-bot"), "broadcast"),
                    *("--to", "all", "--text-file", "message.txt", "--urgent", "--yes"),
                ],
                cwd=workdir,
                env={**os.environ, "CAMPAIGN_BOT_CONFIG": "", "DATABASE_URL": database_url},
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert sent.returncode == 0, sent.stderr
            until(
                lambda: all(len(announcements(fake, chat)) == 1 for chat in chats),
                "the broadcast reached everyone",
            )
            # (c) both dispatchers shared the outbox: one message each, no row sent twice.
            assert sum(len(announcements(fake, chat)) for chat in chats) == len(chats)
            skipped = {bot.name: bot.text().count(SKIPPED_BROADCASTS) for bot in (a, b)}
            until(
                lambda: all(
                    bot.text().count(SKIPPED_BROADCASTS) > skipped[bot.name] for bot in (a, b)
                ),
                "both processes tried the monitor since, and skipped it",
            )
            # (b) nobody ran it meanwhile: the broadcast is sent but not yet closed.
            assert broadcast_statuses(database) == ["sending"]

        until(lambda: broadcast_statuses(database) == ["done"], "closed once the lock is free")
        with database.session() as session:
            finished = session.scalar(
                select(func.count())
                .select_from(AuditRow)
                .where(AuditRow.action == "broadcast.finished")
            )
            states = list(
                session.scalars(
                    select(DeliveryRow.state).where(DeliveryRow.broadcast_id.is_not(None))
                )
            )
    finally:
        database.dispose()
    assert finished == 1
    assert states == ["sent"] * len(chats)
    assert all(len(announcements(fake, chat)) == 1 for chat in chats)


def announcements(fake: FakeTelegram, chat: int) -> list[str]:
    """The broadcast as `chat` got it; reminders of the shipped schedules may come beside it
    (outside the quiet hours), and are not what this test counts."""
    return [m.text for m in fake.messages(chat) if m.text and ANNOUNCEMENT in m.text]


def broadcast_statuses(database: Database) -> list[str]:
    with database.session() as session:
        return list(session.scalars(select(BroadcastRow.status)))
