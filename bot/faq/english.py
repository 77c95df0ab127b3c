"""English questions: telling them from Japanese ones, and their words for the English index.

The bot is Japanese first; English questions (from members who chose English, or anyone who
writes in English) are matched against each entry's English title, phrasings and answer, with
plain word stems and word pairs (BM25 as for Japanese). No dictionary is needed: the answers
are short and written in plain English, and the Japanese names members copy from their mail
(資格確認書) are kept as words too, since the English answers name them.
"""

from __future__ import annotations

import itertools
import re
import unicodedata

from bot.faq.analysis import Features

_LATIN = re.compile(r"[a-z]")
_JAPANESE = re.compile(r"[ぁ-んァ-ヶ一-龯]")
_TOKENS = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[ぁ-んァ-ヶー一-龯々]+")
# Words every question has, and ways of framing one ("I heard that", "please tell me").
_STOP = frozenset(
    [
        # framing and filler a question carries whatever it asks
        "still",
        "ok",
        "okay",
        "someone",
        "something",
        "anything",
        "everything",
        "myself",
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "from",
        "with",
        "about",
        "as",
        "into",
        "than",
        "then",
        "so",
        "i",
        "me",
        "my",
        "mine",
        "we",
        "our",
        "us",
        "you",
        "your",
        "yours",
        "he",
        "him",
        "his",
        "she",
        "her",
        "they",
        "them",
        "their",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "be",
        "is",
        "are",
        "was",
        "were",
        "been",
        "being",
        "am",
        "do",
        "does",
        "did",
        "doing",
        "done",
        "have",
        "has",
        "had",
        "having",
        "can",
        "could",
        "will",
        "would",
        "shall",
        "should",
        "may",
        "might",
        "must",
        "get",
        "got",
        "getting",
        "please",
        "tell",
        "know",
        "let",
        "heard",
        "hear",
        "said",
        "say",
        "says",
        "told",
        "understand",
        "understood",
        "right",
        "correct",
        "correctly",
        "just",
        "really",
        "also",
        "still",
        "now",
        "very",
        "some",
        "any",
        "something",
        "anything",
        "thing",
        "things",
        "one",
        "ones",
        "way",
        "kindly",
        "thanks",
        "thank",
        "hi",
        "hello",
        "question",
        "ask",
        "asking",
        "want",
        "wanted",
        "like",
        "would",
        "i'm",
        "it's",
        "don't",
        "doesn't",
        "isn't",
        "aren't",
        "can't",
        "what's",
        "mean",
        "means",
    ]
)
# Variants members write for the same thing; longest first, spaces kept.
_VARIANTS = {
    "shikaku kakuninsho": "certificate",
    "shikaku-kakuninsho": "certificate",
    "kakuninsho": "certificate",
    "qualification confirmation certificate": "certificate",
    "eligibility certificate": "certificate",
    "confirmation certificate": "certificate",
    "qualification certificate": "certificate",
    "my number card": "mynumbercard",
    "mynumber card": "mynumbercard",
    "my-number card": "mynumbercard",
    "my number": "mynumbercard",
    "mynumber": "mynumbercard",
    "myna card": "mynumbercard",
    "maina": "myna",
    "hokensho": "insurance card",
    "hokenshō": "insurance card",
    "national health insurance": "nhi",
    "kokumin kenko hoken": "nhi",
    "kokuho": "nhi",
    "late-stage elderly": "kouki",
    "late elderly": "kouki",
    "latter-stage elderly": "kouki",
    "kouki koureisha": "kouki",
    "75 and over": "kouki",
    "75 or older": "kouki",
    "over 75": "kouki",
    "kyokai kenpo": "kyokai",
    "kyōkai kenpo": "kyokai",
    "e-certificate": "ecert",
    "electronic certificate": "ecert",
    "digital certificate": "ecert",
    "pin": "pin",
    "passcode": "pin",
    "password": "pin",
    "my number portal": "mynaportal",
    "mynaportal": "mynaportal",
    "myna portal": "mynaportal",
    "100%": "fullcost",
    "10 wari": "fullcost",
    "full cost": "fullcost",
    "full amount": "fullcost",
    "entire cost": "fullcost",
    "the whole cost": "fullcost",
    "pay everything": "fullcost",
    # Concepts written several ways; both questions and answers are folded the same way.
    "misplaced": "lost",
    "stolen": "lost",
    "stole": "lost",
    "missing": "lost",
    "lose": "lost",
    "losing": "lost",
    "telephone": "phone",
    "call": "phone",
    "ring": "phone",
    "iphone": "smartphone",
    "android": "smartphone",
    "mobile phone": "smartphone",
    "fee": "charge",
    "cost money": "charge",
    "costs money": "charge",
    "price": "charge",
    "four-digit code": "pin",
    "4-digit code": "pin",
    "pin code": "pin",
    "unpaid": "arrears",
    "behind on": "arrears",
    "haven't paid": "arrears",
    "have not paid": "arrears",
    "can't pay": "arrears",
    "cannot pay": "arrears",
    "can't afford": "arrears",
    "premiums": "premium",
    "nursing home": "facility",
    "care home": "facility",
    "care facility": "facility",
    "older people": "kouki",
    "elderly": "kouki",
    "employers' insurance": "employee insurance",
    "employer's insurance": "employee insurance",
    "company insurance": "employee insurance",
    "employees' insurance": "employee insurance",
    "interim measure": "interim",
    "interim rule": "interim",
    "special rule": "interim",
    "temporary measure": "interim",
    "special measure": "interim",
    # Asking whether something is obligatory is asking whether it is voluntary: the answers say
    # "voluntary", members ask "mandatory?".
    "mandatory": "voluntary",
    "compulsory": "voluntary",
    "obligatory": "voluntary",
    "optional": "voluntary",
    "my choice": "voluntary",
    "runs out": "expire",
    "run out": "expire",
    "running out": "expire",
    "ran out": "expire",
    "application": "apply",
    "applying": "apply",
    "hospital": "clinic",
    "doctor's": "clinic",
    "doctor": "clinic",
    "pharmacy": "clinic",
}
_VARIANT = re.compile(
    r"(?<![a-z0-9])(?:"
    + "|".join(re.escape(v) for v in sorted(_VARIANTS, key=len, reverse=True))
    + r")(?![a-z0-9])"
)


def is_english(text: str) -> bool:
    """Written mostly in Latin letters: at least two English words, more Latin than Japanese."""
    folded = unicodedata.normalize("NFKC", text).lower()
    latin = len(_LATIN.findall(folded))
    japanese = len(_JAPANESE.findall(folded))
    words = len(re.findall(r"[a-z]{2,}", folded))
    return words >= 2 and latin > japanese


def normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    return _VARIANT.sub(lambda m: _VARIANTS[m.group(0)], folded)


def stem(word: str) -> str:
    """A light suffix stripper: cards -> card, renewing -> renew, applied -> apply."""
    if not word.isascii() or len(word) <= 3:
        return word
    for suffix, replacement in (
        ("ies", "y"),
        ("ied", "y"),
        ("ing", ""),
        ("ed", ""),
        ("es", ""),
        ("s", ""),
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + replacement
            break
    return word.rstrip("e") if len(word) > 4 else word


def features(text: str) -> Features:
    """Stems of the content words, and adjacent pairs of them (for phrases)."""
    tokens = [t for t in _TOKENS.findall(normalise(text)) if t not in _STOP]
    stems = [stem(t) for t in tokens]
    pairs = [f"{a}_{b}" for a, b in itertools.pairwise(stems)]
    return Features(tuple(stems), tuple(pairs), ())
