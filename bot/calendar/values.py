"""Single values of a schedule file (dates, clock times, lengths of time, ids, links), parsed
with messages an organiser can act on.

Schedule files are read with timestamps left as text (see `yaml_validation`), so every date
arrives here as the person wrote it and a slip such as 2024-02-30 is named, not a crash.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Annotated

from pydantic import BeforeValidator, Field

from bot.calendar.weekdays import check_weekday
from bot.yaml_values import as_text, parse_clock, parse_date, parse_duration, parse_link

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


Date = Annotated[date, BeforeValidator(parse_date)]
LocalTime = Annotated[time, BeforeValidator(parse_clock)]
Deadline = Annotated[datetime | timedelta, BeforeValidator(parse_deadline)]
Slug = Annotated[str, BeforeValidator(parse_slug)]
Weekday = Annotated[str, BeforeValidator(check_weekday)]
Link = Annotated[str, BeforeValidator(parse_link), Field(max_length=500)]


# Lengths fit the columns of the events table.
Title = Annotated[str, BeforeValidator(as_text), Field(min_length=1, max_length=200)]
Name = Annotated[str, BeforeValidator(as_text), Field(min_length=1, max_length=200)]
Address = Annotated[str, BeforeValidator(as_text), Field(min_length=1, max_length=300)]
Contact = Annotated[str, BeforeValidator(as_text), Field(min_length=1, max_length=300)]
LongText = Annotated[str, BeforeValidator(as_text)]
