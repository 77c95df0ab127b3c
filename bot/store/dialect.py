"""Everything that differs between SQLite and PostgreSQL, in one place."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    DateTime,
    Dialect,
    Integer,
    Table,
    any_,
    bindparam,
    event,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.selectable import GenerativeSelect
from sqlalchemy.types import TypeDecorator

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
Id = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(postgresql.JSONB(), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always returns them aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware one")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def insert_or_nothing(
    dialect_name: str, target: type[DeclarativeBase] | Table, conflict: list[str]
) -> Insert:
    """INSERT that silently does nothing for a row whose `conflict` columns match a stored
    one; give it values, a SELECT, or many rows at execution."""
    if dialect_name == "postgresql":
        return postgresql.insert(target).on_conflict_do_nothing(index_elements=conflict)
    if dialect_name == "sqlite":
        return sqlite.insert(target).on_conflict_do_nothing(index_elements=conflict)
    raise NotImplementedError(f"unsupported database {dialect_name}")


def among(column: Column[Any], values: list[int], dialect_name: str) -> ColumnElement[bool]:
    """`column IN values`, for thousands of values: PostgreSQL takes them as one array
    parameter (`= ANY(:values)`) rather than one parameter each; SQLite binds each, so the
    caller keeps a list under its 32,766 bound values."""
    if dialect_name == "postgresql":
        return column == any_(bindparam(None, values, type_=postgresql.ARRAY(BigInteger)))
    return column.in_(values)


def insert_ignoring_conflicts(
    dialect_name: str, entity: type[DeclarativeBase], values: Mapping[str, Any], conflict: list[str]
) -> Insert:
    """INSERT of one row that silently does nothing when one with the same `conflict` columns
    exists."""
    return insert_or_nothing(dialect_name, entity, conflict).values(**values)


def configure_engine(
    engine: Engine,
    *,
    statement_timeout: timedelta | None = None,
    idle_in_transaction_timeout: timedelta | None = None,
) -> None:
    """Per-connection settings the application relies on.

    PostgreSQL: the timeouts stop a runaway statement, and end the transaction of a process
    that stopped inside it (hung, paused, half-killed), so the rows it locked (a claim's
    `FOR UPDATE`) are free again within that time instead of until the connection dies.
    """
    if engine.dialect.name == "postgresql":
        settings = {
            "statement_timeout": statement_timeout,
            "idle_in_transaction_session_timeout": idle_in_transaction_timeout,
        }
        wanted = {k: int(v.total_seconds() * 1000) for k, v in settings.items() if v}
        if wanted:

            @event.listens_for(engine, "connect")
            def _postgres_timeouts(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                for name, milliseconds in wanted.items():
                    cursor.execute(f"SET {name} = {milliseconds}")
                cursor.close()
                dbapi_connection.commit()

        return
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        if not str(engine.url.database or ":memory:").startswith(":memory:"):
            # WAL lets readers work beside the writer; with it, NORMAL sync is crash-safe and
            # spares an fsync per transaction (a power cut may lose the last moments only).
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


MIGRATION_LOCK_KEY = 0x63625F6D6967  # "cb_mig": the one advisory lock key for migrations


def lock_for_migrations(connection: Connection) -> None:
    """Hold the database's migration lock until `connection`'s transaction ends.

    PostgreSQL: a transaction-level advisory lock on a fixed key (released at commit, or when
    a crashed process's session ends); the wait and the migrations are not cut short by the
    statement timeout. SQLite: `BEGIN IMMEDIATE` takes the one write lock, so the schema is
    read and changed by one process at a time.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SET LOCAL statement_timeout = 0"))
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        raise NotImplementedError(f"unsupported database {connection.dialect.name}")


@contextmanager
def foreign_keys_off(connection: Connection) -> Iterator[None]:
    """SQLite: no foreign-key actions while migrations run, on this connection.

    Alembic's batch mode changes a SQLite table by copying it and dropping the old one; with
    foreign keys on, that DROP deletes (ON DELETE CASCADE) or empties (SET NULL) every row
    that refers to it: altering `occurrences` would delete every answer. The pragma only
    takes effect outside a transaction, so it is set before the migration's begins, and the
    keys are checked (`check_foreign_keys`) before that transaction commits.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    connection.commit()
    try:
        yield
    finally:
        connection.rollback()
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()


def check_foreign_keys(connection: Connection) -> None:
    """SQLite: refuse to commit a migration that left a row pointing at nothing."""
    if connection.dialect.name != "sqlite":
        return
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"a migration broke {len(broken)} foreign key(s), e.g. {broken[0]}")


def delete_all_rows(connection: Connection, tables: list[Table]) -> None:
    """Empty every table (tests); PostgreSQL also restarts its id sequences."""
    if connection.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in reversed(tables):
            connection.execute(table.delete())


Lockable = TypeVar("Lockable", bound=GenerativeSelect)


def lock_rows(session: Session, table: Table, condition: Any, *, touch: Column[Any]) -> None:
    """Hold the rows of `table` matching `condition` against other writers until commit.

    PostgreSQL: `SELECT ... FOR UPDATE`, a row lock. SQLite ignores `FOR UPDATE`: there an
    UPDATE that writes `touch` back unchanged takes the database's write lock at once (what
    `BEGIN IMMEDIATE` would have done), so what is read afterwards in this transaction cannot
    change before it commits. Either way, two answers to one occurrence take turns.
    """
    dialect_name = session.get_bind().dialect.name
    if dialect_name == "postgresql":
        session.execute(select(touch).where(condition).with_for_update())
    elif dialect_name == "sqlite":
        session.execute(table.update().where(condition).values({touch.name: touch}))
    else:
        raise NotImplementedError(f"unsupported database {dialect_name}")


def for_update_skip_locked(statement: Lockable, dialect_name: str, *, of: Any) -> Lockable:
    """Lock the selected rows of `of`, passing over rows another transaction has locked.

    PostgreSQL: `FOR UPDATE OF ... SKIP LOCKED`, so several dispatchers share the outbox
    without waiting for each other. SQLite has one writer and no row locks: unchanged.
    """
    if dialect_name == "postgresql":
        return statement.with_for_update(skip_locked=True, of=of)
    if dialect_name == "sqlite":
        return statement
    raise NotImplementedError(f"unsupported database {dialect_name}")


# Advisory lock keys are pairs of 32-bit integers (PostgreSQL's two-key form, a key space apart
# from the one-key form of MIGRATION_LOCK_KEY): a fixed space per kind of lock, and the server's
# hash of the schema and what is locked. Advisory locks belong to the whole database: with the
# schema in the key, bots (or test runs) in different schemas of one database never meet. Two
# members whose hashes collide only take turns with each other.
MEMBER_TURN_SPACE = 0x63620001
JOB_SPACE = 0x63620002
_KEY = "hashtext(current_schema() || ':' || :name)"


def lock_member_turn(session: Session, channel: str, external_id: str) -> None:
    """Wait until no other transaction is handling this member's turn; held until commit.

    PostgreSQL: a transaction-level advisory lock, taken by every process that handles the
    member's events, released at commit or rollback (or when a crashed process's connection
    ends). SQLite: nothing to take. It is the embedded, one-process database; in that
    process each channel hands the core one event of a member after another, and SQLite
    itself admits one writer at a time.
    """
    dialect_name = session.get_bind().dialect.name
    if dialect_name == "postgresql":
        session.execute(
            text(f"SELECT pg_advisory_xact_lock(:space, {_KEY})"),
            {"space": MEMBER_TURN_SPACE, "name": f"{channel}:{external_id}"},
        )
    elif dialect_name != "sqlite":
        raise NotImplementedError(f"unsupported database {dialect_name}")


def try_job_lock(connection: Connection, name: str) -> bool:
    """Take the lock of the job `name` on `connection` if no other process holds it.

    PostgreSQL: a session-level advisory lock, so it outlives the connection's transactions;
    `release_job_lock` (or the connection's end, should the process die) gives it back. The
    transaction is committed at once: a connection idle inside a transaction while the job
    runs would be ended by `idle_in_transaction_session_timeout`, and the lock with it.
    SQLite: always taken; it is one process (see `lock_member_turn`).
    """
    if connection.dialect.name == "sqlite":
        return True
    if connection.dialect.name != "postgresql":
        raise NotImplementedError(f"unsupported database {connection.dialect.name}")
    taken = connection.execute(
        text(f"SELECT pg_try_advisory_lock(:space, {_KEY})"), {"space": JOB_SPACE, "name": name}
    ).scalar_one()
    connection.commit()
    return bool(taken)


def release_job_lock(connection: Connection, name: str) -> None:
    """Give back what `try_job_lock` took on `connection`."""
    if connection.dialect.name != "postgresql":
        return
    connection.execute(
        text(f"SELECT pg_advisory_unlock(:space, {_KEY})"), {"space": JOB_SPACE, "name": name}
    )
    connection.commit()
