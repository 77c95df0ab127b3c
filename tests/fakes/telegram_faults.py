"""Injected faults: 5xx answers, slow answers and dropped connections, by count or time window.

A fault applies to Bot API method calls only (not to file downloads or the control API). With
`after=True` the request is processed first (a message really is sent) and only the answer is
lost: the case that makes a sender retry and deliver twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Literal

FaultKind = Literal["error", "delay", "drop"]

_NGINX_PAGE = (
    "<html>\r\n<head><title>{code} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {phrase}</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)


@dataclass
class Fault:
    """One injected fault; `remaining` counts down, `until` is a monotonic deadline."""

    kind: FaultKind
    methods: frozenset[str] | None = None  # lower-case method names; None = every method
    remaining: int | None = None
    until: float | None = None
    status: int = 500
    html: bool = False
    delay: float = 0.0
    after: bool = False
    description: str | None = None
    """Telegram's own description (e.g. "Bad Request: message can't be edited"): an error
    fault with one may answer any 4xx or 5xx status, in JSON."""
    retry_after: int | None = None
    """With status 429: Telegram's flood answer, `parameters.retry_after` included."""

    def __post_init__(self) -> None:
        if (self.remaining is None) == (self.until is None):
            raise ValueError("a fault needs exactly one of a count or a time window")
        if self.retry_after is not None:
            if self.status != 429 or self.retry_after < 1:
                raise ValueError("retry_after goes with status 429 and is at least 1 s")
            self.description = f"Too Many Requests: retry after {self.retry_after}"
        lowest = 400 if self.description is not None else 500
        if self.kind == "error" and not lowest <= self.status <= 599:
            raise ValueError("error faults answer with a 5xx status (4xx with a description)")
        if self.kind == "delay" and self.delay <= 0:
            raise ValueError("delay faults need a positive delay")

    def applies(self, method: str, now: float) -> bool:
        if self.methods is not None and method not in self.methods:
            return False
        if self.until is not None:
            return now < self.until
        return bool(self.remaining)

    def expired(self, now: float) -> bool:
        if self.until is not None:
            return now >= self.until
        return not self.remaining


@dataclass(frozen=True)
class FaultDecision:
    """What to do with one request: wait `delay` seconds, then maybe fail it with `terminal`."""

    delay: float = 0.0
    terminal: Fault | None = None


def method_set(methods: Iterable[str] | str | None) -> frozenset[str] | None:
    """Normalise a method filter ("sendMessage", ["sendMessage", "getUpdates"], None)."""
    if methods is None:
        return None
    if isinstance(methods, str):
        methods = [methods]
    return frozenset(name.lower() for name in methods)


class FaultPlan:
    """The active faults, in the order they were added. Not thread-safe: guard it."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self._faults.append(fault)

    def clear(self) -> None:
        self._faults.clear()

    @property
    def active(self) -> list[Fault]:
        return list(self._faults)

    def decide(self, method: str, now: float) -> FaultDecision:
        """Consume the faults that apply to this request: every delay, plus the first error
        or drop."""
        delay = 0.0
        terminal: Fault | None = None
        for fault in self._faults:
            if not fault.applies(method, now):
                continue
            if fault.kind == "delay":
                delay += fault.delay
            elif terminal is None:
                terminal = fault
            else:
                continue
            if fault.remaining is not None:
                fault.remaining -= 1
        self._faults = [fault for fault in self._faults if not fault.expired(now)]
        return FaultDecision(delay, terminal)


def error_body(
    status: int, html: bool, description: str | None = None, retry_after: int | None = None
) -> tuple[bytes, str]:
    """The body and content type of an injected error: Telegram-like JSON (with `description`
    and `parameters.retry_after` when given) or nginx's page."""
    phrase = HTTPStatus(status).phrase
    if description is not None:
        body: dict[str, object] = {"ok": False, "error_code": status, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return json.dumps(body).encode(), "application/json"
    if html:
        page = _NGINX_PAGE.format(code=status, phrase=phrase)
        return page.encode(), "text/html"
    body = {"ok": False, "error_code": status, "description": phrase}
    return json.dumps(body).encode(), "application/json"
