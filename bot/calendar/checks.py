"""Checks across the keys of one event that pydantic's per-value validation cannot express.

Locations are relative to the event (`("repeat", "rule")`). The weekday checks work on the
raw entry, so a wrong weekday is reported even when the same event has other mistakes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from dateutil.rrule import rrule

from bot.calendar.rules import RuleError, compile_rule, first_day, not_a_day, parse_rule
from bot.calendar.weekdays import mismatch
from bot.yaml_validation import Loc
from bot.yaml_values import parse_date

if TYPE_CHECKING:
    from bot.calendar.event_entry import ChangeEntry, EventEntry, RepeatEntry


def end_before_start(starts: datetime, ends: datetime, *, multi_day: date | None) -> str:
    if multi_day is not None:
        return f"the event ends ({ends:%Y-%m-%d %H:%M}) before it starts ({starts:%Y-%m-%d %H:%M})"
    return (
        f"{ends:%H:%M} is not after start ({starts:%H:%M}); "
        "for an event that ends on a later day, add end_date"
    )


def repeat_problems(event: EventEntry, repeat: RepeatEntry) -> Iterator[tuple[Loc, str]]:
    try:
        rule = parse_rule(repeat.rule)
    except RuleError as exc:
        yield ("repeat", "rule"), str(exc)
        return
    if repeat.until is not None and (rule.until is not None or rule.count is not None):
        which = "UNTIL" if rule.until is not None else "COUNT"
        yield ("repeat", "until"), f"the rule already ends with {which}; keep only one of them"
        return
    until = repeat.until or rule.until
    if until is not None and until < event.date:
        where = "until" if repeat.until is not None else "rule"
        yield (
            ("repeat", where),
            f"the repetition ends on {until}, before the first occurrence ({event.date})",
        )
        return
    last = datetime.combine(until, event.start) if until is not None else None
    try:
        compiled = compile_rule(rule.text, event.starts, last)
    except RuleError as exc:
        yield ("repeat", "rule"), str(exc)
        return
    first = first_day(compiled)
    if first is None:
        yield (
            ("repeat", "rule"),
            f"the rule gives no date at all from {event.date} on; check its numbers and its end",
        )
        return
    if first != event.date:
        yield (
            ("date",),
            f"{event.date} is not a day of the rule {rule.text}; date: must be the first "
            f"occurrence, which would be {first}",
        )
    excepted: dict[date, int] = {}
    for index, item in enumerate(repeat.except_):
        if item.date in excepted:
            yield (
                ("repeat", "except", index),
                f"{item.date} is already listed in except[{excepted[item.date]}]",
            )
            continue
        excepted[item.date] = index
        reason = not_a_day(compiled, item.date)
        if reason:
            yield ("repeat", "except", index), reason
    for loc, message in _change_problems(event, repeat.changes, compiled, excepted):
        yield ("repeat", "changes", *loc), message


def _change_problems(
    event: EventEntry, changes: list[ChangeEntry], compiled: rrule, excepted: dict[date, int]
) -> Iterator[tuple[Loc, str]]:
    seen: dict[date, int] = {}
    for index, change in enumerate(changes):
        if change.date in seen:
            yield (
                (index, "date"),
                f"{change.date} is already changed in changes[{seen[change.date]}]; "
                "write everything about one occurrence in one entry",
            )
        seen.setdefault(change.date, index)
        reason = not_a_day(compiled, change.date)
        if reason:
            yield (index, "date"), reason
        elif change.date in excepted:
            yield (
                (index, "date"),
                f"{change.date} is also in except, so there is no occurrence to change; "
                "remove it from except (cancelled: true here also tells members why)",
            )
        if not change.says_something():
            yield (
                (index,),
                "says nothing about the occurrence; add cancelled, start, end, venue or note",
            )
        yield from _changed_end_problems(event, change, index)
        if change.venue is not None:
            yield from under((index, "venue"), change.venue.problems())


def _changed_end_problems(
    event: EventEntry, change: ChangeEntry, index: int
) -> Iterator[tuple[Loc, str]]:
    # A new start without an end keeps the occurrence's length: only a written end can be early.
    if change.end is None:
        return
    starts = datetime.combine(change.date, change.start or event.start)
    ends = datetime.combine(change.date + event.span, change.end)
    if ends <= starts:
        multi_day = ends.date() if event.end_date is not None else None
        yield (index, "end"), end_before_start(starts, ends, multi_day=multi_day)


def under(prefix: Loc, found: Iterator[tuple[Loc, str]]) -> Iterator[tuple[Loc, str]]:
    for loc, message in found:
        yield (*prefix, *loc), message


def weekday_problems(event: Any) -> Iterator[tuple[Loc, str]]:
    """Every written weekday that is not the day of its date, checked on the raw entry.

    Runs apart from validation so that a wrong weekday is reported even when the same event
    has other mistakes; dates or weekdays that cannot be read are reported elsewhere.
    """
    if not isinstance(event, dict):
        return
    yield from _weekday_problem((), event)
    repeat = event.get("repeat")
    if not isinstance(repeat, dict):
        return
    for key in ("except", "changes"):
        items = repeat.get(key)
        for index, item in enumerate(items if isinstance(items, list) else []):
            yield from _weekday_problem(("repeat", key, index), item)


def _weekday_problem(loc: Loc, entry: object) -> Iterator[tuple[Loc, str]]:
    if not isinstance(entry, dict) or not isinstance(entry.get("weekday"), str):
        return
    try:
        day = parse_date(entry.get("date"))
    except ValueError:
        return
    message = mismatch(day, entry["weekday"])
    if message:
        yield (*loc, "weekday"), message
