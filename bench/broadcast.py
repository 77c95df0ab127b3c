"""Benchmark: an organiser's broadcast (issue 11) draining beside members who chat.

10,000 subscribed members in their wards (bulk inserts, not timed): 20 who chat (渋谷区), one
organiser (都全体), the broadcast's recipients (練馬区) and everyone else in six other wards.
The real bot (`build` + `telegram_service`, polling, SQLite; delivery.per_second at the limit,
per_chat_per_second 1) against the fake Bot API limited to the same rate overall and 1/s per
chat (the machinery of bench/outbox.py, in bench/support/drain.py). First the 20 chat with
nothing queued (the idle p99); then the organiser's broadcast to 練馬区 is made the product's
way, `bot.services.broadcasts.send` in one unit of work as the chat's 送信する makes it (the
bulk lane, one row per member, each rendered by `DeliveryContent` when claimed), and the same
20 keep chatting while it drains. `BroadcastMonitor.tick` runs every 3 s as the app's job does:
the organiser's progress message and report share the budget.

Run 1: 30/s (Telegram's limit), 1,500 recipients. Targets: achieved rate / 30 >= 0.95, no 429,
no duplicate, the chatting members' reply p99 < 100 ms (beside their idle p99).
Run 2: 1,000/s (the fake's limit too; a paid broadcast's rate), 5,000 recipients: rate ratio,
429s and duplicates, to see what the bot itself can do.

The broadcast is urgent (緊急) so that the figures do not depend on the hour: a normal one
claimed in the quiet hours (21:00-8:00 in Tokyo) waits for the morning. Urgency changes
nothing else (same lane, same pace, one more word in the heading).

    python bench/broadcast.py [--members 10000] [--recipients 1500] [--chatters 20] [--idle 20]
                              [--fast-rate 1000] [--fast-recipients 5000] [--fast-idle 10]
                              [--skip-fast]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# As bot/cli.py does: python-telegram-bot gives RetryAfter durations as timedelta.
os.environ.setdefault("PTB_TIMEDELTA", "1")

from bench.support.drain import (  # noqa: E402 - after the path set-up above
    LIMIT,
    Crowd,
    DrainRun,
    add_members,
    percentile,
    run_drain,
)
from bot import jobs  # noqa: E402
from bot.app import App  # noqa: E402
from bot.domain.broadcasts import BroadcastStatus, Progress, Target  # noqa: E402
from bot.services import broadcasts  # noqa: E402
from bot.services.broadcasts import Draft  # noqa: E402

FIRST_USER = 800_000
TARGET = "nerima"
CHATTERS_REGION = "shibuya"
OTHER_REGIONS = ("itabashi", "koto", "nakano", "minato", "adachi", "toshima")
WORDS = ("メニュー",)  # answered in one message (bench/outbox.py says why)
TEXT = (
    "【練馬区の会員のみなさまへ】\n"
    "12月6日(土) 14:00から練馬駅北口で、マイナ保険証への一本化に反対する街頭宣伝をします。"
    "30分だけでもご参加ください。署名用紙は会場にあります。"
)


@dataclass
class Outcome:
    """The broadcast as the outbox saw it once the fake had every recipient's copy."""

    recipients: int
    status: BroadcastStatus
    progress: Progress
    send_s: float
    """How long `broadcasts.send` (its fan-out into the outbox included) took."""
    ticks: int


class Monitor:
    """The app's `watch_broadcasts` job, every 3 s on a thread of its own (as APScheduler's)."""

    def __init__(self, app: App) -> None:
        self._app = app
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watch_broadcasts", daemon=True)
        self.ticks = 0

    def _run(self) -> None:
        while not self._stop.wait(jobs.BROADCASTS_EVERY_SECONDS):
            self._app.watch_broadcasts()
            self.ticks += 1

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def run_broadcast(
    scratch: Path,
    *,
    members: int,
    recipients: int,
    chatter_count: int,
    idle_seconds: float,
    rate: float,
) -> DrainRun:
    chatters = [FIRST_USER + i for i in range(chatter_count)]
    organiser = FIRST_USER + 9_999
    target = [FIRST_USER + 10_000 + i for i in range(recipients)]
    others = members - chatter_count - 1 - recipients
    if others < 0:
        raise SystemExit("--members must be at least the recipients, the chatters and one")
    rest = [FIRST_USER + 100_000 + i for i in range(others)]
    organiser_ids: list[int] = []
    monitors: list[Monitor] = []
    made: dict[str, float] = {}

    def prepare(app: App) -> None:
        add_members(app, chatters, regions=True, region=CHATTERS_REGION)
        organiser_ids.extend(add_members(app, [organiser], regions=True, role="organiser"))
        add_members(app, target, regions=True, region=TARGET)
        for index, region in enumerate(OTHER_REGIONS):
            add_members(app, rest[index :: len(OTHER_REGIONS)], regions=True, region=region)

    def send(app: App) -> float:
        now = app.clock.now()
        started = time.perf_counter()
        with app.database.unit_of_work() as uow:
            author = uow.members.get_by_id(organiser_ids[0])
            draft = Draft(Target(region=TARGET), TEXT, urgent=True)
            made_now = broadcasts.send(uow, draft, author, f"telegram:{organiser}", now)
            uow.commit()
        committed = time.monotonic()
        made.update(id=made_now.id, recipients=made_now.recipients)
        made["send_s"] = time.perf_counter() - started
        monitor = Monitor(app)
        monitors.append(monitor)
        monitor.start()
        return committed

    def finish(app: App) -> Outcome:
        """Once the fake has every copy: the outbox's count (the last outcomes may still be
        being recorded: a few seconds at most), and the monitor's last look."""
        monitors[0].stop()
        broadcast_id = int(made["id"])
        deadline = time.monotonic() + 30
        while True:
            with app.database.unit_of_work() as uow:
                found = uow.broadcasts.get(broadcast_id)
                assert found is not None
                progress = uow.broadcasts.progress(found)
            if progress.finished or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        app.watch_broadcasts()
        with app.database.unit_of_work() as uow:
            found = uow.broadcasts.get(broadcast_id)
            assert found is not None
        return Outcome(
            int(made["recipients"]), found.status, progress, made["send_s"], monitors[0].ticks
        )

    return run_drain(
        scratch,
        Crowd(chatters, target, others=[organiser]),
        idle_seconds,
        WORDS,
        prepare=prepare,
        start=send,
        finish=finish,
        rate=rate,
        database=f"broadcast-{rate:g}.sqlite3",
    )


@dataclass(frozen=True)
class Figures:
    rate_ratio: float
    http_429: int
    duplicates: int
    reply_p99_ms: float
    idle_p99_ms: float


def report(label: str, run: DrainRun, rate: float, members: int) -> Figures:
    f = run.figures
    outcome: Outcome = run.finished
    window = f.last_at - f.first_at
    ratio = f.rate / rate
    reply_p99 = percentile(f.busy.latencies_ms, 99)
    idle_p99 = percentile(f.idle.latencies_ms, 99)
    p = outcome.progress
    print(f"--- {label}: {rate:g}/s, a broadcast to {outcome.recipients:,} of {members:,} members")
    print(
        f"broadcasts.send: {outcome.send_s * 1000:.0f} ms for {outcome.recipients:,} rows "
        f"(the fan-out included)"
    )
    print(
        f"idle:  {len(f.idle.latencies_ms)} replies, p50 {percentile(f.idle.latencies_ms, 50):.1f}"
        f" ms, p99 {idle_p99:.1f} ms, max {max(f.idle.latencies_ms, default=0):.1f} ms, "
        f"lost {f.idle.lost}"
    )
    print(
        f"drain: {f.drained} broadcast messages in {window:.1f} s "
        f"(first {f.first_at - run.queued_at:.2f} s after the commit); "
        f"{f.accepted_in_window} messages accepted in that window, "
        f"{f.replies_in_window} of them replies: {f.rate:.1f}/s = {ratio:.3f} of {rate:g}/s"
        + (" (target >= 0.95)" if rate == LIMIT else "")
    )
    if len(f.per_second) <= 120:
        print(f"       per second: {f.per_second}")
    print(
        f"during the drain: {len(f.busy.latencies_ms)} replies, "
        f"p50 {percentile(f.busy.latencies_ms, 50):.1f} ms, p99 {reply_p99:.1f} ms, "
        f"max {max(f.busy.latencies_ms, default=0):.1f} ms, lost {f.busy.lost}"
        + (" (target < 100 ms)" if rate == LIMIT else "")
    )
    print(f"HTTP 429 from the fake: {f.http_429} {f.http_429_by or ''} (target 0)")
    print(f"duplicates (a recipient's copy beyond the first): {f.duplicates} (target 0)")
    print(
        f"outbox: sent {p.sent:,} of {p.recipients:,}, waiting {p.waiting}, failed {p.failed}, "
        f"skipped {p.skipped_stopped + p.skipped_unreachable + p.skipped_other}; "
        f"broadcast {outcome.status}, monitor ran {outcome.ticks} times"
    )
    print(
        f"bot process CPU during the drain: {run.bot_cpu_s:.1f} s in {run.drain_wall_s:.1f} s",
        flush=True,
    )
    return Figures(ratio, f.http_429, f.duplicates, reply_p99, idle_p99)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--recipients", type=int, default=1_500, help="at 30/s")
    parser.add_argument("--chatters", type=int, default=20, help="members chatting meanwhile")
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of chat, no broadcast")
    parser.add_argument("--fast-rate", type=float, default=1_000.0, help="the second run's rate")
    parser.add_argument("--fast-recipients", type=int, default=5_000)
    parser.add_argument("--fast-idle", type=float, default=10.0)
    parser.add_argument("--skip-fast", action="store_true", help="the 30/s run only")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()

    with tempfile.TemporaryDirectory() as name:
        scratch = Path(name)
        slow = report(
            "run 1",
            run_broadcast(
                scratch,
                members=args.members,
                recipients=args.recipients,
                chatter_count=args.chatters,
                idle_seconds=args.idle,
                rate=LIMIT,
            ),
            LIMIT,
            args.members,
        )
        fast = None
        if not args.skip_fast:
            fast = report(
                "run 2",
                run_broadcast(
                    scratch,
                    members=args.members,
                    recipients=args.fast_recipients,
                    chatter_count=args.chatters,
                    idle_seconds=args.fast_idle,
                    rate=args.fast_rate,
                ),
                args.fast_rate,
                args.members,
            )

    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"benchmark time: {time.perf_counter() - started:.0f} s")
    # Tails depend on the machine being quiet: with two cores, anything else running shows.
    print(f"load average (1, 5, 15 min) at the end: {load} on {os.cpu_count()} cores")
    if fast is not None:
        print(
            f"FAST rate={args.fast_rate:g} rate_ratio={fast.rate_ratio:.3f} "
            f"http_429={fast.http_429} duplicates={fast.duplicates} "
            f"reply_p99_ms={fast.reply_p99_ms:.1f} idle_p99_ms={fast.idle_p99_ms:.1f}"
        )
    print(
        f"RESULT rate_ratio={slow.rate_ratio:.3f} http_429={slow.http_429} "
        f"duplicates={slow.duplicates} reply_p99_ms={slow.reply_p99_ms:.1f} "
        f"idle_p99_ms={slow.idle_p99_ms:.1f}"
    )


if __name__ == "__main__":
    main()
