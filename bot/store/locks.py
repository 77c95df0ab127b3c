"""Timed jobs that run in one process at a time, whichever processes share the database."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Engine

from bot.store.dialect import release_job_lock, try_job_lock

log = logging.getLogger(__name__)


class JobLocks:
    """A database lock per job name. Not an election: each run of a job asks for the lock,
    and a process that does not get it skips that run (the one holding it is doing it)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        """Whether this process holds the job's lock (True) or another one does (False),
        for the duration of the block. The lock lives on a connection of its own, apart from
        the units of work the job opens."""
        with self._engine.connect() as connection:
            taken = try_job_lock(connection, name)
            try:
                yield taken
            finally:
                if taken:
                    try:
                        release_job_lock(connection, name)
                    except Exception:
                        # A session-level lock outlives a connection returned to the pool:
                        # this one is closed instead, and the database lets the lock go.
                        log.warning("could not release the lock of job %s", name, exc_info=True)
                        connection.invalidate()
