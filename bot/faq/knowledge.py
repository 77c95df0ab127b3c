"""The knowledge base: curated answers with sources and dates, and where other questions go.

`knowledge/` holds YAML files that organisers edit: `insurance_card.yaml` (a list of entries),
`routes.yaml` (questions that are not about the insurance card: events, greetings, topics the
bot declines) and `synonyms.yaml` (variants members write for the same term). Every mistake is
reported with file and line, like the config and the schedules.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, RootModel

from bot.faq.freshness import stale_statements
from bot.yaml_validation import InvalidDocument, Loc, Problem, read_yaml, validate
from bot.yaml_values import as_text, parse_date, parse_link

ANSWER_MAX = 300
MORE_MAX = 600
ENTRIES_FILE = "insurance_card.yaml"
ROUTES_FILE = "routes.yaml"
SYNONYMS_FILE = "synonyms.yaml"
THRESHOLDS_FILE = "thresholds.yaml"

Day = Annotated[date, BeforeValidator(parse_date)]
Url = Annotated[str, BeforeValidator(parse_link)]
Text = Annotated[str, BeforeValidator(as_text), Field(min_length=1)]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=48)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceEntry(_Strict):
    title: Text
    url: Url


class Scheme(enum.StrEnum):
    """The insurance schemes an answer can be limited to."""

    KOKUHO = "kokuho"  # 国民健康保険 (市区町村)
    KYOKAI = "kyokai"  # 協会けんぽ
    KUMIAI = "kumiai"  # 健康保険組合
    KOUKI = "kouki"  # 後期高齢者医療 (75歳以上)


class AnswerEntry(_Strict):
    id: Slug
    topic: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    facts: list[Annotated[int, Field(ge=1)]] = Field(min_length=1)
    title: Text
    questions: list[Text] = Field(min_length=1)
    answer: Text
    more: Text | None = None
    title_en: Text | None = None
    questions_en: list[Text] = []
    answer_en: Text | None = None
    more_en: Text | None = None
    ask: Text | None = None
    sources: list[SourceEntry] = Field(min_length=1)
    checked: Day
    valid_until: Day | None = None
    superseded_by: Slug | None = None
    scheme: Scheme | None = None
    wards: list[Text] = []
    about: list[Text] = []
    about_en: list[Text] = []
    related: list[Slug] = []

    def problems(self) -> Iterator[tuple[Loc, str]]:
        if len(self.answer) > ANSWER_MAX:
            yield (
                ("answer",),
                f"{len(self.answer)} characters; a chat answer is at most {ANSWER_MAX}: "
                "move the rest to more:",
            )
        if self.more is not None and len(self.more) > MORE_MAX:
            yield ("more",), f"{len(self.more)} characters; at most {MORE_MAX}"
        if self.answer_en is not None and len(self.answer_en) > ANSWER_MAX * 3:
            yield ("answer_en",), f"{len(self.answer_en)} characters; at most {ANSWER_MAX * 3}"
        if len(set(self.questions)) != len(self.questions):
            yield ("questions",), "the same phrasing is written twice"
        if self.superseded_by is not None and self.valid_until is None:
            yield (
                ("superseded_by",),
                "only a time-limited entry (with valid_until:) can have a successor",
            )
        if self.superseded_by == self.id:
            yield ("superseded_by",), "an entry cannot succeed itself"


class AnswerFile(RootModel[list[AnswerEntry]]):
    def problems(self) -> Iterator[tuple[Loc, str]]:
        ids: dict[str, int] = {}
        for index, entry in enumerate(self.root):
            for loc, message in entry.problems():
                yield (index, *loc), message
            if entry.id in ids:
                yield (index, "id"), f'duplicate id "{entry.id}" (also entry {ids[entry.id]})'
            ids.setdefault(entry.id, index)
        for index, entry in enumerate(self.root):
            for position, other in enumerate(entry.related):
                if other not in ids:
                    yield (index, "related", position), f'no entry has the id "{other}"'
            if entry.superseded_by is not None and entry.superseded_by not in ids:
                yield (index, "superseded_by"), f'no entry has the id "{entry.superseded_by}"'


class RouteKind(enum.StrEnum):
    EVENTS = "events"  # 次の宣伝はいつ？ -> the calendar
    GREETING = "greeting"  # こんにちは
    THANKS = "thanks"  # ありがとう
    DECLINE = "decline"  # pensions, weather, taxes, clinic advice: not ours to answer


class RouteEntry(_Strict):
    """A route: phrasings like it go there; `subject` words send a question there outright.

    A decline route's `subject` names a neighbouring subject by its own words (年金, 免許証):
    a question that uses one of them is declined unless it also uses one of the `unless`
    words, which make it about the insurance card after all.
    """

    id: Slug
    kind: RouteKind
    questions: list[Text] = Field(min_length=1)
    subject: list[Text] = []
    unless: list[Text] = []


class RoutesFile(_Strict):
    routes: list[RouteEntry]

    def problems(self) -> Iterator[tuple[Loc, str]]:
        seen: dict[str, int] = {}
        for index, route in enumerate(self.routes):
            if route.id in seen:
                yield ("routes", index, "id"), f'duplicate id "{route.id}"'
            seen.setdefault(route.id, index)


class SynonymsFile(RootModel[dict[str, list[Text]]]):
    def problems(self) -> Iterator[tuple[Loc, str]]:
        owner: dict[str, str] = {}
        for canonical, variants in self.root.items():
            for index, variant in enumerate(variants):
                if variant in owner and owner[variant] != canonical:
                    yield (
                        (canonical, index),
                        f'"{variant}" is already a variant of "{owner[variant]}"',
                    )
                owner.setdefault(variant, canonical)


@dataclass(frozen=True)
class Source:
    title: str
    url: str


@dataclass(frozen=True)
class Entry:
    """One curated answer, in Japanese and (when written) English."""

    id: str
    topic: str
    title: str
    questions: tuple[str, ...]
    answer: str
    sources: tuple[Source, ...]
    checked: date
    more: str | None = None
    ask: str | None = None
    valid_until: date | None = None
    related: tuple[str, ...] = ()
    facts: tuple[int, ...] = ()
    superseded_by: str | None = None
    scheme: Scheme | None = None
    wards: tuple[str, ...] = ()
    # Words one of which a question asking for this entry uses (なくした, 紛失, 再交付 for a
    # reissue): without any, the entry keeps only a share of its score (see the matcher).
    about: tuple[str, ...] = ()
    about_en: tuple[str, ...] = ()
    title_en: str | None = None
    questions_en: tuple[str, ...] = ()
    answer_en: str | None = None
    more_en: str | None = None

    def expired(self, today: date) -> bool:
        """Past its `valid_until`: the answer is shown with a caution to check the news."""
        return self.valid_until is not None and today > self.valid_until

    def text(self, language: str) -> tuple[str, str, str | None]:
        """Title, answer and「くわしく」 text in a language, Japanese when not written."""
        if language == "en" and self.answer_en:
            return self.title_en or self.title, self.answer_en, self.more_en
        return self.title, self.answer, self.more


@dataclass(frozen=True)
class Route:
    id: str
    kind: RouteKind
    questions: tuple[str, ...]
    subject: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()


@dataclass(frozen=True)
class Thresholds:
    """The numbers the engine decides with; `campaign-bot faq calibrate` chooses them."""

    answer_at: float = 0.35  # confidence from which the best entry is answered
    suggest_at: float = 0.25  # confidence from which likely entries are offered (もしかして)
    unknown_at: float = 0.15  # below this the question shares too little to be ours
    lead: float = 1.6  # a もしかして candidate this far ahead of the next is answered
    margin: float = (
        1.0  # above answer_at, the best must score this times the next, or it is offered
    )


class ThresholdsBlock(_Strict):
    answer_at: Annotated[float, Field(gt=0, le=1)]
    suggest_at: Annotated[float, Field(gt=0, le=1)]
    unknown_at: Annotated[float, Field(ge=0, le=1)]
    lead: Annotated[float, Field(ge=1)]
    margin: Annotated[float, Field(ge=1)] = 1.0
    chosen: Text | None = None  # how and when calibration chose them

    def problems(self) -> Iterator[tuple[Loc, str]]:
        if not self.unknown_at <= self.suggest_at <= self.answer_at:
            yield ("suggest_at",), "expected unknown_at <= suggest_at <= answer_at"

    def thresholds(self) -> Thresholds:
        return Thresholds(self.answer_at, self.suggest_at, self.unknown_at, self.lead, self.margin)


class ThresholdsFile(ThresholdsBlock):
    """Japanese thresholds at the top; English ones (another index, other scores) below."""

    english: ThresholdsBlock | None = None


@dataclass(frozen=True)
class KnowledgeBase:
    entries: tuple[Entry, ...]
    routes: tuple[Route, ...] = ()
    synonyms: dict[str, list[str]] = field(default_factory=dict)
    warnings: tuple[Problem, ...] = ()
    thresholds: Thresholds = field(default_factory=Thresholds)
    thresholds_en: Thresholds = field(default_factory=Thresholds)

    def entry(self, entry_id: str) -> Entry | None:
        return next((e for e in self.entries if e.id == entry_id), None)


def _entries(model: AnswerFile) -> Iterable[Entry]:
    for item in model.root:
        yield Entry(
            id=item.id,
            topic=item.topic,
            title=item.title,
            questions=tuple(item.questions),
            answer=item.answer,
            sources=tuple(Source(s.title, s.url) for s in item.sources),
            checked=item.checked,
            more=item.more,
            ask=item.ask,
            valid_until=item.valid_until,
            related=tuple(item.related),
            facts=tuple(item.facts),
            superseded_by=item.superseded_by,
            scheme=item.scheme,
            wards=tuple(item.wards),
            about=tuple(item.about),
            about_en=tuple(item.about_en),
            title_en=item.title_en,
            questions_en=tuple(item.questions_en),
            answer_en=item.answer_en,
            more_en=item.more_en,
        )


def load_knowledge(directory: Path, today: date) -> KnowledgeBase:
    """Read and check the files; raises `InvalidDocument` with every problem at once.

    What time has made doubtful is not an error but a warning, so `campaign-bot check` asks
    for the facts to be checked again: an entry past its `valid_until` without a successor
    (`superseded_by:`), and an entry without `valid_until` whose answer states a deadline that
    has passed as if it still held (see `bot.faq.freshness`).
    """
    problems: list[Problem] = []
    shown = directory.name

    def read(name: str, model: type[Any]) -> Any:
        path = directory / name
        try:
            return validate(read_yaml(path, f"{shown}/{name}"), model)
        except InvalidDocument as exc:
            problems.extend(exc.problems)
            return None

    answers = read(ENTRIES_FILE, AnswerFile)
    routes = read(ROUTES_FILE, RoutesFile)
    synonyms = read(SYNONYMS_FILE, SynonymsFile)
    chosen = (
        read(THRESHOLDS_FILE, ThresholdsFile) if (directory / THRESHOLDS_FILE).exists() else None
    )
    if problems:
        raise InvalidDocument(problems)
    entries = tuple(_entries(answers))
    document = read_yaml(directory / ENTRIES_FILE, f"{shown}/{ENTRIES_FILE}")
    thresholds = chosen.thresholds() if chosen is not None else Thresholds()
    english = chosen.english if chosen is not None else None
    thresholds_en = english.thresholds() if english is not None else thresholds
    return KnowledgeBase(
        entries=entries,
        routes=tuple(
            Route(r.id, r.kind, tuple(r.questions), tuple(r.subject), tuple(r.unless))
            for r in routes.routes
        ),
        synonyms={k: list(v) for k, v in synonyms.root.items()},
        warnings=tuple(_time_warnings(document, entries, today)),
        thresholds=thresholds,
        thresholds_en=thresholds_en,
    )


def _time_warnings(document: Any, entries: tuple[Entry, ...], today: date) -> Iterator[Problem]:
    for index, entry in enumerate(entries):
        if entry.expired(today) and entry.superseded_by is None:
            yield Problem(
                document.file,
                document.line_of((index, "valid_until")),
                f"[{index}].valid_until",
                f"{entry.valid_until} has passed and no entry succeeds this one: the bot adds "
                "a caution to it; check the facts, then write the entry that says what holds "
                "now and name it in superseded_by:",
            )
        if entry.valid_until is not None:
            continue
        for field_name in ("answer", "answer_en"):
            text = getattr(entry, field_name)
            for stale in stale_statements(text or "", today):
                yield Problem(
                    document.file,
                    document.line_of((index, field_name)),
                    f"[{index}].{field_name}",
                    f"states {stale.deadline} as a deadline that still holds, but it has "
                    f"passed ({stale.sentence!r}): write it in the past tense, or give the "
                    "entry valid_until: and a successor",
                )
