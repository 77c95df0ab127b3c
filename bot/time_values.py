"""Clock times and lengths of time as people write them in YAML files (config and schedules)."""

from __future__ import annotations

import re
from datetime import time, timedelta

_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
_DURATION = re.compile(r"(\d+)(d|h|m|日|時間|分)")
_UNITS = {"d": "days", "日": "days", "h": "hours", "時間": "hours", "m": "minutes", "分": "minutes"}


def parse_clock(value: object) -> time:
    """HH:MM on a 24-hour clock, quoted or not."""
    # YAML 1.1 reads an unquoted 13:00 as the base-60 number 780; accept it as the clock time.
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"{value // 60}:{value % 60:02d}"
    if isinstance(value, time):
        return value
    match = _CLOCK.fullmatch(str(value).strip())
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError('expected HH:MM on a 24-hour clock, such as "13:00"')
    return time(int(match.group(1)), int(match.group(2)))


def parse_duration(value: object) -> timedelta:
    """A length of time: 1d, 12h, 30m, 1d12h, 1日, 2時間, 30分 (a trailing 前 is allowed)."""
    if isinstance(value, timedelta):
        return value
    text = str(value).replace(" ", "").removesuffix("前")
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError('expected a length of time such as "1d", "12h" or "30m"')
    total = timedelta()
    for number, unit in parts:
        total += timedelta(**{_UNITS[unit]: int(number)})
    return total
