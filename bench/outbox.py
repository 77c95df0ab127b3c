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
import dataclasses
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# As bot/cli.py does: python-telegram-bot gives RetryAfter durations as timedelta.
os.environ.setdefault("PTB_TIMEDELTA", "1")

from sqlalchemy import event, insert, select, text  # noqa: E402 - after the path set-up above

from bench.support.drain import (  # noqa: E402
    LIMIT,
    PG_URL_ENV,
    Crowd,
    DrainRun,
    add_members,
    bench_settings,
    percentile,
    run_drain,
)
from bot.app import App, build  # noqa: E402
from bot.domain.calendar import Calendar, EventKind, EventSpec, Venue  # noqa: E402
from bot.domain.deliveries import (  # noqa: E402
    BROADCAST,
    RELAY_ANSWER,
    Audience,
    message_payload,
)
from bot.domain.events import RsvpStatus  # noqa: E402
from bot.domain.messages import Outgoing  # noqa: E402
from bot.store.tables import OccurrenceRow, RsvpRow  # noqa: E402
from tests.private_schema import private_schema  # noqa: E402

# What the members write, in turn. メニュー is answered in one message. 予定 is answered in
# three (event cards): with 1-2 s between them a member then asks for more than Telegram's
# 1/s per chat, so their answers wait for the chat's own pace (and a tight per-chat limit
# shows up as 429s): measure that with --words メニュー,予定.
WORDS = ("メニュー",)
DRAIN_TAG = "bench-drain"
FIRST_USER = 500_000


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


# --- 2. drain ---------------------------------------------------------------------------------


def run_outbox_drain(
    scratch: Path,
    drain: int,
    chatter_count: int,
    idle_seconds: float,
    words: tuple[str, ...],
    *,
    shared_budget: bool | str = "auto",
) -> DrainRun:
    """A broadcast of one fixed message to `drain` tagged members, and an organiser's answer to
    a relayed question half-way through."""
    chatters = [FIRST_USER + i for i in range(chatter_count)]
    drained = [FIRST_USER + 10_000 + i for i in range(drain)]
    asker = FIRST_USER + 9_999
    asker_ids: list[int] = []

    def prepare(app: App) -> None:
        add_members(app, chatters, regions=True)
        add_members(app, drained, tag=DRAIN_TAG, regions=True)
        asker_ids.extend(add_members(app, [asker], regions=True))

    def queue_broadcast(app: App) -> float:
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

    def queue_relay_answer(app: App) -> float:
        now = app.clock.now()
        with app.database.unit_of_work() as uow:
            member = uow.members.get_by_id(asker_ids[0])
            assert member is not None
            payload = {
                "kind": RELAY_ANSWER,
                "question": "資格確認書はいつ届きますか。",
                "answer": "区から7月中に郵送されます。届かない場合は区役所の保険年金課へ。",
            }
            uow.outbox.enqueue(RELAY_ANSWER, "relay:bench:1", member, payload, now)
            uow.commit()
        return time.monotonic()

    return run_drain(
        scratch,
        Crowd(chatters, drained, others=[asker], asker=asker),
        idle_seconds,
        words,
        prepare=prepare,
        start=queue_broadcast,
        halfway=queue_relay_answer,
        shared_budget=shared_budget,
    )


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
        run = run_outbox_drain(
            scratch,
            args.drain,
            args.chatters,
            args.idle,
            words,
            shared_budget={"on": True, "off": False}.get(args.shared_budget, "auto"),
        )

    f = run.figures
    window = f.last_at - f.first_at
    rate = f.rate
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
