"""The calendar from real schedule files: console end to end, and edits while the bot runs."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import App, build, run_console
from bot.config import Secrets, Settings
from bot.domain.messages import Outgoing
from bot.jobs import FOLDER_CHECK_SECONDS, JOB_DEFAULTS
from bot.store.tables import RsvpRow
from tests.fakes.clock import FakeClock
from tests.outbox_text import rendered

SCHEDULE = """\
organiser: テスト社保協
contact: 事務局 03-0000-0000
events:
  - id: rally-1207
    title: 保険証を残せ 12.7大集会
    kind: rally
    date: 2026-12-07
    weekday: 月
    start: "13:00"
    end: "15:00"
    venue:
      name: 日比谷野外音楽堂
      address: 東京都千代田区日比谷公園1-5
    regions: [tokyo]
    capacity: 100
  - id: itabashi-study
    title: マイナ保険証 学習会
    kind: study
    date: 2026-12-10
    start: "18:30"
    end: "20:30"
    venue: 板橋区立グリーンホール
    regions: [itabashi]
"""


@pytest.fixture
def app(settings: Settings, database_url: str, clock: FakeClock, tmp_path: Path) -> Iterator[App]:
    schedules = tmp_path / "schedules"
    schedules.mkdir()
    (schedules / "test.yaml").write_text(SCHEDULE, encoding="utf-8")
    local = Settings(
        config=settings.config.model_copy(update={"schedules_dir": str(schedules)}),
        path=settings.path,
        secrets=Secrets(database_url=database_url),
    )
    built = build(local, clock=clock)
    assert built.schedules.reload() is not None
    yield built
    built.close()


def console(app: App, *lines: str, organiser: bool = False) -> str:
    out = io.StringIO()
    run_console(app, as_organiser=organiser, stdin=io.StringIO("\n".join(lines) + "\n"), stdout=out)
    return out.getvalue()


def test_answering_on_the_console(app: App) -> None:
    transcript = console(
        app,
        "/start",
        "1",  # はい、受け取ります
        "3",  # 板橋区
        "17",  # 決定
        "予定",
        "1",  # the rally, the first in the list: its card
        "1",  # 参加する: its card again [1-3], then ひとりで行く [4], 1人 [5], 2人 [6]
        "6",  # 2人
        "1",  # カレンダーに追加
        "予定",
        "2",  # the study meeting
        "2",  # 未定
    )
    assert "・12月7日(月) 13:00 保険証を残せ 12.7大集会（日比谷野外音楽堂）\n" in transcript
    assert "  [1] 12月7日 保険証を残せ 12.7大集会\n  [2] 12月10日 マイナ保険証 学習会\n" in (
        transcript
    )
    assert "【集会】保険証を残せ 12.7大集会\n12月7日(月) 13:00〜15:00" in transcript
    assert "  [1] 参加する\n  [2] 未定\n  [3] 行けない" in transcript
    assert "参加で受け付けました" in transcript
    assert "（添付ファイル: rally-1207-once.ics）" in transcript
    assert "同行の方2人と参加で受け付けました。" in transcript
    assert "12.7大集会（日比谷野外音楽堂） ［返事: 参加（同行2人）］" in transcript
    assert "「マイナ保険証 学習会」を未定で受け付けました。" in transcript
    with app.database.session() as session:
        assert sorted((r.status, r.guests) for r in session.scalars(select(RsvpRow))) == [
            ("going", 2),
            ("maybe", 0),
        ]


def test_an_edited_file_updates_members_keeps_answers_and_tells_each_once(
    app: App, clock: FakeClock
) -> None:
    console(app, "/start", "1", "3", "17", "予定", "1", "1")
    path = app.settings.schedules_dir / "test.yaml"
    path.write_text(SCHEDULE.replace('start: "13:00"', 'start: "14:00"'), encoding="utf-8")

    report = app.schedules.check()  # what the scheduler runs every few seconds
    assert report is not None
    assert report.occurrences_changed == 1
    assert app.schedules.check() is None, "nothing changed since: nothing to do"

    transcript = console(app, "予定", "1")
    assert "12月7日(月) 14:00〜15:00" in transcript
    assert "あなたの返事: 参加" in transcript
    with app.database.session() as session:
        assert session.scalar(select(func.count()).select_from(RsvpRow)) == 1
    ((notice, message),) = rendered(
        app.database, app.conversation.screens, app.clock, "event_change"
    )
    assert notice.purpose == "event_change"
    assert isinstance(message, Outgoing)
    assert "13:00〜15:00 → 12月7日(月) 14:00〜15:00" in message.text


def test_a_broken_edit_keeps_the_calendar_and_says_why(app: App) -> None:
    path = app.settings.schedules_dir / "test.yaml"
    path.write_text(SCHEDULE.replace("weekday: 月", "weekday: 土"), encoding="utf-8")

    assert app.schedules.check() is None
    assert any("weekday" in str(p) for p in app.schedules.problems)
    transcript = console(app, "/start", "1", "1", "17", "予定")
    assert "保険証を残せ 12.7大集会" in transcript, "members still see the last good calendar"


def test_the_scheduler_watches_the_schedules(app: App) -> None:
    app.start_jobs()
    job = app.scheduler.get_job("schedules.check")
    assert job is not None
    assert job.trigger.interval.total_seconds() == FOLDER_CHECK_SECONDS
    assert job.misfire_grace_time == JOB_DEFAULTS["misfire_grace_time"]
    # Under the database's lock of the job, so two bot processes do not sync at once.
    assert job.func == app.check_schedules
