"""Days of the week as organisers write them (土, 土曜, 土曜日, Sat, Saturday), and the check
that a written day matches the calendar.

Printed schedules slip: a newsletter announced 「10月14日(土)」 for a day that was a Monday.
Writing the day next to the date lets the checker catch that before members see it.
"""

from __future__ import annotations

from datetime import date

JAPANESE = "月火水木金土日"
ENGLISH = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Brackets as copied from a flyer: 「(土)」 or full-width 「（土）」.
_BRACKETS = "()（）"


def _names() -> dict[str, int]:
    names: dict[str, int] = {}
    for index, (kanji, english) in enumerate(zip(JAPANESE, ENGLISH, strict=True)):
        for name in (kanji, f"{kanji}曜", f"{kanji}曜日", english, english[:3]):
            names[name.lower()] = index
    return names


_NAMES = _names()


def parse_weekday(written: str) -> int | None:
    """The weekday number (Monday 0 ... Sunday 6) of a written name, or None if unknown."""
    return _NAMES.get(_bare(written).lower())


def _bare(written: str) -> str:
    return written.strip().strip(_BRACKETS).strip()


def describe(day: date) -> str:
    """`Monday (月)`: how the checker names the real day of a date."""
    return f"{ENGLISH[day.weekday()]} ({JAPANESE[day.weekday()]})"


def mismatch(day: date, written: str) -> str | None:
    """The message when `written` is not the weekday of `day`; None when it is (or unknown)."""
    number = parse_weekday(written)
    if number is None or number == day.weekday():
        return None
    return f"{day.isoformat()} is a {describe(day)}, not {_bare(written)}"


def check_weekday(written: object) -> str:
    """Pydantic validator: accept a known day name, keep it as written for messages."""
    if not isinstance(written, str) or parse_weekday(written) is None:
        raise ValueError("expected a day of the week such as 土, 土曜日 or Sat")
    return _bare(written)
