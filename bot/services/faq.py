"""質問: answering members' questions from the knowledge base, with sources and dates.

Anything a member writes that is not a menu word comes here. The engine decides (answer,
もしかして, route, decline, don't know); every question is logged without the member's id
for the organisers' quality loop, and every answer offers 「世話人に聞く」.

An answer fits a phone screen: the answer, its checked date, and its first source as a named
link; 「くわしく」 shows the rest and the other sources, also as named links. Members never
read a raw address (see tests/unit/test_message_budget.py).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.domain.messages import Action, Button, Link, Outgoing
from bot.domain.ports import LoggedQuestion, UnitOfWorkFactory
from bot.faq.knowledge import Entry, Source
from bot.faq.matcher import Decision, FaqEngine, Outcome
from bot.services import contact, events
from bot.services.turn import StaleAction, Turn
from bot.texts import Texts
from bot.texts.masking import mask_personal

EngineSource = Callable[[], FaqEngine | None]

# What the quality loop reviews: declined, unsure and もしかして questions.
NOT_ANSWERED = frozenset({Outcome.UNKNOWN, Outcome.DECLINE, Outcome.SUGGEST})

# A source's name on its link button is cut to this (LINE's label limit): with 「出典: 」
# before it, the button still reads whole on a phone.
SOURCE_NAME_CHARS = 20

# What a source's title says in brackets (「（保険証の経過措置）」) is its subject, not its name.
_BRACKETED = re.compile(r"[（(][^（）()]*[）)]")


def human_button(turn: Turn) -> Button:
    return Button(turn.texts("faq.human_button"), Action("ask_human"))


class Answers:
    def __init__(self, engine: EngineSource) -> None:
        # A callable, not an engine: the knowledge base can be reloaded while the bot runs.
        self._engine = engine

    def prompt(self, turn: Turn) -> list[Outgoing]:
        return [turn.screens.with_menu(turn.member, turn.texts("faq.prompt"))]

    def ask(self, turn: Turn, question: str) -> tuple[Outcome, list[Outgoing]]:
        """A question in the member's words: what was decided, and the replies."""
        engine = self._engine()
        turn.member.asked(question, turn.now)
        if engine is None:
            unavailable = Outgoing(turn.texts("faq.unavailable"), buttons=((human_button(turn),),))
            return Outcome.UNKNOWN, [unavailable, turn.screens.menu_prompt(turn.member)]
        decision = engine.decide(question)
        if decision.outcome is Outcome.ANSWER and decision.entry is not None:
            # An organiser the question is relayed to sees what the bot said already.
            turn.member.asked(question, turn.now, answer=decision.entry.title[:200])
        self._log(turn, question, decision)
        return decision.outcome, self._replies(turn, decision)

    def show(self, turn: Turn, entry_id: str, language: str = "") -> list[Outgoing]:
        """An entry chosen from もしかして (or a related topic), in the language it was offered."""
        entry = self._entry(entry_id)
        successor = self._lookup(entry.superseded_by) if entry.superseded_by else None
        return [answer_message(turn, entry, language=_language(language), successor=successor)]

    def more(self, turn: Turn, entry_id: str, language: str = "") -> list[Outgoing]:
        """「くわしく」: the continuation of an answer, and the sources the answer did not show."""
        entry = self._entry(entry_id)
        language = _language(language)
        more = entry.text(language or turn.member.language)[2]
        if more is None and len(entry.sources) < 2:
            raise StaleAction(entry_id)
        texts = _texts(turn, language)
        related = [
            entry_button(found, language or turn.member.language)
            for found in (self._lookup(i) for i in entry.related)
            if found is not None
        ]
        rows = (*((button,) for button in related), (_human_button(texts),))
        return [
            Outgoing(
                more or texts("faq.more_sources"),
                buttons=rows,
                links=source_links(texts, entry.sources)[1:],
            )
        ]

    def _entry(self, entry_id: str) -> Entry:
        entry = self._lookup(entry_id)
        if entry is None:
            raise StaleAction(entry_id)  # a button from before the knowledge base changed
        return entry

    def _lookup(self, entry_id: str) -> Entry | None:
        engine = self._engine()
        return engine.knowledge.entry(entry_id) if engine is not None else None

    def _replies(self, turn: Turn, decision: Decision) -> list[Outgoing]:
        member = turn.member
        # A question in English is answered in English, whatever the member's setting.
        language = "en" if decision.language == "en" else ""
        texts = _texts(turn, language)
        outcome = decision.outcome
        if outcome is Outcome.ANSWER and decision.entry is not None:
            entry = decision.entry
            successor = self._lookup(entry.superseded_by) if entry.superseded_by else None
            return [
                answer_message(
                    turn, entry, decision.suggestions, language=language, successor=successor
                )
            ]
        if outcome is Outcome.SUGGEST:
            rows = (
                *(
                    (entry_button(entry, language or member.language),)
                    for entry in decision.suggestions
                ),
                (_human_button(texts),),
            )
            return [Outgoing(texts("faq.suggest"), buttons=rows)]
        if outcome is Outcome.EVENTS:
            return events.upcoming(turn)
        if outcome is Outcome.GREETING:
            return [turn.screens.with_menu(member, texts("faq.greeting"))]
        if outcome is Outcome.THANKS:
            return [turn.screens.with_menu(member, texts("faq.thanks"))]
        if outcome is Outcome.EMPTY:
            return [turn.screens.with_menu(member, texts("fallback.not_understood"))]
        key = "faq.unknown" if outcome is Outcome.UNKNOWN else "faq.decline"
        text = texts(key)
        if outcome is not Outcome.UNKNOWN:
            text = f"{text}\n{contact.where_to_ask(texts, turn.campaign.contact)}"
        return [
            Outgoing(text, buttons=((_human_button(texts),),)),
            turn.screens.menu_prompt(member),
        ]

    @staticmethod
    def _log(turn: Turn, question: str, decision: Decision) -> None:
        if decision.outcome in (Outcome.GREETING, Outcome.THANKS, Outcome.EMPTY):
            return
        names = (turn.member.display_name,)
        turn.uow.questions.record(
            LoggedQuestion(
                # Kept for the organisers' review: no phone numbers, addresses or names.
                text=mask_personal(question, names)[:1000],
                normalised=mask_personal(decision.normalised, names)[:1000],
                outcome=decision.outcome.value,
                entry_id=decision.entry.id if decision.entry else None,
                # The number that decided, so the log explains the outcome.
                score=round(decision.confidence, 4),
                language=decision.language if decision.language == "en" else turn.member.language,
                asked_at=turn.now,
            )
        )


def answer_message(
    turn: Turn,
    entry: Entry,
    alternatives: tuple[Entry, ...] = (),
    *,
    language: str = "",
    successor: Entry | None = None,
) -> Outgoing:
    """The answer, the date it was checked and its first source (a named link); a caution
    once it may be stale. 「くわしく」 shows the rest and the other sources (`Answers.more`).

    `language` is "en" for a question asked in English ("" is the member's own language).
    `alternatives` are entries that matched nearly as well: offered as buttons, in case the
    member meant one of them. An entry past its `valid_until` says so plainly: it describes
    a period that has ended, and points to its `successor` (what holds now) when there is one;
    the caution never speaks of "information up to" a date, which would contradict the
    checked date below it.
    """
    texts = _texts(turn, language)
    shown = language or turn.member.language
    zone = turn.campaign.timezone
    _, answer, more = entry.text(shown)
    parts = [answer]
    rows: list[tuple[Button, ...]] = []
    if entry.expired(turn.now.astimezone(zone).date()):
        assert entry.valid_until is not None
        until = texts.format_day(entry.valid_until)
        if successor is not None:
            parts.append(
                texts("faq.caution_superseded", date=until, title=successor.text(shown)[0])
            )
            rows.append((entry_button(successor, shown),))
        else:
            parts.append(
                texts("faq.caution", date=until, ask=entry.ask or texts("faq.ask_default"))
            )
    parts.append(texts("faq.checked", date=texts.format_day(entry.checked)))
    if more or len(entry.sources) > 1:
        rows.insert(
            0, (Button(texts("faq.more_button"), Action("faq_more", _args(entry.id, language))),)
        )
    if alternatives:
        parts.append(texts("faq.alternatives"))
        rows.extend((entry_button(other, shown),) for other in alternatives)
    rows.append((_human_button(texts),))
    # One source under the answer; the others wait under 「くわしく」.
    links = source_links(texts, entry.sources)[:1]
    return Outgoing("\n\n".join(parts), buttons=tuple(rows), links=links)


@dataclass(frozen=True)
class Unanswered:
    """Questions the bot did not answer that read the same once normalised."""

    normalised: str
    times: int
    last_asked: datetime
    examples: tuple[str, ...]


def unanswered(units: UnitOfWorkFactory, since: datetime) -> list[Unanswered]:
    """Questions not answered since `since`, grouped, most asked first (nobody identified)."""
    with units() as uow:
        questions = uow.questions.since(since, {outcome.value for outcome in NOT_ANSWERED})
    times: Counter[str] = Counter(q.normalised for q in questions)
    examples: dict[str, list[str]] = {}
    last: dict[str, datetime] = {}
    for question in questions:
        seen = examples.setdefault(question.normalised, [])
        if question.text not in seen:
            seen.append(question.text)
        last[question.normalised] = max(
            question.asked_at, last.get(question.normalised, question.asked_at)
        )
    return [
        Unanswered(normalised, count, last[normalised], tuple(examples[normalised]))
        for normalised, count in times.most_common()
    ]


def source_links(texts: Texts, sources: tuple[Source, ...]) -> tuple[Link, ...]:
    """An entry's sources offered by short names (「出典: 岐阜新聞」), never as raw addresses.

    Two sources that would get the same name (two articles of one paper) keep what their
    titles say in brackets, so the buttons can be told apart.
    """
    names = [source_name(source.title) for source in sources]
    return tuple(
        Link(
            texts(
                "faq.source_link",
                name=source_name(source.title, brackets=True) if names.count(name) > 1 else name,
            ),
            source.url,
        )
        for name, source in zip(names, sources, strict=True)
    )


def source_name(title: str, limit: int = SOURCE_NAME_CHARS, *, brackets: bool = False) -> str:
    """A source's title as a short name: without what it says in brackets (unless `brackets`),
    cut at a space when that keeps at least half of `limit`, else with an ellipsis."""
    name = " ".join((title if brackets else _BRACKETED.sub(" ", title)).split()) or title.strip()
    if len(name) <= limit:
        return name
    space = name.rfind(" ", 0, limit + 1)
    if space >= limit // 2:
        return name[:space]
    return name[: limit - 1] + "…"


def entry_button(entry: Entry, language: str) -> Button:
    """A button showing an entry, titled and answered in `language`."""
    title = entry.text(language)[0]
    return Button(title, Action("faq", _args(entry.id, "en" if language == "en" else "")))


def _args(entry_id: str, language: str) -> tuple[str, ...]:
    return (entry_id, language) if language else (entry_id,)


def _language(value: str) -> str:
    return "en" if value == "en" else ""


def _texts(turn: Turn, language: str) -> Texts:
    return turn.screens.catalogues[language] if language else turn.texts


def _human_button(texts: Texts) -> Button:
    return Button(texts("faq.human_button"), Action("ask_human"))
