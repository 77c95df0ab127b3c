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

from bot.yaml_validation import InvalidDocument, Loc, Problem, read_yaml, validate
from bot.yaml_values import as_text, parse_date, parse_link

ANSWER_MAX = 300
MORE_MAX = 600
ENTRIES_FILE = "insurance_card.yaml"
ROUTES_FILE = "routes.yaml"
SYNONYMS_FILE = "synonyms.yaml"

Day = Annotated[date, BeforeValidator(parse_date)]
Url = Annotated[str, BeforeValidator(parse_link)]
Text = Annotated[str, BeforeValidator(as_text), Field(min_length=1)]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=48)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceEntry(_Strict):
    title: Text
    url: Url


class AnswerEntry(_Strict):
    id: Slug
    topic: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    title: Text
    questions: list[Text] = Field(min_length=1)
    answer: Text
    more: Text | None = None
    ask: Text | None = None
    sources: list[SourceEntry] = Field(min_length=1)
    checked: Day
    valid_until: Day | None = None
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
        if len(set(self.questions)) != len(self.questions):
            yield ("questions",), "the same phrasing is written twice"


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


class RouteKind(enum.StrEnum):
    EVENTS = "events"  # 次の宣伝はいつ？ -> the calendar
    GREETING = "greeting"  # こんにちは
    THANKS = "thanks"  # ありがとう
    DECLINE = "decline"  # pensions, weather, taxes, clinic advice: not ours to answer


class RouteEntry(_Strict):
    id: Slug
    kind: RouteKind
    questions: list[Text] = Field(min_length=1)


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
    """One curated answer."""

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

    def expired(self, today: date) -> bool:
        """Past its `valid_until`: the answer is shown with a caution to check the news."""
        return self.valid_until is not None and today > self.valid_until


@dataclass(frozen=True)
class Route:
    id: str
    kind: RouteKind
    questions: tuple[str, ...]


@dataclass(frozen=True)
class KnowledgeBase:
    entries: tuple[Entry, ...]
    routes: tuple[Route, ...] = ()
    synonyms: dict[str, list[str]] = field(default_factory=dict)
    warnings: tuple[Problem, ...] = ()

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
        )


def load_knowledge(directory: Path, today: date) -> KnowledgeBase:
    """Read and check the three files; raises `InvalidDocument` with every problem at once.

    Entries past their `valid_until` are not errors (the bot adds a caution to them) but are
    returned as `warnings`, so `campaign-bot check` can ask for the facts to be checked again.
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
    if problems:
        raise InvalidDocument(problems)
    entries = tuple(_entries(answers))
    document = read_yaml(directory / ENTRIES_FILE, f"{shown}/{ENTRIES_FILE}")
    warnings = tuple(
        Problem(
            document.file,
            document.line_of((index, "valid_until")),
            f"[{index}].valid_until",
            f"{entry.valid_until} has passed: the bot now adds a caution to this answer; "
            "check the facts and update the entry",
        )
        for index, entry in enumerate(entries)
        if entry.expired(today)
    )
    return KnowledgeBase(
        entries=entries,
        routes=tuple(Route(r.id, r.kind, tuple(r.questions)) for r in routes.routes),
        synonyms={k: list(v) for k, v in synonyms.root.items()},
        warnings=warnings,
    )
