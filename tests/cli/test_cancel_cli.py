"""`campaign-bot cancel EVENT_ID --date D --reason R [--undo]`: a rain call (中止連絡) from the
command line, on both databases, at the fake clock's moment (2026-11-30 10:00 in Tokyo).

The campaign of test_broadcast_cli: the rally of 2026-12-07, answered 参加 by `going` and
`stopped` (who stopped notices, but answered), 未定 by `maybe`; here `far` also waits for a
seat and `silent` answered 不参加.
"""

from __future__ import annotations

import io
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import terminal
from bot.app import build
from bot.commands.broadcasts import say
from bot.commands.calendar import list_events
from bot.config import load_settings
from bot.domain.events import Rsvp, RsvpStatus
from bot.store.database import Database
from bot.store.tables import AuditRow, DeliveryRow, OccurrenceRow
from tests.cli.test_broadcast_cli import (  # noqa: F401 - the fixtures, shared
    JA,
    RALLY,
    SCHEDULE,
    Run,
    config,
    people,
    run,
)
from tests.conftest import TOKYO
from tests.fakes.clock import FakeClock

TOLD = ("going", "maybe", "stopped", "far")
"""参加, 未定 and キャンセル待ち: told, whatever their notices setting; 不参加 is not."""


@pytest.fixture
def answered(config: Path, clock: FakeClock, people: dict[str, int]) -> dict[str, int]:  # noqa: F811
    app = build(load_settings(config, env=dict(os.environ)), clock=clock)
    try:
        now = clock.now()
        with app.database.unit_of_work() as uow:
            for name, status in (("far", RsvpStatus.WAITLIST), ("silent", RsvpStatus.NO)):
                uow.rsvps.save(Rsvp(people["rally"], people[name], status, 0, now, now))
            uow.commit()
    finally:
        app.close()
    return people


def events_list(config: Path, clock: FakeClock) -> str:  # noqa: F811
    """`campaign-bot events list`, as printed."""
    app = build(load_settings(config, env=dict(os.environ)), clock=clock)
    try:
        out = io.StringIO()
        list_events(app, days=30, out=out)
        return out.getvalue()
    finally:
        app.close()


def rally_row(database: Database, people: dict[str, int]) -> OccurrenceRow:  # noqa: F811
    with database.session() as session:
        row = session.get(OccurrenceRow, people["rally"])
        assert row is not None
        return row


def notices(database: Database) -> list[DeliveryRow]:
    with database.session() as session:
        return list(
            session.scalars(
                select(DeliveryRow)
                .where(DeliveryRow.purpose == "event_change")
                .order_by(DeliveryRow.id)
            )
        )


def audits(database: Database) -> list[AuditRow]:
    with database.session() as session:
        return list(session.scalars(select(AuditRow).order_by(AuditRow.id)))


def cancel(run: Run, *args: str) -> int:  # noqa: F811
    return run("cancel", "test-rally", "--date", "2026-12-07", *args)


def test_a_rain_call_tells_who_answered_and_leaves_the_schedule_file_as_written(
    run: Run,  # noqa: F811
    config: Path,  # noqa: F811
    clock: FakeClock,
    answered: dict[str, int],
    database: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    schedule = config.parent / "schedules" / "itabashi.yaml"
    assert schedule.read_text("utf-8") == SCHEDULE
    assert " [中止]" not in events_list(config, clock)

    assert cancel(run, "--reason", "雨天のため") == 0

    assert (
        capsys.readouterr().out
        == say(
            JA,
            "cli.call_off.done",
            event=RALLY,
            reason="雨天のため",
            told=4,
            slug="test-rally",
            date="2026-12-07",
        )
        + "\n"
    )
    row = rally_row(database, answered)
    assert (row.called_off_at, row.called_off_reason, row.called_off_by) == (
        clock.now(),
        "雨天のため",
        "cli",
    )
    told = notices(database)
    assert sorted(n.member_id for n in told) == sorted(answered[name] for name in TOLD)
    assert {(n.occurrence_id, n.state) for n in told} == {(answered["rally"], "queued")}
    (audit,) = audits(database)
    assert (audit.action, audit.actor_label, audit.actor_member_id) == ("rain_call", "cli", None)
    assert audit.detail["event"] == "test-rally"
    assert audit.detail["reason"] == "雨天のため"
    assert audit.detail["told"] == 4

    assert schedule.read_text("utf-8") == SCHEDULE, "the file is the organisers' to edit"
    (line,) = events_list(config, clock).splitlines()
    assert "板橋の集会 [中止] ※ 雨天のため  (itabashi;" in line
    # Reading the schedules again does not undo it: the file never said it was on, only how.
    assert run("reload") == 0
    assert "板橋の集会 [中止] ※ 雨天のため" in events_list(config, clock)
    assert len(notices(database)) == 4, "and tells nobody anything new"
    capsys.readouterr()

    assert cancel(run, "--undo") == 0

    assert capsys.readouterr().out == JA("call_off.undone", event=RALLY, told=4) + "\n"
    row = rally_row(database, answered)
    assert (row.called_off_at, row.called_off_reason, row.called_off_by) == (None, None, None)
    (line,) = events_list(config, clock).splitlines()
    assert "中止" not in line
    again = notices(database)[4:]
    assert sorted(n.member_id for n in again) == sorted(answered[name] for name in TOLD)
    assert {n.reference for n in again}.isdisjoint({n.reference for n in told}), "a new notice"
    assert [a.action for a in audits(database)] == ["rain_call", "rain_call.undone"]
    assert schedule.read_text("utf-8") == SCHEDULE


def test_the_reminders_of_a_date_called_off_are_not_sent(
    run: Run,  # noqa: F811
    config: Path,  # noqa: F811
    clock: FakeClock,
    answered: dict[str, int],
    database: Database,
) -> None:
    clock.set(datetime(2026, 12, 6, 9, 0, tzinfo=TOKYO))  # the day before's reminder is near
    app = build(load_settings(config, env=dict(os.environ)), clock=clock)
    try:
        app.reminders.plan_now()
    finally:
        app.close()
    with database.session() as session:
        planned = list(
            session.scalars(select(DeliveryRow).where(DeliveryRow.purpose == "reminder"))
        )
    assert planned, "the day before's reminder is queued"
    assert {row.state for row in planned} == {"queued"}

    assert cancel(run, "--reason", "荒天のため") == 0

    with database.session() as session:
        after = list(session.scalars(select(DeliveryRow).where(DeliveryRow.purpose == "reminder")))
    assert {(row.state, row.skip_reason) for row in after} == {("skipped", "event called off")}
    assert audits(database)[-1].detail["reminders_skipped"] == len(planned)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("cancel", "no-such-event", "--date", "2026-12-07", "--reason", "雨天のため"),
            JA("cli.rsvps.not_found_on", event="no-such-event", date="2026-12-07"),
        ),
        (
            ("cancel", "test-rally", "--date", "2026-12-08", "--reason", "雨天のため"),
            JA("cli.rsvps.not_found_on", event="test-rally", date="2026-12-08"),
        ),
        (
            ("cancel", "test-rally", "--date", "2026-12-07"),
            "--reason: " + JA("call_off.error_no_reason"),
        ),
        (
            ("cancel", "test-rally", "--date", "2026-12-07", "--reason", " \u3000 "),
            "--reason: " + JA("call_off.error_no_reason"),
        ),
        (
            ("cancel", "test-rally", "--date", "2026-12-07", "--undo"),
            JA("call_off.error_not_called_off"),
        ),
    ],
    ids=["no_event", "no_date", "no_reason", "blank_reason", "undo_not_called_off"],
)
def test_what_cannot_be_called_off_is_refused_and_nothing_changes(
    args: tuple[str, ...],
    expected: str,
    run: Run,  # noqa: F811
    answered: dict[str, int],
    database: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(*args) == 1
    captured = capsys.readouterr()
    assert captured.err == f"campaign-bot: {expected}\n"
    assert captured.out == ""
    assert rally_row(database, answered).called_off_at is None
    assert notices(database) == []
    assert audits(database) == []


def test_a_date_already_called_off_or_started_is_refused(
    run: Run,  # noqa: F811
    clock: FakeClock,
    answered: dict[str, int],
    database: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cancel(run, "--reason", "雨天のため") == 0
    capsys.readouterr()

    assert cancel(run, "--reason", "荒天のため") == 1
    assert capsys.readouterr().err == f"campaign-bot: {JA('call_off.error_already')}\n"
    assert rally_row(database, answered).called_off_reason == "雨天のため"

    clock.set(datetime(2026, 12, 7, 13, 0, tzinfo=TOKYO))  # the start: too late to take back
    assert cancel(run, "--undo") == 1
    assert capsys.readouterr().err == f"campaign-bot: {JA('call_off.error_started')}\n"
    assert rally_row(database, answered).called_off_at is not None
    assert len(notices(database)) == 4
    assert [a.action for a in audits(database)] == ["rain_call"]


def test_a_started_date_cannot_be_called_off(
    run: Run,  # noqa: F811
    clock: FakeClock,
    answered: dict[str, int],
    database: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clock.set(datetime(2026, 12, 7, 13, 0, tzinfo=TOKYO) + timedelta(minutes=5))
    assert cancel(run, "--reason", "雨天のため") == 1
    assert capsys.readouterr().err == f"campaign-bot: {JA('call_off.error_started')}\n"
    assert notices(database) == []
    assert audits(database) == []


def test_a_date_cancelled_in_its_schedule_file_is_already_cancelled(
    run: Run,  # noqa: F811
    config: Path,  # noqa: F811
    answered: dict[str, int],
    database: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    schedule = config.parent / "schedules" / "itabashi.yaml"
    schedule.write_text(SCHEDULE + "    cancelled: true\n", encoding="utf-8")
    told_by_the_file = len(notices(database))

    assert cancel(run, "--reason", "雨天のため") == 1  # the command reads the files first
    assert capsys.readouterr().err == f"campaign-bot: {JA('call_off.error_already')}\n"
    assert cancel(run, "--undo") == 1
    assert capsys.readouterr().err == f"campaign-bot: {JA('call_off.error_not_called_off')}\n"
    assert rally_row(database, answered).called_off_at is None
    assert audits(database) == []
    assert len(notices(database)) >= told_by_the_file


def test_a_hostile_reason_cannot_act_on_the_terminal(
    run: Run,  # noqa: F811
    config: Path,  # noqa: F811
    clock: FakeClock,
    answered: dict[str, int],
    database: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    reason = "雨天\x1b[2J\x1b]0;pwned\x07のため\u202e"
    assert cancel(run, "--reason", reason) == 0
    out = capsys.readouterr().out
    listed = events_list(config, clock)
    for shown in (out, listed):
        assert not any(character in shown for character in ("\x1b", "\x07", "\u202e"))
        assert terminal.field(reason) in shown
    assert rally_row(database, answered).called_off_reason == reason, "members get it as written"
