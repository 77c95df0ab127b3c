"""Properties of expansion over generated rules and windows: every occurrence lies inside the
window, no key comes twice, and adjacent windows share the occurrences without overlap."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.calendar.recurrence import expand
from bot.domain.calendar import EventKind, EventSpec
from tests.calendar.helpers import TOKYO

DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


@st.composite
def rules(draw: st.DrawFn) -> str:
    """FREQ=DAILY/WEEKLY/MONTHLY with BYMONTHDAY or BYDAY, INTERVAL and COUNT."""
    frequency = draw(st.sampled_from(["DAILY", "WEEKLY", "MONTHLY"]))
    parts = [f"FREQ={frequency}"]
    interval = draw(st.integers(1, 3))
    if interval > 1:
        parts.append(f"INTERVAL={interval}")
    by = draw(st.sampled_from(["none", "BYMONTHDAY", "BYDAY"]))
    if by == "BYMONTHDAY":
        days = draw(st.sets(st.sampled_from([*range(1, 32), -1]), min_size=1, max_size=4))
        parts.append("BYMONTHDAY=" + ",".join(str(day) for day in sorted(days)))
    elif by == "BYDAY":
        weekdays = draw(st.sets(st.sampled_from(DAYS), min_size=1, max_size=3))
        if frequency == "MONTHLY" and draw(st.booleans()):
            nth = draw(st.sampled_from([1, 2, 3, 4, -1]))
            parts.append("BYDAY=" + ",".join(f"{nth}{day}" for day in sorted(weekdays)))
        else:
            parts.append("BYDAY=" + ",".join(sorted(weekdays)))
    if draw(st.booleans()):
        parts.append(f"COUNT={draw(st.integers(1, 40))}")
    return ";".join(parts)


def moments(low: date, high: date) -> st.SearchStrategy[datetime]:
    return st.builds(
        lambda day, minutes: datetime.combine(day, time(), TOKYO) + timedelta(minutes=minutes),
        st.dates(low, high),
        st.integers(0, 24 * 60 - 1),
    )


def event(rule: str, first: datetime) -> EventSpec:
    return EventSpec(
        slug="generated",
        source="test.yaml",
        title="x",
        kind=EventKind.OTHER,
        starts_at=first,
        ends_at=first + timedelta(hours=1),
        rrule=rule,
    )


FIRSTS = moments(date(2024, 1, 1), date(2027, 12, 31))
WINDOW_STARTS = moments(date(2023, 6, 1), date(2028, 6, 1))
LENGTHS = st.integers(0, 200 * 24 * 60).map(lambda minutes: timedelta(minutes=minutes))


@settings(max_examples=150, deadline=None, database=None)
@given(rule=rules(), first=FIRSTS, start=WINDOW_STARTS, length=LENGTHS)
def test_occurrences_lie_inside_the_window_with_distinct_keys(
    rule: str, first: datetime, start: datetime, length: timedelta
) -> None:
    end = start + length
    found = expand(event(rule, first), start, end)
    assert all(start <= occurrence.starts_at < end for occurrence in found)
    found_keys = [occurrence.key for occurrence in found]
    assert len(found_keys) == len(set(found_keys))
    assert found_keys == sorted(found_keys)
    assert all(o.key == o.starts_at.date().isoformat() for o in found)
    assert all(o.starts_at.timetz() == first.timetz() for o in found)


@settings(max_examples=100, deadline=None, database=None)
@given(rule=rules(), first=FIRSTS, start=WINDOW_STARTS, first_part=LENGTHS, second_part=LENGTHS)
def test_adjacent_windows_split_the_occurrences_without_loss_or_overlap(
    rule: str, first: datetime, start: datetime, first_part: timedelta, second_part: timedelta
) -> None:
    spec = event(rule, first)
    middle = start + first_part
    end = middle + second_part
    assert expand(spec, start, middle) + expand(spec, middle, end) == expand(spec, start, end)
