"""Decide what to do with a question: answer it, offer likely topics, route it, or decline.

The confidence ("reach") is the share of the question's information (idf-weighted words and
bigrams) that an entry mentions anywhere (title, phrasings, answer): 1.0 when every telling word
of the question is there, low when the question is about something the knowledge base never
mentions (天気, 年金). Confident: the best entry is answered, with any nearly-as-good entries
offered beside it; less sure: the likely entries are offered (もしかして); little in common:
"I don't know" or a decline. Calibrated on real member questions; `campaign-bot faq eval`
prints how the thresholds do.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from bot.faq.analysis import INTERROGATIVES, Analyser
from bot.faq.index import Document, Hit, Index
from bot.faq.knowledge import Entry, KnowledgeBase, Route, RouteKind
from bot.faq.normalise import Normaliser

ANSWER_AT = 0.35  # reach from which the best entry is answered
SUGGEST_AT = 0.25  # reach from which likely entries are offered (もしかして) instead
UNKNOWN_AT = 0.15  # below this an entry shares too little to call the question ours
ROUTE_AT = 0.30  # reach from which a route (events, greeting, decline) beats a weaker entry
CLEAR_LEAD = 1.15  # entries scoring within this factor of the best are offered beside it
SUGGEST_SHARE = 0.6  # suggestions score at least this share of the best one
SUGGESTIONS = 3


class Outcome(enum.StrEnum):
    ANSWER = "answered"
    SUGGEST = "suggested"
    UNKNOWN = "unknown"  # about the insurance card, but no answer is sure enough
    DECLINE = "declined"  # not something the bot answers
    EVENTS = "events"
    GREETING = "greeting"
    THANKS = "thanks"
    EMPTY = "empty"  # nothing to go on: emoji, a single character


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    normalised: str
    entry: Entry | None = None
    suggestions: tuple[Entry, ...] = ()  # もしかして; with an answer, the close alternatives
    score: float = 0.0
    coverage: float = 0.0
    best: Hit | None = None
    runner_up: Hit | None = None
    hits: tuple[Hit, ...] = field(default=(), repr=False)


class FaqEngine:
    def __init__(self, knowledge: KnowledgeBase, analyser: Analyser | None = None) -> None:
        self.knowledge = knowledge
        self._analyser = analyser or Analyser()
        self._normalise = Normaliser(knowledge.synonyms)
        self._entries = {entry.id: entry for entry in knowledge.entries}
        self._routes = {route.id: route for route in knowledge.routes}
        self.index = Index(list(self._documents()))

    def _documents(self) -> list[Document]:
        documents = []
        for entry in self.knowledge.entries:
            for text, kind in [(entry.title, "title"), *((q, "question") for q in entry.questions)]:
                documents.append(self._document(entry.id, kind, text))
            answer = entry.answer + (entry.more or "")
            documents.append(self._document(entry.id, "answer", answer))
        for route in self.knowledge.routes:
            documents.extend(self._document(route.id, "question", q) for q in route.questions)
        return documents

    def _document(self, target: str, kind: str, text: str) -> Document:
        normalised = self._normalise(text)
        return Document(
            target,
            kind,
            tuple(self._analyser.words(normalised)),
            tuple(self._analyser.bigrams(normalised)),
        )

    def decide(self, question: str) -> Decision:
        normalised = self._normalise(question)
        words = self._analyser.words(normalised)
        bigrams = self._analyser.bigrams(normalised)
        if not words and len(bigrams) < 2:
            return Decision(Outcome.EMPTY, normalised)
        hits = self.index.search(words, bigrams)
        if words and all(word in INTERROGATIVES for word in words):
            # 「なんだっけ」「いつ？」: a question word alone asks nothing we could answer.
            hits = [h for h in hits if h.target in self._routes]
            if not hits:
                return Decision(Outcome.EMPTY, normalised)
        entry_hits = [h for h in hits if h.target in self._entries]
        route_hit = next((h for h in hits if h.target in self._routes), None)
        top = entry_hits[0] if entry_hits else None
        routed = route_hit is not None and route_hit.reach >= ROUTE_AT
        if route_hit is not None and routed and (top is None or route_hit.reach >= top.reach):
            kind = self._routes[route_hit.target].kind
            return self._decision(_ROUTED[kind], normalised, hits, route_hit)
        if top is None:
            return Decision(Outcome.DECLINE, normalised, hits=tuple(hits))
        runner_up = entry_hits[1] if len(entry_hits) > 1 else None
        if top.reach >= ANSWER_AT:
            entry = self._entries[top.target]
            # A close call: answer the best, and offer the ones nearly as good beside it.
            close = [
                self._entries[h.target]
                for h in entry_hits[1:]
                if h.score * CLEAR_LEAD > top.score and h.reach >= SUGGEST_AT
            ][: SUGGESTIONS - 1]
            return self._decision(
                Outcome.ANSWER,
                normalised,
                hits,
                top,
                runner_up,
                entry=entry,
                suggestions=tuple(close),
            )
        if top.reach >= SUGGEST_AT:
            suggestions = self._distinct(entry_hits, top)
            return self._decision(
                Outcome.SUGGEST, normalised, hits, top, runner_up, suggestions=suggestions
            )
        # Little in common with any answer: a declined topic, or simply not ours.
        outcome = Outcome.UNKNOWN if top.reach >= UNKNOWN_AT else Outcome.DECLINE
        return self._decision(outcome, normalised, hits, top, runner_up)

    @staticmethod
    def _decision(
        outcome: Outcome,
        normalised: str,
        hits: list[Hit],
        best: Hit,
        runner_up: Hit | None = None,
        *,
        entry: Entry | None = None,
        suggestions: tuple[Entry, ...] = (),
    ) -> Decision:
        return Decision(
            outcome,
            normalised,
            entry=entry,
            suggestions=suggestions,
            score=best.score,
            coverage=best.coverage,
            best=best,
            runner_up=runner_up,
            hits=tuple(hits),
        )

    def _distinct(self, hits: list[Hit], top: Hit) -> tuple[Entry, ...]:
        chosen: list[Entry] = []
        for hit in hits:
            entry = self._entries[hit.target]
            if hit.reach < SUGGEST_AT or hit.score < SUGGEST_SHARE * top.score or entry in chosen:
                continue
            chosen.append(entry)
            if len(chosen) == SUGGESTIONS:
                break
        return tuple(chosen)

    def _topic(self, hit: Hit) -> str:
        entry = self._entries.get(hit.target)
        return entry.topic if entry else hit.target

    def route(self, route_id: str) -> Route | None:
        return self._routes.get(route_id)


_ROUTED = {
    RouteKind.EVENTS: Outcome.EVENTS,
    RouteKind.GREETING: Outcome.GREETING,
    RouteKind.THANKS: Outcome.THANKS,
    RouteKind.DECLINE: Outcome.DECLINE,
}
