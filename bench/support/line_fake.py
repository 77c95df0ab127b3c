"""The fake LINE API (tests/fakes/line_api.py) in a child process, driven through a pipe.

In the benchmark's own process the fake's HTTP threads would take the interpreter lock from
the load generator; in the bot's process, from the bot. Here it has a process of its own, and
the benchmark asks it over a pipe for users, for signed webhook bodies whose reply tokens it
will accept, and to wait until it has answered a number of calls (the time of the last one
comes back as `time.monotonic()`, one system-wide clock on Linux).

    with FakeLineProcess() as fake:
        users, follows = fake.follow_bodies(200)
        bodies = fake.text_bodies([(user, "予定") for user in users])
        ...
        at, stats = fake.wait_for(["reply_message"], 1000, since=stats_before)

Import it as `bench.support.line_fake` once the repository's root is on sys.path.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

from tests.fakes.line_api import FakeLine
from tests.fakes.line_webhook import encode, envelope, signature

REPLY_TOKEN_TTL = 600.0
"""Seconds the fake keeps a reply token. LINE keeps one about a minute; the bodies of a run
are all made before it starts, so a longer life keeps a slow machine's run from failing on
tokens it made early. The bot judges a token by its own clock from the webhook's arrival."""


@dataclass(frozen=True)
class Body:
    """One webhook request: the raw bytes and their `x-line-signature`."""

    raw: bytes
    signature: str


@dataclass(frozen=True)
class Stats:
    """The fake's counts of calls: by endpoint and by HTTP status."""

    by_endpoint: Counter[str]
    by_status: Counter[int]

    def minus(self, before: Stats) -> Stats:
        return Stats(self.by_endpoint - before.by_endpoint, self.by_status - before.by_status)


def _stats(fake: FakeLine) -> Stats:
    raw = fake.stats
    return Stats(Counter(raw["by_endpoint"]), Counter(raw["by_status"]))


def _bodies(fake: FakeLine, events: list[dict[str, Any]]) -> list[Body]:
    out = []
    for event in events:
        raw = encode(envelope(fake.bot_user_id, [event]))
        out.append(Body(raw, signature(raw, fake.channel_secret)))
    return out


def _wait_for(
    fake: FakeLine, endpoints: list[str], count: int, since: Stats, timeout: float
) -> tuple[float | None, Stats]:
    def done() -> bool:
        counts = _stats(fake).minus(since).by_endpoint
        return sum(counts[e] for e in endpoints) >= count

    try:
        # Re-checked on every call the fake answers (it wakes its waiters).
        fake.wait_until(done, timeout=timeout)
        at: float | None = time.monotonic()
    except TimeoutError:
        at = None
    return at, _stats(fake).minus(since)


def _serve(conn: Connection) -> None:
    """Child process: the fake, answering the parent's requests until told to stop."""
    fake = FakeLine(reply_token_ttl=REPLY_TOKEN_TTL)
    fake.start()
    conn.send((fake.base_url, fake.access_token, fake.channel_secret))
    try:
        while True:
            command, args = conn.recv()
            if command == "stop":
                break
            if command == "text_bodies":
                (pairs,) = args
                conn.send(_bodies(fake, [fake.text_event(user, text) for user, text in pairs]))
            elif command == "follow_bodies":
                (count,) = args
                events = [fake.follow_event(display_name=f"会員{i}") for i in range(count)]
                users = [event["source"]["userId"] for event in events]
                conn.send((users, _bodies(fake, events)))
            elif command == "stats":
                conn.send(_stats(fake))
            elif command == "reply_messages":
                (count,) = args
                calls = fake.requests("reply_message")[-count:]
                conn.send([call.body["messages"] for call in calls if call.status == 200])
            elif command == "wait_for":
                conn.send(_wait_for(fake, *args))
            else:
                conn.send(ValueError(f"unknown command {command!r}"))
    finally:
        fake.stop()


class FakeLineProcess:
    """The fake LINE API in a child process (spawned, so it shares nothing with this one)."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()
        self.base_url, self.access_token, self.channel_secret = self._receive()

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    def _receive(self, timeout: float = 120.0) -> Any:
        deadline = time.monotonic() + timeout
        while not self._conn.poll(0.5):
            if not self._process.is_alive():
                raise RuntimeError(f"the fake LINE API exited with {self._process.exitcode}")
            if time.monotonic() > deadline:
                raise TimeoutError("the fake LINE API did not answer")
        answer = self._conn.recv()
        if isinstance(answer, Exception):
            raise answer
        return answer

    def _ask(self, command: str, *args: Any, timeout: float = 120.0) -> Any:
        self._conn.send((command, args))
        return self._receive(timeout)

    def text_bodies(self, pairs: Sequence[tuple[str, str]]) -> list[Body]:
        """One signed body per (user, text), each with one message event and a fresh token."""
        return list(self._ask("text_bodies", list(pairs)))

    def follow_bodies(self, count: int) -> tuple[list[str], list[Body]]:
        """`count` new users adding the account as a friend: their ids, and one signed body
        per user with the follow event."""
        users, bodies = self._ask("follow_bodies", count)
        return list(users), list(bodies)

    def reply_messages(self, count: int) -> list[list[dict[str, Any]]]:
        """The messages of the last `count` replies the fake took, as JSON objects."""
        return list(self._ask("reply_messages", count))

    def stats(self) -> Stats:
        return self._ask("stats")  # type: ignore[no-any-return]

    def wait_for(
        self, endpoints: Sequence[str], count: int, since: Stats, timeout: float
    ) -> tuple[float | None, Stats]:
        """Block until `count` calls of `endpoints` were answered after `since`; returns when
        the last came (`time.monotonic()`, None on timeout) and the counts since `since`."""
        return self._ask(  # type: ignore[no-any-return]
            "wait_for", list(endpoints), count, since, timeout, timeout=timeout + 60
        )

    def close(self) -> None:
        if self._process.is_alive():
            with contextlib.suppress(OSError):
                self._conn.send(("stop", ()))
            self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=10)
        self._conn.close()

    def __enter__(self) -> FakeLineProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
