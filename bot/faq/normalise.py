"""The form questions and phrasings are compared in: width, case, dashes and known variants."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping

# Dashes and tildes people type for the long vowel mark after kana (ｰ becomes ー under NFKC).
_LONG_VOWEL = re.compile(r"(?<=[ぁ-んァ-ヶ])[-‐‑‒–—―−~〜]")
_SPACE = re.compile(r"\s+")
# Polite endings and punctuation carry no meaning for matching but dilute it (ございます).
_ENDINGS = re.compile(
    r"(?:でございます|ございます|ございました|でしょうか|でしょう|ください|下さい|"
    r"ますか|ですか|ません|ました|ます|です|だよね|だよ|かな|よね|ね|よ|な|か|の|"
    r"[?!。、.,…・〜~]+)+$"
)

# How a question is framed says nothing about what it asks (と聞きました, 教えてください): such
# phrases are taken out wherever they stand, so they neither match nor dilute anything.
_FRAMING = re.compile(
    r"(?:(?:と|って)(?:聞き|きき)(?:ました|まして)(?:が|けど|けれど)?|"
    r"(?:と|って)(?:聞い|きい)た(?:ん|の)?(?:ですが|だけど|けど|が)?|"
    r"(?:と|って)(?:言われ|いわれ)(?:ました|た)(?:が|けど)?|"
    r"(?:と|って)(?:理解|りかい)(?:すれば|して)?(?:いい|よい|良い|よろしい)(?:ん|の)?(?:ですか|でしょうか)?|"
    r"という理解で(?:いい|よい|合って|あって)(?:います|ますか|ですか|でしょうか)?|"
    r"(?:を|について)?(?:教えて|おしえて)(?:ください|下さい|くださいませ|ほしい|欲しい|もらえますか|くれ|ね)?|"
    r"(?:が|を)?(?:知り|しり)たい(?:です|んです|のですが|んですが|のですけど)?|"
    r"(?:ちょっと)?(?:お尋ね|おたずね|お聞き|おきき|聞き|きき)(?:します|したいのですが|したいんですが|たいのですが|たいんですが|たいんだけど)|"
    r"質問(?:です|があります|させてください)|すみません|すいません|失礼します)"
)


# An age written in kanji or kana numerals (七十五歳, ななじゅうごさい) is written in digits, so
# that the rules about ages (75 and over is the 後期高齢者医療) read it. Only from ten up: the
# ages that matter here are 70 and 75, and a lone digit before さい is too often something else.
_DIGITS = {
    **dict.fromkeys(("一", "いち"), 1),
    **dict.fromkeys(("二", "に"), 2),
    **dict.fromkeys(("三", "さん"), 3),
    **dict.fromkeys(("四", "よん", "し"), 4),
    **dict.fromkeys(("五", "ご"), 5),
    **dict.fromkeys(("六", "ろく"), 6),
    **dict.fromkeys(("七", "なな", "しち"), 7),
    **dict.fromkeys(("八", "はち"), 8),
    **dict.fromkeys(("九", "きゅう", "く"), 9),
}
_DIGIT = "|".join(sorted(_DIGITS, key=len, reverse=True))
_NUMERAL_AGE = re.compile(
    rf"(?<![一-龯])(?:({_DIGIT})?(?:十|じゅう|じゅー|じゅっ|じゅ)({_DIGIT})?|(百|ひゃく))(?:歳|才|さい)"
)


def _age(match: re.Match[str]) -> str:
    tens, units, hundred = match.groups()
    if hundred:
        return "100歳"
    return f"{_DIGITS.get(tens or '', 1) * 10 + _DIGITS.get(units or '', 0)}歳"


# A question is folded by several steps of one decision (search, subjects, ages, ...).
@functools.lru_cache(maxsize=4096)
def fold(text: str) -> str:
    """NFKC, lower case, one long-vowel mark, no spaces or invisible characters, ages in digits."""
    folded = unicodedata.normalize("NFKC", text).lower()
    if not folded.isprintable():  # printable text has no Cf or Cc character to drop
        folded = "".join(ch for ch in folded if unicodedata.category(ch) not in ("Cf", "Cc"))
    folded = _LONG_VOWEL.sub("ー", folded)
    return _NUMERAL_AGE.sub(_age, _SPACE.sub("", folded))


class Normaliser:
    """Folds text and replaces the variants members write with one canonical term.

    `synonyms` maps a canonical term to its variants (保険証: [保健証, ほけんしょう]).
    Longer variants are replaced first, so マイナほけんしょう becomes マイナ保険証, not
    マイナ + 保険証.
    """

    def __init__(self, synonyms: Mapping[str, list[str]]) -> None:
        # Canonical terms map to themselves, so a variant inside one (後期高齢 in 後期高齢者)
        # is not replaced: the longer match wins.
        pairs = {fold(canonical): fold(canonical) for canonical in synonyms}
        pairs.update(
            (fold(variant), fold(canonical))
            for canonical, variants in synonyms.items()
            for variant in variants
        )
        self._pairs = pairs
        ordered = sorted(pairs, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __call__(self, text: str) -> str:
        folded = fold(text)
        unframed = _FRAMING.sub("", folded) or folded
        trimmed = _ENDINGS.sub("", unframed) or unframed
        if self._pattern is None:
            return trimmed
        return self._pattern.sub(lambda m: self._pairs[m.group(0)], trimmed)

    def word(self, text: str) -> str:
        """A word (not a sentence) in the compared form: folded, variants replaced, nothing cut.

        A sentence loses its endings (か, な, の ...), but they belong to a word that is looked
        for inside questions: 「届かな」 trimmed like a sentence would be 「届」, found in 届いた
        too, and 「どこか」 would be 「どこ」, found in every "where" question.
        """
        folded = fold(text)
        if self._pattern is None:
            return folded
        return self._pattern.sub(lambda m: self._pairs[m.group(0)], folded)
