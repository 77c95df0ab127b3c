"""RSVP flows end to end on the console channel: waiting list, deadline, cancellation."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import App, build, run_console
from bot.channels.console import ConsoleChannel
from bot.config import Secrets, Settings
from bot.domain.messages import MemberRef, Outgoing
from bot.store.tables import RsvpRow
from tests.events.conftest import at
from tests.fakes.clock import FakeClock
from tests.outbox_text import rendered

SCHEDULE = """\
organiser: テスト社保協
regions: [tokyo]
events:
  - id: small-study
    title: 少人数学習会
    kind: study
    date: 2026-12-08
    start: "18:00"
    end: "20:00"
    venue: 区民会館
    capacity: 2
    rsvp_deadline: 1d
"""

REGISTER = ["/start", "1", "1", "17"]  # consent, 都全体, 決定


@pytest.fixture
def app(settings: Settings, database_url: str, clock: FakeClock, tmp_path: Path) -> Iterator[App]:
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "small.yaml").write_text(SCHEDULE, encoding="utf-8")
    local = Settings(
        config=settings.config.model_copy(update={"schedules_dir": str(tmp_path / "schedules")}),
        path=settings.path,
        secrets=Secrets(database_url=database_url),
    )
    built = build(local, clock=clock)
    assert built.schedules.reload() is not None
    yield built
    built.close()


def console(app: App, member: str, *lines: str) -> str:
    """A console session of one member, input piped, transcript returned."""
    out = io.StringIO()
    ConsoleChannel(
        app.conversation.reply_to,
        MemberRef("console", member, display_name=member),
        app.catalogues["ja"],
        io.StringIO("\n".join(lines) + "\n"),
        out,
    ).run()
    return out.getvalue()


def statuses(app: App) -> list[tuple[str, str]]:
    with app.database.session() as session:
        rows = session.execute(
            select(RsvpRow.member_id, RsvpRow.status).order_by(RsvpRow.member_id)
        ).all()
    return [(str(member), status) for member, status in rows]


def test_waiting_list_and_promotion(app: App) -> None:
    # The event [1] in the list; 参加する [1] on its card: the card again, then ひとりで行く [4]
    # and 1人 [5] (one seat left for a guest).
    console(app, "ayako", *REGISTER, "予定", "1", "1", "5")  # 1人 -> 2 of 2 seats
    waiting = console(app, "bunta", *REGISTER, "予定", "1", "1")
    assert "キャンセル待ちで受け付けました" in waiting
    assert "［返事: キャンセル待ち］" in console(app, "bunta", "予定")
    assert "満席です" in console(app, "bunta", "予定", "1")

    changed = console(app, "ayako", "予定", "1", "1", "4")  # 参加する again, ひとりで行く
    assert "12月8日(火)の「少人数学習会」に参加で受け付けました。" in changed
    assert [s for _, s in statuses(app)] == ["going", "going"]
    ((notice, message),) = rendered(
        app.database, app.conversation.screens, app.clock, "waitlist_promoted"
    )
    assert notice.purpose == "waitlist_promoted"
    assert isinstance(message, Outgoing)
    assert "空きが出ました" in message.text
    assert "あなたの返事: 参加" in console(app, "bunta", "予定", "1")


def test_guests_first_then_the_calendar_file_only_when_asked(app: App) -> None:
    answered = console(app, "ayako", *REGISTER, "予定", "1", "1")
    question = answered.split("> 1")[-1]
    assert "あなたの返事: 参加" in question, "the card, redrawn"
    assert "ご一緒に来る方は何人ですか？\n席の残りが少ないため、1人までです。" in question
    assert "  [4] ひとりで行く\n  [5] 1人\n\n" in question, "only what still fits"
    assert "添付ファイル" not in answered

    confirmed = console(app, "ayako", "予定", "1", "1", "4", "1")  # ひとりで行く, カレンダーに追加
    confirmation = confirmed.split("> 4")[-1].split("> 1")[0]
    assert "12月8日(火)の「少人数学習会」に参加で受け付けました。\n  [1] カレンダーに追加" in (
        confirmation
    )
    assert "添付ファイル" not in confirmation
    assert "（添付ファイル: small-study-" in confirmed.split("> 4")[-1].split("> 1")[1]
    assert [s for _, s in statuses(app)] == ["going"]


def test_no_guest_question_when_no_seat_is_left_for_one(app: App) -> None:
    console(app, "ayako", *REGISTER, "予定", "1", "1", "4")  # 参加する, ひとりで行く: 1 of 2 seats
    last_seat = console(app, "bunta", *REGISTER, "予定", "1", "1").split("> 予定")[-1]
    assert "何人ですか" not in last_seat
    assert "席の残りがないため、同行の方はお受けできません。" in last_seat
    assert "  [4] カレンダーに追加" in last_seat
    assert [s for _, s in statuses(app)] == ["going", "going"]


def test_deadline_passed(app: App, clock: FakeClock) -> None:
    before = console(app, "ayako", *REGISTER, "予定", "1")
    assert "返事の受付: 12月7日(月) 18:00まで" in before
    assert "  [1] 参加する" in before
    clock.set(at("2026-12-07", "18:30"))
    after = console(app, "ayako", "予定", "1", "1")
    assert "  [1] 参加する" not in after.split("> 予定")[1]
    assert statuses(app) == []


def test_cancelled_event(app: App) -> None:
    console(app, "ayako", *REGISTER, "予定", "1", "1", "4")  # 参加する, ひとりで行く
    path = app.settings.schedules_dir / "small.yaml"
    path.write_text(SCHEDULE + "    cancelled: true\n    note: 会場の都合で中止します。\n", "utf-8")
    report = app.schedules.check()
    assert report is not None
    assert report.occurrences_cancelled == 1

    shown = console(app, "ayako", "予定", "1")
    assert "・12月8日(火) 18:00 【中止】少人数学習会（区民会館） ［返事: 参加］" in shown
    assert "【中止】【学習会】少人数学習会" in shown
    assert "※ 会場の都合で中止します。" in shown
    assert "参加する" not in shown.split("> 予定")[1]
    ((notice, message),) = rendered(
        app.database, app.conversation.screens, app.clock, "event_change"
    )
    assert notice.purpose == "event_change"
    assert isinstance(message, Outgoing)
    assert "中止になりました" in message.text


def test_a_reminder_is_shown_between_turns_on_the_console(app: App, clock: FakeClock) -> None:
    def session(*lines: str) -> str:
        out = io.StringIO()
        run_console(app, stdin=io.StringIO("\n".join(lines) + "\n"), stdout=out)
        return out.getvalue()

    session(*REGISTER, "予定", "1", "1", "4")  # the event, 参加する, ひとりで行く
    clock.set(at("2026-12-06", "12:00"))
    app.reminders.plan_now()  # as the running bot's job does every few minutes
    assert "明日は" not in session("メニュー"), "not before its time"

    clock.set(at("2026-12-07", "10:00"))
    shown = session("メニュー")

    assert "明日は「少人数学習会」です" in shown
    assert "区民会館" in shown
    assert "明日は「少人数学習会」です" not in session("メニュー"), "shown once"
