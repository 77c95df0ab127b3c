"""Japanese text to the features the index compares: words, character bigrams, readings.

Words come from SudachiPy with its core dictionary, in their normalised forms (使える and
使えます are both 使う), in both its long (C) and short (A) units so that 資格確認書 also
matches 確認書; a prefix stays with its noun (再発行 is one word, not 再 + 発行, which would
meet マイナンバーカードの発行). Character bigrams catch slips the synonym list does not know.

Readings are the third channel: the dictionary's reading of every unit (資格確認書 ->
シカクカクニンショ), folded so that ず/づ, じ/ぢ, long vowels (しょう/しょ/しょー) and small
kana do not matter, and cut into bigrams. A question written in kana only, which the
dictionary splits into nonsense (さい/はっ/こう), still meets its kanji phrasing through the
sounds they share, whatever the split.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

from sudachipy import Dictionary, Morpheme, SplitMode, Tokenizer

from bot.faq import spelling

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
    "みたい",
}
# Question words tell "when" from "what" (いつまで使える / 何に使う): keep them.
INTERROGATIVES = {"何時", "いつ", "何", "何処", "どこ", "誰", "どれ", "どちら", "どっち", "幾ら"}
_RUNS = re.compile(r"[ぁ-んァ-ヶー一-龯々0-9a-z]+")
_NOT_SPOKEN = {"補助記号", "空白"}
_SMALL = str.maketrans("ぁぃぅぇぉっゃゅょゎゕゖ", "あいうえおつやゆよわかけ")
_VOICED = str.maketrans("ぢづ", "じず")
_ROWS = {
    "あ": "あかがさざただなはばぱまやらわ",
    "い": "いきぎしじちぢにひびぴみり",
    "う": "うくぐすずつづぬふぶぷむゆる",
    "え": "えけげせぜてでねへべぺめれ",
    "お": "おこごそぞとどのほぼぽもよろを",
}
# A vowel written after a kana of the same vowel, う after お-row and い after え-row kana:
# the long vowel people write or drop (しょう/しょ, けい/けー, ねえ/ねー).
_LONG = {vowel: set(row) for vowel, row in _ROWS.items()}
_LONG["う"] |= _LONG["お"]
_LONG["い"] |= _LONG["え"]
_KANA = re.compile(r"[ぁ-ゖ]+")


def fold_reading(text: str) -> str:
    """Kana in the form readings are compared in: hiragana, no small kana, no long vowels."""
    hiragana = "".join(chr(ord(ch) - 0x60) if "ァ" <= ch <= "ヶ" else ch for ch in text)
    plain = hiragana.translate(_SMALL).translate(_VOICED).replace("ー", "")
    folded: list[str] = []
    for ch in plain:
        previous = folded[-1] if folded else ""
        if ch in _LONG and previous in _LONG[ch]:
            continue
        folded.append(ch)
    return "".join(folded)


@dataclass(frozen=True)
class Features:
    """What the index compares of one text."""

    words: tuple[str, ...]
    bigrams: tuple[str, ...]
    readings: tuple[str, ...]  # bigrams of the folded reading


@cache
def _dictionary() -> Dictionary:
    return Dictionary(dict="core")


@cache
def _tokenizer() -> Tokenizer:
    return _dictionary().tokenizer()


@cache
def kanji_readings(kanji: str) -> frozenset[str]:
    """Every reading the dictionary gives one kanji written alone, folded (公: こう, おおやけ)."""
    return frozenset(
        fold_reading(m.reading_form()) for m in _dictionary().lookup(kanji) if m.reading_form()
    )


@lru_cache(maxsize=4096)  # bounded: members' questions bring new stretches without end
def is_word(text: str) -> bool:
    """The dictionary reads the whole text as one word of its own (預金, not 粉 + 失)."""
    units = _tokenizer().tokenize(text, SplitMode.C)
    return len(units) == 1 and not units[0].is_oov()


@lru_cache(maxsize=4096)
def reading(text: str) -> str:
    """What the text sounds like, folded (see `fold_reading`)."""
    return fold_reading("".join(u.reading_form() for u in _tokenizer().tokenize(text)))


def lone_kanji(text: str) -> frozenset[int]:
    """Offsets of the kanji the dictionary could join to nothing (粉 in 粉失しました)."""
    return frozenset(
        unit.begin()
        for unit in _tokenizer().tokenize(text, SplitMode.C)
        if len(unit.surface()) == 1 and "一" <= unit.surface() <= "龯"
    )


SPELLING = spelling.Dictionary(kanji_readings, reading, lone_kanji, is_word)


class Analyser:
    def __init__(self) -> None:
        self._tokenizer = _tokenizer()

    def features(self, text: str) -> Features:
        """Words, bigrams and readings, from one pass of the tokenizer."""
        units = list(self._tokenizer.tokenize(text, SplitMode.C))
        return Features(
            tuple(self._words(units)), tuple(self.bigrams(text)), tuple(self._readings(units))
        )

    def readings(self, text: str) -> list[str]:
        """Bigrams of what the text sounds like, folded (see `fold_reading`)."""
        return self._readings(list(self._tokenizer.tokenize(text, SplitMode.C)))

    def words(self, text: str) -> list[str]:
        """Content words in normalised form: long units, then the nouns inside compounds.

        The short units of nouns let 資格確認書 meet 確認書 and 世田谷区 meet 世田谷; those of
        verbs (持ち歩く -> 持つ, 歩く) only add noise.
        """
        return self._words(list(self._tokenizer.tokenize(text, SplitMode.C)))

    @staticmethod
    def _readings(units: list[Morpheme]) -> list[str]:
        spoken: list[str] = []
        for unit in units:
            if unit.part_of_speech()[0] in _NOT_SPOKEN:
                spoken.append(" ")
                continue
            surface = unit.surface()
            reading = unit.reading_form()
            # Numbers and Latin letters are read as written (70, not ナナレイ).
            spoken.append(surface if surface.isascii() or not reading else reading)
        runs = [fold_reading(run) for run in "".join(spoken).split()]
        return [run[i : i + 2] for run in runs for i in range(len(run) - 1)]

    def _words(self, units: list[Morpheme]) -> list[str]:
        long_units = [form for form, _ in _content(units, keep_stems=False)]
        seen = set(long_units)
        short: list[Morpheme] = []
        for unit in units:
            if unit.part_of_speech()[0] == "名詞" and len(unit.surface()) > 2:
                short.extend(unit.split(SplitMode.A))
            else:
                short.append(unit)
        extra = [
            form
            for form, pos in _content(short, keep_stems=True)
            if pos == "名詞" and form not in seen
        ]
        return long_units + list(dict.fromkeys(extra))

    @staticmethod
    def bigrams(text: str) -> list[str]:
        runs = _RUNS.findall(text)
        return [run[i : i + 2] for run in runs for i in range(len(run) - 1)] + [
            run for run in runs if len(run) == 1
        ]


def _content(units: list[Morpheme], *, keep_stems: bool) -> list[tuple[str, str]]:
    """The content words among `units`, normalised; prefixes and suffixes joined to them."""
    found: list[tuple[str, str]] = []
    previous = ""
    prefix = ""
    after_te = False
    for unit in units:
        pos = unit.part_of_speech()
        form = unit.normalized_form()
        # 〜てしまう, 〜てくる, 〜てもらう, 〜ておく: after て/で such a verb only helps the one
        # before it (なくしてしまいました is なくす), and it is in no answer: it would dilute.
        auxiliary = after_te and pos[0] == "動詞" and pos[1] == "非自立可能"
        after_te = pos[:2] == ("助詞", "接続助詞") and unit.surface() in ("て", "で")
        if auxiliary:
            previous = ""
            continue
        if pos[0] == "接頭辞":
            # 再 + 発行 -> 再発行: a prefix changes what its noun means.
            prefix += form
            continue
        form, prefix = prefix + form, ""
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
