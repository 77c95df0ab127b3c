"""English questions: telling them from Japanese ones, and their words for the English index.

The bot is Japanese first; English questions (from members who chose English, or anyone who
writes in English) are matched against each entry's English title, phrasings and answer, with
plain word stems and word pairs (BM25 as for Japanese). No dictionary is needed: the answers
are short and written in plain English, and the Japanese names members copy from their mail
(資格確認書) are kept as words too, since the English answers name them.
"""

from __future__ import annotations

import functools
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
        # question words and fillers: the answers never say them, so they only dilute
        "what",
        "which",
        "why",
        "how",
        "exactly",
        "though",
        "well",
        "because",
        "actually",
        "anyway",
        "sure",
        "maybe",
        "perhaps",
    ]
)
# Contractions other than the negations folded below (I'd, we've, they're): filler.
_CONTRACTION = re.compile(r"^[a-z]+'(?:d|ll|ve|re|m)$")
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
    # The card and the 資格確認書 under the names insurers' English pages and members use.
    "individual number card": "mynumbercard",
    "my number health insurance card": "mynumbercard insurance card",
    "my number insurance card": "mynumbercard insurance card",
    "myna health insurance card": "mynumbercard insurance card",
    "myna insurance card": "mynumbercard insurance card",
    "myna hokensho": "mynumbercard insurance card",
    "maina hokensho": "mynumbercard insurance card",
    "my number hokensho": "mynumbercard insurance card",
    "mynacard": "mynumbercard",
    "myna-card": "mynumbercard",
    "mnc": "mynumbercard",
    "eligibility verification certificate": "certificate",
    "health insurance eligibility certificate": "certificate",
    "certificate of eligibility": "certificate",
    "certificate of qualification": "certificate",
    "shikaku kakunin sho": "certificate",
    "shikakukakuninsho": "certificate",
    "kakunin-sho": "certificate",
    "kakunin sho": "certificate",
    "shikaku joho no oshirase": "eligibility information notice",
    "shikaku jouhou no oshirase": "eligibility information notice",
    "notice of eligibility information": "eligibility information notice",
    "notification of eligibility information": "eligibility information notice",
    "notice of eligibility": "eligibility information notice",
    "eligibility notice": "eligibility information notice",
    "oshirase": "information notice",
    "hoken-sho": "insurance card",
    "hokenshou": "insurance card",
    "hokensyo": "insurance card",
    "hoken sho": "insurance card",
    "shakai hoken": "employee insurance",
    "shakaihoken": "employee insurance",
    "shaho": "employee insurance",
    "social insurance": "employee insurance",
    "kokumin hoken": "nhi",
    "kokumin kenkou hoken": "nhi",
    "over-75s": "kouki",
    "over 75s": "kouki",
    "over-75": "kouki",
    "75+": "kouki",
    "75 and older": "kouki",
    "aged 75 and over": "kouki",
    "late stage elderly": "kouki",
    "latter stage elderly": "kouki",
    "koki koreisha": "kouki",
    # The card's electronic certificate under other names (see also `_CARD_CERTIFICATE`).
    "user authentication certificate": "ecert",
    "e-cert": "ecert",
    # "My Number card certificate": the card's own certificate, not the 資格確認書.
    "my number card certificate": "mynumbercard ecert",
    "mynumber card certificate": "mynumbercard ecert",
    "myna card certificate": "mynumbercard ecert",
    "mynacard certificate": "mynumbercard ecert",
    "individual number card certificate": "mynumbercard ecert",
    "denshi shomeisho": "ecert",
    # Other cards and certificates by their romanised Japanese names.
    "gendogaku tekiyo nintei-sho": "ceiling certificate",
    "gendogaku tekiyo ninteisho": "ceiling certificate",
    "gendogaku nintei-sho": "ceiling certificate",
    "gendogaku ninteisho": "ceiling certificate",
    "gendogaku nintei sho": "ceiling certificate",
    "gendogaku": "ceiling",
    "limit certificate": "ceiling certificate",
    "limit application certificate": "ceiling certificate",
    "hihokensha shikaku shomeisho": "被保険者資格証明書",
    "certificate of insured status": "被保険者資格証明書",
    "insured status certificate": "被保険者資格証明書",
    "shikaku shomeisho": "資格証明書",
    "shikaku shoumeisho": "資格証明書",
    "tanki hihokenshasho": "short-term card 短期証",
    "tankisho": "short-term card 短期証",
    "kourei jukyushasho": "elderly recipient certificate",
    # The NHI rule for long arrears (pay 100%, claim back later), as members romanise it.
    "tokubetsu ryoyohi": "特別療養費",
    "tokubetsu ryouyouhi": "特別療養費",
    "tokubetsu ryoyouhi": "特別療養費",
    "tokubetsu-ryoyohi": "特別療養費",
    "tokubetsu ryoyo": "特別療養",
    "tokubetsu ryouyou": "特別療養",
    # Place names written apart (the wards' romanised names are one word).
    "nishi-tokyo": "nishitokyo",
    "nishi tokyo": "nishitokyo",
    "korei jukyushasho": "elderly recipient certificate",
    # Word forms the stemmer leaves apart: members write one, the answers the other.
    "expiry": "expire",
    "expiration": "expire",
    "out of date": "expired",
    "out-of-date": "expired",
    "outdated": "expired",
    "cancellation": "cancel",
    "registration": "register",
    "validity": "valid",
    "info": "information",
    "hospitals": "clinic",
    "doctors": "clinic",
    "pharmacies": "clinic",
    "drugstore": "clinic",
    "dentist": "clinic",
    "medical institutions": "clinic",
    "can't find": "lost",
    "cannot find": "lost",
    "couldn't find": "lost",
    "misplace": "lost",
    "100 percent": "fullcost",
    "100 per cent": "fullcost",
    "out of pocket": "fullcost",
    "town office": "municipal office",
    "village office": "municipal office",
    "yakusho": "municipal office",
    "kuyakusyo": "municipal office",
    "spouse": "family",
    "grandparents": "family",
    "mynumber card": "mynumbercard",
    "my-number card": "mynumbercard",
    "my number": "mynumbercard",
    "mynumber": "mynumbercard",
    "myna card": "mynumbercard",
    "maina card": "mynumbercard",
    "maina-card": "mynumbercard",
    "mainacard": "mynumbercard",
    "maina": "mynumbercard",
    "myna": "mynumbercard",
    "hokensho": "insurance card",
    "hokenshō": "insurance card",
    "national health insurance": "nhi",
    "kokumin kenko hoken": "nhi",
    "kokuho": "nhi",
    "late-stage elderly": "kouki",
    "late-elderly": "kouki",
    "latter-stage-elderly": "kouki",
    "can't remember": "forgot",
    "cannot remember": "forgot",
    "don't remember": "forgot",
    "do not remember": "forgot",
    "forgotten": "forgot",
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
    "10-wari": "fullcost",
    "10wari": "fullcost",
    "juwari": "fullcost",
    "jū-wari": "fullcost",
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
    "medical institution": "clinic",
    "see a clinic": "clinic",
    # Members' circumstances: one word, which the answers about proxies and families also say.
    "father-in-law": "family",
    "mother-in-law": "family",
    "grandmother": "family",
    "grandfather": "family",
    "grandma": "family",
    "grandpa": "family",
    "mother": "family",
    "father": "family",
    "mum": "family",
    "mom": "family",
    "dad": "family",
    "parents": "family",
    "parent": "family",
    "husband": "family",
    "wife": "family",
    "son": "family",
    "daughter": "family",
    "relative": "family",
    # The old card, however it is described.
    "paper health insurance card": "old insurance card",
    "paper insurance card": "old insurance card",
    "plastic health insurance card": "old insurance card",
    "plastic insurance card": "old insurance card",
    "conventional insurance card": "old insurance card",
    "conventional health insurance card": "old insurance card",
    "traditional insurance card": "old insurance card",
    "paper card": "old card",
    "plastic card": "old card",
    "conventional card": "old card",
    # Registering the card as insurance card, and undoing it.
    "sign up": "register",
    "signing up": "register",
    "signed up": "register",
    "link": "register",
    "linking": "register",
    "linked": "register",
    "tie": "register",
    "tied": "register",
    "connect": "register",
    "connected": "register",
    "enrol": "register",
    "enroll": "register",
    "undo": "cancel",
    "unlink": "cancel",
    "unregister": "cancel",
    "deregister": "cancel",
    "opt out": "cancel",
    "opt-out": "cancel",
    "stop using": "cancel",
    "withdraw": "cancel",
    "revoke": "cancel",
    "website": "online",
    "internet": "online",
    "on the web": "online",
    "app": "online",
    # A card lost or broken, and what replaces it.
    # not "replacement": the 資格確認書 is a replacement for the card, not a reissue
    "re-issue": "reissue",
    "reissuance": "reissue",
    "new one": "reissue",
    "another one": "reissue",
    "snapped": "damaged",
    "broken": "damaged",
    "broke": "damaged",
    "cracked": "damaged",
    "torn": "damaged",
    "ripped": "damaged",
    "code": "pin",
    # The answers say "medicine" (records, information sharing).
    "medications": "medicine",
    "medication": "medicine",
    "medicines": "medicine",
    # Throwing a card away, however it is put.
    "garbage": "rubbish",
    "trash": "rubbish",
    "bin it": "throw it away",
    "the bin": "the rubbish",
    # Money back after paying in full.
    "money back": "refund",
    "get it back": "refund",
    "reimbursed": "refund",
    "reimbursement": "refund",
    "reimburse": "refund",
    "refunded": "refund",
    "whole bill": "fullcost",
    "full bill": "fullcost",
    "entire bill": "fullcost",
    "full price": "fullcost",
    "charged me everything": "fullcost",
    # Offices and post.
    "ward office": "municipal office",
    "city office": "municipal office",
    "city hall": "municipal office",
    "town hall": "municipal office",
    "kuyakusho": "municipal office",
    "shiyakusho": "municipal office",
    "in the mail": "mail",
    "in the post": "mail",
    "by post": "mail",
    "envelope": "letter",
    # Spellings and names the answers write another way (colour, until, reception, Seven Bank).
    "color": "colour",
    "colors": "colours",
    "colored": "coloured",
    "till": "until",
    "front desk": "reception",
    "reception desk": "reception",
    "receptionist": "reception",
    "receptionists": "reception",
    "7-eleven": "seven bank",
    "7-11": "seven bank",
    "7 eleven": "seven bank",
    "seven-eleven": "seven bank",
    "seven eleven": "seven bank",
    # The 資格確認書 half-named: "the qualification confirmation something", "the eligibility cert".
    "qualification confirmation": "certificate",
    "eligibility confirmation certificate": "certificate",
    "eligibility confirmation": "certificate",
    "eligibility cert": "certificate",
    "qualification cert": "certificate",
    # The card reader and the person helping at it, however members name them.
    "scanner": "reader",
    "caregiver": "carer",
    "care giver": "carer",
    "caretaker": "carer",
    # Romanised names members copy from their mail and counters.
    "koureisha jukyushasho": "elderly recipient certificate",
    "koreisha jukyushasho": "elderly recipient certificate",
    "jukyushasho": "recipient certificate",
    "koushin": "renew",
    "kenpo": "employee insurance",
    # A card ruined in the wash or the rain is damaged; "on the spot" is the same day.
    "soaked": "damaged",
    "ruined": "damaged",
    "falling apart": "damaged",
    "photocopy": "copy",
    # Not trusting the card is not wanting to use it (the answers: "if you don't want to use it").
    "don't trust": "don't want",
    "dont trust": "don't want",
    "do not trust": "don't want",
    "distrust": "don't want",
    "mistrust": "don't want",
    "foreign residents": "foreigners",
    "foreign resident": "foreigner",
    "an operation": "surgery",
    "operations": "surgery",
    "operated on": "surgery",
    # Members request what the answers say to apply for.
    "requesting": "apply",
    "requested": "apply",
    "requests": "apply",
    "request": "apply",
    # National Health Insurance described by who runs it.
    "city-run health insurance": "nhi",
    "city-run insurance": "nhi",
    "municipal health insurance": "nhi",
    "city health insurance": "nhi",
    "ward health insurance": "nhi",
    # One word for telling two things apart (difference, different, differ).
    "differences": "differ",
    "difference": "differ",
    "different": "differ",
    "on the spot": "same day",
    "same-day": "same day",
    # Too short for the stemmer: use, used and using are one word.
    "used": "use",
    "using": "use",
}
_VARIANT = re.compile(
    r"(?<![a-z0-9])(?:"
    + "|".join(re.escape(v) for v in sorted(_VARIANTS, key=len, reverse=True))
    + r")(?![a-z0-9])"
)


# The card's electronic certificate named through the card ("the certificate in my My Number
# card", "my card's certificate"): not the 資格確認書, which members call "the certificate" too.
_CARD_CERTIFICATE = re.compile(
    r"(?<![a-z0-9])certificate (?:on|in|inside|of) (?:(?:my|the|your|his|her) )?"
    r"(mynumbercard|card)(?![a-z0-9])"
)
_CERTIFICATE_OF_CARD = re.compile(r"(?<![a-z0-9])(mynumbercard|card)'s certificate(?![a-z0-9])")


def is_english(text: str) -> bool:
    """Written mostly in Latin letters: at least two English words, more Latin than Japanese."""
    folded = unicodedata.normalize("NFKC", text).lower()
    latin = len(_LATIN.findall(folded))
    japanese = len(_JAPANESE.findall(folded))
    words = len(re.findall(r"[a-z]{2,}", folded))
    return words >= 2 and latin > japanese


_THOUSANDS = re.compile(r"(?<=[0-9]),(?=[0-9]{3}(?![0-9]))")


# A question is normalised by several steps of one decision (search, subjects, ages, ...).
@functools.lru_cache(maxsize=4096)
def normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    folded = _THOUSANDS.sub("", folded)  # 1,000 yen and 1000 yen are one amount
    varied = _VARIANT.sub(lambda m: _VARIANTS[m.group(0)], folded)
    varied = _CARD_CERTIFICATE.sub(r"ecert \1", varied)
    return _CERTIFICATE_OF_CARD.sub(r"\1 ecert", varied)


_DOUBLE = re.compile(r"([bdfgklmnprt])\1$")


def stem(word: str) -> str:
    """A light suffix stripper, the same for every form of a word: cards -> card, renewing and
    renewal -> renew, lives and lived -> liv, snapped -> snap, automatically -> automatic."""
    if not word.isascii() or len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ly") and len(word) > 6:
        word = word[:-2]
    for suffix, replacement in (
        ("ies", "y"),
        ("ied", "y"),
        ("ing", ""),
        ("ed", ""),
        ("es", ""),
        ("ment", ""),
        ("al", ""),
        ("s", ""),
    ):
        if not word.endswith(suffix) or len(word) - len(suffix) < 3:
            continue
        if suffix == "es" and not word[:-2].endswith(("s", "x", "z", "ch", "sh")):
            continue  # lives is live + s; boxes is box + es
        if suffix == "s" and word.endswith(("ss", "us", "is")):
            break  # address, status, this
        if suffix in ("al", "ment") and len(word) < 7:
            break  # total, comment: too short to be a suffix
        word = word[: -len(suffix)] + replacement
        if suffix in ("ing", "ed"):
            word = _DOUBLE.sub(r"\1", word)  # snapped -> snap, stopping -> stop
        break
    return word[:-1] if len(word) > 3 and word.endswith("e") else word


def features(text: str) -> Features:
    """Stems of the content words, and adjacent pairs of them (for phrases)."""
    tokens = [
        t.removesuffix("'s")  # mother's -> mother; it's and what's are stop words
        for t in _TOKENS.findall(normalise(text))
        if t not in _STOP and not _CONTRACTION.match(t) and not t.endswith("n't")
    ]
    stems = [stem(t) for t in tokens]
    pairs = [f"{a}_{b}" for a, b in itertools.pairwise(stems)]
    return Features(tuple(stems), tuple(pairs), ())
