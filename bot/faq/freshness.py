"""Whether an answer still reads true on a given day: deadlines stated as current that passed.

A deadline is a date followed by まで ("until"). Stated in a sentence that ends in the present
tense (使えます, までです) it promises something; once the date has passed that promise is
wrong, unless the entry is time-limited (`valid_until:`, then the bot adds a caution and, with
`superseded_by:`, points to the entry that replaced it). Sentences in the past tense
(使えました, 終わりました) are history and stay true. The same rule reads English answers
("until 31 July 2026" in a sentence without was / were / ended ...).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

_JA_DEADLINE = re.compile(
    r"(?P<year>\d{4})年(?P<month>\d{1,2})月(?:(?P<day>\d{1,2})日|(?P<end>末))"
    r"(?:[^。]{0,12}?)まで"
)
_JA_PAST = re.compile(
    r"(ました|でした|ませんでした|過ぎました|終わりました|過ぎています|終わっています)"
)
_EN_MONTHS = {name: number for number, name in enumerate(calendar.month_name) if name}
_EN_MONTHS.update({name: number for number, name in enumerate(calendar.month_abbr) if name})
_EN_DEADLINE = re.compile(
    r"\b(?:until|to|through|till)\s+(?:(?P<day>\d{1,2})\s+)?(?:the\s+end\s+of\s+)?"
    r"(?P<month>" + "|".join(sorted(_EN_MONTHS, key=len, reverse=True)) + r")\.?\s+(?P<year>\d{4})"
)
_EN_PAST = re.compile(
    r"\b(was|were|ran|lasted|applied|ended|expired|could|had|did|used to|has passed|have passed)\b"
)


@dataclass(frozen=True)
class StaleStatement:
    deadline: date
    sentence: str


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def stale_statements(text: str, today: date) -> list[StaleStatement]:
    """Deadlines in `text` stated in the present tense that are before `today`."""
    found: list[StaleStatement] = []
    for sentence in re.split(r"(?<=[。．])|(?<=\.)\s+", text):
        past_ja = _JA_PAST.search(sentence) is not None
        past_en = _EN_PAST.search(sentence) is not None
        for match in _JA_DEADLINE.finditer(sentence):
            year, month = int(match["year"]), int(match["month"])
            day = _month_end(year, month) if match["end"] else date(year, month, int(match["day"]))
            if day < today and not past_ja:
                found.append(StaleStatement(day, sentence.strip()))
        for match in _EN_DEADLINE.finditer(sentence):
            year, month = int(match["year"]), _EN_MONTHS[match["month"]]
            day = date(year, month, int(match["day"])) if match["day"] else _month_end(year, month)
            if day < today and not past_en:
                found.append(StaleStatement(day, sentence.strip()))
    return found
