"""Single values of a schedule file (dates, clock times, lengths of time, ids, links), parsed
with messages an organiser can act on.

Schedule files are read with timestamps left as text (see `yaml_validation`), so every date
arrives here as the person wrote it and a slip such as 2024-02-30 is named, not a crash.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, time, timedelta
from typing import Annotated

from pydantic import BeforeValidator, Field

from bot.calendar.weekdays import check_weekday
from bot.time_values import parse_clock, parse_duration

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


_MOMENT = re.compile(r"(\d{4}[-/]\d{1,2}[-/]\d{1,2})[ T]+(\d{1,2}:\d{2})(?::00)?")


def parse_deadline(value: object) -> datetime | timedelta:
    """A local date and time ("2024-11-06 18:00") or a length before the start ("1d")."""
    if isinstance(value, datetime | timedelta):
        return value
    match = _MOMENT.fullmatch(str(value).strip())
    if match:
        return datetime.combine(parse_date(match.group(1)), parse_clock(match.group(2)))
    try:
        return parse_duration(value)
    except ValueError:
        raise ValueError(
            'expected a date and time such as "2024-11-06 18:00" '
            'or a length of time before the start such as "1d", "12h" or "30m"'
        ) from None


_SLUG = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
SLUG_MAX = 40


def parse_slug(value: object) -> str:
    """An event id: lower-case letters, digits and single hyphens, at most 40 characters."""
    # An id such as 2024 is a number in YAML; it is still a fine id.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError('expected an id such as "sugamo-4nohi"')
    if not _SLUG.fullmatch(value):
        raise ValueError(
            "use only lower-case letters a-z, digits and single hyphens between them, "
            'such as "sugamo-4nohi"'
        )
    if len(value) > SLUG_MAX:
        raise ValueError(f"at most {SLUG_MAX} characters; shorten the id")
    return value


def parse_link(value: object) -> object:
    """A web address; anything else is left for pydantic to call 'expected text'."""
    if isinstance(value, str) and not re.fullmatch(r"https?://\S+", value.strip()):
        raise ValueError("expected a web address starting with https://")
    return value.strip() if isinstance(value, str) else value


def _text(value: object) -> object:
    # A title such as 2025 or a contact phone number may come out of YAML as a number.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value.strip() if isinstance(value, str) else value


Date = Annotated[date, BeforeValidator(parse_date)]
LocalTime = Annotated[time, BeforeValidator(parse_clock)]
Deadline = Annotated[datetime | timedelta, BeforeValidator(parse_deadline)]
Slug = Annotated[str, BeforeValidator(parse_slug)]
Weekday = Annotated[str, BeforeValidator(check_weekday)]
Link = Annotated[str, BeforeValidator(parse_link), Field(max_length=500)]


# Lengths fit the columns of the events table.
Title = Annotated[str, BeforeValidator(_text), Field(min_length=1, max_length=200)]
Name = Annotated[str, BeforeValidator(_text), Field(min_length=1, max_length=200)]
Address = Annotated[str, BeforeValidator(_text), Field(min_length=1, max_length=300)]
Contact = Annotated[str, BeforeValidator(_text), Field(min_length=1, max_length=300)]
LongText = Annotated[str, BeforeValidator(_text)]
