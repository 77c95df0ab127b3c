"""Benchmark: members' messages through the fake Bot API and the whole bot (database included).

N members each send their share of M messages, one at a time: the next message goes as soon as
the bot's reply arrives (a closed loop, like people in a chat). The fake server and the load
generator run in their own process, so they do not share the interpreter lock with the bot; the
latency is measured there, from queueing the update to receiving the reply's sendMessage.

In the same run a bare python-telegram-bot echo bot, with the same concurrency, faces the same
load; the ratio ours/bare shows what our stack costs on top of python-telegram-bot itself. A
third run has the bare bot answer every message with a text as long as our help text, which
separates the cost of our stack from the cost of sending longer Japanese replies.

    python bench/telegram_updates.py [--members 200] [--messages 2000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import multiprocessing
import queue
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from telegram import Update  # noqa: E402 - after the path set-up above
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters  # noqa: E402

from bot.app import build, telegram_channel  # noqa: E402
from bot.config import ChannelsConfig, Secrets, Settings, TelegramConfig, load_settings  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram, RecordedRequest  # noqa: E402

TOKEN = "123456:BENCH-TOKEN"
FIRST_MEMBER = 100_000
# Words every member sends in turn; each gets exactly one reply and writes to the database.
SCRIPT = ("ヘルプ", "メニュー", "通知設定", "予定", "配信停止", "配信再開")
CONCURRENCY = 32


@dataclass
class Result:
    updates: int
    seconds: float
    latencies_ms: list[float]
    fake_cpu: float = 0.0
    bot_cpu: float = 0.0

    @property
    def rate(self) -> float:
        return self.updates / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class ClosedLoop:
    """Each member sends its next message when the bot has answered the previous one."""

    def __init__(self, fake: FakeTelegram, members: list[int]) -> None:
        self.fake = fake
        self.members = members
        self.replies: queue.SimpleQueue[tuple[int, float]] = queue.SimpleQueue()
        fake.add_listener(self._on_request)

    def _on_request(self, request: RecordedRequest) -> None:
        if request.method.lower() == "sendmessage" and request.status == 200:
            self.replies.put((int(request.params["chat_id"]), time.perf_counter()))

    def run(self, scripts: dict[int, list[str]], replies_per_message: int) -> Result:
        remaining = {member: list(script) for member, script in scripts.items()}
        awaited = dict.fromkeys(scripts, 0)
        sent_at: dict[int, float] = {}
        latencies: list[float] = []
        total = sum(len(script) for script in scripts.values())

        def send_next(member: int) -> None:
            text = remaining[member].pop(0)
            awaited[member] = replies_per_message
            sent_at[member] = time.perf_counter()
            self.fake.send_text(member, text)

        start = time.perf_counter()
        for member in scripts:
            send_next(member)
        done = 0
        while done < total:
            member, at = self.replies.get(timeout=60)
            if awaited.get(member, 0) <= 0:
                continue
            awaited[member] -= 1
            if awaited[member]:
                continue
            latencies.append((at - sent_at[member]) * 1000)
            done += 1
            if remaining[member]:
                send_next(member)
        return Result(total, time.perf_counter() - start, latencies)


def load_process(
    conn: Connection, members: int, messages: int, start_replies: int, first_id: int
) -> None:
    """Child process: the fake server and the simulated members."""
    fake = FakeTelegram(token=TOKEN, log_requests=False)
    fake.start()
    ids = [first_id + i for i in range(members)]
    for member in ids:
        fake.add_user(member, f"会員{member}")
    loop = ClosedLoop(fake, ids)
    conn.send((fake.base_url, fake.base_file_url))
    conn.recv()
    # Warm-up (not measured): every member registers with /start.
    loop.run({member: ["/start"] for member in ids}, start_replies)
    conn.send("warm")
    words = itertools.cycle(SCRIPT)
    per_member = max(1, messages // members)
    scripts = {member: [next(words) for _ in range(per_member)] for member in ids}
    cpu = time.process_time()
    result = loop.run(scripts, 1)
    result.fake_cpu = time.process_time() - cpu
    conn.send(result)
    conn.recv()
    fake.stop()


# What our bot answers to ヘルプ: the bare bot's replies at the size of ours, for comparison.
SAME_TEXT = (
    "【使い方】\n・「予定」これからの集会や宣伝を見る\n・「質問」保険証やマイナ保険証について聞く\n"
    "・「通知設定」地域やお知らせを変える\n・「配信停止」お知らせを止める\nボタンを押すか、言葉で送ってください。"
)


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.message and update.message.text:
        await update.message.reply_text(update.message.text)


async def same_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.message and update.message.text:
        await update.message.reply_text(SAME_TEXT)


async def run_bare(
    base_url: str, base_file_url: str, stop: asyncio.Event, *, long_replies: bool = False
) -> None:
    application: Application = (  # type: ignore[type-arg]
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(base_url)
        .base_file_url(base_file_url)
        .concurrent_updates(CONCURRENCY)
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, same_text if long_replies else echo))
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling()
        await stop.wait()
        await application.updater.stop()
        await application.stop()


async def run_ours(
    base_url: str, base_file_url: str, database_url: str, stop: asyncio.Event
) -> None:
    example = load_settings(ROOT / "config.example.yaml", env={})
    channels = ChannelsConfig(
        telegram=TelegramConfig(enabled=True, base_url=base_url, base_file_url=base_file_url)
    )
    # The bare bots here do not pace and the fake sets no flood limits, so ours does not pace
    # either: this compares the cost of the stacks. Pacing is measured by bench/outbox.py.
    unpaced = example.config.delivery.model_copy(
        update={"per_second": 1000.0, "per_chat_per_second": 100.0, "per_chat_burst": 20}
    )
    settings = Settings(
        config=example.config.model_copy(update={"channels": channels, "delivery": unpaced}),
        path=example.path,
        secrets=Secrets(telegram_bot_token=TOKEN, database_url=database_url),
    )
    app = build(settings)
    channel = telegram_channel(app)
    await channel.start()
    await stop.wait()
    await channel.stop()
    app.close()


def receive(conn: Connection, process: multiprocessing.process.BaseProcess) -> object:
    """The child's next message; fail loudly instead of hanging if the child died."""
    while not conn.poll(1.0):
        if not process.is_alive():
            raise RuntimeError(f"the load generator exited with code {process.exitcode}")
    return conn.recv()


def measure(kind: str, members: int, messages: int, database_url: str, first_id: int) -> Result:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    start_replies = 2 if kind == "ours" else 1  # our welcome is two messages
    process = context.Process(
        target=load_process, args=(child, members, messages, start_replies, first_id)
    )
    process.start()
    base_url, base_file_url = parent.recv()

    async def main() -> Result:
        stop = asyncio.Event()
        bot = asyncio.create_task(
            run_ours(base_url, base_file_url, database_url, stop)
            if kind == "ours"
            else run_bare(base_url, base_file_url, stop, long_replies=kind == "bare-long")
        )
        parent.send("go")
        warm = await asyncio.to_thread(receive, parent, process)
        assert warm == "warm"
        cpu = time.process_time()
        result: Result = await asyncio.to_thread(receive, parent, process)
        result.bot_cpu = time.process_time() - cpu
        stop.set()
        await bot
        return result

    result = asyncio.run(main())
    parent.send("stop")
    process.join(timeout=30)
    return result


def describe(label: str, runs: list[Result]) -> Result:
    """Print every run of one side and return its median run (by rate)."""
    ordered = sorted(runs, key=lambda r: r.rate)
    median = ordered[len(ordered) // 2]
    rates = ", ".join(f"{r.rate:.0f}" for r in runs)
    print(
        f"{label}: {median.rate:6.0f} updates/s (runs: {rates})   "
        f"p50 {median.percentile(50):6.1f} ms   p99 {median.percentile(99):6.1f} ms   "
        f"mean {statistics.mean(median.latencies_ms):.1f} ms   "
        f"CPU per update: bot {median.bot_cpu / median.updates * 1000:.2f} ms, "
        f"fake {median.fake_cpu / median.updates * 1000:.2f} ms"
    )
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternate bare/ours this many times (medians)"
    )
    parser.add_argument(
        "--database-url", help="default: a new SQLite file in a temporary directory per run"
    )
    parser.add_argument(
        "--only", choices=["bare", "bare-long", "ours"], help="run one side only (profiling)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    kinds = [args.only] if args.only else ["bare", "ours", "bare-long"]
    print(
        f"members={args.members} messages={args.messages} rounds={args.rounds} "
        f"concurrency={CONCURRENCY} "
        f"database={(args.database_url or 'sqlite').split(':', 1)[0].split('+')[0]}"
    )
    runs: dict[str, list[Result]] = {kind: [] for kind in kinds}
    started = time.perf_counter()
    for _ in range(args.rounds):
        for kind in kinds:
            # New member ids every run, so a shared --database-url starts with strangers.
            first_id = random.randrange(FIRST_MEMBER, 2**40)
            with tempfile.TemporaryDirectory() as scratch:
                database_url = args.database_url or f"sqlite:///{scratch}/bench.sqlite3"
                runs[kind].append(
                    measure(kind, args.members, args.messages, database_url, first_id)
                )
    labels = {
        "bare": "bare PTB echo bot ",
        "ours": "campaign-bot      ",
        "bare-long": "bare, our replies ",
    }
    medians = {kind: describe(labels[kind], results) for kind, results in runs.items()}
    if "bare" in medians and "ours" in medians:
        ratio = medians["ours"].rate / medians["bare"].rate
        print(f"ratio ours/bare: {ratio:.2f} (target >= 0.70)")
    if "bare-long" in medians and "ours" in medians:
        ratio = medians["ours"].rate / medians["bare-long"].rate
        print(
            f"ratio ours/bare with replies as long as ours: {ratio:.2f} "
            "(the cost of our stack alone: database, core, rendering)"
        )
    print(f"benchmark time: {time.perf_counter() - started:.0f} s")
    figures = {}
    if "ours" in medians:
        ours = medians["ours"]
        figures.update(
            updates_per_s=f"{ours.rate:.0f}",
            p50_ms=f"{ours.percentile(50):.1f}",
            p99_ms=f"{ours.percentile(99):.1f}",
        )
    if "bare" in medians:
        figures["bare_updates_per_s"] = f"{medians['bare'].rate:.0f}"
    if "bare" in medians and "ours" in medians:
        figures["ratio"] = f"{medians['ours'].rate / medians['bare'].rate:.2f}"
    print("RESULT " + " ".join(f"{key}={value}" for key, value in figures.items()))


if __name__ == "__main__":
    main()
