"""A schedule file becomes EventSpecs: every key lands where the model expects it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.calendar.schedule_file import parse_schedule
from bot.domain.calendar import EventKind, EventSpec, OccurrenceChange, Venue
from tests.calendar.helpers import (
    REGIONS,
    TOKYO,
    at,
    event_of,
    events_of,
    problems_of,
    schedule_text,
)

SUGAMO = """
- id: sugamo-4nohi
  title: 「4の日」巣鴨駅宣伝
  kind: street
  date: 2024-10-14
  weekday: 月
  start: 12:00
  end: "13:00"
  venue:
    name: 巣鴨駅
    address: 東京都豊島区巣鴨一丁目
    map: https://www.google.com/maps/search/?api=1&query=%E5%B7%A3%E9%B4%A8%E9%A7%85
    lat: 35.7334
    lon: 139.7393
  regions: [toshima]
  bring: のぼり旗
  rsvp_deadline: 12h
  repeat:
    rule: FREQ=MONTHLY;BYMONTHDAY=4,14,24
    until: 2027-12-24
    except:
      - 2025-01-04
      - {date: 2026-01-04, weekday: 日}
    changes:
      - date: 2026-11-24
        weekday: 火
        cancelled: true
        note: 雨天のため中止しました。
      - date: 2027-02-24
        start: "12:30"
        venue: 巣鴨地蔵通り商店街 入口
"""


def test_a_recurring_event_maps_to_its_spec() -> None:
    assert event_of(SUGAMO) == EventSpec(
        slug="sugamo-4nohi",
        source="test.yaml",
        title="「4の日」巣鴨駅宣伝",
        kind=EventKind.STREET,
        starts_at=at(2024, 10, 14, 12, 0),
        ends_at=at(2024, 10, 14, 13, 0),
        regions=frozenset({"toshima"}),
        venue=Venue(
            "巣鴨駅",
            "東京都豊島区巣鴨一丁目",
            "https://www.google.com/maps/search/?api=1&query=%E5%B7%A3%E9%B4%A8%E9%A7%85",
            35.7334,
            139.7393,
        ),
        bring="のぼり旗",
        rsvp_deadline_before=timedelta(hours=12),
        organiser="東京社保協",
        rrule="FREQ=MONTHLY;BYMONTHDAY=4,14,24",
        until=at(2027, 12, 24, 12, 0),
        exdates=frozenset({date(2025, 1, 4), date(2026, 1, 4)}),
        changes=(
            OccurrenceChange(
                on=date(2026, 11, 24), cancelled=True, note="雨天のため中止しました。"
            ),
            OccurrenceChange(
                on=date(2027, 2, 24),
                starts_at=at(2027, 2, 24, 12, 30),
                venue=Venue("巣鴨地蔵通り商店街 入口"),
            ),
        ),
    )


def test_a_one_off_event_with_every_key() -> None:
    spec = event_of(
        """
        - id: koryu-gasshuku-2027
          title: 地域社保協 学習交流合宿
          kind: study
          date: 2027-02-13
          start: "13:00"
          end_date: 2027-02-14
          end: "12:00"
          venue: 国立オリンピック記念青少年総合センター
          online: https://example.org/live
          regions: [tokyo, itabashi]
          description: |
            1日目夜は交流会です。
          bring: 筆記用具
          capacity: 60
          rsvp_deadline: "2027-02-01 18:00"
          contact: 合宿担当
        """
    )
    assert spec == EventSpec(
        slug="koryu-gasshuku-2027",
        source="test.yaml",
        title="地域社保協 学習交流合宿",
        kind=EventKind.STUDY,
        starts_at=at(2027, 2, 13, 13, 0),
        ends_at=at(2027, 2, 14, 12, 0),
        regions=frozenset({"tokyo", "itabashi"}),
        description="1日目夜は交流会です。",
        venue=Venue("国立オリンピック記念青少年総合センター"),
        online_url="https://example.org/live",
        bring="筆記用具",
        capacity=60,
        rsvp_deadline=at(2027, 2, 1, 18, 0),
        contact="合宿担当",
        organiser="東京社保協",
    )
    assert not spec.recurring


def test_the_file_gives_organiser_contact_and_regions_to_events_without_their_own() -> None:
    text = """\
organiser: 板橋社保協
contact: 板橋社保協 事務局
regions: [itabashi]
events:
  - {id: a, title: 学習会, kind: study, date: 2026-12-12, start: "14:00"}
  - {id: b, title: 宣伝, kind: street, date: 2026-12-13, start: "11:00", contact: 船木,
     regions: [tokyo]}
"""
    schedule = parse_schedule(text, file="schedules/itabashi.yaml", regions=REGIONS, zone=TOKYO)
    assert schedule.organiser == "板橋社保協"
    first, second = schedule.events
    assert (first.source, first.organiser, first.contact, first.regions) == (
        "itabashi.yaml",
        "板橋社保協",
        "板橋社保協 事務局",
        frozenset({"itabashi"}),
    )
    assert (second.contact, second.regions) == ("船木", frozenset({"tokyo"}))


def test_quoted_and_unquoted_times_mean_the_same() -> None:
    quoted, unquoted = events_of(
        """
        - {id: a, title: x, kind: rally, date: 2024-11-07, start: "13:00", end: "14:30"}
        - {id: b, title: x, kind: rally, date: 2024-11-07, start: 13:00, end: 14:30}
        """
    )
    assert (quoted.starts_at, quoted.ends_at) == (unquoted.starts_at, unquoted.ends_at)
    assert unquoted.ends_at == at(2024, 11, 7, 14, 30)


def test_until_written_in_the_rule_includes_that_day() -> None:
    spec = event_of(
        """
        - id: ekimae
          title: 駅前宣伝
          kind: street
          date: 2026-12-09
          start: "17:00"
          repeat: {rule: FREQ=WEEKLY;BYDAY=WE;UNTIL=20270331}
        """
    )
    assert spec.rrule == "FREQ=WEEKLY;BYDAY=WE"
    assert spec.until == at(2027, 3, 31, 17, 0)


@pytest.mark.parametrize(
    ("written", "before"),
    [("1d", timedelta(days=1)), ("2時間", timedelta(hours=2)), ("1日前", timedelta(days=1))],
)
def test_a_deadline_as_a_length_before_the_start(written: str, before: timedelta) -> None:
    spec = event_of(
        f"""
        - id: a
          title: x
          kind: rally
          date: 2024-11-07
          start: "13:00"
          rsvp_deadline: {written}
        """
    )
    assert (spec.rsvp_deadline, spec.rsvp_deadline_before) == (None, before)


def test_a_file_just_started_has_no_events() -> None:
    assert events_of("") == ()
    text = "organiser: 練馬社保協\nevents:\n"
    assert parse_schedule(text, file="nerima.yaml", regions=REGIONS, zone=TOKYO).events == ()


def test_the_local_time_zone_is_the_one_given() -> None:
    spec = event_of(
        """
        - {id: a, title: x, kind: rally, date: 2024-11-07, start: "13:00"}
        """
    )
    assert spec.starts_at.utcoffset() == timedelta(hours=9)


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        (
            "- just a list",
            ["schedules/test.yaml:1: expected a mapping of keys and values, got a list"],
        ),
        (
            "organiser: 東京社保協\nevents: {id: a}\n",
            ["schedules/test.yaml:2: events: expected a list, got a mapping"],
        ),
        (
            "organiser: ''\nevents: []\n",
            ['schedules/test.yaml:1: organiser: must not be empty, got ""'],
        ),
        (
            "organiser: 東京社保協\nregions: [tokyo]\nevents:\n  - id: a\n    id: b\n",
            [
                "schedules/test.yaml:5: events[0].id: duplicate key (first written on line 4); "
                "keep only one"
            ],
        ),
    ],
)
def test_the_shape_of_the_file(text: str, problems: list[str]) -> None:
    assert problems_of(text) == problems


def test_a_comma_inside_braces_is_named() -> None:
    text = schedule_text(
        """
        - id: sugamo-4nohi
          title: x
          kind: street
          date: 2024-10-14
          start: "12:00"
          repeat: {rule: FREQ=MONTHLY;BYMONTHDAY=4,14,24}
        """
    )
    assert problems_of(text) == [
        'schedules/test.yaml:9: events[0].repeat: inside { } a comma separates entries, so "14" '
        "became a key of its own; put the value that has commas in quotes, such as "
        'rule: "FREQ=MONTHLY;BYMONTHDAY=4,14,24"'
    ]


def test_a_quoted_rule_inside_braces_is_fine() -> None:
    spec = event_of(
        """
        - id: sugamo-4nohi
          title: x
          kind: street
          date: 2024-10-14
          start: "12:00"
          repeat: {rule: "FREQ=MONTHLY;BYMONTHDAY=4,14,24", until: 2024-12-24}
        """
    )
    assert spec.rrule == "FREQ=MONTHLY;BYMONTHDAY=4,14,24"


def test_an_event_may_change_its_reminders_or_have_none() -> None:
    own, none, default = events_of(
        """
        - id: a
          title: x
          kind: street
          date: 2024-11-07
          start: "13:00"
          reminders:
            same_day_before: 30分
            day_before_at: "18:00"
            nudge_before: 0m
            digest: false
        - {id: b, title: y, kind: rally, date: 2024-11-08, start: "13:00", reminders: false}
        - {id: c, title: z, kind: rally, date: 2024-11-09, start: "13:00"}
        """
    )
    assert own.reminders == {
        "same_day_before": 1800,
        "day_before_at": "18:00",
        "nudge_before": 0,
        "digest": False,
    }
    assert none.reminders == {"enabled": False}
    assert default.reminders is None


def test_a_misspelt_reminder_rule_is_named_with_the_allowed_ones() -> None:
    text = schedule_text(
        """
        - id: a
          title: x
          kind: rally
          date: 2024-11-07
          start: "13:00"
          reminders:
            same_day: 1h
        """
    )
    (problem,) = problems_of(text)
    assert "events[0].reminders.same_day: unknown key (misspelt?); allowed keys: enabled" in problem
