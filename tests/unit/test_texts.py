"""The message catalogues are complete, consistent, and read as the campaign wants."""

from __future__ import annotations

import ast
import re
import string
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.texts import Catalogues, normalise_word

TOKYO = ZoneInfo("Asia/Tokyo")
CATALOGUES = Catalogues.load()


def _fields(template: object) -> set[str]:
    if not isinstance(template, str):
        return set()
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_language_has_the_same_keys() -> None:
    ja, en = CATALOGUES["ja"], CATALOGUES["en"]
    assert set(ja.entries) == set(en.entries)


@pytest.mark.parametrize("key", sorted(CATALOGUES["ja"].entries))
def test_placeholders_match_between_languages(key: str) -> None:
    ja = _fields(CATALOGUES["ja"].entries[key])
    en = _fields(CATALOGUES["en"].entries[key])
    if key.endswith("_format"):
        return  # date formats legitimately use different parts
    assert ja == en


def test_dates_read_the_japanese_way() -> None:
    moment = datetime(2024, 11, 7, 13, 0, tzinfo=TOKYO)
    assert CATALOGUES["ja"].format_datetime(moment, TOKYO) == "11月7日(木) 13:00"
    assert CATALOGUES["en"].format_datetime(moment, TOKYO) == "Thu 7 Nov 13:00"
    assert CATALOGUES["ja"].format_date(moment, TOKYO) == "11月7日(木)"


def test_dates_are_shown_in_the_campaign_time_zone() -> None:
    utc_evening = datetime(2024, 11, 6, 16, 30, tzinfo=ZoneInfo("UTC"))
    assert CATALOGUES["ja"].format_datetime(utc_evening, TOKYO) == "11月7日(木) 1:30"


@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize("intent", ["events", "ask", "settings", "help", "stats"])
def test_every_menu_label_typed_back_means_its_intent(language: str, intent: str) -> None:
    # Telegram's reply keyboard sends the label as text: it must route like the button.
    label = CATALOGUES[language](f"menu.{intent}")
    assert CATALOGUES.intent_of(label) == intent


def test_no_keyword_means_two_things() -> None:
    seen: dict[str, str] = {}
    for language in CATALOGUES.languages:
        for key, words in CATALOGUES[language].entries.items():
            if key.startswith("keywords."):
                for word in words:
                    intent = key.removeprefix("keywords.")
                    assert seen.setdefault(normalise_word(word), intent) == intent, word


def test_word_normalisation_folds_width_case_and_punctuation() -> None:
    assert normalise_word(" ﾍﾙﾌﾟ！") == normalise_word("ヘルプ")
    assert normalise_word("HELP.") == "help"


def _string_literals(tree: ast.AST) -> list[ast.Constant]:
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        if id(node) not in docstrings
    ]


@pytest.mark.parametrize("package", ["domain", "services", "channels", "commands"])
def test_no_japanese_sentences_hide_in_handlers_or_the_core(package: str) -> None:
    """User-facing Japanese lives in the catalogues, not in the code that decides or sends."""
    japanese = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
    root = Path(__file__).resolve().parents[2] / "bot" / package
    offenders = [
        f"{path.name}:{literal.lineno}: {literal.value!r}"
        for path in root.rglob("*.py")
        for literal in _string_literals(ast.parse(path.read_text("utf-8")))
        if japanese.search(literal.value)
    ]
    assert offenders == []
