"""The example schedules validate with the example config, carry the newsletter's events on
their real weekdays, and give a fresh install something to show from December 2026."""

from __future__ import annotations

import re
import textwrap
from datetime import date

import pytest

from bot.calendar.recurrence import expand, expand_calendar
from bot.calendar.schedule_file import load_calendar
from bot.domain.calendar import Calendar
from tests.calendar.helpers import EXAMPLES, REGIONS, TOKYO, at, events_of

MAP_SEARCH = "https://www.google.com/maps/search/?api=1&query="


@pytest.fixture(scope="module")
def calendar() -> Calendar:
    return load_calendar(EXAMPLES, REGIONS, TOKYO)


def test_every_example_file_is_read(calendar: Calendar) -> None:
    assert calendar.files == (
        "itabashi.yaml",
        "koto.yaml",
        "machida.yaml",
        "nakano.yaml",
        "nerima.yaml",
        "nishitokyo.yaml",
        "shibuya.yaml",
        "tokyo-shahokyo.yaml",
    )


@pytest.mark.parametrize(
    ("slug", "starts", "venue"),
    [
        ("inochi-mamoru-2024", date(2024, 9, 26), "日比谷野外音楽堂"),
        ("shibuya-sokai-33", date(2024, 8, 27), "東京土建渋谷支部 会議室"),
        ("itabashi-kinkyu-gakushu-2024", date(2024, 9, 11), "板橋区立グリーンホール"),
        ("itabashi-moushiire-2024", date(2024, 9, 18), "板橋区役所"),
        ("nishitokyo-gakushu-2024", date(2024, 9, 28), None),
        ("sugamo-4nohi", date(2024, 10, 14), "巣鴨駅"),
        ("shakaihosho-gakko-52", date(2024, 10, 19), "けんせつプラザ東京"),
        ("hokensho-nokose-1107", date(2024, 11, 7), "日比谷野外音楽堂"),
        ("chiiki-koryu-2024", date(2024, 11, 30), None),
    ],
)
def test_the_newsletters_events_are_there(
    calendar: Calendar, slug: str, starts: date, venue: str | None
) -> None:
    event = calendar.event(slug)
    assert event is not None
    assert event.starts_at.date() == starts
    assert (event.venue.name if event.venue else None) == venue


def test_the_newsletters_times(calendar: Calendar) -> None:
    times = {
        slug: calendar.event(slug).starts_at.strftime("%H:%M")  # type: ignore[union-attr]
        for slug in ("sugamo-4nohi", "hokensho-nokose-1107", "shakaihosho-gakko-52")
    }
    assert times == {
        "sugamo-4nohi": "12:00",
        "hokensho-nokose-1107": "13:00",
        "shakaihosho-gakko-52": "13:00",
    }


def test_the_4nohi_action_at_sugamo_runs_through_2027_in_toshima(calendar: Calendar) -> None:
    sugamo = calendar.event("sugamo-4nohi")
    assert sugamo is not None
    assert sugamo.regions == frozenset({"toshima"})
    assert sugamo.rrule == "FREQ=MONTHLY;BYMONTHDAY=4,14,24"
    newsletter = expand(sugamo, at(2024, 10, 1), at(2024, 12, 1))
    assert [o.key for o in newsletter] == [
        "2024-10-14",
        "2024-10-24",
        "2024-11-04",
        "2024-11-14",
        "2024-11-24",
    ]
    assert [o.key for o in expand(sugamo, at(2027, 12, 1), at(2028, 12, 1))][-1] == "2027-12-24"


def test_a_rain_cancellation_and_a_rain_warning(calendar: Calendar) -> None:
    sugamo = calendar.event("sugamo-4nohi")
    assert sugamo is not None
    (cancelled,) = expand(sugamo, at(2026, 11, 24), at(2026, 11, 25))
    assert cancelled.cancelled
    assert cancelled.note == "雨天のため中止しました。"
    (warned,) = expand(sugamo, at(2026, 12, 24), at(2026, 12, 25))
    assert not warned.cancelled
    assert warned.note is not None
    assert warned.note.startswith("雨天中止")


def test_a_fresh_install_has_events_to_show_in_every_month_to_spring(calendar: Calendar) -> None:
    for month in range(12, 17):
        year, month_of_year = 2026 + (month - 1) // 12, (month - 1) % 12 + 1
        start = at(year, month_of_year, 1)
        end = at(year + month_of_year // 12, month_of_year % 12 + 1, 1)
        found = expand_calendar(calendar, start, end)
        assert len({o.event_slug for o in found}) >= 4, start


def test_upcoming_events_cover_several_wards_and_a_year_end_rally(calendar: Calendar) -> None:
    upcoming = expand_calendar(calendar, at(2026, 11, 30), at(2027, 6, 1))
    slugs = {o.event_slug for o in upcoming}
    regions = set().union(*(calendar.event(slug).regions for slug in slugs))  # type: ignore[union-attr]
    assert {"tokyo", "toshima", "shibuya", "itabashi", "nerima", "nakano", "koto"} <= regions
    assert "nenmatsu-shukai-2026" in slugs


def test_map_links_are_searches_by_name(calendar: Calendar) -> None:
    venues = [event.venue for event in calendar.events if event.venue is not None]
    venues += [
        change.venue for event in calendar.events for change in event.changes if change.venue
    ]
    assert all(v.map_url is None or v.map_url.startswith(MAP_SEARCH) for v in venues)
    assert sum(v.map_url is not None for v in venues) >= 10


def test_the_readmes_examples_are_valid() -> None:
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    top, venue, repeat, reminders = re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL)
    assert "organiser:" in top
    assert "map: " + MAP_SEARCH in venue
    (sugamo,) = events_of(textwrap.dedent(repeat))
    assert (sugamo.slug, sugamo.rrule) == ("sugamo-4nohi", "FREQ=MONTHLY;BYMONTHDAY=4,14,24")
    assert len(sugamo.changes) == 3
    (meeting,) = events_of(textwrap.dedent(reminders))
    assert meeting.reminders == {
        "same_day_before": 1800,
        "day_before_at": "18:00",
        "nudge_before": 0,
        "invite": False,
    }
