"""The knowledge base in use, replaced whole when organisers edit its files."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from bot.faq.analysis import Analyser
from bot.faq.knowledge import load_knowledge
from bot.faq.matcher import FaqEngine


class Library:
    def __init__(self, directory: Path, today: Callable[[], date]) -> None:
        self.directory = directory
        self._today = today
        self._analyser: Analyser | None = None
        # Swapped in one assignment: a question is answered by the old or the new engine,
        # never by half of each.
        self.engine: FaqEngine | None = None

    def load(self) -> FaqEngine:
        """Read and check the files and build a new index; raises `InvalidDocument`."""
        knowledge = load_knowledge(self.directory, self._today())
        self._analyser = self._analyser or Analyser()
        engine = FaqEngine(knowledge, self._analyser, today=self._today)
        self.engine = engine
        return engine

    def current(self) -> FaqEngine | None:
        return self.engine
