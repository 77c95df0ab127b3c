"""Processes that start together on a fresh database migrate one after the other (issue 9, 7).

Each round makes a fresh database (a new SQLite file; a new PostgreSQL schema) and starts
several real processes that all wait for the same moment, then run `Database.upgrade()`. Without
the migration lock some of them crashed with "table already exists" or a duplicate
`alembic_version` row.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.store.database import Database, alembic_config
from tests.conftest import PG_URL_ENV, ROOT

PROCESSES = 4
ROUNDS = 4

WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from bot.store.database import Database

    # One line per round: the fresh database's URL and the file whose appearance says "go".
    for line in sys.stdin:
        url, go = line.rstrip("\\n").split("\\t")
        database = Database(url)
        while not Path(go).exists():  # every process starts migrating at the same moment
            time.sleep(0.001)
        try:
            database.upgrade()
            print(database.current_revision(), flush=True)
        except Exception as exc:
            print("FAILED", repr(exc).replace("\\n", " "), flush=True)
        database.dispose()
    """
)


def fresh_sqlite(tmp_path: Path, round_number: int) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / f'round{round_number}' / 'bot.sqlite3'}"


def fresh_postgres(tmp_path: Path, round_number: int) -> Iterator[str]:
    base = os.environ[PG_URL_ENV]
    schema = f"cbmig_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


FRESH = {"sqlite": fresh_sqlite, "postgresql": fresh_postgres}


@pytest.mark.parametrize(
    "backend",
    [
        "sqlite",
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(not os.environ.get(PG_URL_ENV), reason=f"set {PG_URL_ENV}"),
        ),
    ],
)
def test_processes_migrating_a_fresh_database_at_once_all_succeed(
    backend: str, tmp_path: Path
) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    # The processes live through every round: starting Python takes longer than migrating.
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    try:
        for round_number in range(ROUNDS):
            fresh = FRESH[backend](tmp_path, round_number)
            url = next(fresh)
            go = tmp_path / f"go{round_number}"
            for worker in workers:
                assert worker.stdin is not None
                worker.stdin.write(f"{url}\t{go}\n")
                worker.stdin.flush()
            time.sleep(0.5)  # every process has its engine and waits for the go
            go.touch()
            answers = [worker.stdout.readline().strip() for worker in workers if worker.stdout]
            assert answers == [head] * PROCESSES, f"round {round_number}: {answers}"
            database = Database(url)
            assert database.current_revision() == head
            database.dispose()
            fresh.close()
    finally:
        for worker in workers:
            worker.communicate(timeout=60)  # closes stdin (the worker ends) and stdout
