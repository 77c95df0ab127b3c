"""BM25 over the knowledge base's phrasings, titles and answers.

Each entry is several small documents (its title, each phrasing, its answer); an entry scores
as its best phrasing or title plus a share of its answer. Words (from the analyser) and
character bigrams are scored separately and added, so a slip the dictionary splits oddly still
finds its entry through shared characters.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

K1 = 1.2
B = 0.75
BIGRAM_WEIGHT = 0.35
ANSWER_WEIGHT = 0.3
SECOND_WEIGHT = 0.5


class Bm25:
    """Okapi BM25 with an inverted index; documents are lists of terms."""

    def __init__(self, documents: Sequence[Sequence[str]]) -> None:
        self.size = len(documents)
        self._lengths = [len(doc) for doc in documents]
        self._average = (sum(self._lengths) / self.size) if self.size else 0.0
        counts: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for index, doc in enumerate(documents):
            for term, count in Counter(doc).items():
                counts[term].append((index, count))
        self.idf = {
            term: math.log(1 + (self.size - len(found) + 0.5) / (len(found) + 0.5))
            for term, found in counts.items()
        }
        # Each posting carries its whole BM25 contribution (queries count a term once).
        self._postings: dict[str, list[tuple[int, float]]] = {
            term: [
                (
                    index,
                    self.idf[term]
                    * count
                    * (K1 + 1)
                    / (count + K1 * (1 - B + B * self._lengths[index] / self._average)),
                )
                for index, count in found
            ]
            for term, found in counts.items()
        }
        # A word no document knows is as telling as the rarest one (天気, 年金 ...).
        self.unknown_idf = math.log(1 + (self.size + 0.5) / 0.5) if self.size else 0.0

    def weight(self, term: str) -> float:
        return self.idf.get(term, self.unknown_idf)

    def scores(self, query: Sequence[str]) -> dict[int, float]:
        totals: dict[int, float] = defaultdict(float)
        for term in set(query):
            for index, weight in self._postings.get(term, ()):
                totals[index] += weight
        return totals


@dataclass(frozen=True)
class Document:
    target: str  # an entry's or a route's id
    field: str  # "title", "question", "answer"
    words: tuple[str, ...]
    bigrams: tuple[str, ...]

    @cached_property
    def word_set(self) -> frozenset[str]:
        return frozenset(self.words)

    @cached_property
    def bigram_set(self) -> frozenset[str]:
        return frozenset(self.bigrams)


@dataclass(frozen=True)
class Hit:
    target: str
    score: float
    coverage: float  # share of the question's information the best-matching text explains
    document: Document
    reach: float = 0.0  # share of the question's information the whole target mentions


class Index:
    def __init__(self, documents: Sequence[Document]) -> None:
        self.documents = list(documents)
        self._words = Bm25([d.words for d in self.documents])
        self._bigrams = Bm25([d.bigrams for d in self.documents])
        # Everything each target says, for how much of a question a whole entry covers.
        words: dict[str, set[str]] = defaultdict(set)
        bigrams: dict[str, set[str]] = defaultdict(set)
        for document in self.documents:
            words[document.target].update(document.words)
            bigrams[document.target].update(document.bigrams)
        self._vocabulary = {
            t: Document(t, "all", tuple(words[t]), tuple(bigrams[t])) for t in words
        }

    def search(
        self,
        words: Sequence[str],
        bigrams: Sequence[str],
        *,
        leave_out: int | None = None,
        limit: int = 12,
    ) -> list[Hit]:
        """Targets by score, best first; each with its best document's coverage of the query.

        `leave_out` ignores one document: calibrating on the knowledge base's own phrasings
        asks each one with itself left out, as if a member had written it.
        """
        word_scores = self._words.scores(words)
        bigram_scores = self._bigrams.scores(bigrams)
        if leave_out is not None:
            word_scores.pop(leave_out, None)
            bigram_scores.pop(leave_out, None)
        best: dict[str, tuple[float, int]] = {}
        second: dict[str, float] = defaultdict(float)
        answer_bonus: dict[str, float] = defaultdict(float)
        for index in set(word_scores) | set(bigram_scores):
            document = self.documents[index]
            score = word_scores.get(index, 0.0) + BIGRAM_WEIGHT * bigram_scores.get(index, 0.0)
            if document.field == "answer":
                answer_bonus[document.target] = max(answer_bonus[document.target], score)
                continue
            target = document.target
            if target not in best or score > best[target][0]:
                if target in best:
                    second[target] = best[target][0]
                best[target] = (score, index)
            else:
                second[target] = max(second[target], score)
        # An entry several of whose phrasings fit is likelier than one with a single lucky one.
        ranked = sorted(
            (
                (
                    score
                    + SECOND_WEIGHT * second.get(target, 0.0)
                    + ANSWER_WEIGHT * answer_bonus.get(target, 0.0),
                    target,
                    index,
                )
                for target, (score, index) in best.items()
            ),
            reverse=True,
        )
        # Coverage is only needed for the few targets a decision can look at.
        query = _Query(self, words, bigrams)
        return [
            Hit(
                target,
                score,
                query.coverage(self.documents[index]),
                self.documents[index],
                query.coverage(self._vocabulary[target]),
            )
            for score, target, index in ranked[:limit]
        ]

    def coverage(self, words: Sequence[str], bigrams: Sequence[str], document: Document) -> float:
        """How much of the question (by information, idf-weighted) the document contains."""
        return _Query(self, words, bigrams).coverage(document)


class _Query:
    """A question's terms with their weights, computed once for all the documents compared."""

    def __init__(self, index: Index, words: Sequence[str], bigrams: Sequence[str]) -> None:
        self.words = {t: index._words.weight(t) for t in set(words)}
        self.bigrams = {t: index._bigrams.weight(t) for t in set(bigrams)}
        self.word_total = sum(self.words.values())
        self.bigram_total = sum(self.bigrams.values())

    def coverage(self, document: Document) -> float:
        bigram_part = _share(self.bigrams, self.bigram_total, document.bigram_set)
        if not self.words:
            return bigram_part
        word_part = _share(self.words, self.word_total, document.word_set)
        return 0.7 * word_part + 0.3 * bigram_part


def _share(weights: dict[str, float], total: float, present: frozenset[str]) -> float:
    if total == 0:
        return 0.0
    return sum(w for t, w in weights.items() if t in present) / total
