"""PostgreSQL ends a transaction left idle by a stopped process, freeing the rows it locked."""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from bot.store.database import Database
from bot.store.tables import MemberRow
from tests.conftest import PG_URL_ENV

pytestmark = pytest.mark.skipif(
    not os.environ.get(PG_URL_ENV), reason=f"set {PG_URL_ENV} to run on PostgreSQL"
)


@pytest.fixture
def postgres_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's timeouts")
    return database_url


def test_connections_carry_the_configured_timeouts(postgres_url: str) -> None:
    database = Database(
        postgres_url,
        statement_timeout=timedelta(seconds=30),
        idle_in_transaction_timeout=timedelta(seconds=15),
    )
    try:
        with database.engine.connect() as connection:
            assert connection.scalar(text("SHOW statement_timeout")) == "30s"
            assert connection.scalar(text("SHOW idle_in_transaction_session_timeout")) == "15s"
    finally:
        database.dispose()


def test_a_transaction_left_idle_holding_locks_is_ended(postgres_url: str) -> None:
    stopped = Database(postgres_url, idle_in_transaction_timeout=timedelta(seconds=1))
    other = Database(postgres_url, statement_timeout=timedelta(seconds=10))
    try:
        with other.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO members (channel, external_id, language, role, subscription,"
                    " created_at, last_seen_at) VALUES ('telegram', '1', 'ja', 'member',"
                    " 'subscribed', now(), now())"
                )
            )
        hung = stopped.engine.connect()
        transaction = hung.begin()
        hung.execute(select(MemberRow.id).with_for_update())  # then the process stops
        time.sleep(1.5)
        with other.engine.begin() as connection:
            # Waits for nobody: the idle transaction was ended and its lock released.
            locked = connection.execute(select(MemberRow.id).with_for_update(nowait=True)).all()
        assert len(locked) == 1
        with pytest.raises(Exception, match=r"idle-in-transaction|terminat|closed"):
            hung.execute(select(MemberRow.id))
        transaction.close()
        hung.close()
    finally:
        stopped.dispose()
        other.dispose()
