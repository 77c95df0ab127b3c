"""Shared fixtures: databases (SQLite always, PostgreSQL when configured), clock, config."""

from __future__ import annotations

import compileall
import os
import shutil
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine

from bot.config import Settings, load_settings
from bot.faq.knowledge import load_knowledge
from bot.faq.matcher import FaqEngine
from bot.store.database import Database
from bot.store.dialect import delete_all_rows
from bot.store.tables import Base
from tests.fakes.clock import FakeClock
from tests.private_schema import private_schema

# python-telegram-bot 22 warns when it builds a RetryAfter unless this opts in to timedelta
# durations; with warnings as errors the warning would replace the exception under test.
os.environ.setdefault("PTB_TIMEDELTA", "1")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "config.example.yaml"
PG_URL_ENV = "CAMPAIGN_BOT_TEST_DATABASE_URL"
TOKYO = ZoneInfo("Asia/Tokyo")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile the bot's modules once, before any test starts `campaign-bot` as a process.

    Where PYTHONDONTWRITEBYTECODE is set (as on the CI machine), no process writes bytecode,
    and each of the hundreds of processes the tests start would compile the package again
    (half a second each). Python still reads bytecode it finds; compiling writes it anyway.
    """
    if not hasattr(session.config, "workerinput"):  # once, in the controlling process
        compileall.compile_dir(ROOT / "bot", quiet=1)


BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(
            not os.environ.get(PG_URL_ENV), reason=f"set {PG_URL_ENV} to run on PostgreSQL"
        ),
    ),
]


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating every time would be slow)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    database = Database(f"sqlite:///{path}")
    database.upgrade()
    database.dispose()
    return path


@pytest.fixture(scope="session")
def _postgres_url() -> Iterator[str]:
    """A private schema in the test database, migrated once, dropped at the end."""
    with private_schema(os.environ[PG_URL_ENV]) as url:
        database = Database(url)
        database.upgrade()
        database.dispose()
        yield url


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, _sqlite_template: Path
) -> Iterator[str]:
    """A migrated, empty database: SQLite always, PostgreSQL when the env variable is set."""
    if request.param == "sqlite":
        path = tmp_path / "bot.sqlite3"
        shutil.copyfile(_sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("_postgres_url")
    engine = create_engine(url)
    with engine.begin() as connection:
        delete_all_rows(connection, list(Base.metadata.sorted_tables))
    engine.dispose()
    yield url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    yield db
    db.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 30, 10, 0, tzinfo=TOKYO))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The example configuration, as shipped."""
    return load_settings(EXAMPLE_CONFIG, env={})


@pytest.fixture(scope="session")
def shipped_engine() -> FaqEngine:
    """The FAQ engine on the knowledge base as shipped in knowledge/ (built once)."""
    today = date(2026, 11, 30)
    return FaqEngine(load_knowledge(ROOT / "knowledge", today), today=lambda: today)
