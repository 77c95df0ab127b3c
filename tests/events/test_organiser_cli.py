"""`campaign-bot events list` and `rsvps` read the answers through the chat's own service."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from bot.commands.calendar import print_rsvps, spreadsheet_cell, write_rsvps_csv
from bot.services.attendance import Attendance
from bot.store.database import Database
from bot.texts import Catalogues
from tests.dialogs.chat import Chat
from tests.events.conftest import TOKYO
from tests.fakes.clock import FakeClock

JA = Catalogues.load()["ja"]
EN = Catalogues.load()["en"]
FORGED = '=HYPERLINK("https://example.com/","山田")'


def test_the_command_line_counts_what_the_chat_counts(
    member: Callable[..., Chat], database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    alice = member("alice", "板橋区", name=FORGED)
    alice.open_event("12.7大集会")
    alice.press("参加する")
    alice.press("2人")
    bob = member("bob", "板橋区", name="佐藤")
    bob.open_event("12.7大集会")
    bob.press("未定")
    organiser = member("console-organiser", "都全体")
    organiser.say("参加状況")
    assert "保険証を残せ 12.7大集会: 参加3人・未定1人" in organiser.text

    attendance = Attendance(database.unit_of_work, clock, TOKYO)
    listed = {item.occurrence.slug: item.counts for item in attendance.upcoming(days=10)}
    assert (listed["rally-1207"].people, listed["rally-1207"].maybe) == (3, 1)
    assert "itabashi-study-1210" not in listed  # eleven days ahead

    answers = attendance.of_event("rally-1207")
    assert answers is not None
    out = io.StringIO()
    print_rsvps(JA, TOKYO, answers, out)
    printed = out.getvalue()
    assert "保険証を残せ 12.7大集会  12月7日(月) 13:00〜15:00" in printed
    assert "参加 1人 (同行 2人、合計 3人) / 未定 1人 / 不参加 0人 / キャンセル待ち 0人" in printed
    assert "  未定       佐藤\n" in printed

    english = io.StringIO()
    print_rsvps(EN, TOKYO, answers, english)
    assert "going 1 (guests 2, total 3) / maybe 1" in english.getvalue()

    path = tmp_path / "answers.csv"
    write_rsvps_csv(path, JA, TOKYO, answers)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "Excel in Japan needs the BOM"
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["予定", "日時", "名前", "返事", "同行人数", "チャンネル", "返事の日時"]
    by_name = {row[2]: row for row in rows[1:]}
    # A member's name must not run as a formula in the organiser's spreadsheet.
    assert by_name["'" + FORGED][3:6] == ["参加", "2", "console"]
    assert by_name["佐藤"][3] == "未定"


def test_an_occurrence_is_found_by_its_date(
    calendar_sync: object, database: Database, clock: FakeClock
) -> None:
    attendance = Attendance(database.unit_of_work, clock, TOKYO)
    on_the_14th = attendance.of_event("sugamo-4nohi", date(2026, 12, 14))
    assert on_the_14th is not None
    assert on_the_14th.occurrence.starts_at.date() == date(2026, 12, 14)
    assert on_the_14th.attendees == ()
    assert attendance.of_event("sugamo-4nohi", date(2026, 12, 15)) is None
    assert attendance.of_event("no-such-event") is None


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_that_looks_like_a_formula_stays_text(start: str) -> None:
    assert spreadsheet_cell(f"{start}1+1") == f"'{start}1+1"


def test_ordinary_cells_are_left_alone() -> None:
    assert spreadsheet_cell("山田 花子") == "山田 花子"
    assert spreadsheet_cell("a=b") == "a=b"
    assert spreadsheet_cell(2) == 2


def test_the_chat_marks_who_cannot_be_reached(
    member: Callable[..., Chat], database: Database, clock: FakeClock
) -> None:
    alice = member("alice", "板橋区", name="山田")
    alice.open_event("12.7大集会")
    alice.press("未定")
    with database.unit_of_work() as uow:
        found = uow.members.get("console", "alice")
        assert found is not None
        found.mark_unreachable(clock.now(), "blocked")
        uow.members.save(found)
        uow.commit()
    organiser = member("console-organiser", "都全体")
    organiser.say("参加状況")
    organiser.press(next(label for label in organiser.labels() if "12.7大集会" in label))
    organiser.press("名前を見る")
    assert "・山田（未定） ※届きません" in organiser.text
    assert "（1人）" in organiser.text
