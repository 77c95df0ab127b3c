"""Wrongly converted kanji read as the word the knowledge base uses.

Members type on phones and pick the wrong kanji for a sound: 粉失 for 紛失, 再公付 for 再交付,
高期高齢者 for 後期高齢者, 暗証番合 for 暗証番号. The dictionary splits such a slip into
pieces (粉 + 失し) whose readings are often another reading of the kanji (粉 as コナ), so
neither the words nor the sounds of the question meet the right entry.

The knowledge base's own words are the vocabulary: every run of kanji in its texts (titles,
phrasings, answers, routes), and every part of such a run. A stretch of kanji in a question
that the knowledge base never writes, and that is no word of the dictionary (預金 is a word,
not a slip of 年金), is read as the one known run of the same length that differs from it in
one kanji (two, from six kanji on), when the slip is heard as the known run:

- the two read the same as a whole (電子照明書 and 電子証明書 are both でんししょうめいしょ);
- or each swapped kanji stands alone in the question, a piece the dictionary could not join
  to its neighbours (粉 in 粉失し), and sounds like the kanji it replaces: the two share a
  reading in the dictionary (公 and 交 are both コウ; 織 シキ and 職 ショク are not). A kanji
  the dictionary does not read alone (紛) is read from the known run: 紛失 is ふんしつ and 失
  is しつ, so 紛 is ふん, as 粉 can be. A kanji that belongs to a word of the question is no
  slip: 病院行く is not 病院向け, though 行 and 向 are both コウ.

Nothing is changed when no known run, or more than one, fits.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

_KANJI_RUN = re.compile(r"[一-龯々〆]{2,}")
LONGEST = 10  # known runs are remembered up to this many kanji
# Stretches of kanji looked at in one question, at most: members' questions need a few dozen
# (72 at most in the tuning files); a pasted page of kanji would otherwise cost tens of ms.
BUDGET = 100
MASK = "\0"


@dataclass(frozen=True)
class Dictionary:
    """What the speller asks the dictionary (see `bot.faq.analysis`)."""

    kanji_readings: Callable[[str], frozenset[str]]  # one kanji's readings, folded
    reading: Callable[[str], str]  # a text's reading, folded
    lone_kanji: Callable[[str], frozenset[int]]  # offsets of kanji that are a word alone
    is_word: Callable[[str], bool]  # the text is one word of the dictionary


class Speller:
    """Corrects kanji slips in normalised text against a vocabulary of known texts."""

    def __init__(self, texts: Iterable[str], dictionary: Dictionary) -> None:
        self._dictionary = dictionary
        known: set[str] = set()
        for text in texts:
            for run in _KANJI_RUN.findall(text):
                for start in range(len(run)):
                    for end in range(start + 2, min(len(run), start + LONGEST) + 1):
                        known.add(run[start:end])
        self._known = frozenset(known)
        # Each known run under every form with one kanji (or two) masked: a slip finds the
        # runs it could be a slip of with a few look-ups, not a scan of the vocabulary.
        masked: dict[str, set[str]] = defaultdict(set)
        for run in known:
            for key in _masks(run):
                masked[key].add(run)
        self._masked = {key: frozenset(runs) for key, runs in masked.items()}

    def correct(self, text: str) -> str:
        """`text` with each kanji slip replaced by the known run it stands for."""
        if not self._masked:
            return text
        lone: frozenset[int] | None = None
        parts: list[str] = []
        done = 0
        budget = [BUDGET]
        for match in _KANJI_RUN.finditer(text):
            run = match.group(0)
            if run in self._known:
                continue
            for start, window, found in self._near(run, budget):
                if lone is None:
                    lone = self._dictionary.lone_kanji(text)
                offset = match.start() + start
                heard = [known for known in found if self._heard_as(window, known, offset, lone)]
                if len(heard) == 1:
                    parts += [text[done:offset], heard[0]]
                    done = offset + len(window)
                    break
        return "".join(parts) + text[done:] if parts else text

    def _near(self, run: str, budget: list[int]) -> Iterable[tuple[int, str, set[str]]]:
        """(offset, stretch, known runs one or two kanji away) for each stretch of the run that
        may be a slip, longest first, while `budget` (stretches left to look at) lasts."""
        for length in range(min(len(run), LONGEST), 1, -1):
            for start in range(len(run) - length + 1):
                budget[0] -= 1
                if budget[0] < 0:
                    return
                window = run[start : start + length]
                if window in self._known:
                    continue
                found: set[str] = set()
                for key in _masks(window):
                    found.update(self._masked.get(key, ()))
                if found and not self._dictionary.is_word(window):
                    yield start, window, found

    def _heard_as(self, window: str, known: str, offset: int, lone: frozenset[int]) -> bool:
        """The slip is heard as the known run (see the module's docstring)."""
        if self._dictionary.reading(window) == self._dictionary.reading(known):
            return True
        swapped = [i for i, (a, b) in enumerate(zip(window, known, strict=True)) if a != b]
        return all(offset + i in lone for i in swapped) and self._sounds_alike(window, known)

    def _sounds_alike(self, written: str, known: str) -> bool:
        for position, (mine, theirs) in enumerate(zip(written, known, strict=True)):
            if mine == theirs:
                continue
            heard = self._dictionary.kanji_readings(mine)
            meant = self._dictionary.kanji_readings(theirs) or self._read_in(known, position)
            if not heard & meant:
                return False
        return True

    def _read_in(self, run: str, position: int) -> frozenset[str]:
        """How the kanji at `position` is read in `run`: the run's reading without its
        neighbours' (紛 in 紛失: ふんしつ less しつ)."""
        full = self._dictionary.reading(run)
        before, after = run[:position], run[position + 1 :]
        heads = self._ways(before)
        tails = self._ways(after)
        return frozenset(
            full[len(head) : len(full) - len(tail)]
            for head in heads
            for tail in tails
            if full.startswith(head) and full.endswith(tail) and len(head) + len(tail) < len(full)
        )

    def _ways(self, text: str) -> set[str]:
        """The ways `text` may be read: as a whole, and each reading of a single kanji."""
        if not text:
            return {""}
        ways = {self._dictionary.reading(text)}
        if len(text) == 1:
            ways |= self._dictionary.kanji_readings(text)
        return ways


def _masks(run: str) -> Iterable[str]:
    """The run with one kanji masked, and with two when it has six or more."""
    for position in range(len(run)):
        yield run[:position] + MASK + run[position + 1 :]
    if len(run) >= 6:
        for first, second in itertools.combinations(range(len(run)), 2):
            yield run[:first] + MASK + run[first + 1 : second] + MASK + run[second + 1 :]
