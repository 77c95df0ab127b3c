"""Notice when organisers edit `schedules/`, and sync the calendar again."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from bot.calendar.model import Calendar
from bot.domain.events import SyncReport
from bot.yaml_validation import InvalidDocument, Problem

log = logging.getLogger(__name__)

Fingerprint = tuple[tuple[str, int, int], ...]


def fingerprint(directory: Path) -> Fingerprint:
    """Names, sizes and modification times of the schedule files: cheap to compare often."""
    if not directory.is_dir():
        return ()
    files = sorted(p for p in directory.iterdir() if p.suffix in {".yaml", ".yml"} and p.is_file())
    return tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files)


class ScheduleWatcher:
    """Reload on change; a file with mistakes leaves the stored calendar as it was.

    `load` reads and validates every schedule file (raising `InvalidDocument`), `sync` stores
    the result. The last problems are kept so organisers can ask what is wrong.
    """

    def __init__(
        self,
        directory: Path,
        load: Callable[[], Calendar],
        sync: Callable[[Calendar], SyncReport],
    ) -> None:
        self.directory = directory
        self._load = load
        self._sync = sync
        self._seen: Fingerprint | None = None
        self._lock = threading.Lock()
        self.problems: list[Problem] = []

    def check(self) -> SyncReport | None:
        """Reload if the files changed since the last look; None when nothing changed."""
        current = fingerprint(self.directory)
        if current == self._seen:
            return None
        return self.reload(current)

    def reload(self, current: Fingerprint | None = None) -> SyncReport | None:
        """Load and sync now. Returns None (and keeps `problems`) if the files have mistakes."""
        with self._lock:
            current = fingerprint(self.directory) if current is None else current
            try:
                calendar = self._load()
            except InvalidDocument as exc:
                self._seen = current  # do not retry the same broken files every few seconds
                self.problems = list(exc.problems)
                log.error(
                    "schedules not reloaded, %d problem(s):\n%s",
                    len(exc.problems),
                    "\n".join(str(p) for p in exc.problems),
                )
                return None
            report = self._sync(calendar)
            self._seen = current
            self.problems = []
            if report.changed_anything:
                log.info("schedules reloaded: %s", report)
            return report
