"""RFC 5545 recurrence rules as organisers write them: checked, normalised, compiled.

A rule is the RRULE text without DTSTART (the event's `date` and `start` are that), such as
FREQ=MONTHLY;BYMONTHDAY=4,14,24 for 「4の日」 or FREQ=MONTHLY;BYDAY=2SA for 第2土曜.
An occurrence is identified by its date, so a rule may give at most one occurrence a day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time

from dateutil.rrule import rrule, rrulestr

from bot.yaml_values import real_date

_WITHIN_A_DAY = ("HOURLY", "MINUTELY", "SECONDLY")
_TIME_OF_DAY = ("BYHOUR", "BYMINUTE", "BYSECOND")
_ALLOWED = "DAILY, WEEKLY, MONTHLY or YEARLY"
# The highest value, and whether negative values count from the end (-1: the last day).
_RANGES = {"BYMONTHDAY": (31, True), "BYMONTH": (12, False)}
# The nth weekday of a period: a month has at most 5 Saturdays, a year at most 53.
_NTH_LIMIT = {"MONTHLY": 5, "YEARLY": 53}
EXAMPLE = "FREQ=MONTHLY;BYMONTHDAY=4,14,24"


class RuleError(ValueError):
    """A rule that cannot be used, with the reason in words an organiser can act on."""


@dataclass(frozen=True)
class Rule:
    """A checked rule: `text` is upper case, without spaces and without UNTIL.

    UNTIL is taken out as a date (`until`) because a date-only UNTIL in the text would be
    read as midnight and drop the last day's occurrence; the caller turns it into a moment.
    """

    text: str
    until: date | None = None
    count: int | None = None


def parse_rule(written: str) -> Rule:
    """Check the shape of a rule; raise `RuleError` saying what to change."""
    text = written.strip()
    if text.upper().startswith("RRULE:"):
        text = text[len("RRULE:") :]
    if "\n" in text.strip() or text.upper().startswith("DTSTART"):
        raise RuleError("write only the rule (FREQ=...); the first occurrence is date: and start:")
    # Spaces around separators are harmless; spaces inside a value are a typo.
    text = re.sub(r"\s*([;=,])\s*", r"\1", text).strip(";").upper()
    if not text:
        raise RuleError(f"the rule is empty; write one such as {EXAMPLE}")
    if re.search(r"\s", text):
        raise RuleError(f"no spaces inside the rule; write it like {EXAMPLE}")
    parts = _parts(text)
    _check_frequency(parts)
    for name in ("INTERVAL", "COUNT"):
        if name in parts and not (parts[name].isdigit() and int(parts[name]) >= 1):
            raise RuleError(f"{name} must be a whole number of 1 or more, got {parts[name]}")
    for name, (high, from_end) in _RANGES.items():
        values = parts[name].split(",") if name in parts else []
        for value in values:
            number = int(value) if re.fullmatch(r"[+-]?\d+", value) else 0
            if not (1 <= number <= high or (from_end and 1 <= -number <= high)):
                also = f", or -1 to -{high} counting from the end" if from_end else ""
                raise RuleError(f"{name} values must be 1 to {high}{also}; got {value}")
    _check_nth_weekdays(parts)
    until = _until(parts)
    count = int(parts["COUNT"]) if "COUNT" in parts else None
    return Rule(";".join(f"{name}={value}" for name, value in parts.items()), until, count)


def _parts(text: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for part in text.split(";"):
        name, equals, value = part.partition("=")
        if not equals or not name or not value:
            raise RuleError(f'"{part}" is not NAME=VALUE; write the rule like {EXAMPLE}')
        if name in parts:
            raise RuleError(f"{name} is written twice")
        parts[name] = value
    return parts


def _check_frequency(parts: dict[str, str]) -> None:
    frequency = parts.get("FREQ")
    if frequency is None:
        raise RuleError(f"the rule needs FREQ= ({_ALLOWED}), such as {EXAMPLE}")
    if frequency in _WITHIN_A_DAY:
        raise RuleError(
            f"FREQ={frequency} repeats within a day, but an event takes place at most once a "
            f"day; use {_ALLOWED}"
        )
    for name in _TIME_OF_DAY:
        if name in parts:
            raise RuleError(
                f"{name} is not allowed: the time of day is start:, "
                "and an event takes place at most once a day"
            )
    if "DTSTART" in parts:
        raise RuleError("DTSTART is not allowed: the first occurrence is date: and start:")


def _check_nth_weekdays(parts: dict[str, str]) -> None:
    limit = _NTH_LIMIT.get(parts["FREQ"])
    for value in parts.get("BYDAY", "").split(","):
        match = re.fullmatch(r"([+-]?\d+)([A-Z]{2})", value)
        if limit and match and not 1 <= abs(int(match.group(1))) <= limit:
            raise RuleError(
                f"BYDAY={value}: with FREQ={parts['FREQ']} the number before the day must be "
                f"1 to {limit}, or -1 to -{limit} counting from the end (-1 is the last)"
            )


def _until(parts: dict[str, str]) -> date | None:
    written = parts.pop("UNTIL", None)
    if written is None:
        return None
    if "COUNT" in parts:
        raise RuleError("write either COUNT or UNTIL, not both")
    match = re.fullmatch(r"(\d{4})(\d{2})(\d{2})", written)
    if not match:
        raise RuleError("write UNTIL as a date such as UNTIL=20271231 (or use until: instead)")
    try:
        return real_date(*(int(part) for part in match.groups()))
    except ValueError as exc:
        raise RuleError(f"UNTIL={written} is {exc}") from None


def compile_rule(text: str, first: datetime, until: datetime | None = None) -> rrule:
    """A dateutil rule over naive local wall times, from `first` up to `until` included."""
    if until is not None:
        text = f"{text};UNTIL={until:%Y%m%dT%H%M%S}"
    try:
        compiled = rrulestr(text, dtstart=first, cache=True)
    except (ValueError, TypeError) as exc:
        raise RuleError(f"not a valid RRULE: {exc}") from None
    if not isinstance(compiled, rrule):
        raise RuleError(f"write a single rule, such as {EXAMPLE}")
    return compiled


def first_day(compiled: rrule) -> date | None:
    """The day of the first occurrence, or None if the rule never gives one."""
    first = next(iter(compiled), None)
    return first.date() if first is not None else None


def not_a_day(compiled: rrule, day: date) -> str | None:
    """Why `day` is not a day of the rule (naming the nearest days that are), or None."""
    midnight = datetime.combine(day, time())
    after = compiled.after(midnight, inc=True)
    if after is not None and after.date() == day:
        return None
    before = compiled.before(midnight)
    nearest = [moment.date().isoformat() for moment in (before, after) if moment is not None]
    hint = f" (nearest: {' or '.join(nearest)})" if nearest else ""
    return f"{day.isoformat()} is not a day of this event's rule{hint}"
