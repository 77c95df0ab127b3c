"""Members' turns across processes: each platform event handled once (in the turn's own
transaction), one turn of a member at a time, and timed jobs that take turns too."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import text

from bot.config import Settings
from bot.domain.messages import Incoming, MemberRef
from bot.services.conversation import Conversation
from bot.store.database import Database
from bot.store.locks import JobLocks
from bot.store.unit_of_work import SqlUnitOfWork
from bot.texts import Catalogues
from tests.fakes.clock import FakeClock

HANAKO = MemberRef("telegram", "1001", display_name="花子")
TARO = MemberRef("telegram", "1002", display_name="太郎")


def on_postgresql(database: Database) -> None:
    if database.url.get_backend_name() != "postgresql":
        pytest.skip("SQLite is one process with one writer: nothing to take turns with")


@pytest.fixture
def conversation(database: Database, settings: Settings, clock: FakeClock) -> Conversation:
    return Conversation(database.unit_of_work, settings.campaign(), Catalogues.load(), clock)


def event(said: str, event_id: str, ref: MemberRef = HANAKO) -> Incoming:
    return replace(Incoming.from_text(ref, said), event_id=event_id)


def recorded(database: Database) -> list[tuple[str, str]]:
    with database.engine.connect() as connection:
        rows = connection.execute(text("SELECT channel, event_id FROM webhook_events")).all()
    return sorted((row[0], row[1]) for row in rows)


def test_an_event_delivered_again_is_answered_once(
    conversation: Conversation, database: Database
) -> None:
    first = conversation.reply_to(event("/start", "7"))
    again = conversation.reply_to(event("/start", "7"))
    other = conversation.reply_to(event("/start", "8"))

    assert first
    assert "東京社保協" in first[0].text
    assert again == [], "nothing said, nothing changed"
    assert other, "another event of the same member is a new turn"
    assert recorded(database) == [("telegram", "7"), ("telegram", "8")]


def test_the_same_id_on_another_channel_is_another_event(
    conversation: Conversation, database: Database
) -> None:
    line_member = MemberRef("line", "U1234", display_name="花子")
    assert conversation.reply_to(event("/start", "7"))
    assert conversation.reply_to(event("/start", "7", line_member))
    assert recorded(database) == [("line", "7"), ("telegram", "7")]


def test_without_an_event_id_nothing_is_recorded(
    conversation: Conversation, database: Database
) -> None:
    assert conversation.reply_to(Incoming.from_text(HANAKO, "/start"))
    assert conversation.reply_to(Incoming.from_text(HANAKO, "/start"))
    assert recorded(database) == []


class FailingOnce:
    """Units of work of `database` whose first commit fails (the database went away)."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self.failed = False

    def __call__(self) -> SqlUnitOfWork:
        uow = self._database.unit_of_work()
        commit = uow.commit

        def failing_commit() -> None:
            if not self.failed:
                self.failed = True
                raise ConnectionError("the database went away")
            commit()

        uow.commit = failing_commit  # type: ignore[method-assign]  # a fake of one failure
        return uow


def test_an_event_whose_turn_failed_is_not_recorded_and_is_answered_when_sent_again(
    database: Database, settings: Settings, clock: FakeClock
) -> None:
    """The record is part of the turn's transaction: a turn that failed leaves none, so the
    platform's redelivery gets a real answer instead of silence."""
    units = FailingOnce(database)
    conversation = Conversation(units, settings.campaign(), Catalogues.load(), clock)

    (apology,) = conversation.reply_to(event("/start", "41"))
    assert "申し訳ありません" in apology.text
    assert recorded(database) == []

    answer = conversation.reply_to(event("/start", "41"))
    assert answer
    assert "東京社保協" in answer[0].text
    assert recorded(database) == [("telegram", "41")]
    assert conversation.reply_to(event("/start", "41")) == []


def test_handled_events_are_forgotten_after_a_while(
    conversation: Conversation, database: Database, clock: FakeClock
) -> None:
    conversation.reply_to(event("/start", "1"))
    clock.advance(timedelta(days=2))
    conversation.reply_to(event("/start", "2"))
    with database.unit_of_work() as uow:
        forgotten = uow.turns.forget_events(clock.now() - timedelta(days=1))
        uow.commit()
    assert forgotten == 1
    assert recorded(database) == [("telegram", "2")]


def waiting_for_advisory_lock(database: Database) -> bool:
    """Whether some connection waits for an advisory lock (pg_locks: granted false)."""
    with database.engine.connect() as connection:
        return bool(
            connection.execute(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            ).scalar_one()
        )


def eventually(condition: Callable[[], bool], what: str) -> None:
    """Wait for `condition`, re-checking on an event rather than a fixed sleep."""
    pause = threading.Event()
    for _ in range(500):
        if condition():
            return
        pause.wait(0.02)
    raise AssertionError(f"never: {what}")


@pytest.fixture
def second_database(database_url: str) -> Iterator[Database]:
    """The same database through a pool of its own: another process, as far as locks go."""
    other = Database(database_url, statement_timeout=timedelta(seconds=20))
    yield other
    other.dispose()


def test_two_turns_of_one_member_take_turns(database: Database, second_database: Database) -> None:
    on_postgresql(database)
    finished: list[str] = []

    def other_process() -> None:
        with second_database.unit_of_work() as uow:
            uow.turns.lock_member(HANAKO.channel, HANAKO.external_id)
            finished.append("second")

    with database.unit_of_work() as uow:
        uow.turns.lock_member(HANAKO.channel, HANAKO.external_id)
        waiter = threading.Thread(target=other_process)
        waiter.start()
        eventually(lambda: waiting_for_advisory_lock(database), "the second turn waits")
        with second_database.unit_of_work() as other:
            other.turns.lock_member(TARO.channel, TARO.external_id)  # another member: no wait
        assert finished == [], "still waiting while the first turn is in hand"
        finished.append("first")
        uow.commit()
    waiter.join()
    assert finished == ["first", "second"]


def test_a_job_runs_in_one_process_at_a_time(database: Database, second_database: Database) -> None:
    on_postgresql(database)
    here, there = JobLocks(database.engine), JobLocks(second_database.engine)
    with here.exclusive("reminders.plan") as mine:
        assert mine
        with there.exclusive("reminders.plan") as theirs:
            assert not theirs, "held by the other process: this run is skipped"
        with there.exclusive("broadcasts.watch") as other_job:
            assert other_job, "another job is another lock"
    with there.exclusive("reminders.plan") as theirs:
        assert theirs, "released when the first run ended"


def test_a_job_lock_outlives_its_connection_idle_timeout(database_url: str) -> None:
    """The lock is taken outside a transaction: PostgreSQL's idle-in-transaction timeout,
    which ends a connection left inside one, does not end it (and the lock) mid-job."""
    first = Database(database_url, idle_in_transaction_timeout=timedelta(milliseconds=100))
    other = Database(database_url)
    try:
        on_postgresql(first)
        with JobLocks(first.engine).exclusive("reminders.plan") as mine:
            assert mine
            with first.engine.connect() as connection:
                # Long past the timeout, judged by the server's own clock.
                connection.execute(text("SELECT pg_sleep(0.3)"))
            with JobLocks(other.engine).exclusive("reminders.plan") as theirs:
                assert not theirs
    finally:
        first.dispose()
        other.dispose()


def test_on_sqlite_every_job_runs(database: Database) -> None:
    if database.url.get_backend_name() != "sqlite":
        pytest.skip("the SQLite case")
    locks = JobLocks(database.engine)
    with locks.exclusive("reminders.plan") as mine, locks.exclusive("reminders.plan") as again:
        assert mine
        assert again, "one process: APScheduler runs each job once at a time"
