"""The message budget (issue 12): what a member reads fits a phone screen.

Members are volunteers, many of them elderly, reading on phones, often with a large font. So
every catalogue text (bot/texts/ja.yaml, en.yaml) and every knowledge-base answer
(knowledge/insurance_card.yaml, loaded as the bot loads it and shown as the bot shows it) is
held to the budget below, in both languages. Each failure names the file and the entry id or
catalogue key, and says by how much, so an editor knows what to shorten: move detail to the
entry's `more:` (what 「くわしく」 shows), never drop a fact or a source.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import cast

import pytest

from bot.config import load_settings
from bot.domain.members import Member
from bot.domain.messages import Outgoing
from bot.domain.ports import UnitOfWork
from bot.faq.knowledge import Entry, KnowledgeBase, load_knowledge
from bot.faq.matcher import FaqEngine
from bot.services.faq import Answers, answer_message
from bot.services.screens import Screens
from bot.services.turn import Turn
from bot.texts import Catalogues
from tests.conftest import EXAMPLE_CONFIG, ROOT, TOKYO

# ─── The budget ───────────────────────────────────────────────────────────────────────────
# Characters, per language. English letters are half as wide as kana on a phone screen, and
# English says the same thing in about twice the characters (2.0 times over the knowledge
# base's answers), so every English limit is twice the Japanese one.

SCREEN_CHARS = {"ja": 300, "en": 600}
"""One screen: about 15 lines of 20 Japanese characters above an answer's buttons (くわしく,
the source, 世話人に聞く) on a phone at the default font. An answer as shown, with its checked
date, its caution once it has expired and its もしかして line, must fit; so must every
catalogue text (a template: what fills its placeholders is short, or is a list counted apart)."""

MORE_CHARS = {"ja": 600, "en": 1200}
"""What 「くわしく」 shows may take a second screen, never a third."""

FIRST_SENTENCE_CHARS = {"ja": 80, "en": 160}
"""An answer starts with the direct answer in one sentence: four lines of a phone screen,
read before deciding whether to read on. Its end is the first 。(or . ? !) outside brackets."""

FORBIDDEN = re.compile(r"https?:|www\.|%[0-9A-Fa-f]{2}|\{url\}", re.IGNORECASE)
"""No raw web address, no percent-encoded text (%E3%81...), and no template that would put an
address into the text: a web page is a `Link`, shown by name (a link button on Telegram)."""

# ─── Texts whose owners still have to fix them ────────────────────────────────────────────
# Catalogue keys over budget that belong to code not yet changed, with why. Empty now; a key
# listed here must still offend (so the list cannot go stale), and its owner empties it by
# making the code send a `Link` (as faq.py, event_cards.py and contact.py do).
PENDING: dict[tuple[str, str], str] = {}

LANGUAGES = ("ja", "en")
TODAY = date(2026, 11, 30)
KNOWLEDGE_FILE = "knowledge/insurance_card.yaml"
CATALOGUES = Catalogues.load()
_CLOSERS = {"「": "」", "『": "』", "（": "）", "(": ")", "【": "】", "[": "]", "〔": "〕"}
# Full stops that do not end an English sentence.
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "approx.", "No.")


def first_sentence(text: str) -> str:
    """The text up to its first full stop outside brackets (「...。」 and （...。） are inside)."""
    stack: list[str] = []
    for index, ch in enumerate(text):
        if ch in _CLOSERS:
            stack.append(_CLOSERS[ch])
        elif stack and ch == stack[-1]:
            stack.pop()
        elif stack:
            continue
        elif ch in "。！？\n":
            return text[: index + 1].strip()
        elif (
            ch in ".?!"
            and (index + 1 == len(text) or text[index + 1].isspace())
            and not text[: index + 1].endswith(_ABBREVIATIONS)
        ):
            return text[: index + 1]
    return text.strip()


def over(text: str, limit: int) -> str | None:
    return (
        f"{len(text)} characters, {len(text) - limit} over {limit}" if len(text) > limit else None
    )


def forbidden(text: str) -> str | None:
    found = FORBIDDEN.search(text)
    return f"contains {found.group()!r}" if found else None


# ─── Catalogues ───────────────────────────────────────────────────────────────────────────


def catalogue_offences() -> Iterator[tuple[tuple[str, str], str]]:
    for language in LANGUAGES:
        for key, value in CATALOGUES[language].entries.items():
            for text in value if isinstance(value, list) else [value]:
                text = str(text)
                for problem in (over(text, SCREEN_CHARS[language]), forbidden(text)):
                    if problem:
                        yield (language, key), problem


def test_every_catalogue_text_fits_the_budget() -> None:
    offenders = [
        f"bot/texts/{language}.yaml: {key}: {problem}"
        for (language, key), problem in catalogue_offences()
        if (language, key) not in PENDING
    ]
    assert offenders == [], "shorten these texts:\n" + "\n".join(offenders)


def test_the_pending_list_names_only_texts_that_still_offend() -> None:
    offending = {place for place, _ in catalogue_offences()}
    fixed = sorted(f"bot/texts/{lang}.yaml: {key}" for lang, key in set(PENDING) - offending)
    assert fixed == [], "these fit now (or are gone): remove them from PENDING\n" + "\n".join(fixed)


def test_the_rules_read_sentences_and_addresses_as_meant() -> None:
    assert first_sentence("はい。資格確認書です。") == "はい。"
    assert first_sentence("窓口で見せます（2025年12月2日から。原則）。次に") == (
        "窓口で見せます（2025年12月2日から。原則）。"
    )
    assert first_sentence("「届きます。」と書かれています。") == "「届きます。」と書かれています。"
    assert first_sentence("You pay (e.g. 30%). Then") == "You pay (e.g. 30%)."
    assert first_sentence("Call 0120-95-0178, i.e. the hotline. Then") == (
        "Call 0120-95-0178, i.e. the hotline."
    )
    assert first_sentence("見出し\n本文。") == "見出し"
    for text in ("https://example.org", "www.example.org", "%E5%B7%A3", "地図: {url}"):
        assert forbidden(text), text
    assert forbidden("利用率は37.13%です。") is None
    assert forbidden("3割（30%）") is None


# ─── The knowledge base, as the bot shows it ──────────────────────────────────────────────


@pytest.fixture(scope="module")
def shipped() -> KnowledgeBase:
    return load_knowledge(ROOT / "knowledge", TODAY)


def turn(language: str, day: date) -> Turn:
    """A turn for a member reading in `language` on `day` (answers need no database)."""
    now = datetime(day.year, day.month, day.day, 10, 0, tzinfo=TOKYO)
    member = Member("console", "budget", now, now, language=language)
    campaign = load_settings(EXAMPLE_CONFIG, env={}).campaign()
    return Turn(member, False, cast(UnitOfWork, None), now, campaign, Screens(campaign, CATALOGUES))


def shown(knowledge: KnowledgeBase, entry: Entry, language: str) -> Outgoing:
    """The longest the answer can be shown: with its caution once expired (on the day after),
    and with the もしかして line (another entry offered beside it)."""
    day = max(TODAY, entry.valid_until + timedelta(days=1) if entry.valid_until else TODAY)
    successor = knowledge.entry(entry.superseded_by) if entry.superseded_by else None
    other = next(e for e in knowledge.entries if e.id != entry.id)
    return answer_message(turn(language, day), entry, (other,), successor=successor)


def languages_of(entry: Entry) -> tuple[str, ...]:
    return LANGUAGES if entry.answer_en else ("ja",)


def test_every_answer_fits_a_screen_and_says_it_first(shipped: KnowledgeBase) -> None:
    offenders = []
    for entry in shipped.entries:
        for language in languages_of(entry):
            _, answer, _ = entry.text(language)
            place = f"{KNOWLEDGE_FILE}: {entry.id} ({language}"
            message = shown(shipped, entry, language).text
            if problem := over(message, SCREEN_CHARS[language]):
                offenders.append(f"{place}, answer as shown): {problem}")
            sentence = first_sentence(answer)
            if problem := over(sentence, FIRST_SENTENCE_CHARS[language]):
                offenders.append(f"{place}, first sentence): {problem}: {sentence[:40]}…")
    assert offenders == [], "shorten these answers (move detail to more:):\n" + "\n".join(offenders)


def test_every_more_text_fits_two_screens(shipped: KnowledgeBase) -> None:
    engine = FaqEngine(shipped, today=lambda: TODAY)
    answers = Answers(lambda: engine)
    offenders = []
    for entry in shipped.entries:
        for language in languages_of(entry):
            if entry.text(language)[2] is None and len(entry.sources) < 2:
                continue  # no 「くわしく」
            (reply,) = answers.more(turn(language, TODAY), entry.id)
            if problem := over(reply.text, MORE_CHARS[language]):
                offenders.append(f"{KNOWLEDGE_FILE}: {entry.id} ({language}, more): {problem}")
    assert offenders == [], "shorten these more: texts:\n" + "\n".join(offenders)


def test_no_answer_shows_a_raw_address(shipped: KnowledgeBase) -> None:
    offenders = []
    for entry in shipped.entries:
        texts = {
            "title": entry.title,
            "answer": entry.answer,
            "more": entry.more,
            "title_en": entry.title_en,
            "answer_en": entry.answer_en,
            "more_en": entry.more_en,
            "ask": entry.ask,
        }
        for language in languages_of(entry):
            texts[f"answer as shown ({language})"] = shown(shipped, entry, language).text
        for field, text in texts.items():
            if text and (problem := forbidden(text)):
                offenders.append(f"{KNOWLEDGE_FILE}: {entry.id} ({field}): {problem}")
    assert offenders == [], "\n".join(offenders)
