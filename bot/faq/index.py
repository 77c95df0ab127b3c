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
        # still counts towards coverage. Computed for all postings at once, then cut by term.
        most = max(1, int(common * self.size))
        scored = [term for term, found in counts.items() if len(found) <= most]
        sizes = [len(counts[term]) for term in scored]
        posted = np.fromiter(
            (index for term in scored for index, _ in counts[term]), np.intp, sum(sizes)
        )
        found_counts = np.fromiter(
            (count for term in scored for _, count in counts[term]), np.float64, sum(sizes)
        )
        idfs = np.repeat(np.fromiter((self.idf[t] for t in scored), np.float64, len(scored)), sizes)
        lengths = np.asarray(self._lengths, dtype=np.float64)[posted]
        weights = (
            idfs
            * found_counts
            * (K1 + 1)
            / (found_counts + K1 * (1 - B + B * lengths / (self._average or 1.0)))
        )
        bounds = np.cumsum(sizes)[:-1]
        self.arrays: dict[str, tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]] = (
            dict(
                zip(
                    scored,
                    zip(np.split(posted, bounds), np.split(weights, bounds), strict=True),
                    strict=True,
                )
            )
            if scored
            else {}
        )
        # A word no document knows is as telling as the rarest one (天気, 年金 ...).
        self.unknown_idf = math.log(1 + (self.size + 0.5) / 0.5) if self.size else 0.0

    def weight(self, term: str) -> float:
        return self.idf.get(term, self.unknown_idf)


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

    def scored(self, score: float) -> Hit:
        """The hit with another score (a re-ranking); cheaper than `dataclasses.replace`."""
        return Hit(self.target, score, self.coverage, self.document, self.reach)


class Index:
    def __init__(self, documents: Sequence[Document]) -> None:
        self.documents = list(documents)
        self._words = Bm25([d.features.words for d in self.documents])
        self._bigrams = Bm25([d.features.bigrams for d in self.documents], COMMON)
        self._readings = Bm25([d.features.readings for d in self.documents], COMMON_READING)
        self._bm25s = (self._words, self._bigrams, self._readings)
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
        self._rows_range = np.arange(len(self._targets))
        self._build_mentions()
        self._build_centroids()

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
        """Each target's phrasings' centroid, a column on the rows of `_build_mentions`."""
        rows = self._rows
        sums = [dict[tuple[int, str], float]() for _ in self._targets]
        row_of = {t: i for i, t in enumerate(self._targets)}
        for document in self.documents:
            if document.field == "answer":
                continue
            total = sums[row_of[document.target]]
            for key, value in self._vector(document.features).items():
                total[key] = total.get(key, 0.0) + value
        matrix = np.zeros((len(rows), len(self._targets)))
        for column, total in enumerate(sums):
            norm = math.sqrt(sum(v * v for v in total.values())) or 1.0
            for key, value in total.items():
                matrix[rows[key], column] = value / norm
        self._centroids = matrix

    def _build_mentions(self) -> None:
        """A row for each term the index knows (by channel), and which targets mention it.

        A question looks each of its terms up once (`_Query`): its row gives the term's
        postings, its centroid weights and the targets that mention it, so the reach of every
        target is one product per channel, not set intersections per target.
        """
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
        self._rows = rows
        self._mentions = mentions
        self._row_postings: list[tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]] | None] = [
            None
        ] * len(rows)
        for (channel, term), row in rows.items():
            self._row_postings[row] = self._bm25s[channel].arrays.get(term)

    def centroid_scores(
        self, query: Features, kana: bool = False, leave_out: int | None = None
    ) -> npt.NDArray[np.float64]:
        """Cosine of the question with each target's centroid (`leave_out` taken out of its own)."""
        return _Query(self, query, kana).centroid(leave_out)

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
        asked = _Query(self, query, kana)
        # One slot past the last document stays 0: padding of the matrix, missing answers.
        totals = asked.bm25(len(self.documents) + 1)
        if leave_out is not None:
            totals[leave_out] = 0.0
        matrix = totals[self._slot_docs]
        first = matrix.argmax(axis=1)  # the first of equals, as a stable sort would
        best = matrix[self._rows_range, first]
        second = np.partition(matrix, -2, axis=1)[:, -2]
        # An entry several of whose phrasings fit is likelier than one with a single lucky one.
        combined = best + SECOND_WEIGHT * second + ANSWER_WEIGHT * totals[self._answer_docs]
        if CENTROID_WEIGHT:
            combined = combined + CENTROID_WEIGHT * asked.centroid(leave_out)
        found = np.flatnonzero(best > 0)
        ranked_rows = found[np.argsort(-combined[found], kind="stable")][:limit]
        # The decision needs how much of the question each whole entry mentions.
        reaches = asked.reaches()
        left_out_target = self.documents[leave_out].target if leave_out is not None else None
        hits = []
        for row in ranked_rows:
            target = self._targets[row]
            index = int(self._slot_docs[row, first[row]])
            reach = (
                asked.coverage(self._merged(target, leave_out))
                if target == left_out_target
                else float(reaches[row])
            )
            hits.append(Hit(target, float(combined[row]), reach, self.documents[index], reach))
        return hits


class _Query:
    """A question's terms, each looked up once in the index: its weight, row and postings."""

    def __init__(self, index: Index, query: Features, kana: bool = False) -> None:
        self.index = index
        # A question written mostly in kana is split into nonsense words: trust its sounds.
        word_weight, reading_weight = (0.5, KANA_READING_WEIGHT) if kana else (1.0, READING_WEIGHT)
        self.factors = (word_weight, BIGRAM_WEIGHT, reading_weight)
        # Per channel, the known terms' idf (what coverage weighs) and rows; the totals count
        # unknown terms too (a word no text uses weighs `UNKNOWN_SHARE` of the rarest's).
        self.known: list[dict[str, float]] = []
        self.rows: list[list[int]] = []
        self.totals: list[float] = []
        squares = 0.0  # of the centroid vector, unknown terms included
        for channel, terms in enumerate((query.words, query.bigrams, query.readings)):
            bm25, factor = index._bm25s[channel], self.factors[channel]
            share = UNKNOWN_SHARE if channel == 0 else 1.0
            known: dict[str, float] = {}
            rows: list[int] = []
            total = 0.0
            for term in set(terms):
                idf = bm25.idf.get(term)
                if idf is None:
                    total += bm25.unknown_idf * share
                    value = factor * bm25.unknown_idf
                else:
                    known[term] = idf
                    rows.append(index._rows[(channel, term)])
                    total += idf
                    value = factor * idf
                squares += value * value
            self.known.append(known)
            self.rows.append(rows)
            self.totals.append(total)
        self.norm = math.sqrt(squares) or 1.0
        # Whether the question has words and sounds at all, known or not.
        self.has_words, self.has_readings = bool(query.words), bool(query.readings)

    def bm25(self, size: int) -> npt.NDArray[np.float64]:
        """Each document's BM25 score, channels weighed (an array of `size`)."""
        totals = np.zeros(size)
        for factor, rows in zip(self.factors, self.rows, strict=True):
            found = [p for row in rows if (p := self.index._row_postings[row]) is not None]
            if found:
                # One C pass over all the channel's postings, not an addition per term.
                totals += factor * np.bincount(
                    np.concatenate([documents for documents, _ in found]),
                    weights=np.concatenate([weights for _, weights in found]),
                    minlength=size,
                )
        return totals

    def centroid(self, leave_out: int | None = None) -> npt.NDArray[np.float64]:
        """Cosine with each target's centroid (`leave_out` taken out of its own)."""
        index = self.index
        rows = [row for channel_rows in self.rows for row in channel_rows]
        values = np.asarray(
            [
                factor * idf / self.norm
                for factor, known in zip(self.factors, self.known, strict=True)
                for idf in known.values()
            ]
        )
        # One product over the question's rows, not an array addition per term.
        scores = values @ index._centroids[rows] if rows else np.zeros(len(index._targets))
        if leave_out is not None:
            target = index.documents[leave_out].target
            total: dict[tuple[int, str], float] = {}
            for position in index._by_target[target]:
                if position == leave_out or index.documents[position].field == "answer":
                    continue
                for key, value in index._vector(index.documents[position].features).items():
                    total[key] = total.get(key, 0.0) + value
            norm = math.sqrt(sum(v * v for v in total.values())) or 1.0
            asked = (
                ((channel, term), self.factors[channel] * idf / self.norm)
                for channel, known in enumerate(self.known)
                for term, idf in known.items()
            )
            scores[index._targets.index(target)] = (
                sum(v * total.get(k, 0.0) for k, v in asked) / norm
            )
        return scores

    def coverage(self, document: Document) -> float:
        return float(
            self._combined(
                *(
                    _share(known, total, present)
                    for known, total, present in zip(
                        self.known,
                        self.totals,
                        (document.word_set, document.bigram_set, document.reading_set),
                        strict=True,
                    )
                )
            )
        )

    def reaches(self) -> npt.NDArray[np.float64]:
        """`coverage` of every target's whole vocabulary at once (see `Index._build_mentions`)."""
        parts = [
            np.asarray(list(known.values())) @ self.index._mentions[rows] / total
            if rows and total
            else np.zeros(len(self.index._targets))
            for known, rows, total in zip(self.known, self.rows, self.totals, strict=True)
        ]
        reaches: npt.NDArray[np.float64] = self._combined(*parts)
        return reaches

    def _combined(self, word_part: Any, bigram_part: Any, reading_part: Any) -> Any:
        """The parts (numbers, or arrays of one per target) weighed into one coverage."""
        if not self.has_words:
            return np.maximum(bigram_part, reading_part) if self.has_readings else bigram_part
        if not self.has_readings:
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
