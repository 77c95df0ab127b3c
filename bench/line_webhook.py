"""Benchmark: signed LINE webhook events handled per second, reply included, against the fake.

The fake LINE API (tests/fakes/line_api.py) runs in a child process of its own; it makes the
events (real-shaped, each with a reply token it will accept) and counts the replies. Three bots
face it in turn, each in its own process:

- ours: `campaign-bot run` as deployed (the CLI, LINE enabled, the shared web app on uvicorn,
  SQLite in a temporary directory, or --database-url), with the example configuration;
- bare: a line-bot-sdk v3 echo app (bench/support/line_echo.py: WebhookParser, then
  AsyncMessagingApi.reply_message, on Starlette and uvicorn), no database;
- bare, our replies: the same app answering with the replies ours sent in its last run
  (the fake recorded them; quick replies and all, built with the SDK's models), which
  separates what our stack costs from what sending our larger replies costs.

Before timing, `members` new users follow the account (our bot welcomes them: the consent
question) and each writes once, to warm both bots up. Then the benchmark process POSTs
`events` signed bodies, one text event each (as LINE mostly sends them), with `concurrency`
requests in flight from one aiohttp session; the texts are words our bot answers in one reply
that reads or writes the database (ヘルプ, メニュー, 通知設定, 予定, 配信停止, 配信再開; the
bare bot echoes them). An event is handled when the fake has answered its reply_message:
events/s = events / (last reply's time - first POST's time). The sides alternate for
`rounds` rounds; the median of each side is reported, and ratio = ours / bare (target >= 0.8).
Also shown: the webhook's answer time (ours answers before handling, the bare app after its
reply), every call the fake answered, and each process's CPU per event (the bot, the fake,
this process), which tells whether the bot or the machine set the rate. The load generator
is aiohttp on kept-alive connections (httpx cost more CPU a request than the bots here).

Our delivery pace is raised for the run (per_chat_per_second 100, burst 20, as the LINE
tests do): the example's 1 message a second to one person, burst 3, is Telegram's limit and
would measure the pacer, not the stack; the bare bot does not pace at all.

    python bench/line_webhook.py [--members 200] [--events 1500] [--concurrency 32]
                                 [--rounds 2] [--database-url URL] [--only bare|ours]
                                 [--no-same-replies]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402 - after the path set-up above
import httpx  # noqa: E402
import yaml  # noqa: E402

from bench.support.line_fake import Body, FakeLineProcess, Stats  # noqa: E402

WORDS = ("ヘルプ", "メニュー", "通知設定", "予定", "配信停止", "配信再開")
SERVING = re.compile(r"serving [a-z, ]*line[a-z, ]* on 127\.0\.0\.1:(\d+)")
LISTENING = re.compile(r"listening on 127\.0\.0\.1:(\d+)")
REPLY = "reply_message"
ANSWERS = (REPLY, "push_message")
PATH = "/line/callback"
QUICK_PACING = {"per_chat_per_second": 100, "per_chat_burst": 20}
EXAMPLE_CONFIG = ROOT / "config.example.yaml"


@dataclass
class Result:
    events: int
    seconds: float
    ack_ms: list[float]
    stats: Stats
    refused: int = 0
    cpu_s: dict[str, float] = field(default_factory=dict)
    """CPU seconds each process used in the run: the bot, the fake, the load generator."""

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    def ack(self, p: float) -> float:
        ordered = sorted(self.ack_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class BotProcess:
    """One bot in its own process, its output in a log file; stopped with SIGTERM."""

    def __init__(self, kind: str, command: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.kind = kind
        self.log = cwd / f"{kind}.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the terminal is ours to pass on
            )
        self.url = ""

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_listening(self, pattern: re.Pattern[str], timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            found = pattern.search(self.text())
            if found:
                self.url = f"http://127.0.0.1:{found.group(1)}"
                break
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.kind} did not start:\n{self.text()[-3000:]}")
            time.sleep(0.1)
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.kind} is not healthy:\n{self.text()[-3000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux: /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def secrets_env(fake: FakeLineProcess) -> dict[str, str]:
    return {
        **os.environ,
        "LINE_CHANNEL_SECRET": fake.channel_secret,
        "LINE_CHANNEL_ACCESS_TOKEN": fake.access_token,
        "PYTHONPATH": str(ROOT),
    }


def start_ours(fake: FakeLineProcess, scratch: Path, database_url: str) -> BotProcess:
    """`campaign-bot run` with the example's configuration, LINE on and pointed at the fake."""
    config = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    config["channels"]["line"].update({"enabled": True, "api_host": fake.base_url})
    config["channels"]["telegram"]["enabled"] = False
    config["web"].update({"listen": "127.0.0.1", "port": 0, "public_url": "http://127.0.0.1"})
    config["delivery"].update(QUICK_PACING)
    config["database"]["url"] = database_url
    (scratch / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
    (scratch / "schedules").symlink_to(ROOT / "schedules")
    (scratch / "knowledge").symlink_to(ROOT / "knowledge")
    script = shutil.which("campaign-bot", path=str(Path(sys.executable).parent))
    if script is None:
        raise RuntimeError("campaign-bot is not installed in this environment (pip install -e .)")
    env = {**secrets_env(fake), "CAMPAIGN_BOT_CONFIG": "", "DATABASE_URL": database_url}
    bot = BotProcess("ours", [script, "-v", "run"], scratch, env)
    bot.wait_listening(SERVING)
    return bot


def start_bare(
    fake: FakeLineProcess, scratch: Path, replies: list[list[dict[str, Any]]] | None
) -> BotProcess:
    command = [sys.executable, "-m", "bench.support.line_echo", "--api-host", fake.base_url]
    if replies:
        path = scratch / "replies.json"
        path.write_text(json.dumps(replies, ensure_ascii=False), encoding="utf-8")
        command += ["--replies", str(path)]
    bot = BotProcess("bare", command, scratch, secrets_env(fake))
    bot.wait_listening(LISTENING)
    return bot


async def post_all(
    url: str, bodies: list[Body], concurrency: int
) -> tuple[float, list[float], int]:
    """POST every body with `concurrency` in flight on kept-alive connections; returns when
    the first went, the acks in ms, and how many answers were not 200.

    aiohttp, not httpx: httpx took 4-5 ms of CPU a request here, more than the bots, and
    with two cores the load generator would have set both rates."""
    pending = iter(bodies)
    acks: list[float] = []
    refused = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            nonlocal refused
            for body in pending:
                sent = time.monotonic()
                headers = {"content-type": "application/json", "x-line-signature": body.signature}
                async with session.post(url, data=body.raw, headers=headers) as answer:
                    await answer.read()
                    if answer.status != 200:
                        refused += 1
                acks.append((time.monotonic() - sent) * 1000)

        start = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return start, acks, refused


def texts_for(users: list[str], count: int, offset: int) -> list[tuple[str, str]]:
    """`count` (user, word) pairs, the users in turn, each user's words in turn."""
    words = {
        user: itertools.cycle(
            WORDS[(i + offset) % len(WORDS) :] + WORDS[: (i + offset) % len(WORDS)]
        )
        for i, user in enumerate(users)
    }
    return [(user, next(words[user])) for user in itertools.islice(itertools.cycle(users), count)]


def measure(
    kind: str,
    fake: FakeLineProcess,
    members: int,
    events: int,
    concurrency: int,
    database_url: str | None,
    replies: list[list[dict[str, Any]]] | None = None,
) -> Result:
    with tempfile.TemporaryDirectory(prefix=f"line-bench-{kind}-") as name:
        scratch = Path(name)
        url = database_url or f"sqlite:///{scratch}/bench.sqlite3"
        if kind == "ours":
            bot = start_ours(fake, scratch, url)
        else:
            bot = start_bare(fake, scratch, replies if kind == "bare-ours" else None)
        try:
            return drive(kind, bot, fake, members, events, concurrency)
        except Exception:  # a Ctrl-C needs no log
            print(f"--- {kind}'s log (end) ---\n{bot.text()[-3000:]}", file=sys.stderr)
            raise
        finally:
            bot.stop()


def drive(
    kind: str, bot: BotProcess, fake: FakeLineProcess, members: int, events: int, concurrency: int
) -> Result:
    url = bot.url + PATH
    # Warm-up, not timed: new users follow (ours welcomes them), then each writes once.
    before = fake.stats()
    users, follows = fake.follow_bodies(members)
    asyncio.run(post_all(url, follows, concurrency))
    warm = fake.text_bodies(texts_for(users, members, 3))
    asyncio.run(post_all(url, warm, concurrency))
    expected = members * (2 if kind == "ours" else 1)
    at, seen = fake.wait_for([REPLY], expected, before, timeout=120)
    if at is None:
        raise RuntimeError(f"{kind}: warm-up replies {dict(seen.by_endpoint)} of {expected}")
    time.sleep(0.5)  # whatever the welcome still does in the background
    # The run: bodies made (and their reply tokens issued) before the clock starts.
    bodies = fake.text_bodies(texts_for(users, events, 0))
    before = fake.stats()
    pids = {"bot": bot.process.pid, "fake": fake.pid}
    cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
    load_cpu = time.process_time()
    start, acks, refused = asyncio.run(post_all(url, bodies, concurrency))
    at, seen = fake.wait_for([REPLY], events, before, timeout=120)
    if at is None:
        raise RuntimeError(f"{kind}: replies {dict(seen.by_endpoint)} of {events}")
    used = {name: cpu_seconds(pid) - cpu[name] for name, pid in pids.items()}
    used["load"] = time.process_time() - load_cpu
    time.sleep(0.3)  # a push or a second reply after the last one would show in the counts
    seen = fake.stats().minus(before)
    return Result(events, at - start, acks, seen, refused, used)


def describe(label: str, runs: list[Result]) -> Result:
    ordered = sorted(runs, key=lambda r: r.rate)
    median = ordered[len(ordered) // 2] if len(ordered) % 2 else ordered[len(ordered) // 2 - 1]
    rates = ", ".join(f"{r.rate:.0f}" for r in runs)
    calls = dict(sorted(median.stats.by_endpoint.items()))
    statuses = dict(sorted(median.stats.by_status.items()))
    cpu = ", ".join(
        f"{name} {used / median.events * 1000:.2f}" for name, used in median.cpu_s.items()
    )
    print(
        f"{label}: {statistics.median(r.rate for r in runs):6.0f} events/s (runs: {rates})   "
        f"webhook ack p50 {median.ack(50):.1f} ms p99 {median.ack(99):.1f} ms   "
        f"non-200 acks {median.refused}\n    CPU ms per event: {cpu}   "
        f"API calls {calls} statuses {statuses}"
    )
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--events", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="bare then ours, this many times")
    parser.add_argument(
        "--database-url", help="ours' database (default: a new SQLite file per run)"
    )
    parser.add_argument("--only", choices=["bare", "ours"], help="run one side only")
    parser.add_argument(
        "--no-same-replies", action="store_true", help="skip the bare bot sending our replies"
    )
    args = parser.parse_args()

    kinds = [args.only] if args.only else ["bare", "ours"]
    if not args.only and not args.no_same_replies:
        kinds.append("bare-ours")
    database = (args.database_url or "sqlite").split(":", 1)[0].split("+")[0]
    print(
        f"members={args.members} events={args.events} concurrency={args.concurrency} "
        f"rounds={args.rounds} database={database} cores={os.cpu_count()} "
        f"load={os.getloadavg()[0]:.2f}"
    )
    runs: dict[str, list[Result]] = {kind: [] for kind in kinds}
    started = time.monotonic()
    with FakeLineProcess() as fake:
        replies = None
        for _ in range(args.rounds):
            for kind in kinds:
                runs[kind].append(
                    measure(
                        kind,
                        fake,
                        args.members,
                        args.events,
                        args.concurrency,
                        args.database_url,
                        replies,
                    )
                )
                if kind == "ours":
                    replies = fake.reply_messages(args.events)
    labels = {
        "bare": "bare line-bot-sdk echo",
        "ours": "campaign-bot          ",
        "bare-ours": "bare, our replies     ",
    }
    for kind, results in runs.items():
        describe(labels[kind], results)
    print(f"benchmark time: {time.monotonic() - started:.0f} s")
    rates = {kind: statistics.median(r.rate for r in results) for kind, results in runs.items()}
    figures = {}
    if "ours" in rates:
        figures["ours_per_s"] = f"{rates['ours']:.0f}"
    if "bare" in rates:
        figures["bare_per_s"] = f"{rates['bare']:.0f}"
    if "ours" in rates and "bare" in rates:
        ratio = rates["ours"] / rates["bare"]
        print(f"ratio ours/bare: {ratio:.2f} (target >= 0.8)")
        figures["ratio"] = f"{ratio:.2f}"
    if "ours" in rates and "bare-ours" in rates:
        print(
            f"ratio ours/bare sending our replies: {rates['ours'] / rates['bare-ours']:.2f} "
            "(the cost of our stack alone: database, core, rendering, ordering)"
        )
    print("RESULT " + " ".join(f"{key}={value}" for key, value in figures.items()))


if __name__ == "__main__":
    main()
