"""Benchmark: reminders (issue 10): planning time, and a crash run at scale.

1. Plan: the time the planner (bot/services/reminders.py, as the running bot calls it) takes
   for 10,000 subscribed members x 30 occurrences over a fortnight, each member having answered
   about a fifth of their events, all of them published at that moment: every reminder is new,
   the heaviest run (the median of three, each on a new database). With the shipped policy
   and horizon (reminders.plan_ahead, 2 days: what the bot holds in its outbox), and beside
   it a fortnight's reminders at once. SQLite and PostgreSQL (when
   $CAMPAIGN_BOT_TEST_DATABASE_URL is set); target < 2 s.
2. Crash run. 10,000 due reminders (2 to each of 5,000 subscribed members, queued through the
   outbox as the planner queues them) are sent by the bot's dispatcher in a process of its own
   (tests/delivery/process_worker.py: the real queue, dispatcher and TelegramMessenger) through
   the fake Bot API at 500/s overall and Telegram's 1/s per chat. The bot paces itself at the
   same 500/s. It is SIGKILLed three times at random moments (between 10% and 90% of the
   messages) and started again at once. Targets: lost 0, duplicates <= 1 per crash, no 429.

The fake runs in a child process (as in bench/outbox.py): its HTTP threads would otherwise take
the interpreter lock from the test's own polling. What arrived is read from the fake's chats.

    python bench/reminders.py [--members 5000] [--kills 3] [--rate 500] [--seed N]
                              [--database sqlite|postgres] [--in-flight N] [--plan-runs 3]
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PTB_TIMEDELTA", "1")  # as bot/cli.py: RetryAfter durations as timedelta


from sqlalchemy import insert, select  # noqa: E402

from bot.calendar.recurrence import expand  # noqa: E402
from bot.config import RemindersConfig, reminder_book  # noqa: E402
from bot.domain.calendar import Calendar, EventKind, EventSpec  # noqa: E402
from bot.domain.campaign import Campaign  # noqa: E402
from bot.domain.members import Region  # noqa: E402
from bot.services.calendar_sync import CalendarSync  # noqa: E402
from bot.services.reminders import ReminderPlanner  # noqa: E402
from bot.store.database import Database  # noqa: E402
from bot.store.tables import (  # noqa: E402
    EventRegionRow,
    MemberRegionRow,
    MemberRow,
    OccurrenceRow,
    RsvpRow,
)
from tests.delivery.crash_run import (  # noqa: E402
    Counts,
    Received,
    count,
    expected,
    kill_points,
    received,
    recorded_fake,
    run_with_kills,
    seed_reminders,
    states,
)
from tests.delivery.test_processes import TOKEN  # noqa: E402
from tests.fakes.telegram_api import RecordedRequest  # noqa: E402
from tests.private_schema import private_schema  # noqa: E402

PG_URL_ENV = "CAMPAIGN_BOT_TEST_DATABASE_URL"
TOKYO = ZoneInfo("Asia/Tokyo")
REFERENCES = ["reminder:bench:day-before", "reminder:bench:2h-before"]
FIRST_CHAT = 700_000


# --- databases ----------------------------------------------------------------------------------


@contextmanager
def database_url(kind: str, scratch: Path) -> Iterator[str]:
    """A new, migrated database: a SQLite file, or a private schema in $PG_URL_ENV."""
    if kind == "sqlite":
        url = f"sqlite:///{scratch / 'bench.sqlite3'}"
        migrate(url)
        yield url
        return
    base = os.environ.get(PG_URL_ENV)
    if not base:
        raise SystemExit(f"set {PG_URL_ENV} to run on PostgreSQL")
    with private_schema(base, prefix="cbbench") as url:
        migrate(url)
        yield url


def migrate(url: str) -> None:
    database = Database(url)
    database.upgrade()
    database.dispose()


# --- 1. plan ------------------------------------------------------------------------------------


PLAN_MEMBERS = 10_000
PLAN_OCCURRENCES = 30
PLAN_REGIONS = ["tokyo", "shibuya", "itabashi", "nerima", "koto", "nakano"]
PLAN_NOW = datetime(2026, 12, 1, 9, 0, tzinfo=TOKYO)


def plan_calendar() -> Calendar:
    """30 one-off events over the next fortnight: rallies, street actions and study meetings,
    each in one ward (every fifth Tokyo-wide), published now (so every one invites)."""
    kinds = [EventKind.RALLY, EventKind.STREET, EventKind.STUDY]
    return Calendar(
        events=tuple(
            EventSpec(
                slug=f"bench-{index}",
                source="bench.yaml",
                title=f"行動 {index}",
                kind=kinds[index % 3],
                starts_at=PLAN_NOW + timedelta(days=2 + index // 3, hours=index % 3 * 3),
                regions=frozenset({PLAN_REGIONS[index % len(PLAN_REGIONS)]}),
            )
            for index in range(PLAN_OCCURRENCES)
        )
    )


def seed_planning(database: Database, rng: random.Random) -> None:
    """10,000 subscribed members in one or two wards; each answered about a fifth of the
    events that are theirs (参加, 未定 or 不参加)."""
    now = PLAN_NOW
    CalendarSync(database.unit_of_work, FixedClock(now), expand).sync(plan_calendar())
    with database.sessions.begin() as session:
        session.execute(
            insert(MemberRow),
            [
                {
                    "channel": "telegram",
                    "external_id": str(FIRST_CHAT + n),
                    "language": "ja",
                    "role": "member",
                    "subscription": "subscribed",
                    "consent_at": now,
                    "created_at": now,
                    "last_seen_at": now,
                }
                for n in range(PLAN_MEMBERS)
            ],
        )
        ids = list(session.scalars(select(MemberRow.id).order_by(MemberRow.id)))
        regions = {i: set(rng.sample(PLAN_REGIONS[1:], rng.choice([1, 2]))) for i in ids}
        session.execute(
            insert(MemberRegionRow),
            [{"member_id": i, "region": r} for i, codes in regions.items() for r in codes],
        )
        occurrences = session.execute(
            select(OccurrenceRow.id, EventRegionRow.region).join(
                EventRegionRow, EventRegionRow.event_id == OccurrenceRow.event_id
            )
        ).all()
        statuses = ["going", "maybe", "no"]
        session.execute(
            insert(RsvpRow),
            [
                {
                    "occurrence_id": occurrence,
                    "member_id": member,
                    "status": rng.choice(statuses),
                    "guests": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                for member, codes in regions.items()
                for occurrence, region in occurrences
                if (region in codes or region == "tokyo") and rng.random() < 0.2
            ],
        )


def time_planning(kind: str, seed: int, ahead: timedelta) -> tuple[float, float, int]:
    """Seconds of the first planning run `ahead` (everything new), of the next one (nothing
    new), and the reminders queued."""
    with tempfile.TemporaryDirectory() as scratch, database_url(kind, Path(scratch)) as url:
        database = Database(url)
        try:
            seed_planning(database, random.Random(seed))
            regions = tuple(
                Region(code, code, code, for_everyone=code == "tokyo") for code in PLAN_REGIONS
            )
            planner = ReminderPlanner(
                database.unit_of_work,
                Campaign(regions=regions, timezone=TOKYO),
                reminder_book(RemindersConfig(), TOKYO),
                FixedClock(PLAN_NOW),
                plan_ahead=ahead,
            )
            started = time.perf_counter()
            applied = planner.plan_now()
            first = time.perf_counter() - started
            started = time.perf_counter()
            planner.plan_now()  # what the bot does every few minutes: nothing new
            return first, time.perf_counter() - started, applied.queued
        finally:
            database.dispose()


def plan_section(args: argparse.Namespace) -> dict[str, float]:
    """Seconds to plan reminders for 10,000 members x 30 occurrences, per database, with the
    shipped policy and horizon (`reminders.plan_ahead`), the median of `--plan-runs` runs on
    new databases (the machine is shared: one run may meet a neighbour's burst); a whole
    fortnight at once beside it, one run."""
    figures = {"plan_s_sqlite": math.nan, "plan_s_postgres": math.nan}
    kinds = ["sqlite"] + (["postgres"] if os.environ.get(PG_URL_ENV) else [])
    shipped = RemindersConfig().plan_ahead
    for kind in kinds:
        for ahead in (shipped, timedelta(days=16)):
            runs = [
                time_planning(kind, args.seed, ahead)
                for _ in range(args.plan_runs if ahead == shipped else 1)
            ]
            seconds = statistics.median(first for first, _, _ in runs)
            again = statistics.median(again for _, again, _ in runs)
            queued = runs[0][2]
            each = ", ".join(f"{first:.2f}" for first, _, _ in runs)
            print(
                f"plan {PLAN_MEMBERS} members x {PLAN_OCCURRENCES} occurrences ({kind}, "
                f"{ahead.days} days ahead): {seconds:.2f} s"
                + (f" (median of {each})" if len(runs) > 1 else "")
                + f", {queued} reminders queued"
                + ("  (target < 2 s)" if ahead == shipped else "")
                + f"; planned again at once: {again:.2f} s"
            )
            if ahead == shipped:
                figures[f"plan_s_{kind}"] = seconds
    if len(kinds) == 1:
        print(f"plan on PostgreSQL: skipped, {PG_URL_ENV} is not set (nan)")
    return figures


class FixedClock:
    def __init__(self, moment: datetime) -> None:
        self._moment = moment

    def now(self) -> datetime:
        return self._moment


# --- 2. crash run -------------------------------------------------------------------------------


def fake_process(
    conn: Connection, chats: list[int], rate: float, delivered: Synchronized[int]
) -> None:
    """Child process: the fake Bot API, 500/s overall and Telegram's per-chat limit.

    Sends its base URL; on "report" sends what the members received and the 429s, and ends.
    """

    def listen(request: RecordedRequest) -> None:
        if request.method == "sendMessage" and request.status == 200:
            with delivered.get_lock():
                delivered.value += 1

    with recorded_fake(rate) as (fake, recorder):
        fake.add_listener(listen)
        for chat in chats:
            fake.add_user(chat, started=True)
        conn.send(fake.base_url)
        assert conn.recv() == "report"
        conn.send((list(received(fake, chats).items()), recorder.http_429))


@dataclass(frozen=True)
class CrashRun:
    counts: Counts
    database: str
    rate: float
    """Messages per second between the first and the last one the fake accepted."""


def crash_section(args: argparse.Namespace) -> CrashRun:
    chats = list(range(FIRST_CHAT, FIRST_CHAT + args.members))
    context = multiprocessing.get_context("spawn")
    delivered: Synchronized[int] = context.Value("q", 0)
    parent, child = context.Pipe()
    fake = context.Process(
        target=fake_process, args=(child, chats, args.rate, delivered), daemon=True
    )
    fake.start()
    base_url = parent.recv()
    rng = random.Random(args.seed)
    scratch_dir = tempfile.TemporaryDirectory()
    with scratch_dir as scratch, database_url(args.database, Path(scratch)) as url:
        database = Database(url)
        queued = seed_reminders(database, chats, REFERENCES, datetime.now(UTC))
        print(f"queued {queued} reminders for {len(chats)} members ({args.database})", flush=True)
        bot = [
            f"--database-url={url}",
            f"--base-url={base_url}",
            f"--token={TOKEN}",
            f"--per-second={args.rate}",
            f"--lease={args.lease}",
            f"--batch={args.batch}",
        ]
        if args.in_flight is not None:
            bot.append(f"--in-flight={args.in_flight}")
        began = time.monotonic()

        def killed(kill: int, so_far: int) -> None:
            print(f"SIGKILL {kill} after {so_far} messages ({time.monotonic() - began:.1f} s)")

        kills = run_with_kills(
            database,
            bot,
            delivered=lambda: int(delivered.value),
            kill_at=kill_points(rng, queued, args.kills),
            log_dir=Path(scratch),
            timeout=600,
            on_kill=killed,
        )
        seconds = time.monotonic() - began
        parent.send("report")
        items, http_429 = parent.recv()
        got: Counter[Received] = Counter({(int(c), str(t)): n for (c, t), n in items})
        counts = count(expected(database), got, kills=kills, http_429=http_429, seconds=seconds)
        print(f"outbox: {states(database)}")
        database.dispose()
    fake.join(10)
    return CrashRun(counts, args.database, counts.sent / seconds)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=5_000, help="2 reminders each")
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--rate", type=float, default=500.0, help="messages/s, fake and bot")
    parser.add_argument("--lease", type=float, default=3.0, help="seconds")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--in-flight", type=int, default=None, help="default: the dispatcher's")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--plan-runs", type=int, default=3, help="planning runs; the median")
    args = parser.parse_args()
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    return args


def main() -> None:
    args = _arguments()
    print(f"seed {args.seed}")
    plan = plan_section(args)
    crash = crash_section(args)
    c = crash.counts
    print(
        f"crash run ({crash.database}): {c.line()};"
        f" {crash.rate:.0f} messages/s overall including restarts"
    )
    print(
        f"RESULT plan_s_sqlite={plan['plan_s_sqlite']:.3g}"
        f" plan_s_postgres={plan['plan_s_postgres']:.3g}"
        f" sent={c.sent} lost={c.lost} duplicates={c.duplicates} kills={c.kills}"
        f" http_429={c.http_429}"
    )


if __name__ == "__main__":
    main()
