"""BM25 over the knowledge base's phrasings, titles and answers.

Each entry is several small documents (its title, each phrasing, its answer); an entry scores
as its best phrasing or title plus a share of its answer. Words (from the analyser), character
bigrams and reading bigrams are scored separately and added, so a slip the dictionary splits
oddly, or a question in kana only, still finds its entry through shared characters or sounds.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from bot.faq.analysis import Features

K1 = 0.8
B = 0.5
BIGRAM_WEIGHT = 0.35
READING_WEIGHT = 0.2
KANA_READING_WEIGHT = 1.0  # for a question written mostly in kana
ANSWER_WEIGHT = 1.0
SECOND_WEIGHT = 0.6
COMMON = 0.04  # share of the documents beyond which a bigram or sound is too common to score
COMMON_READING = 0.12  # sounds repeat more than letters (でん, しし): a wider limit
READING_TRUST = 0.9  # how much a question's sounds alone can vouch for an entry
CENTROID_WEIGHT = 40.0  # the entry as a whole (centroid of its phrasings), beside its best one
# How much a word no text of the index uses (ばあちゃん, 主人, 面倒) weighs in a question's reach,
# as a share of the rarest word's weight. Such words are mostly the member's circumstances, and
# counted in full they kept long, well-matched questions from being answered; off-topic
# subjects that share our words are declined by the routes' subject rules, not by this.
UNKNOWN_SHARE = 0.5


class Bm25:
    """Okapi BM25 with an inverted index; documents are lists of terms."""

    def __init__(self, documents: Sequence[Sequence[str]], common: float = 1.0) -> None:
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
        # Each posting carries its whole BM25 contribution (queries count a term once). A term
        # in more than `common` of the documents (the bigram しよ of every 〜しょう) adds
        # about the same to every candidate and only costs time: it is not scored, though it
        # still counts towards coverage.
        most = max(1, int(common * self.size))
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
            if len(found) <= most
        }
        self.arrays: dict[str, tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]] = {
            term: (
                np.fromiter((i for i, _ in found), dtype=np.intp, count=len(found)),
                np.fromiter((w for _, w in found), dtype=np.float64, count=len(found)),
            )
            for term, found in self._postings.items()
        }
        # A word no document knows is as telling as the rarest one (天気, 年金 ...).
        self.unknown_idf = math.log(1 + (self.size + 0.5) / 0.5) if self.size else 0.0

    def weight(self, term: str) -> float:
        return self.idf.get(term, self.unknown_idf)

    def add_into(
        self, query: Sequence[str], factor: float, totals: npt.NDArray[np.float64]
    ) -> None:
        """Add each document's score for `query`, times `factor`, into the array `totals`."""
        found = [postings for term in set(query) if (postings := self.arrays.get(term))]
        if found:
            # One C pass over all the question's postings, not an array addition per term.
            totals += factor * np.bincount(
                np.concatenate([documents for documents, _ in found]),
                weights=np.concatenate([weights for _, weights in found]),
                minlength=totals.size,
            )


@dataclass(frozen=True)
class Document:
    target: str  # an entry's or a route's id
    field: str  # "title", "question", "answer"
    features: Features
    text: str = ""  # as indexed (normalised), to ask it again in calibration

    @cached_property
    def word_set(self) -> frozenset[str]:
        return frozenset(self.features.words)

    @cached_property
    def bigram_set(self) -> frozenset[str]:
        return frozenset(self.features.bigrams)

    @cached_property
    def reading_set(self) -> frozenset[str]:
        return frozenset(self.features.readings)


@dataclass(frozen=True)
class Hit:
    target: str
    score: float
    coverage: float  # share of the question's information the target mentions (= reach)
    document: Document
    reach: float = 0.0  # share of the question's information the whole target mentions


class Index:
    def __init__(self, documents: Sequence[Document]) -> None:
        self.documents = list(documents)
        self._words = Bm25([d.features.words for d in self.documents])
        self._bigrams = Bm25([d.features.bigrams for d in self.documents], COMMON)
        self._readings = Bm25([d.features.readings for d in self.documents], COMMON_READING)
        self._by_target: dict[str, list[int]] = defaultdict(list)
        for index, document in enumerate(self.documents):
            self._by_target[document.target].append(index)
        # Everything each target says, for how much of a question a whole entry covers.
        self._vocabulary = {t: self._merged(t, None) for t in self._by_target}
        # Each target's phrasings and title as a row of a matrix, its answer apart: a search
        # adds every term's postings into one array of scores and reads each target's best
        # and second-best phrasing off the matrix, instead of looping in Python.
        self._targets = list(self._by_target)
        phrasings = [
            [i for i in self._by_target[t] if self.documents[i].field != "answer"]
            for t in self._targets
        ]
        width = max(2, *(len(row) for row in phrasings)) if phrasings else 2
        self._slot_docs = np.full((len(self._targets), width), len(self.documents), np.intp)
        for row, docs in enumerate(phrasings):
            self._slot_docs[row, : len(docs)] = docs
        self._answer_docs = np.array(
            [
                next(
                    (i for i in self._by_target[t] if self.documents[i].field == "answer"),
                    len(self.documents),
                )
                for t in self._targets
            ],
            dtype=np.intp,
        )
        self._build_centroids()
        self._build_mentions()

    def _channels(
        self, features: Features, kana: bool = False
    ) -> list[tuple[Bm25, Sequence[str], float]]:
        word_weight, reading_weight = (0.5, KANA_READING_WEIGHT) if kana else (1.0, READING_WEIGHT)
        return [
            (self._words, features.words, word_weight),
            (self._bigrams, features.bigrams, BIGRAM_WEIGHT),
            (self._readings, features.readings, reading_weight),
        ]

    def _vector(self, features: Features, kana: bool = False) -> dict[tuple[int, str], float]:
        vector: dict[tuple[int, str], float] = {}
        for channel, (bm25, terms, weight) in enumerate(self._channels(features, kana)):
            for term in set(terms):
                vector[(channel, term)] = weight * bm25.weight(term)
        norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
        return {k: v / norm for k, v in vector.items()}

    def _build_centroids(self) -> None:
        rows: dict[tuple[int, str], int] = {}
        sums = [dict[tuple[int, str], float]() for _ in self._targets]
        row_of = {t: i for i, t in enumerate(self._targets)}
        for document in self.documents:
            if document.field == "answer":
                continue
            total = sums[row_of[document.target]]
            for key, value in self._vector(document.features).items():
                total[key] = total.get(key, 0.0) + value
        for total in sums:
            for key in total:
                rows.setdefault(key, len(rows))
        matrix = np.zeros((len(rows), len(self._targets)))
        for column, total in enumerate(sums):
            norm = math.sqrt(sum(v * v for v in total.values())) or 1.0
            for key, value in total.items():
                matrix[rows[key], column] = value / norm
        self._centroid_rows = rows
        self._centroids = matrix

    def _build_mentions(self) -> None:
        """Which targets mention each term (by channel): a question's reach of every target is
        then one product per channel (`_Query.reaches`), not set intersections per target."""
        rows: dict[tuple[int, str], int] = {}
        cells: list[tuple[int, int]] = []
        for column, target in enumerate(self._targets):
            vocabulary = self._vocabulary[target].features
            channels = (vocabulary.words, vocabulary.bigrams, vocabulary.readings)
            for channel, terms in enumerate(channels):
                cells.extend(
                    (rows.setdefault((channel, term), len(rows)), column) for term in terms
                )
        mentions = np.zeros((len(rows), len(self._targets)), dtype=np.bool_)
        if cells:
            mentions[tuple(np.array(cells).T)] = True
        self._mention_rows = rows
        self._mentions = mentions

    def centroid_scores(
        self, query: Features, kana: bool = False, leave_out: int | None = None
    ) -> npt.NDArray[np.float64]:
        """Cosine of the question with each target's centroid (`leave_out` taken out of its own)."""
        asked = self._vector(query, kana)
        rows: list[int] = []
        values: list[float] = []
        for key, value in asked.items():
            row = self._centroid_rows.get(key)
            if row is not None:
                rows.append(row)
                values.append(value)
        # One product over the question's rows, not an array addition per term.
        scores = (
            np.asarray(values) @ self._centroids[rows] if rows else np.zeros(len(self._targets))
        )
        if leave_out is not None:
            target = self.documents[leave_out].target
            total: dict[tuple[int, str], float] = {}
            for index in self._by_target[target]:
                if index == leave_out or self.documents[index].field == "answer":
                    continue
                for key, value in self._vector(self.documents[index].features).items():
                    total[key] = total.get(key, 0.0) + value
            norm = math.sqrt(sum(v * v for v in total.values())) or 1.0
            column = self._targets.index(target)
            scores[column] = sum(v * total.get(k, 0.0) for k, v in asked.items()) / norm
        return scores

    def _merged(self, target: str, leave_out: int | None) -> Document:
        words: set[str] = set()
        bigrams: set[str] = set()
        readings: set[str] = set()
        for index in self._by_target[target]:
            if index == leave_out:
                continue
            features = self.documents[index].features
            words.update(features.words)
            bigrams.update(features.bigrams)
            readings.update(features.readings)
        return Document(target, "all", Features(tuple(words), tuple(bigrams), tuple(readings)))

    def search(
        self,
        query: Features,
        *,
        leave_out: int | None = None,
        limit: int = 12,
        kana: bool = False,
    ) -> list[Hit]:
        """Targets by score, best first; each with its best document's coverage of the query.

        `kana` says the question is written mostly in kana (see `mostly_kana`).
        `leave_out` ignores one document everywhere (its scores and what its target is said
        to mention): calibration asks each phrasing of the knowledge base with itself left
        out, as if a member had written it. (The terms' idf still counts it: a small bias,
        the same for every phrasing.)
        """
        # One slot past the last document stays 0: padding of the matrix, missing answers.
        totals = np.zeros(len(self.documents) + 1)
        # A question written mostly in kana is split into nonsense words: trust its sounds.
        word_weight, reading_weight = (0.5, KANA_READING_WEIGHT) if kana else (1.0, READING_WEIGHT)
        self._words.add_into(query.words, word_weight, totals)
        self._bigrams.add_into(query.bigrams, BIGRAM_WEIGHT, totals)
        self._readings.add_into(query.readings, reading_weight, totals)
        if leave_out is not None:
            totals[leave_out] = 0.0
        matrix = totals[self._slot_docs]
        first = matrix.argmax(axis=1)  # the first of equals, as a stable sort would
        best = np.take_along_axis(matrix, first[:, None], axis=1)[:, 0]
        second = np.partition(matrix, -2, axis=1)[:, -2]
        # An entry several of whose phrasings fit is likelier than one with a single lucky one.
        combined = best + SECOND_WEIGHT * second + ANSWER_WEIGHT * totals[self._answer_docs]
        if CENTROID_WEIGHT:
            combined = combined + CENTROID_WEIGHT * self.centroid_scores(query, kana, leave_out)
        found = np.flatnonzero(best > 0)
        ranked_rows = found[np.argsort(-combined[found], kind="stable")][:limit]
        # The decision needs how much of the question each whole entry mentions.
        weights = _Query(self, query)
        reaches = weights.reaches(self)
        left_out_target = self.documents[leave_out].target if leave_out is not None else None
        hits = []
        for row in ranked_rows:
            target = self._targets[row]
            index = int(self._slot_docs[row, first[row]])
            reach = (
                weights.coverage(self._merged(target, leave_out))
                if target == left_out_target
                else float(reaches[row])
            )
            hits.append(Hit(target, float(combined[row]), reach, self.documents[index], reach))
        return hits

    def coverage(self, query: Features, document: Document) -> float:
        """How much of the question (by information, idf-weighted) the document contains."""
        return _Query(self, query).coverage(document)


class _Query:
    """A question's terms with their weights, computed once for all the documents compared."""

    def __init__(self, index: Index, query: Features) -> None:
        self.words = {
            t: index._words.weight(t) * (1.0 if t in index._words.idf else UNKNOWN_SHARE)
            for t in set(query.words)
        }
        self.bigrams = {t: index._bigrams.weight(t) for t in set(query.bigrams)}
        self.readings = {t: index._readings.weight(t) for t in set(query.readings)}
        self.word_total = sum(self.words.values())
        self.bigram_total = sum(self.bigrams.values())
        self.reading_total = sum(self.readings.values())

    def coverage(self, document: Document) -> float:
        return float(
            self._combined(
                _share(self.words, self.word_total, document.word_set),
                _share(self.bigrams, self.bigram_total, document.bigram_set),
                _share(self.readings, self.reading_total, document.reading_set),
            )
        )

    def reaches(self, index: Index) -> npt.NDArray[np.float64]:
        """`coverage` of every target's whole vocabulary at once (see `Index._build_mentions`)."""
        parts = []
        for channel, weights, total in (
            (0, self.words, self.word_total),
            (1, self.bigrams, self.bigram_total),
            (2, self.readings, self.reading_total),
        ):
            rows, values = [], []
            for term, weight in weights.items():
                row = index._mention_rows.get((channel, term))
                if row is not None:
                    rows.append(row)
                    values.append(weight)
            if total == 0 or not rows:
                parts.append(np.zeros(len(index._targets)))
            else:
                parts.append(np.asarray(values) @ index._mentions[rows] / total)
        reaches: npt.NDArray[np.float64] = self._combined(*parts)
        return reaches

    def _combined(self, word_part: Any, bigram_part: Any, reading_part: Any) -> Any:
        """The parts (numbers, or arrays of one per target) weighed into one coverage."""
        if not self.words:
            return np.maximum(bigram_part, reading_part) if self.readings else bigram_part
        if not self.readings:
            return 0.7 * word_part + 0.3 * bigram_part
        written = 0.6 * word_part + 0.2 * bigram_part + 0.2 * reading_part
        # Kana-only writing defeats the words but not the sounds: trust the sounds as much.
        return np.maximum(written, READING_TRUST * reading_part)


def _share(weights: dict[str, float], total: float, present: frozenset[str]) -> float:
    if total == 0:
        return 0.0
    # The question's few terms looked up in `present` (a whole entry's terms), in C.
    return sum(map(weights.__getitem__, present.intersection(weights))) / total


_KANA_CHARS = re.compile(r"[ぁ-んァ-ヶー]")
_ANY_CHARS = re.compile(r"[ぁ-んァ-ヶー一-龯々]")


def mostly_kana(text: str) -> bool:
    """At least 60% of the Japanese letters are kana (しかくかくにんしょ さいはっこう)."""
    letters = len(_ANY_CHARS.findall(text))
    return letters > 0 and len(_KANA_CHARS.findall(text)) >= 0.6 * letters
