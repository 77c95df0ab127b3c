"""Telegram's flood limits as token buckets: overall, per private chat, per group or channel.

Only message-sending methods count. A request that would exceed any bucket consumes nothing and
gets HTTP 429 with `retry_after` = whole seconds until every bucket involved has a token again.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

ChatKind = Literal["private", "group"]


@dataclass(frozen=True)
class RateLimits:
    """Rates and bursts; the defaults follow Telegram's FAQ (30/s overall, ~1/s per chat,
    20/min per group)."""

    overall_per_second: float = 30.0
    overall_burst: int = 30
    private_per_second: float = 1.0
    private_burst: int = 3
    group_per_minute: float = 20.0
    group_burst: int = 20

    def __post_init__(self) -> None:
        for name in ("overall_per_second", "private_per_second", "group_per_minute"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        for name in ("overall_burst", "private_burst", "group_burst"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


@dataclass
class TokenBucket:
    """`capacity` tokens, refilled continuously at `rate` tokens per second."""

    rate: float
    capacity: float
    tokens: float
    updated: float

    def refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.updated = now

    def wait_time(self, now: float) -> float:
        """Seconds until one token is available (0 if one is available now)."""
        self.refill(now)
        if self.tokens >= 1.0:
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1.0


@dataclass
class RateLimiter:
    """The buckets for one bot; `monotonic` is injectable for tests of the limiter itself."""

    limits: RateLimits
    monotonic: Callable[[], float]
    _overall: TokenBucket | None = field(default=None, init=False)
    _chats: dict[int, TokenBucket] = field(default_factory=dict, init=False)

    def _bucket(self, rate: float, burst: int, now: float) -> TokenBucket:
        return TokenBucket(rate=rate, capacity=float(burst), tokens=float(burst), updated=now)

    def acquire(self, chat_id: int, kind: ChatKind) -> int:
        """Consume a token for a message to `chat_id`; return 0, or retry_after seconds (>= 1)."""
        now = self.monotonic()
        limits = self.limits
        if self._overall is None:
            self._overall = self._bucket(limits.overall_per_second, limits.overall_burst, now)
        chat = self._chats.get(chat_id)
        if chat is None:
            if kind == "private":
                chat = self._bucket(limits.private_per_second, limits.private_burst, now)
            else:
                chat = self._bucket(limits.group_per_minute / 60.0, limits.group_burst, now)
            self._chats[chat_id] = chat
        wait = max(self._overall.wait_time(now), chat.wait_time(now))
        if wait > 0:
            return max(1, math.ceil(wait))
        self._overall.take()
        chat.take()
        return 0
