"""The database: engine, sessions, migrations. Built once, by the composition root.

What goes wrong when the bot starts (a URL that names no database the bot can use, a SQLite
file that cannot be created, a PostgreSQL server that does not answer) is raised as
`DatabaseProblem`, one line saying what to fix, with any password masked.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import DBAPIError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.config import database_url_problem
from bot.store.dialect import (
    check_foreign_keys,
    configure_engine,
    foreign_keys_off,
    lock_for_migrations,
)
from bot.store.unit_of_work import SqlUnitOfWork

CONNECT_TIMEOUT = 10
"""Seconds to wait for PostgreSQL to answer before saying it does not."""
MIGRATION_LOCK_WAIT = 120.0
"""Seconds a process waits for another one's migrations on SQLite before giving up."""


class DatabaseProblem(Exception):
    """The database cannot be used as configured; the message says what to fix, password masked."""


class Database:
    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        statement_timeout: timedelta | None = None,
        idle_in_transaction_timeout: timedelta | None = None,
        connect_timeout: int = CONNECT_TIMEOUT,
    ) -> None:
        problem = database_url_problem(url)
        if problem:
            raise DatabaseProblem(problem)
        parsed = make_url(url)
        self.url = parsed
        connect_args: dict[str, object] = {}
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database or ""
            if database and not database.startswith(":memory:"):
                _make_sqlite_folder(Path(database))
            # Updates are handled on worker threads; SQLAlchemy's pool serialises the use.
            connect_args["check_same_thread"] = False
        else:
            connect_args["connect_timeout"] = connect_timeout
        try:
            # hide_parameters: a failed statement's error (logged with its traceback) and
            # echo's log would otherwise carry the values: members' names and words.
            self.engine: Engine = create_engine(
                parsed, echo=echo, connect_args=connect_args, hide_parameters=True
            )
        except (NoSuchModuleError, ImportError) as exc:
            raise DatabaseProblem(
                f"the driver for {shown(parsed)} is not installed; "
                "install it with: pip install '.[postgres]'"
            ) from exc
        configure_engine(
            self.engine,
            statement_timeout=statement_timeout,
            idle_in_transaction_timeout=idle_in_transaction_timeout,
        )
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._enqueued_listeners: list[Callable[[], None]] = []
        self._answered_listeners: list[Callable[[], None]] = []

    def unit_of_work(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.sessions, self._enqueued, self._answered)

    def when_enqueued(self, listener: Callable[[], None]) -> None:
        """Call `listener` after a transaction that queued deliveries commits."""
        self._enqueued_listeners.append(listener)

    def when_answered(self, listener: Callable[[], None]) -> None:
        """Call `listener` after a transaction that saved a member's answer commits."""
        self._answered_listeners.append(listener)

    def _answered(self) -> None:
        for listener in self._answered_listeners:
            listener()

    def _enqueued(self) -> None:
        for listener in self._enqueued_listeners:
            listener()

    def session(self) -> Session:
        return self.sessions()

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to the newest migration (or to `revision`, for tests of the
        migrations themselves); the only way tables are created.

        Under a database lock, so processes starting together on a fresh database migrate
        one after the other: the second finds the schema done and has nothing to do.
        """
        with self.explained():
            deadline = time.monotonic() + MIGRATION_LOCK_WAIT
            while True:
                try:
                    self._upgrade_locked(revision)
                    return
                except OperationalError as exc:
                    # SQLite's busy timeout ran out while another process was migrating.
                    if not _is_locked(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)

    def _upgrade_locked(self, revision: str) -> None:
        with (
            self.engine.connect() as connection,
            foreign_keys_off(connection),
            connection.begin(),
        ):
            lock_for_migrations(connection)
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            check_foreign_keys(connection)

    def current_revision(self) -> str | None:
        with self.explained(), self.engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def ping(self) -> None:
        """Connect and run `SELECT 1`; on SQLite also take the write lock, to prove it writable."""
        with self.explained(), self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                connection.exec_driver_sql("ROLLBACK")

    @contextmanager
    def explained(self) -> Iterator[None]:
        """Turn a failure to reach or open the database into a one-line `DatabaseProblem`."""
        try:
            yield
        except DBAPIError as exc:
            raise DatabaseProblem(explain(self.url, exc)) from exc
        except OSError as exc:
            raise DatabaseProblem(f"cannot open {shown(self.url)}: {_reason(exc)}") from exc

    def dispose(self) -> None:
        self.engine.dispose()


def shown(url: URL) -> str:
    """The URL as it may be printed: the password replaced by ***."""
    return url.render_as_string(hide_password=True)


def _reason(exc: OSError) -> str:
    return (exc.strerror or type(exc).__name__).lower()


def _make_sqlite_folder(database: Path) -> None:
    folder = database.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise DatabaseProblem(
            f"cannot create the folder {folder} for the SQLite database: a file has that name; "
            "choose another path"
        ) from exc
    except OSError as exc:
        raise DatabaseProblem(
            f"cannot create the folder {folder} for the SQLite database: {_reason(exc)}; "
            "choose a path the bot may write to"
        ) from exc


def _is_locked(exc: OperationalError) -> bool:
    return "database is locked" in str(exc.orig)


def explain(url: URL, exc: SQLAlchemyError) -> str:
    """What a driver's error means for the person starting the bot, in one line."""
    original = getattr(exc, "orig", None) or exc
    said = " ".join(str(original).split())
    if url.password:
        said = said.replace(url.password, "***")
    if url.get_backend_name() == "sqlite":
        return _explain_sqlite(url, said)
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    lower = said.lower()
    if "connection refused" in lower:
        advice = (
            f"nothing answers at {where} (connection refused); "
            "start PostgreSQL there or correct the host and port"
        )
    elif "does not exist" in lower and "database" in lower:
        advice = (
            f'the database "{url.database}" does not exist on {where}; '
            f"create it (createdb {url.database}) or correct the name"
        )
    elif "password authentication failed" in lower or "no password supplied" in lower:
        advice = (
            f'PostgreSQL at {where} refused the user "{url.username}" or its password; '
            "correct them in the URL"
        )
    elif "role" in lower and "does not exist" in lower:
        advice = (
            f'the user "{url.username}" does not exist on {where}; create it or correct the user'
        )
    elif "translate host name" in lower or "name or service not known" in lower:
        advice = f'the host "{url.host}" is unknown; correct the host name'
    elif "timeout" in lower or "timed out" in lower:
        advice = (
            f"no answer from {where} in time; "
            "check that PostgreSQL runs there and that the network lets us through"
        )
    else:
        advice = said
    return f"cannot use {shown(url)}: {advice}"


def _explain_sqlite(url: URL, said: str) -> str:
    path = Path(url.database or "")
    if "unable to open database file" in said:
        if path.is_dir():
            why = "it is a folder; name a file inside it, such as data/campaign-bot.sqlite3"
        elif not os.access(path.parent, os.W_OK | os.X_OK):
            why = f"the folder {path.parent} is not writable; choose a path the bot may write to"
        else:
            why = "SQLite cannot open it; check the path and its permissions"
    elif "readonly" in said or "read-only" in said:
        why = "it is read-only; let the bot write to the file and its folder"
    elif "not a database" in said:
        why = "it is not an SQLite database file; name a new file or the bot's own"
    elif "database is locked" in said:
        why = "another program holds it locked; try again when it has finished"
    else:
        why = said
    mode = ""
    if path.exists() and not stat.S_ISREG(path.stat().st_mode) and not path.is_dir():
        mode = " (not a regular file)"
    return f"cannot use the SQLite database {path}{mode}: {why}"


def alembic_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option(
        "script_location", str(resources.files("bot.store").joinpath("migrations"))
    )
    return config
