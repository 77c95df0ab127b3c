"""The database: engine, sessions, migrations. Built once, by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from bot.store.dialect import configure_engine
from bot.store.unit_of_work import SqlUnitOfWork


class Database:
    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        statement_timeout: timedelta | None = None,
        idle_in_transaction_timeout: timedelta | None = None,
    ) -> None:
        parsed = make_url(url)
        connect_args: dict[str, object] = {}
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database or ""
            if database and not database.startswith(":memory:"):
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            # Updates are handled on worker threads; SQLAlchemy's pool serialises the use.
            connect_args["check_same_thread"] = False
        self.url = parsed
        self.engine: Engine = create_engine(parsed, echo=echo, connect_args=connect_args)
        configure_engine(
            self.engine,
            statement_timeout=statement_timeout,
            idle_in_transaction_timeout=idle_in_transaction_timeout,
        )
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._enqueued_listeners: list[Callable[[], None]] = []

    def unit_of_work(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.sessions, self._enqueued)

    def when_enqueued(self, listener: Callable[[], None]) -> None:
        """Call `listener` after a transaction that queued deliveries commits."""
        self._enqueued_listeners.append(listener)

    def _enqueued(self) -> None:
        for listener in self._enqueued_listeners:
            listener()

    def session(self) -> Session:
        return self.sessions()

    def upgrade(self) -> None:
        """Bring the schema to the newest migration; the only way tables are created."""
        with self.engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def current_revision(self) -> str | None:
        with self.engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option(
        "script_location", str(resources.files("bot.store").joinpath("migrations"))
    )
    return config
