"""The weekday written next to a date is checked against the calendar.

The campaign's own newsletter printed 「10月14日(土)」 for a Monday and 「9月18日（木）」 for a
Wednesday (2024); the checker exists to catch exactly that before members see it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.calendar.schedule_file import load_calendar
from bot.calendar.weekdays import mismatch, parse_weekday
from bot.yaml_validation import InvalidDocument
from tests.calendar.helpers import REGIONS, TOKYO, problems_of, schedule_text


@pytest.mark.parametrize(
    ("written", "number"),
    [
        ("月", 0),
        ("月曜", 0),
        ("月曜日", 0),
        ("Mon", 0),
        ("Monday", 0),
        ("monday", 0),
        ("土", 5),
        ("(土)", 5),
        ("（土）", 5),
        (" Sat ", 5),
        ("日曜日", 6),
        ("Sun", 6),
        ("木よう", None),
        ("Thurs", None),
        ("", None),
    ],
)
def test_weekday_names_as_organisers_write_them(written: str, number: int | None) -> None:
    assert parse_weekday(written) == number


def test_the_newsletter_slips_are_caught() -> None:
    assert mismatch(date(2024, 10, 14), "土") == "2024-10-14 is a Monday (月), not 土"
    assert mismatch(date(2024, 9, 18), "（木）") == "2024-09-18 is a Wednesday (水), not 木"


@pytest.mark.parametrize(
    ("day", "written"),
    [
        (date(2024, 9, 11), "水"),  # 板橋 緊急学習会 「９月１１日（水）」
        (date(2024, 10, 19), "土"),  # 第52回東京社会保障学校 「１０月１９日（土）」
        (date(2024, 11, 7), "木"),  # 11.7 大集会 「１１月７日（木）」
        (date(2024, 11, 14), "木"),  # 4の日 「１１月１４日(木)」
        (date(2024, 11, 30), "土"),  # 地域社保協学習交流集会 「１１月３０日（土）」
        (date(2024, 10, 14), "Monday"),
    ],
)
def test_a_right_weekday_passes(day: date, written: str) -> None:
    assert mismatch(day, written) is None


def test_the_message_names_the_file_line_and_key(tmp_path: Path) -> None:
    folder = tmp_path / "schedules"
    folder.mkdir()
    (folder / "toshima.yaml").write_text(
        schedule_text(
            """
            - id: sugamo-4nohi
              title: 「4の日」巣鴨駅宣伝
              kind: street
              date: 2024-10-14
              weekday: 土
              start: "12:00"
            """
        ).replace("events:\n", "events:\n  # ニュースより\n"),
        encoding="utf-8",
    )
    with pytest.raises(InvalidDocument) as caught:
        load_calendar(folder, REGIONS, TOKYO)
    assert [str(problem) for problem in caught.value.problems] == [
        "schedules/toshima.yaml:9: events[0].weekday: 2024-10-14 is a Monday (月), not 土"
    ]


def test_a_wrong_weekday_is_reported_beside_other_mistakes_of_the_same_event() -> None:
    text = schedule_text(
        """
        - id: moushiire
          title: 区長へ緊急申し入れ
          kind: other
          date: 2024-09-18
          weekday: 木
          start: 10時
        """
    )
    assert problems_of(text) == [
        "schedules/test.yaml:8: events[0].weekday: 2024-09-18 is a Wednesday (水), not 木",
        "schedules/test.yaml:9: events[0].start: expected HH:MM on a 24-hour clock, such as "
        '"13:00", got "10時"',
    ]


def test_weekdays_of_excepted_and_changed_dates_are_checked_too() -> None:
    text = schedule_text(
        """
        - id: gakushukai
          title: 第2土曜学習会
          kind: study
          date: 2026-12-12
          weekday: 土
          start: "14:00"
          repeat:
            rule: FREQ=MONTHLY;BYDAY=2SA
            except:
              - {date: 2027-01-09, weekday: 日}
            changes:
              - {date: 2027-03-13, weekday: 金, cancelled: true}
        """
    )
    assert problems_of(text) == [
        "schedules/test.yaml:13: events[0].repeat.except[0].weekday: "
        "2027-01-09 is a Saturday (土), not 日",
        "schedules/test.yaml:15: events[0].repeat.changes[0].weekday: "
        "2027-03-13 is a Saturday (土), not 金",
    ]
