"""Notice when organisers edit a folder of YAML files, and apply the files again.

Used for `schedules/` (sync the calendar) and `knowledge/` (rebuild the FAQ index). A file
with mistakes, and a folder that vanished, emptied or cannot be read, leave the last good
state in place; the problems are kept, logged, and handed once per incident to `on_trouble`
(which tells the organisers), so a broken folder is never mistaken for "nothing in it".
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Generic, TypeVar

from bot.yaml_validation import InvalidDocument, Problem

log = logging.getLogger(__name__)

R = TypeVar("R")
Fingerprint = tuple[tuple[str, int, int], ...]
UNREADABLE: Fingerprint = (("", -1, -1),)

Trouble = Callable[[str, Sequence[Problem]], object]
"""Called with the incident's key (unique to it) and its problems, once per incident."""


def fingerprint(directory: Path) -> Fingerprint:
    """Names, sizes and modification times of the YAML files: cheap to compare often."""
    try:
        if not directory.is_dir():
            return ()
        files = sorted(
            p for p in directory.iterdir() if p.suffix in {".yaml", ".yml"} and p.is_file()
        )
        return tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    except OSError:
        # Unreadable, or changing under our feet: let `apply` say what is wrong.
        return UNREADABLE


def _utc_now() -> datetime:
    return datetime.now(UTC)


class FolderWatch(Generic[R]):
    """`apply` reads and uses the folder's files, raising `InvalidDocument` on mistakes.

    An incident starts at the first failed reload after a good one (or at the first one) and
    ends at the next good reload; `on_trouble` hears of it once, keyed by the moment it began,
    so a folder that breaks, recovers and breaks again is two incidents, each told once.
    """

    def __init__(
        self,
        directory: Path,
        apply: Callable[[], R],
        *,
        name: str,
        on_trouble: Trouble | None = None,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.directory = directory
        self._apply = apply
        self._name = name
        self._on_trouble = on_trouble
        self._now = now
        self._seen: Fingerprint | None = None
        self._lock = threading.Lock()
        self.problems: list[Problem] = []
        self.incident: str | None = None
        """The key of the incident in progress (None while the files are good)."""

    def check(self) -> R | None:
        """Apply again if the files changed since the last look; None when nothing changed."""
        current = fingerprint(self.directory)
        if current == self._seen:
            return None
        return self.reload(current)

    def reload(self, current: Fingerprint | None = None) -> R | None:
        """Apply now. Returns None (and keeps `problems`) if the files have mistakes."""
        with self._lock:
            current = fingerprint(self.directory) if current is None else current
            try:
                result = self._apply()
            except InvalidDocument as exc:
                self._seen = current  # do not retry the same broken files every few seconds
                self.problems = list(exc.problems)
                log.error(
                    "%s not reloaded, the last good state is kept; %d problem(s):\n%s",
                    self._name,
                    len(exc.problems),
                    "\n".join(str(p) for p in exc.problems),
                )
                self._trouble(exc.problems)
                return None
            self._seen = current
            self.problems = []
            if self.incident is not None:
                log.warning("%s reloaded again; incident %s is over", self._name, self.incident)
                self.incident = None
            log.info("%s reloaded: %s", self._name, result)
            return result

    def _trouble(self, problems: Sequence[Problem]) -> None:
        if self.incident is not None:
            return  # told already; the log has the new details
        self.incident = f"{self.directory.name}:{self._now().astimezone(UTC).isoformat()}"
        if self._on_trouble is None:
            return
        try:
            self._on_trouble(self.incident, problems)
        except Exception:
            # Telling organisers must not stop the watch; the log above has said it all.
            log.exception("%s: organisers could not be told about the problems", self._name)
