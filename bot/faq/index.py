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

K1 = 1.2
B = 0.75
BIGRAM_WEIGHT = 0.35
ANSWER_WEIGHT = 0.3


class Bm25:
    """Okapi BM25 with an inverted index; documents are lists of terms."""

    def __init__(self, documents: Sequence[Sequence[str]]) -> None:
        self.size = len(documents)
        self._lengths = [len(doc) for doc in documents]
        self._average = (sum(self._lengths) / self.size) if self.size else 0.0
        self._postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for index, doc in enumerate(documents):
            for term, count in Counter(doc).items():
                self._postings[term].append((index, count))
        self.idf = {
            term: math.log(1 + (self.size - len(postings) + 0.5) / (len(postings) + 0.5))
            for term, postings in self._postings.items()
        }
        # A word no document knows is as telling as the rarest one (天気, 年金 ...).
        self.unknown_idf = math.log(1 + (self.size + 0.5) / 0.5) if self.size else 0.0

    def weight(self, term: str) -> float:
        return self.idf.get(term, self.unknown_idf)

    def scores(self, query: Sequence[str]) -> dict[int, float]:
        totals: dict[int, float] = defaultdict(float)
        for term in set(query):
            idf = self.idf.get(term)
            if idf is None:
                continue
            for index, count in self._postings[term]:
                norm = K1 * (1 - B + B * self._lengths[index] / self._average)
                totals[index] += idf * count * (K1 + 1) / (count + norm)
        return totals


@dataclass(frozen=True)
class Document:
    target: str  # an entry's or a route's id
    field: str  # "title", "question", "answer"
    words: tuple[str, ...]
    bigrams: tuple[str, ...]


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

    def search(self, words: Sequence[str], bigrams: Sequence[str]) -> list[Hit]:
        """Targets by score, best first; each with its best document's coverage of the query."""
        word_scores = self._words.scores(words)
        bigram_scores = self._bigrams.scores(bigrams)
        best: dict[str, tuple[float, int]] = {}
        answer_bonus: dict[str, float] = defaultdict(float)
        for index in set(word_scores) | set(bigram_scores):
            document = self.documents[index]
            score = word_scores.get(index, 0.0) + BIGRAM_WEIGHT * bigram_scores.get(index, 0.0)
            if document.field == "answer":
                answer_bonus[document.target] = max(answer_bonus[document.target], score)
                continue
            if document.target not in best or score > best[document.target][0]:
                best[document.target] = (score, index)
        hits = [
            Hit(
                target,
                score + ANSWER_WEIGHT * answer_bonus.get(target, 0.0),
                self.coverage(words, bigrams, self.documents[index]),
                self.documents[index],
                self.coverage(words, bigrams, self._vocabulary[target]),
            )
            for target, (score, index) in best.items()
        ]
        return sorted(hits, key=lambda hit: hit.score, reverse=True)

    def coverage(self, words: Sequence[str], bigrams: Sequence[str], document: Document) -> float:
        """How much of the question (by information, idf-weighted) the document contains."""
        word_part = _covered(self._words, words, set(document.words))
        bigram_part = _covered(self._bigrams, bigrams, set(document.bigrams))
        if not words:
            return bigram_part
        return 0.7 * word_part + 0.3 * bigram_part


def _covered(model: Bm25, query: Sequence[str], present: set[str]) -> float:
    terms = set(query)
    total = sum(model.weight(t) for t in terms)
    if total == 0:
        return 0.0
    return sum(model.weight(t) for t in terms if t in present) / total
