"""What bench/outbox.py and bench/broadcast.py share: the real bot draining a bulk fan-out
through the fake Bot API while members chat, with the fake and the members in a child process.

A drain run: the real bot (`build` + `telegram_service`, polling, SQLite) against the fake Bot
API limited to `rate` messages a second overall and Telegram's 1/s per chat. First the chatting
members write with nothing queued (the idle phase); then the run's `start` queues the drain and
the same members keep chatting until every drained chat got its message (and, when the crowd
has an asker, until the asker got theirs: `halfway` queues it half-way through the drain).

A member's reply latency runs from the moment the fake queued their message (getUpdates
answers at once) to the moment it accepted the bot's sendMessage; each member writes again
1-2 s after the last part of the answer arrived (a person reading, then typing).

The fake server and the simulated members run in a child process: in the bot's process the
fake's HTTP threads would take the interpreter lock from the bot's event loop and inflate
exactly the reply latency being measured. With two cores, each process has one. Times cross
the process boundary as `time.monotonic()`, which is one system-wide clock on Linux.

Import it as `bench.support.drain` once the repository's root is on sys.path.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import multiprocessing
import os
import queue
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import insert, select

from bot.app import App, build, load_calendar, telegram_service
from bot.config import Settings, load_settings
from bot.store.tables import MemberRegionRow, MemberRow, MemberTagRow
from tests.fakes.telegram_api import FakeTelegram, RateLimits, RecordedRequest

# As bot/cli.py does: python-telegram-bot gives RetryAfter durations as timedelta.
os.environ.setdefault("PTB_TIMEDELTA", "1")

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:BENCH-TOKEN"
PG_URL_ENV = "CAMPAIGN_BOT_TEST_DATABASE_URL"
LIMIT = 30.0  # Telegram's overall messages per second, in the fake and in the bot's config
REPLY_TIMEOUT = 10.0


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# --- settings and members ---------------------------------------------------------------------


def bench_settings(
    scratch: Path,
    database_url: str,
    base_url: str = "http://127.0.0.1:9",
    *,
    shared_budget: bool | str = "auto",
    per_second: float = LIMIT,
) -> Settings:
    """config.example.yaml with Telegram pointed at the fake and Telegram's own limits
    (`per_second` overall, 1/s per chat)."""
    document = yaml.safe_load((ROOT / "config.example.yaml").read_text(encoding="utf-8"))
    document["database"]["url"] = database_url
    document["schedules_dir"] = str(ROOT / "schedules")
    document["knowledge_dir"] = str(ROOT / "knowledge")
    telegram = document["channels"]["telegram"]
    telegram.update(enabled=True, base_url=f"{base_url}/bot", base_file_url=f"{base_url}/file/bot")
    document["delivery"].update(
        per_second=per_second, per_chat_per_second=1, shared_budget=shared_budget
    )
    path = scratch / f"config-{uuid.uuid4().hex[:8]}.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return load_settings(path, env={"TELEGRAM_BOT_TOKEN": TOKEN})


def add_members(
    app: App,
    external_ids: list[int],
    *,
    tag: str | None = None,
    regions: bool = False,
    region: str = "tokyo",
    role: str = "member",
) -> list[int]:
    """Subscribed Telegram members (in `region` when `regions`), inserted in bulk; returns
    their ids in the same order."""
    now = app.clock.now()
    rows = [
        {
            "channel": "telegram",
            "external_id": str(external_id),
            "display_name": f"会員{external_id}",
            "language": "ja",
            "role": role,
            "subscription": "subscribed",
            "consent_at": now,
            "created_at": now,
            "last_seen_at": now,
        }
        for external_id in external_ids
    ]
    with app.database.sessions.begin() as session:
        session.execute(insert(MemberRow), rows)
        found = {
            row.external_id: row.id
            for row in session.execute(select(MemberRow.external_id, MemberRow.id))
        }
        ids = [found[str(external_id)] for external_id in external_ids]
        if tag is not None:
            session.execute(insert(MemberTagRow), [{"member_id": i, "tag": tag} for i in ids])
        if regions:
            session.execute(
                insert(MemberRegionRow), [{"member_id": i, "region": region} for i in ids]
            )
    return ids


# --- the child process (fake Telegram and the chatting members) --------------------------------


@dataclass(frozen=True)
class Crowd:
    """The chats of a drain run, as the fake knows them."""

    chatters: list[int]
    drained: list[int]
    """Whose messages are the drain: each should get one."""
    others: list[int] = field(default_factory=list)
    """Further chats the bot may write to (an asker, an organiser)."""
    asker: int | None = None
    """Whose first message is the answer `halfway` queues; None: no such answer awaited."""


@dataclass
class Phase:
    latencies_ms: list[float] = field(default_factory=list)
    lost: int = 0
    sends: int = 0


@dataclass
class DrainFigures:
    idle: Phase
    busy: Phase
    drained: int
    """Messages the drained chats got (a repeat counted again)."""
    first_at: float
    last_at: float
    accepted_in_window: int
    replies_in_window: int
    http_429: int
    http_429_by: dict[str, int]
    relay_at: float | None
    per_second: list[int]
    duplicates: int = 0
    """Messages to drained chats beyond one each."""

    @property
    def rate(self) -> float:
        """Messages accepted a second from the drain's first message to its last (any chat)."""
        window = self.last_at - self.first_at
        return (self.accepted_in_window - 1) / window if window > 0 else float("nan")


class Members:
    """The chatting members: each writes, waits for the whole answer, reads 1-2 s, writes again.

    `listen` runs on the fake's threads (lock held): it only stamps and queues.
    """

    def __init__(
        self, fake: FakeTelegram, chatters: list[int], words: tuple[str, ...], seed: int
    ) -> None:
        self.fake = fake
        self.chatters = chatters
        self.rng = random.Random(seed)
        self.vocabulary = words
        self.words = itertools.cycle(words)
        self.parts: dict[str, int] = dict.fromkeys(words, 1)
        self.replies: queue.SimpleQueue[tuple[int, float]] = queue.SimpleQueue()
        self.chatter_set = set(chatters)

    def listen(self, request: RecordedRequest) -> None:
        if request.method == "sendMessage" and request.status == 200:
            chat = int(request.params["chat_id"])
            if chat in self.chatter_set:
                self.replies.put((chat, request.at))

    def learn_parts(self) -> None:
        """How many messages each word's answer is (warm-up, not measured)."""
        member = self.chatters[0]
        for word in self.vocabulary:
            before = len(self.fake.messages(member))
            self.fake.send_text(member, word)
            time.sleep(3.0)  # long enough for every part, paced at 1/s per chat
            self.parts[word] = max(1, len(self.fake.messages(member)) - before)
        while True:  # drop what the warm-up left
            try:
                self.replies.get_nowait()
            except queue.Empty:
                break

    def run(self, done: Callable[[], bool]) -> Phase:
        phase = Phase()
        now = time.monotonic()
        due: list[tuple[float, int]] = [(now + self.rng.uniform(0, 1.5), m) for m in self.chatters]
        heapq.heapify(due)
        waiting: dict[int, tuple[float, int]] = {}  # member -> (sent at, parts still to come)
        first: dict[int, bool] = {}
        stopping = False
        while True:
            now = time.monotonic()
            if not stopping and done():
                stopping = True
                stop_at = now + REPLY_TIMEOUT
            if stopping and (not waiting or now > stop_at):
                phase.lost += len(waiting)
                return phase
            while not stopping and due and due[0][0] <= now:
                _, member = heapq.heappop(due)
                word = next(self.words)
                waiting[member] = (time.monotonic(), self.parts[word])
                first[member] = True
                self.fake.send_text(member, word)
                phase.sends += 1
            for member, (sent_at, _) in list(waiting.items()):
                if now - sent_at > REPLY_TIMEOUT:
                    del waiting[member]
                    phase.lost += 1
                    heapq.heappush(due, (now, member))
            timeout = 0.05 if stopping or not due else min(0.05, max(0.0, due[0][0] - now))
            try:
                member, at = self.replies.get(timeout=timeout)
            except queue.Empty:
                continue
            if member not in waiting:
                continue  # a straggler of an answer given up on
            sent_at, remaining = waiting[member]
            if first.pop(member, False):
                phase.latencies_ms.append((at - sent_at) * 1000)
            if remaining > 1:
                waiting[member] = (sent_at, remaining - 1)
                continue
            del waiting[member]
            heapq.heappush(due, (at + self.rng.uniform(1.0, 2.0), member))


def fake_process(
    conn: Connection,
    crowd: Crowd,
    idle_seconds: float,
    words: tuple[str, ...],
    seed: int,
    rate: float = LIMIT,
) -> None:
    """Child process: the fake Bot API (`rate`/s overall, Telegram's 1/s per chat) and the
    members around it."""
    limits = RateLimits(overall_per_second=rate, private_per_second=1.0)
    fake = FakeTelegram(token=TOKEN, log_requests=False, rate_limits=limits)
    fake.start()
    chatters, drained, asker = crowd.chatters, crowd.drained, crowd.asker
    for user in [*chatters, *drained, *crowd.others]:
        fake.add_user(user, f"会員{user}", started=True)
    members = Members(fake, chatters, words, seed)
    drain_set = set(drained)
    sends: list[tuple[float, int]] = []  # (accepted at, chat) of every sendMessage
    lock = threading.Lock()
    counts = {"drained": 0, "429": 0}
    reached: Counter[int] = Counter()  # drained chat -> messages it got
    refused: dict[str, int] = {}  # 429s by whom they were for
    relay: list[float] = []
    halfway = threading.Event()

    def listen(request: RecordedRequest) -> None:
        members.listen(request)
        if request.status == 429:
            counts["429"] += 1
            chat = int(request.params.get("chat_id", 0))
            whom = (
                "a chatting member"
                if chat in members.chatter_set
                else "a broadcast recipient"
                if chat in drain_set
                else "someone else"
            )
            refused[whom] = refused.get(whom, 0) + 1
        if request.method != "sendMessage" or request.status != 200:
            return
        chat = int(request.params["chat_id"])
        with lock:
            sends.append((request.at, chat))
            if chat in drain_set:
                counts["drained"] += 1
                reached[chat] += 1
                if len(reached) == len(drained) // 2 and reached[chat] == 1:
                    halfway.set()
            elif chat == asker and not relay:
                relay.append(request.at)

    def drained_all() -> bool:
        with lock:
            return len(reached) >= len(drained) and (asker is None or bool(relay))

    fake.add_listener(listen)
    conn.send(fake.root_url)
    assert conn.recv() == "started"
    members.learn_parts()
    conn.send(members.parts)

    assert conn.recv() == "idle"
    idle_until = time.monotonic() + idle_seconds
    idle = members.run(lambda: time.monotonic() > idle_until)
    conn.send("idle done")

    assert conn.recv() == "drain"

    def tell_halfway() -> None:
        halfway.wait()
        conn.send("halfway")

    threading.Thread(target=tell_halfway, daemon=True).start()
    busy = members.run(drained_all)
    with lock:
        drain_times = [at for at, chat in sends if chat in drain_set]
        first_at, last_at = min(drain_times), max(drain_times)
        window = [(at, chat) for at, chat in sends if first_at <= at <= last_at]
        duplicates = sum(times - 1 for times in reached.values())
    seconds = int(last_at - first_at) + 1
    per_second = [0] * seconds
    for at, _ in window:
        per_second[min(seconds - 1, int(at - first_at))] += 1
    conn.send(
        DrainFigures(
            idle=idle,
            busy=busy,
            drained=counts["drained"],
            first_at=first_at,
            last_at=last_at,
            accepted_in_window=len(window),
            replies_in_window=sum(1 for _, chat in window if chat in members.chatter_set),
            http_429=counts["429"],
            http_429_by=refused,
            relay_at=relay[0] if relay else None,
            per_second=per_second,
            duplicates=duplicates,
        )
    )
    conn.recv()
    fake.stop()


# --- the bot's side ---------------------------------------------------------------------------


@dataclass
class DrainRun:
    figures: DrainFigures
    parts: dict[str, int]
    queued_at: float
    relay_committed_at: float
    bot_cpu_s: float
    drain_wall_s: float
    finished: Any = None
    """What the run's `finish` returned."""


def receive(conn: Connection, process: multiprocessing.process.BaseProcess) -> Any:
    """The child's next message; fail loudly instead of hanging if the child died."""
    while not conn.poll(1.0):
        if not process.is_alive():
            raise RuntimeError(f"the fake's process exited with code {process.exitcode}")
    return conn.recv()


def run_drain(
    scratch: Path,
    crowd: Crowd,
    idle_seconds: float,
    words: tuple[str, ...],
    *,
    prepare: Callable[[App], None],
    start: Callable[[App], float],
    halfway: Callable[[App], float] | None = None,
    finish: Callable[[App], Any] | None = None,
    shared_budget: bool | str = "auto",
    rate: float = LIMIT,
    database: str = "drain.sqlite3",
) -> DrainRun:
    """One drain run (module docstring). `prepare` stores the members (not timed); `start`
    queues the drain and returns `time.monotonic()` after its commit; `halfway`, if given,
    queues the asker's answer and returns the same; `finish` runs once every drained chat got
    its message, the bot still running (its result is `DrainRun.finished`). The fake and the
    bot run at `rate` messages a second; the database is a new SQLite file in `scratch`."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(
        target=fake_process, args=(child, crowd, idle_seconds, words, 8, rate), daemon=True
    )
    process.start()
    root_url = receive(parent, process)
    settings = bench_settings(
        scratch,
        f"sqlite:///{scratch}/{database}",
        root_url,
        shared_budget=shared_budget,
        per_second=rate,
    )
    app = build(settings)
    app.calendar_sync.sync(load_calendar(settings))  # so that 予定 shows the real calendar
    prepare(app)

    async def main() -> DrainRun:
        async with telegram_service(app):
            parent.send("started")
            parts = await asyncio.to_thread(receive, parent, process)
            parent.send("idle")
            assert await asyncio.to_thread(receive, parent, process) == "idle done"
            cpu = time.process_time()
            wall = time.monotonic()
            queued_at = await asyncio.to_thread(start, app)
            parent.send("drain")
            assert await asyncio.to_thread(receive, parent, process) == "halfway"
            relay_committed_at = math.nan
            if halfway is not None:
                relay_committed_at = await asyncio.to_thread(halfway, app)
            figures = await asyncio.to_thread(receive, parent, process)
            bot_cpu = time.process_time() - cpu
            drain_wall = time.monotonic() - wall
            finished = await asyncio.to_thread(finish, app) if finish is not None else None
            return DrainRun(
                figures, parts, queued_at, relay_committed_at, bot_cpu, drain_wall, finished
            )

    try:
        return asyncio.run(main())
    finally:
        parent.send("stop")
        process.join(timeout=30)
        app.close()
