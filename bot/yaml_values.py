"""Values as people write them in YAML files (config, schedules, knowledge base): dates, clock
times, lengths of time, web addresses, text. Each parser explains a mistake in plain words."""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, time, timedelta

_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
_DURATION = re.compile(r"(\d+)(d|h|m|s|日|時間|分|秒)")
_UNITS = {
    "d": "days",
    "日": "days",
    "h": "hours",
    "時間": "hours",
    "m": "minutes",
    "分": "minutes",
    "s": "seconds",
    "秒": "seconds",
}


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
    """A length of time: 1d, 12h, 30m, 45s, 1d12h, 1日, 2時間, 30分, 45秒 (trailing 前 allowed)."""
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


MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DATE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})")
_JAPANESE_DATE = re.compile(r"(?:(\d{4})年)?\s*(\d{1,2})月\s*(\d{1,2})日.*")


def real_date(year: int, month: int, day: int) -> date:
    """The date, or a ValueError saying why there is no such day."""
    if not 1 <= month <= 12:
        raise ValueError(f"not a real date (there is no month {month})")
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        raise ValueError(f"not a real date ({MONTHS[month - 1]} {year} has {last} days)")
    return date(year, month, day)


def parse_date(value: object) -> date:
    """YYYY-MM-DD (also YYYY/MM/DD); a Japanese 11月7日 gets a hint of how to write it."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    text = str(value).strip()
    match = _DATE.fullmatch(text)
    if match:
        return real_date(*(int(part) for part in match.groups()))
    japanese = _JAPANESE_DATE.fullmatch(text)
    if japanese and japanese.group(1):
        year, month, day = (int(part) for part in japanese.groups())
        raise ValueError(f'write the date as YYYY-MM-DD: "{year:04d}-{month:02d}-{day:02d}"')
    if japanese:
        raise ValueError('write the date as YYYY-MM-DD, with the year, such as "2024-11-07"')
    raise ValueError('expected a date written YYYY-MM-DD, such as "2024-11-07"')


def parse_link(value: object) -> object:
    """A web address; anything else is left for pydantic to call 'expected text'."""
    if isinstance(value, str) and not re.fullmatch(r"https?://\S+", value.strip()):
        raise ValueError("expected a web address starting with https://")
    return value.strip() if isinstance(value, str) else value


def as_text(value: object) -> object:
    """Text as written; a number (a year as a title, a phone number) becomes its text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value.strip() if isinstance(value, str) else value
