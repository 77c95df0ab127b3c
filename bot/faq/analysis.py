"""Japanese text to the features the index compares: content words and character bigrams.

Words come from SudachiPy with its core dictionary, in their normalised forms (使える and
使えます are both 使う), in both its long (C) and short (A) units so that 資格確認書 also
matches 確認書. Character bigrams catch what the dictionary splits oddly (kana-only writing,
slips the synonym list does not know).
"""

from __future__ import annotations

import re
from functools import cache

from sudachipy import Dictionary, SplitMode, Tokenizer

# Parts of speech that carry meaning for matching; particles, endings, symbols do not.
_CONTENT = {"名詞", "動詞", "形容詞", "形状詞", "副詞", "接尾辞", "接頭辞"}
# Words so common in every question that they only add noise.
_STOP = {
    "為る",
    "有る",
    "居る",
    "成る",
    "出来る",
    "言う",
    "思う",
    "事",
    "物",
    "時",
    "方",
    "所",
    "今",
    "ん",
    "の",
    "よう",
    "くれる",
    "下さる",
    "良い",
    "教える",
    "分かる",
    "遣る",
    "参る",
    "宜しい",
    "其れ",
    "此れ",
    "御座る",
    "為さる",
    "致す",
    "申す",
    "もう",
    "ちょっと",
    "本当",
    "一寸",
}
# Question words tell "when" from "what" (いつまで使える / 何に使う): keep them.
INTERROGATIVES = {"何時", "いつ", "何", "何処", "どこ", "誰", "どれ", "どちら", "どっち", "幾ら"}
_RUNS = re.compile(r"[ぁ-んァ-ヶー一-龯々0-9a-z]+")


@cache
def _tokenizer() -> Tokenizer:
    return Dictionary(dict="core").tokenizer()


class Analyser:
    def __init__(self) -> None:
        self._tokenizer = _tokenizer()

    def words(self, text: str) -> list[str]:
        """Content words in normalised form: long units, then the nouns inside compounds.

        The short units of nouns let 資格確認書 meet 確認書 and 世田谷区 meet 世田谷; those of
        verbs (持ち歩く -> 持つ, 歩く) only add noise.
        """
        long_units = [form for form, _ in self._content(text, SplitMode.C)]
        seen = set(long_units)
        extra = [
            form
            for form, pos in self._content(text, SplitMode.A, keep_stems=True)
            if pos == "名詞" and form not in seen
        ]
        return long_units + list(dict.fromkeys(extra))

    def _content(
        self, text: str, mode: SplitMode, *, keep_stems: bool = False
    ) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        previous = ""
        for unit in self._tokenizer.tokenize(text, mode):
            pos = unit.part_of_speech()
            form = unit.normalized_form()
            content = pos[0] in _CONTENT or (pos[0] == "代名詞" and form in INTERROGATIVES)
            if not content or form in _STOP:
                previous = ""
                continue
            if pos[0] == "接尾辞" and previous:
                # 保険 + 証 -> 保険証: a suffix means little alone.
                joined = (previous + form, "名詞")
                if keep_stems:
                    found.append(joined)
                else:
                    found[-1] = joined
                previous = ""
                continue
            found.append((form, pos[0]))
            previous = form
        return found

    @staticmethod
    def bigrams(text: str) -> list[str]:
        runs = _RUNS.findall(text)
        return [run[i : i + 2] for run in runs for i in range(len(run) - 1)] + [
            run for run in runs if len(run) == 1
        ]
