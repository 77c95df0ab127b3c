"""Single values of a schedule file: what is understood, and what each mistake is called."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

import pytest

from bot.calendar.values import parse_deadline, parse_slug
from bot.yaml_values import parse_clock, parse_date, parse_duration


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("2024-11-07", date(2024, 11, 7)),
        ("2024-1-4", date(2024, 1, 4)),
        ("2024/11/07", date(2024, 11, 7)),
        ("2024-02-29", date(2024, 2, 29)),
        (date(2024, 11, 7), date(2024, 11, 7)),
    ],
)
def test_dates_that_are_understood(written: object, meant: date) -> None:
    assert parse_date(written) == meant


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("2024-02-30", "not a real date (February 2024 has 29 days)"),
        ("2025-02-29", "not a real date (February 2025 has 28 days)"),
        ("2024-04-31", "not a real date (April 2024 has 30 days)"),
        ("2024-13-01", "not a real date (there is no month 13)"),
        ("11月7日", 'write the date as YYYY-MM-DD, with the year, such as "2024-11-07"'),
        ("11月7日(木)", 'write the date as YYYY-MM-DD, with the year, such as "2024-11-07"'),
        ("2024年11月7日", 'write the date as YYYY-MM-DD: "2024-11-07"'),
        ("next Thursday", 'expected a date written YYYY-MM-DD, such as "2024-11-07"'),
        ("20241107", 'expected a date written YYYY-MM-DD, such as "2024-11-07"'),
    ],
)
def test_dates_that_are_not(written: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_date(written)


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("13:00", time(13, 0)),
        ("9:30", time(9, 30)),
        (780, time(13, 0)),  # an unquoted 13:00, as YAML 1.1 reads it
        (570, time(9, 30)),
        ("00:00", time(0, 0)),
        ("23:59", time(23, 59)),
    ],
)
def test_clock_times(written: object, meant: time) -> None:
    assert parse_clock(written) == meant


@pytest.mark.parametrize("written", ["24:00", "25:00", "13:60", "13時", "1pm", 1440, "13"])
def test_clock_times_that_are_not(written: object) -> None:
    with pytest.raises(ValueError, match='expected HH:MM on a 24-hour clock, such as "13:00"'):
        parse_clock(written)


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("1d", timedelta(days=1)),
        ("12h", timedelta(hours=12)),
        ("30m", timedelta(minutes=30)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1日", timedelta(days=1)),
        ("1日前", timedelta(days=1)),
        ("2時間", timedelta(hours=2)),
        ("30分", timedelta(minutes=30)),
        ("1 d", timedelta(days=1)),
    ],
)
def test_lengths_of_time(written: str, meant: timedelta) -> None:
    assert parse_duration(written) == meant


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("2024-11-06 18:00", datetime(2024, 11, 6, 18, 0)),  # noqa: DTZ001 -- local wall time
        ("2024-11-06T18:00", datetime(2024, 11, 6, 18, 0)),  # noqa: DTZ001 -- local wall time
        ("2024-11-06 18:00:00", datetime(2024, 11, 6, 18, 0)),  # noqa: DTZ001 -- local wall time
        ("1d", timedelta(days=1)),
        ("2時間", timedelta(hours=2)),
    ],
)
def test_deadlines_are_a_moment_or_a_length(written: str, meant: object) -> None:
    assert parse_deadline(written) == meant


def test_a_deadline_on_an_impossible_day_says_so() -> None:
    with pytest.raises(ValueError, match=r"^not a real date \(November 2024 has 30 days\)$"):
        parse_deadline("2024-11-31 18:00")


@pytest.mark.parametrize("written", ["sugamo-4nohi", "shakaihosho-gakko-52", "2024", "a" * 40])
def test_ids(written: str) -> None:
    assert parse_slug(written) == written


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("Sugamo", "use only lower-case letters a-z"),
        ("sugamo_4nohi", "use only lower-case letters a-z"),
        ("sugamo--4nohi", "use only lower-case letters a-z"),
        ("-sugamo", "use only lower-case letters a-z"),
        ("巣鴨", "use only lower-case letters a-z"),
        ("a" * 41, "at most 40 characters; shorten the id"),
    ],
)
def test_ids_that_are_not(written: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_slug(written)
