"""Message catalogues: every user-facing sentence, keyed, in Japanese and English.

The YAML files next to this module are copy to be reviewed, not code. Keys are dotted paths
(`welcome.greeting`); values are `str.format` templates, or lists for keywords and calendars.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from functools import cache
from importlib import resources
from typing import Any

import yaml

LANGUAGES = ("ja", "en")
DEFAULT_LANGUAGE = "ja"

_IGNORED_IN_WORDS = " 　\t\n。、．，.,!！?？・〜~ー-ｰ"


def normalise_word(text: str) -> str:
    """The form plain words are compared in: NFKC, lower case, no spaces or punctuation."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in folded if ch not in _IGNORED_IN_WORDS)


def _flatten(prefix: str, node: Mapping[str, Any], into: dict[str, Any]) -> None:
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            _flatten(f"{path}.", value, into)
        else:
            into[path] = value


@dataclass(frozen=True)
class Texts:
    """The catalogue of one language."""

    language: str
    entries: Mapping[str, Any]

    def __call__(self, key: str, **values: object) -> str:
        template = self.entries[key]
        if not isinstance(template, str):
            raise TypeError(f"text {key!r} is not a sentence")
        return template.format(**values) if values else template

    def words(self, key: str) -> list[str]:
        value = self.entries[key]
        if not isinstance(value, list):
            raise TypeError(f"text {key!r} is not a list")
        return [str(v) for v in value]

    def join(self, items: Iterable[str]) -> str:
        return self("regions.separator").join(items)

    def format_datetime(self, moment: datetime, zone: tzinfo) -> str:
        """「11月7日(木) 13:00」 in Japanese, "Thu 7 Nov 13:00" in English."""
        local = moment.astimezone(zone)
        return self("datetime_format", **self._date_parts(local))

    def format_date(self, moment: datetime, zone: tzinfo) -> str:
        return self("date_format", **self._date_parts(moment.astimezone(zone)))

    def format_day(self, day: date) -> str:
        """「2026年11月20日」 / "20 Nov 2026": a date without a weekday, as on a document."""
        return self(
            "day_format",
            year=day.year,
            month=day.month,
            month_name=self.words("months")[day.month - 1],
            day=day.day,
        )

    def _date_parts(self, local: datetime) -> dict[str, object]:
        return {
            "month": local.month,
            "month_name": self.words("months")[local.month - 1],
            "day": local.day,
            "weekday": self.words("weekdays")[local.weekday()],
            "hour": local.hour,
            "minute": f"{local.minute:02d}",
        }


class Catalogues:
    """All languages, with the keyword table shared between them."""

    def __init__(self, texts: Mapping[str, Texts]) -> None:
        self._texts = dict(texts)
        self._keywords: dict[str, str] = {}
        self._labels: dict[str, str] = {}
        self._phrases: dict[str, list[str]] = {}
        for catalogue in self._texts.values():
            for key, words in catalogue.entries.items():
                if key.startswith("keywords."):
                    intent = key.removeprefix("keywords.")
                    for word in words:
                        self._keywords.setdefault(normalise_word(str(word)), intent)
                elif key.startswith("label_words."):
                    label = key.removeprefix("label_words.")
                    for word in words:
                        self._labels.setdefault(normalise_word(str(word)), label)
                elif key.startswith("phrases."):
                    kind = key.removeprefix("phrases.")
                    self._phrases.setdefault(kind, []).extend(
                        normalise_word(str(word)) for word in words
                    )

    @classmethod
    def load(cls) -> Catalogues:
        return _bundled()

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self._texts)

    def __getitem__(self, language: str) -> Texts:
        return self._texts.get(language) or self._texts[DEFAULT_LANGUAGE]

    def label_for(self, word: str) -> str | None:
        """The text key of the button label a common way of saying it stands for (「もっと」:
        `events.more`, 「もっと見る」); `word` as `normalise_word` gives it."""
        return self._labels.get(word)

    def says(self, kind: str, text: str) -> bool:
        """Whether `text` contains one of the `phrases.<kind>` of any language and none of
        the `phrases.<kind>_not` (「使い方」 is help, 「マイナ保険証の使い方」 is a question)."""
        folded = normalise_word(text)
        if any(word in folded for word in self._phrases.get(f"{kind}_not", ())):
            return False
        return any(word in folded for word in self._phrases.get(kind, ()))

    def intent_of(self, text: str) -> str | None:
        """The menu intent a plain word stands for in any language (「ヘルプ」 and "help" alike)."""
        return self._keywords.get(normalise_word(text))


_LOADER = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


@cache
def _bundled() -> Catalogues:
    texts = {}
    for language in LANGUAGES:
        raw = resources.files(__package__).joinpath(f"{language}.yaml").read_text("utf-8")
        entries: dict[str, Any] = {}
        # Read by libyaml (C) where PyYAML has it: every start of the bot reads these files.
        _flatten("", yaml.load(raw, Loader=_LOADER), entries)
        texts[language] = Texts(language, entries)
    return Catalogues(texts)
