"""Hole 1: a schedules (or knowledge) folder that vanished or emptied while the bot runs.

It used to read as "no events": within ten seconds every event was removed and nobody was
told. Now the stored calendar stays as it was and the organisers hear of it once per incident,
on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import App, build, run_console
from bot.config import Secrets, Settings
from bot.domain.deliveries import ORGANISER_ALERT, Lane
from bot.domain.messages import Outgoing
from bot.store.tables import DeliveryRow, EventRow, MemberRow
from tests.conftest import ROOT
from tests.events.test_schedule_edits import SCHEDULE
from tests.fakes.clock import FakeClock
from tests.outbox_text import rendered


@pytest.fixture
def app(settings: Settings, database_url: str, clock: FakeClock, tmp_path: Path) -> Iterator[App]:
    schedules = tmp_path / "schedules"
    schedules.mkdir()
    (schedules / "test.yaml").write_text(SCHEDULE, encoding="utf-8")
    shutil.copytree(ROOT / "knowledge", tmp_path / "knowledge")
    local = Settings(
        config=settings.config.model_copy(
            update={"schedules_dir": str(schedules), "knowledge_dir": str(tmp_path / "knowledge")}
        ),
        path=settings.path,
        secrets=Secrets(database_url=database_url),
    )
    built = build(local, clock=clock)
    assert built.schedules.reload() is not None
    assert built.knowledge.reload() is not None
    # An organiser and a member, both registered on the console.
    for organiser in (True, False):
        out = io.StringIO()
        stdin = io.StringIO("/start\n1\n1\n17\n")
        run_console(built, as_organiser=organiser, stdin=stdin, stdout=out)
    yield built
    built.close()


def live_events(app: App) -> list[str]:
    with app.database.session() as session:
        return sorted(session.scalars(select(EventRow.slug).where(EventRow.removed_at.is_(None))))


def alerts(app: App) -> list[DeliveryRow]:
    with app.database.session() as session:
        statement = select(DeliveryRow).where(DeliveryRow.purpose == ORGANISER_ALERT)
        return list(session.scalars(statement.order_by(DeliveryRow.id)))


@pytest.mark.parametrize("how", ["moved away", "emptied", "replaced by a file"])
def test_a_vanished_schedules_folder_keeps_the_calendar_and_tells_organisers_once(
    app: App, clock: FakeClock, how: str
) -> None:
    folder = app.settings.schedules_dir
    before = live_events(app)
    assert before == ["itabashi-study", "rally-1207"]
    if how == "moved away":
        folder.rename(folder.with_name("schedules.away"))
    elif how == "emptied":
        (folder / "test.yaml").unlink()
    else:
        folder.rename(folder.with_name("schedules.away"))
        folder.write_text("", encoding="utf-8")

    for _ in range(3):  # what the scheduler runs every ten seconds
        assert app.schedules.check() is None
        clock.advance(timedelta(seconds=10))
    assert app.schedules.reload() is None, "an explicit reload refuses too"

    assert live_events(app) == before, "no event may be removed because the folder is gone"
    assert app.schedules.problems
    (alert,) = alerts(app)
    assert alert.lane == Lane.TRANSACTIONAL
    (members,) = {row.member_id for row in alerts(app)}
    with app.database.session() as session:
        organiser = session.get(MemberRow, members)
        assert organiser is not None
        assert organiser.role == "organiser"
    ((_, message),) = rendered(app.database, app.conversation.screens, app.clock, ORGANISER_ALERT)
    assert isinstance(message, Outgoing)
    assert "schedules/ を読み込めませんでした" in message.text
    assert "schedules_dir" in message.text, "the message says what to fix"


def test_each_incident_is_told_once_even_when_the_folder_breaks_again(
    app: App, clock: FakeClock
) -> None:
    folder = app.settings.schedules_dir
    away = folder.with_name("schedules.away")
    folder.rename(away)
    assert app.schedules.check() is None
    clock.advance(timedelta(minutes=1))
    away.rename(folder)
    assert app.schedules.check() is not None, "back: the calendar reloads"
    assert app.schedules.incident is None
    clock.advance(timedelta(minutes=1))
    folder.rename(away)
    assert app.schedules.check() is None
    assert app.schedules.check() is None
    assert len(alerts(app)) == 2, "two incidents, each told once"
    assert len({row.reference for row in alerts(app)}) == 2


def test_a_vanished_knowledge_folder_keeps_the_answers_and_tells_organisers(app: App) -> None:
    engine = app.library.current()
    shutil.rmtree(app.settings.knowledge_dir)
    assert app.knowledge.check() is None
    assert app.library.current() is engine, "members are still answered from the last index"
    (alert,) = alerts(app)
    assert "knowledge" in alert.reference


def test_an_empty_folder_at_start_up_removes_nothing(
    app: App, settings: Settings, database_url: str, clock: FakeClock
) -> None:
    """A second process started on the emptied folder must not wipe the calendar either."""
    (app.settings.schedules_dir / "test.yaml").unlink()
    again = build(app.settings, clock=clock)
    try:
        assert again.schedules.reload() is None
    finally:
        again.close()
    assert live_events(app) == ["itabashi-study", "rally-1207"]
