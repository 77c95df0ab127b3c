"""Benchmark: the outbox (issue 8): a large fan-out, and a broadcast draining beside members.

1. Enqueue. 10,000 subscribed members answered 参加 to one occurrence (bulk inserts, not
   timed); then the schedule cancels it and `CalendarSync.sync` queues the 10,000 notices in
   its one transaction, as the product does. Timed on a new SQLite file and on PostgreSQL
   (a private schema in $CAMPAIGN_BOT_TEST_DATABASE_URL, dropped afterwards). Target < 1 s.
2. Drain. The real bot (`build` + `telegram_service`, polling, SQLite, delivery.per_second 30,
   per_chat_per_second 1) against the fake Bot API limited to 30/s overall and 1/s per chat.
   First 20 members chat with nothing queued (the idle p99); then a broadcast to 1,500 other
   members is queued and the same 20 keep chatting while it drains; half-way through, an
   organiser's answer to a relayed question (lane transactional) is queued.
   Targets: achieved rate / 30 >= 0.95, no 429, reply p99 < 100 ms and < 2x the idle p99,
   the relay answer out within 2 s of its commit.

A member's reply latency runs from the moment the fake queued their message (getUpdates
answers at once) to the moment it accepted the bot's sendMessage; each member writes again
1-2 s after the last part of the answer arrived (a person reading, then typing).

The fake server and the simulated members run in a child process: the fake answers about 45
requests a second here, and in the bot's process its HTTP threads would take the interpreter
lock from the bot's event loop and inflate exactly the reply latency being measured. With two
cores, each process has one. Times cross the process boundary as `time.monotonic()`, which
is one system-wide clock on Linux.

    python bench/outbox.py [--audience 10000] [--drain 1500] [--chatters 20] [--idle 20]
                           [--words メニュー,予定]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import heapq
import itertools
import logging
import multiprocessing
import os
import queue
import random
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# As bot/cli.py does: python-telegram-bot gives RetryAfter durations as timedelta.
os.environ.setdefault("PTB_TIMEDELTA", "1")

from sqlalchemy import event, insert, select, text  # noqa: E402 - after the path set-up above

from bot.app import App, build, load_calendar, telegram_service  # noqa: E402
from bot.config import Settings, load_settings  # noqa: E402
from bot.domain.calendar import Calendar, EventKind, EventSpec, Venue  # noqa: E402
from bot.domain.deliveries import (  # noqa: E402
    BROADCAST,
    RELAY_ANSWER,
    Audience,
    message_payload,
)
from bot.domain.events import RsvpStatus  # noqa: E402
from bot.domain.messages import Outgoing  # noqa: E402
from bot.store.tables import (  # noqa: E402
    MemberRegionRow,
    MemberRow,
    MemberTagRow,
    OccurrenceRow,
    RsvpRow,
)
from tests.fakes.telegram_api import FakeTelegram, RateLimits, RecordedRequest  # noqa: E402
from tests.private_schema import private_schema  # noqa: E402

TOKEN = "123456:BENCH-TOKEN"
PG_URL_ENV = "CAMPAIGN_BOT_TEST_DATABASE_URL"
LIMIT = 30.0  # Telegram's overall messages per second, in the fake and in the bot's config
# What the members write, in turn. メニュー is answered in one message. 予定 is answered in
# three (event cards): with 1-2 s between them a member then asks for more than Telegram's
# 1/s per chat, so their answers wait for the chat's own pace (and a tight per-chat limit
# shows up as 429s): measure that with --words メニュー,予定.
WORDS = ("メニュー",)
DRAIN_TAG = "bench-drain"
FIRST_USER = 500_000
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
) -> Settings:
    """config.example.yaml with Telegram pointed at the fake and Telegram's own limits."""
    document = yaml.safe_load((ROOT / "config.example.yaml").read_text(encoding="utf-8"))
    document["database"]["url"] = database_url
    document["schedules_dir"] = str(ROOT / "schedules")
    document["knowledge_dir"] = str(ROOT / "knowledge")
    telegram = document["channels"]["telegram"]
    telegram.update(enabled=True, base_url=f"{base_url}/bot", base_file_url=f"{base_url}/file/bot")
    document["delivery"].update(
        per_second=LIMIT, per_chat_per_second=1, shared_budget=shared_budget
    )
    path = scratch / f"config-{uuid.uuid4().hex[:8]}.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return load_settings(path, env={"TELEGRAM_BOT_TOKEN": TOKEN})


def add_members(
    app: App, external_ids: list[int], *, tag: str | None = None, regions: bool = False
) -> list[int]:
    """Subscribed Telegram members, inserted in bulk; returns their ids in the same order."""
    now = app.clock.now()
    rows = [
        {
            "channel": "telegram",
            "external_id": str(external_id),
            "display_name": f"会員{external_id}",
            "language": "ja",
            "role": "member",
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
                insert(MemberRegionRow), [{"member_id": i, "region": "tokyo"} for i in ids]
            )
    return ids


# --- 1. enqueue -------------------------------------------------------------------------------


@dataclass
class Enqueued:
    seconds: float
    notices: int
    insert_seconds: float


@contextmanager
def statement_timer(app: App, prefix: str) -> Iterator[list[float]]:
    """Seconds spent in statements starting with `prefix`, as they run."""
    spent: list[float] = []
    started: list[float] = []

    def before(*_args: Any) -> None:
        started.append(time.perf_counter())

    def after(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        begun = started.pop()
        if statement.lstrip().upper().startswith(prefix):
            spent.append(time.perf_counter() - begun)

    engine = app.database.engine
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield spent
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def time_enqueue(scratch: Path, database_url: str, audience: int) -> Enqueued:
    """Members answer 参加 to one occurrence, then the schedule cancels it: one timed sync."""
    app = build(bench_settings(scratch, database_url))
    try:
        now = app.clock.now()
        spec = EventSpec(
            slug="bench-rally",
            source="bench.yaml",
            title="ベンチ集会",
            kind=EventKind.RALLY,
            starts_at=(now + timedelta(days=7)).replace(microsecond=0),
            ends_at=(now + timedelta(days=7, hours=2)).replace(microsecond=0),
            regions=frozenset({"tokyo"}),
            venue=Venue("としま区民センター", "東京都豊島区東池袋1-20-10"),
        )
        app.calendar_sync.sync(Calendar((spec,)))
        ids = add_members(app, [FIRST_USER + i for i in range(audience)])
        with app.database.sessions.begin() as session:
            occurrence_id = session.execute(select(OccurrenceRow.id)).scalar_one()
            session.execute(
                insert(RsvpRow),
                [
                    {
                        "occurrence_id": occurrence_id,
                        "member_id": member_id,
                        "status": RsvpStatus.GOING.value,
                        "guests": 0,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for member_id in ids
                ],
            )
        if app.database.engine.dialect.name == "postgresql":
            with app.database.engine.begin() as connection:
                connection.execute(text("ANALYZE"))  # autovacuum would, moments later
        cancelled = dataclasses.replace(spec, cancelled=True, note="雨天のため中止します。")
        with statement_timer(app, "INSERT") as inserts:
            started = time.perf_counter()
            report = app.calendar_sync.sync(Calendar((cancelled,)))
            seconds = time.perf_counter() - started
        return Enqueued(seconds, report.notices_queued, sum(inserts))
    finally:
        app.close()


# --- 2. drain: the child process (fake Telegram and the chatting members) ----------------------


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
    first_at: float
    last_at: float
    accepted_in_window: int
    replies_in_window: int
    http_429: int
    http_429_by: dict[str, int]
    relay_at: float | None
    per_second: list[int]


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
    chatters: list[int],
    drained: list[int],
    asker: int,
    idle_seconds: float,
    words: tuple[str, ...],
    seed: int,
) -> None:
    """Child process: the fake Bot API (Telegram's limits) and the members around it."""
    limits = RateLimits(overall_per_second=LIMIT, private_per_second=1.0)
    fake = FakeTelegram(token=TOKEN, log_requests=False, rate_limits=limits)
    fake.start()
    for user in [*chatters, *drained, asker]:
        fake.add_user(user, f"会員{user}", started=True)
    members = Members(fake, chatters, words, seed)
    drain_set = set(drained)
    sends: list[tuple[float, int]] = []  # (accepted at, chat) of every sendMessage
    lock = threading.Lock()
    counts = {"drained": 0, "429": 0}
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
                if counts["drained"] == len(drained) // 2:
                    halfway.set()
            elif chat == asker and not relay:
                relay.append(request.at)

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
    busy = members.run(lambda: counts["drained"] >= len(drained) and bool(relay))
    with lock:
        drain_times = [at for at, chat in sends if chat in drain_set]
        first_at, last_at = min(drain_times), max(drain_times)
        window = [(at, chat) for at, chat in sends if first_at <= at <= last_at]
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
        )
    )
    conn.recv()
    fake.stop()


# --- 2. drain: the bot's side -----------------------------------------------------------------


@dataclass
class DrainRun:
    figures: DrainFigures
    parts: dict[str, int]
    queued_at: float
    relay_committed_at: float
    bot_cpu_s: float
    drain_wall_s: float


def receive(conn: Connection, process: multiprocessing.process.BaseProcess) -> Any:
    """The child's next message; fail loudly instead of hanging if the child died."""
    while not conn.poll(1.0):
        if not process.is_alive():
            raise RuntimeError(f"the fake's process exited with code {process.exitcode}")
    return conn.recv()


def run_drain(
    scratch: Path,
    drain: int,
    chatter_count: int,
    idle_seconds: float,
    words: tuple[str, ...],
    *,
    shared_budget: bool | str = "auto",
) -> DrainRun:
    chatters = [FIRST_USER + i for i in range(chatter_count)]
    drained = [FIRST_USER + 10_000 + i for i in range(drain)]
    asker = FIRST_USER + 9_999
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(
        target=fake_process,
        args=(child, chatters, drained, asker, idle_seconds, words, 8),
        daemon=True,
    )
    process.start()
    root_url = receive(parent, process)
    settings = bench_settings(
        scratch, f"sqlite:///{scratch}/drain.sqlite3", root_url, shared_budget=shared_budget
    )
    app = build(settings)
    app.calendar_sync.sync(load_calendar(settings))  # so that 予定 shows the real calendar
    add_members(app, chatters, regions=True)
    add_members(app, drained, tag=DRAIN_TAG, regions=True)
    [asker_id] = add_members(app, [asker], regions=True)

    def queue_broadcast() -> float:
        now = app.clock.now()
        message = Outgoing("【お知らせ】12月2日の街頭宣伝は予定どおり行います。ご参加ください。")
        with app.database.unit_of_work() as uow:
            queued = uow.outbox.enqueue_audience(
                BROADCAST,
                "broadcast:bench",
                Audience(tags=frozenset({DRAIN_TAG})),
                message_payload(message),
                now,
            )
            uow.commit()
        assert queued == drain, queued
        return time.monotonic()

    def queue_relay_answer() -> float:
        now = app.clock.now()
        with app.database.unit_of_work() as uow:
            member = uow.members.get_by_id(asker_id)
            assert member is not None
            payload = {
                "kind": RELAY_ANSWER,
                "question": "資格確認書はいつ届きますか。",
                "answer": "区から7月中に郵送されます。届かない場合は区役所の保険年金課へ。",
            }
            uow.outbox.enqueue(RELAY_ANSWER, "relay:bench:1", member, payload, now)
            uow.commit()
        return time.monotonic()

    async def main() -> DrainRun:
        async with telegram_service(app):
            parent.send("started")
            parts = await asyncio.to_thread(receive, parent, process)
            parent.send("idle")
            assert await asyncio.to_thread(receive, parent, process) == "idle done"
            cpu = time.process_time()
            wall = time.monotonic()
            queued_at = await asyncio.to_thread(queue_broadcast)
            parent.send("drain")
            assert await asyncio.to_thread(receive, parent, process) == "halfway"
            relay_committed_at = await asyncio.to_thread(queue_relay_answer)
            figures = await asyncio.to_thread(receive, parent, process)
            bot_cpu = time.process_time() - cpu
            return DrainRun(
                figures, parts, queued_at, relay_committed_at, bot_cpu, time.monotonic() - wall
            )

    try:
        return asyncio.run(main())
    finally:
        parent.send("stop")
        process.join(timeout=30)
        app.close()


# --- report -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audience", type=int, default=10_000, help="members told of a change")
    parser.add_argument("--drain", type=int, default=1_500, help="broadcast recipients")
    parser.add_argument("--chatters", type=int, default=20, help="members chatting meanwhile")
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of chat with no drain")
    parser.add_argument(
        "--words", default=",".join(WORDS), help="what the members write, comma-separated"
    )
    parser.add_argument(
        "--shared-budget",
        choices=["auto", "on", "off"],
        default="auto",
        help="delivery.shared_budget (auto, as shipped: off on SQLite, where the drain runs)",
    )
    parser.add_argument("--skip-enqueue", action="store_true", help="the drain only (profiling)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()

    with tempfile.TemporaryDirectory() as name:
        scratch = Path(name)
        sqlite = postgres = None
        if not args.skip_enqueue:
            sqlite = time_enqueue(scratch, f"sqlite:///{scratch}/enqueue.sqlite3", args.audience)
            print(
                f"enqueue {sqlite.notices} notices, SQLite:     {sqlite.seconds:.3f} s "
                f"(INSERT statements {sqlite.insert_seconds:.3f} s)  target < 1 s"
            )
            base = os.environ.get(PG_URL_ENV)
            if base:
                with private_schema(base, prefix="cbbench") as url:
                    postgres = time_enqueue(scratch, url, args.audience)
                print(
                    f"enqueue {postgres.notices} notices, PostgreSQL: {postgres.seconds:.3f} s "
                    f"(INSERT statements {postgres.insert_seconds:.3f} s)  target < 1 s"
                )
            else:
                print(f"enqueue on PostgreSQL: skipped, {PG_URL_ENV} is not set (nan)")
        words = tuple(w for w in args.words.split(",") if w)
        run = run_drain(
            scratch,
            args.drain,
            args.chatters,
            args.idle,
            words,
            shared_budget={"on": True, "off": False}.get(args.shared_budget, "auto"),
        )

    f = run.figures
    window = f.last_at - f.first_at
    rate = (f.accepted_in_window - 1) / window if window > 0 else float("nan")
    ratio = rate / LIMIT
    reply_p99 = percentile(f.busy.latencies_ms, 99)
    idle_p99 = percentile(f.idle.latencies_ms, 99)
    relay_wait = (f.relay_at - run.relay_committed_at) if f.relay_at is not None else float("nan")
    print(f"answer parts: {run.parts}")
    print(
        f"idle:  {len(f.idle.latencies_ms)} replies, p50 {percentile(f.idle.latencies_ms, 50):.1f}"
        f" ms, p99 {idle_p99:.1f} ms, max {max(f.idle.latencies_ms, default=0):.1f} ms, "
        f"lost {f.idle.lost}"
    )
    print(
        f"drain: {f.drained} broadcast messages in {window:.1f} s "
        f"(first {f.first_at - run.queued_at:.2f} s after the commit); "
        f"{f.accepted_in_window} messages accepted in that window, "
        f"{f.replies_in_window} of them replies: {rate:.1f}/s = {ratio:.3f} of {LIMIT:g}/s "
        "(target >= 0.95)"
    )
    print(f"       per second: {f.per_second}")
    print(
        f"during the drain: {len(f.busy.latencies_ms)} replies, "
        f"p50 {percentile(f.busy.latencies_ms, 50):.1f} ms, p99 {reply_p99:.1f} ms, "
        f"max {max(f.busy.latencies_ms, default=0):.1f} ms, lost {f.busy.lost} "
        f"(target < 100 ms and < 2x idle = {2 * idle_p99:.1f} ms)"
    )
    print(f"HTTP 429 from the fake: {f.http_429} {f.http_429_by or ''} (target 0)")
    print(f"relay answer: out {relay_wait:.3f} s after its commit (target < 2 s)")
    print(
        f"bot process CPU during the drain: {run.bot_cpu_s:.1f} s in {run.drain_wall_s:.1f} s; "
        f"benchmark time: {time.perf_counter() - started:.0f} s"
    )
    # Tails depend on the machine being quiet: with two cores, anything else running shows.
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"load average (1, 5, 15 min) at the end: {load} on {os.cpu_count()} cores")
    nan = float("nan")
    print(
        "RESULT "
        f"enqueue_s_sqlite={sqlite.seconds if sqlite else nan:.3f} "
        f"enqueue_s_postgres={postgres.seconds if postgres else nan:.3f} "
        f"rate_ratio={ratio:.3f} http_429={f.http_429} "
        f"reply_p99_ms={reply_p99:.1f} idle_p99_ms={idle_p99:.1f} relay_wait_s={relay_wait:.3f}"
    )


if __name__ == "__main__":
    main()
