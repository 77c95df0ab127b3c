"""Notice when organisers edit a folder of YAML files, and apply the files again.

Used for `schedules/` (sync the calendar) and `knowledge/` (rebuild the FAQ index). A file
with mistakes leaves the last good state in place; its problems are kept so organisers can be
told what to fix.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from bot.yaml_validation import InvalidDocument, Problem

log = logging.getLogger(__name__)

R = TypeVar("R")
Fingerprint = tuple[tuple[str, int, int], ...]


def fingerprint(directory: Path) -> Fingerprint:
    """Names, sizes and modification times of the YAML files: cheap to compare often."""
    if not directory.is_dir():
        return ()
    files = sorted(p for p in directory.iterdir() if p.suffix in {".yaml", ".yml"} and p.is_file())
    return tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files)


class FolderWatch(Generic[R]):
    """`apply` reads and uses the folder's files, raising `InvalidDocument` on mistakes."""

    def __init__(self, directory: Path, apply: Callable[[], R], *, name: str) -> None:
        self.directory = directory
        self._apply = apply
        self._name = name
        self._seen: Fingerprint | None = None
        self._lock = threading.Lock()
        self.problems: list[Problem] = []

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
                    "%s not reloaded, %d problem(s):\n%s",
                    self._name,
                    len(exc.problems),
                    "\n".join(str(p) for p in exc.problems),
                )
                return None
            self._seen = current
            self.problems = []
            log.info("%s reloaded: %s", self._name, result)
            return result
