"""Expanding events into dated occurrences within a window [start, end)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.calendar.recurrence import expand, expand_calendar
from bot.domain.calendar import Calendar, EventKind, EventSpec, OccurrenceSpec, Venue
from tests.calendar.helpers import TOKYO, at, event_of

SUGAMO = """
- id: sugamo-4nohi
  title: 「4の日」巣鴨駅宣伝
  kind: street
  date: 2024-10-14
  start: "12:00"
  end: "13:00"
  venue: 巣鴨駅
  regions: [toshima]
  rsvp_deadline: 12h
  repeat:
    rule: FREQ=MONTHLY;BYMONTHDAY=4,14,24
    until: 2027-12-24
    except: [2027-01-04]
    changes:
      - {date: 2026-11-24, cancelled: true, note: 雨天のため中止しました。}
      - {date: 2026-12-24, note: 雨天中止}
      - {date: 2027-02-24, start: "12:30", venue: 巣鴨地蔵通り商店街 入口}
      - {date: 2027-03-04, start: "11:00", end: "11:45"}
      - {date: 2027-03-14, end: "13:30"}
"""


def keys(occurrences: list[OccurrenceSpec]) -> list[str]:
    return [occurrence.key for occurrence in occurrences]


def test_the_4nohi_action_falls_on_the_4th_14th_and_24th_at_noon() -> None:
    found = expand(event_of(SUGAMO), at(2026, 12, 1), at(2027, 1, 1))
    assert keys(found) == ["2026-12-04", "2026-12-14", "2026-12-24"]
    first = found[0]
    assert (first.event_slug, first.starts_at, first.ends_at) == (
        "sugamo-4nohi",
        at(2026, 12, 4, 12, 0),
        at(2026, 12, 4, 13, 0),
    )
    assert first.venue == Venue("巣鴨駅")
    assert (first.cancelled, first.note) == (False, None)


def test_an_excepted_date_has_no_occurrence() -> None:
    found = expand(event_of(SUGAMO), at(2027, 1, 1), at(2027, 2, 1))
    assert keys(found) == ["2027-01-14", "2027-01-24"]


def test_a_cancelled_occurrence_stays_with_its_reason() -> None:
    (rainy,) = expand(event_of(SUGAMO), at(2026, 11, 24), at(2026, 11, 25))
    assert (rainy.key, rainy.cancelled, rainy.note) == (
        "2026-11-24",
        True,
        "雨天のため中止しました。",
    )


def test_a_note_alone_changes_nothing_else() -> None:
    (maybe_rain,) = expand(event_of(SUGAMO), at(2026, 12, 24), at(2026, 12, 25))
    assert (maybe_rain.starts_at, maybe_rain.cancelled, maybe_rain.note) == (
        at(2026, 12, 24, 12, 0),
        False,
        "雨天中止",
    )


def test_a_new_start_without_an_end_keeps_the_length_and_takes_the_new_venue() -> None:
    (moved,) = expand(event_of(SUGAMO), at(2027, 2, 24), at(2027, 2, 25))
    assert (moved.key, moved.starts_at, moved.ends_at, moved.venue) == (
        "2027-02-24",
        at(2027, 2, 24, 12, 30),
        at(2027, 2, 24, 13, 30),
        Venue("巣鴨地蔵通り商店街 入口"),
    )


def test_a_new_start_and_end() -> None:
    (moved,) = expand(event_of(SUGAMO), at(2027, 3, 4), at(2027, 3, 5))
    assert (moved.starts_at, moved.ends_at) == (at(2027, 3, 4, 11, 0), at(2027, 3, 4, 11, 45))


def test_a_new_end_alone() -> None:
    (longer,) = expand(event_of(SUGAMO), at(2027, 3, 14), at(2027, 3, 15))
    assert (longer.starts_at, longer.ends_at) == (at(2027, 3, 14, 12, 0), at(2027, 3, 14, 13, 30))


def test_membership_of_a_window_is_decided_by_the_original_start() -> None:
    sugamo = event_of(SUGAMO)
    # The 2027-03-04 occurrence moved from 12:00 to 11:00: a window starting at 11:30 still
    # holds it, and one ending at 11:30 does not, so no window loses or doubles it.
    assert keys(expand(sugamo, at(2027, 3, 4, 11, 30), at(2027, 3, 5))) == ["2027-03-04"]
    assert keys(expand(sugamo, at(2027, 3, 4), at(2027, 3, 4, 11, 30))) == []


def test_the_window_is_half_open() -> None:
    sugamo = event_of(SUGAMO)
    assert keys(expand(sugamo, at(2026, 12, 4, 12, 0), at(2026, 12, 14, 12, 0))) == ["2026-12-04"]


def test_until_is_the_last_occurrence() -> None:
    found = expand(event_of(SUGAMO), at(2027, 12, 1), at(2028, 12, 1))
    assert keys(found) == ["2027-12-04", "2027-12-14", "2027-12-24"]


def test_count_in_the_rule() -> None:
    online = event_of(
        """
        - id: online-gakushu
          title: オンライン学習会
          kind: online
          date: 2027-01-06
          start: "19:30"
          repeat: {rule: FREQ=MONTHLY;BYDAY=1WE;COUNT=6}
        """
    )
    found = expand(online, at(2026, 1, 1), at(2030, 1, 1))
    assert keys(found) == [
        "2027-01-06",
        "2027-02-03",
        "2027-03-03",
        "2027-04-07",
        "2027-05-05",
        "2027-06-02",
    ]


def test_the_second_saturday_of_each_month() -> None:
    itabashi = event_of(
        """
        - id: itabashi-gakushukai
          title: 第2土曜学習会
          kind: study
          date: 2026-12-12
          start: "14:00"
          end: "16:00"
          repeat: {rule: FREQ=MONTHLY;BYDAY=2SA, until: 2027-06-12}
        """
    )
    found = expand(itabashi, at(2026, 1, 1), at(2028, 1, 1))
    assert keys(found) == [
        "2026-12-12",
        "2027-01-09",
        "2027-02-13",
        "2027-03-13",
        "2027-04-10",
        "2027-05-08",
        "2027-06-12",
    ]
    assert all(o.starts_at.weekday() == 5 and o.starts_at.hour == 14 for o in found)


def test_deadlines_are_a_length_before_each_occurrence_after_any_change() -> None:
    sugamo = event_of(SUGAMO)
    (plain,) = expand(sugamo, at(2026, 12, 4), at(2026, 12, 5))
    assert plain.rsvp_deadline == at(2026, 12, 4, 0, 0)
    (moved,) = expand(sugamo, at(2027, 2, 24), at(2027, 2, 25))
    assert moved.rsvp_deadline == at(2027, 2, 24, 0, 30)


def test_a_fixed_deadline_or_none() -> None:
    rally = event_of(
        """
        - id: rally
          title: 11.7 大集会
          kind: rally
          date: 2024-11-07
          start: "13:00"
          rsvp_deadline: "2024-11-06 18:00"
        """
    )
    window = (at(2024, 11, 1), at(2024, 12, 1))
    assert expand(rally, *window)[0].rsvp_deadline == at(2024, 11, 6, 18, 0)
    open_until_start = replace(rally, rsvp_deadline=None)
    assert expand(open_until_start, *window)[0].rsvp_deadline is None
    no_answers = replace(rally, rsvp=False)
    assert expand(no_answers, *window)[0].rsvp_deadline is None


def test_a_one_off_event_has_one_occurrence_keyed_once() -> None:
    rally = event_of(
        """
        - id: rally
          title: 大集会
          kind: rally
          date: 2024-11-07
          start: "13:00"
          venue: 日比谷野外音楽堂
        """
    )
    (only,) = expand(rally, at(2024, 11, 7, 13, 0), at(2024, 11, 7, 13, 1))
    assert only == OccurrenceSpec(
        event_slug="rally",
        key="once",
        starts_at=at(2024, 11, 7, 13, 0),
        ends_at=None,
        venue=Venue("日比谷野外音楽堂"),
    )
    assert expand(rally, at(2024, 11, 1), at(2024, 11, 7, 13, 0)) == []


def test_multi_day_occurrences_end_on_a_later_day() -> None:
    camp = event_of(
        """
        - id: gasshuku
          title: 合宿
          kind: study
          date: 2027-02-13
          start: "13:00"
          end_date: 2027-02-14
          end: "12:00"
          repeat: {rule: FREQ=YEARLY, until: 2028-02-13}
        """
    )
    found = expand(camp, at(2027, 1, 1), at(2029, 1, 1))
    assert [(o.starts_at, o.ends_at) for o in found] == [
        (at(2027, 2, 13, 13, 0), at(2027, 2, 14, 12, 0)),
        (at(2028, 2, 13, 13, 0), at(2028, 2, 14, 12, 0)),
    ]


def test_a_window_in_another_zone_is_the_same_moments() -> None:
    sugamo = event_of(SUGAMO)
    # 2026-12-04 03:00 UTC is 12:00 in Tokyo: the start of the 4th's occurrence.
    window = (datetime(2026, 12, 4, 3, 0, tzinfo=UTC), datetime(2026, 12, 14, 3, 0, tzinfo=UTC))
    found = expand(sugamo, *window)
    assert keys(found) == ["2026-12-04"]
    assert found[0].starts_at.tzinfo == TOKYO


def test_a_naive_window_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        expand(event_of(SUGAMO), datetime(2026, 12, 1), at(2027, 1, 1))  # noqa: DTZ001


NEW_YORK = ZoneInfo("America/New_York")


def weekly_in_new_york(hour: int, minute: int = 0) -> EventSpec:
    return EventSpec(
        slug="weekly",
        source="test.yaml",
        title="x",
        kind=EventKind.MEETING,
        starts_at=datetime(2027, 3, 7, hour, minute, tzinfo=NEW_YORK),
        ends_at=datetime(2027, 3, 7, hour + 1, minute, tzinfo=NEW_YORK),
        rrule="FREQ=WEEKLY",
        rsvp_deadline_before=timedelta(days=1),
    )


def test_the_time_of_day_holds_across_a_daylight_saving_change() -> None:
    # Clocks in New York go forward on 2027-03-14: noon stays noon, so the gap in UTC shrinks.
    found = expand(
        weekly_in_new_york(12),
        datetime(2027, 3, 1, tzinfo=NEW_YORK),
        datetime(2027, 3, 22, tzinfo=NEW_YORK),
    )
    assert [o.starts_at.hour for o in found] == [12, 12, 12]
    assert [o.starts_at.utcoffset() for o in found] == [
        timedelta(hours=-5),
        timedelta(hours=-4),
        timedelta(hours=-4),
    ]
    # "1 day before" is the same clock time the day before, across the change too.
    assert found[1].rsvp_deadline == datetime(2027, 3, 13, 12, 0, tzinfo=NEW_YORK)


def test_a_time_that_a_clock_change_skips_moves_forward() -> None:
    found = expand(
        weekly_in_new_york(2, 30),
        datetime(2027, 3, 14, tzinfo=NEW_YORK),
        datetime(2027, 3, 15, tzinfo=NEW_YORK),
    )
    assert [(o.starts_at.hour, o.starts_at.minute) for o in found] == [(3, 30)]


def test_the_calendar_is_expanded_in_order_of_start() -> None:
    sugamo = event_of(SUGAMO)
    rally = replace(
        sugamo, slug="rally", rrule=None, until=None, changes=(), starts_at=at(2026, 12, 5, 13, 0)
    )
    same_time = replace(rally, slug="another-rally")
    calendar = Calendar(events=(rally, sugamo, same_time))
    found = expand_calendar(calendar, at(2026, 12, 1), at(2026, 12, 15))
    assert [(o.event_slug, o.key) for o in found] == [
        ("sugamo-4nohi", "2026-12-04"),
        ("another-rally", "once"),
        ("rally", "once"),
        ("sugamo-4nohi", "2026-12-14"),
    ]
