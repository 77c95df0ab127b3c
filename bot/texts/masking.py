"""Masking what members type before the question log keeps it: phone numbers, e-mail
addresses and people's names. Japanese-language knowledge (honorifics, words before さん that
are not names), so it lives beside the catalogues.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

PHONE_MASK = "[電話番号]"
EMAIL_MASK = "[メール]"
NAME_MASK = "[名前]"

_EMAIL = re.compile(r"[\w.+\-]+[@＠][\w\-]+(?:[.．][\w\-]+)+")
# Digits (half or full width) with the separators people type between them; the number of
# digits decides whether it is a phone number (10 or 11, or +81 and 9 to 10 more).
_PHONE = re.compile(r"(?:[+＋]\s?[8８][1１][\s\-‐－ー−()（）]*)?\d[\d\s\-‐－ー−()（）]{7,18}\d")
_NAME_CHARS = "一-龥々〆ヵヶァ-ヴー"
_HONORIFIC = re.compile(
    rf"([{_NAME_CHARS}]{{1,5}})(さん|さま|様|氏|先生|くん|君|ちゃん|殿)(?![{_NAME_CHARS}])"
)
_SELF_NAMED = re.compile(
    rf"(私|わたし|わたくし|僕|ぼく|俺|名前|なまえ|氏名)(は|が)\s?([{_NAME_CHARS}ぁ-ん]{{1,8}}?)"
    r"(です|と申します|といいます|と言います|でございます)"
)
# Words before さん that are not anyone's name: 皆さん, お医者さん, 奥さん.
_NOT_NAMES = frozenset(
    [
        "皆",
        "医者",
        "歯医者",
        "看護師",
        "薬剤師",
        "薬局",
        "奥",
        "息子",
        "娘",
        "母",
        "父",
        "兄",
        "姉",
        "弟",
        "妹",
        "旦那",
        "子",
        "孫",
        "患者",
        "主治医",
        "役所",
        "区役所",
        "市役所",
        "店員",
        "担当",
        "担当者",
        "大家",
        "家族",
        "隣",
        "近所",
        "ご近所",
        "保健師",
        "ケアマネ",
        "ヘルパー",
        "先生",
        "事務",
        "窓口",
        "職員",
        "介護士",
        "社保協",
        "お客",
        "客",
        "嫁",
        "婿",
        "爺",
        "婆",
        "親",
        "両親",
    ]
)


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = [c for c in unicodedata.normalize("NFKC", text) if c.isdigit()]
    international = text.lstrip().startswith(("+", "＋"))
    if international and 10 <= len(digits) <= 13:
        return PHONE_MASK
    if not international and 10 <= len(digits) <= 11 and digits[0] == "0":
        return PHONE_MASK
    return text


def _honorific(match: re.Match[str]) -> str:
    name, suffix = match.group(1), match.group(2)
    if name in _NOT_NAMES or (suffix == "先生" and len(name) > 3):
        return match.group(0)
    return NAME_MASK + suffix


def mask_personal(text: str, names: Iterable[str | None] = ()) -> str:
    """`text` without phone numbers, e-mail addresses and people's names, as the question log
    keeps it: names followed by さん・様・氏 and the like, 「私は田中です」, and every one of
    `names` given (the asker's own display name, and each part of it)."""
    known: set[str] = set()
    for name in names:
        if not name:
            continue
        folded = unicodedata.normalize("NFKC", name).strip()
        known.add(folded)
        known.update(part for part in re.split(r"[\s・]+", folded) if len(part) >= 2)
    masked = unicodedata.normalize("NFC", text)
    for name in sorted((n for n in known if len(n) >= 2), key=len, reverse=True):
        masked = re.sub(re.escape(name), NAME_MASK, masked, flags=re.IGNORECASE)
    masked = _EMAIL.sub(EMAIL_MASK, masked)
    masked = _PHONE.sub(_phone, masked)
    masked = _SELF_NAMED.sub(lambda m: f"{m.group(1)}{m.group(2)}{NAME_MASK}{m.group(4)}", masked)
    return _HONORIFIC.sub(_honorific, masked)
