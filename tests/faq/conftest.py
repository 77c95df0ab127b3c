"""A small knowledge base built in code, to pin the engine's behaviour independently of copy."""

from __future__ import annotations

from datetime import date

import pytest

from bot.faq.knowledge import Entry, KnowledgeBase, Route, RouteKind, Source
from bot.faq.matcher import FaqEngine

SOURCE = (Source("厚生労働省 マイナ保険証FAQ", "https://www.mhlw.go.jp/stf/newpage_40406.html"),)
# A second source: the answer shows the first one, 「くわしく」 the others.
SOURCES = (
    *SOURCE,
    Source("岐阜新聞（保険証の有効期限）", "https://www.gifu-np.co.jp/articles/-/629879"),
)
CHECKED = date(2026, 11, 20)


def entry(
    entry_id: str, topic: str, title: str, questions: list[str], answer: str, **kw: object
) -> Entry:
    return Entry(
        id=entry_id,
        topic=topic,
        title=title,
        questions=tuple(questions),
        answer=answer,
        checked=CHECKED,
        **{"sources": SOURCE, **kw},  # type: ignore[arg-type]
    )


ENTRIES = (
    entry(
        "kakuninsho-what",
        "kakuninsho",
        "資格確認書とは",
        ["資格確認書ってなんですか", "資格確認書はどういうもの", "保険証のかわりの書類のこと"],
        "資格確認書は、マイナ保険証を持っていない人が病院の窓口で見せる書類です。",
    ),
    entry(
        "kakuninsho-apply",
        "kakuninsho",
        "資格確認書のもらい方",
        [
            "資格確認書はどうやってもらうの",
            "資格確認書の申請は必要ですか",
            "資格確認書は申し込まないと届かない",
        ],
        "マイナ保険証を持っていない人には、申請不要で資格確認書が届きます。",
        sources=SOURCES,
    ),
    entry(
        "old-card-until",
        "hokensho_validity",
        "今の保険証はいつまで使える",
        ["保険証はいつまで使えますか", "古い保険証の期限", "保険証の有効期限が切れたらどうなる"],
        "従来の保険証は最長で2025年12月1日まで使えました。",
    ),
    entry(
        "interim-expired",
        "interim",
        "期限切れの保険証で受診した",
        ["期限切れの保険証を病院に持って行った", "切れた保険証で病院にかかれる"],
        "2026年3月末までの暫定措置で、期限切れの保険証でも3割負担で受診できました。",
        valid_until=date(2026, 3, 31),
        ask="加入している健康保険",
    ),
    entry(
        "interim-extended",
        "interim",
        "延長された暫定措置",
        ["暫定措置は延長されたの", "延長された暫定措置の中身"],
        "期限切れの保険証の暫定措置は2026年7月31日まで延長され、それで終わりました。",
        valid_until=date(2026, 7, 31),
        superseded_by="interim-now",
        ask="加入している健康保険",
    ),
    entry(
        "interim-now",
        "interim",
        "いまの期限切れ保険証",
        ["期限切れの保険証はいま使えるか", "今も期限切れの保険証で受診できる"],
        "暫定措置は2026年7月31日で終わりました。いまは資格確認書かマイナ保険証が必要です。",
    ),
    entry(
        "lost-card",
        "lost_card",
        "マイナンバーカードをなくした",
        [
            "マイナンバーカードを落とした",
            "マイナカードを紛失した",
            "カードをなくしたら病院に行けない",
        ],
        "0120-95-0178に電話して止め、保険者に資格確認書を申請できます。",
        more="再交付には約1か月かかります。",
        title_en="I lost my My Number card",
        questions_en=("I lost my My Number card", "My My Number card is gone"),
        answer_en="Call 0120-95-0178 to suspend it; apply to your insurer for a 資格確認書.",
        more_en="A reissue takes about a month.",
        sources=SOURCES,
    ),
)
ROUTES = (
    Route("events", RouteKind.EVENTS, ("次の宣伝はいつ", "集会はどこでやるの", "学習会の予定")),
    Route("hello", RouteKind.GREETING, ("こんにちは", "おはようございます")),
    Route("thanks", RouteKind.THANKS, ("ありがとう", "助かりました")),
    Route("weather", RouteKind.DECLINE, ("明日の天気", "雨は降りますか")),
    Route("pension", RouteKind.DECLINE, ("年金はいつ振り込まれる", "年金の額")),
)
SYNONYMS = {
    "資格確認書": ["資格確認証", "しかくかくにんしょ"],
    "保険証": ["保健証", "ほけんしょう"],
    "マイナンバーカード": ["マイナカード", "まいなんばーかーど"],
}


@pytest.fixture(scope="session")
def knowledge() -> KnowledgeBase:
    return KnowledgeBase(entries=ENTRIES, routes=ROUTES, synonyms=SYNONYMS)


@pytest.fixture(scope="session")
def engine(knowledge: KnowledgeBase) -> FaqEngine:
    return FaqEngine(knowledge, today=lambda: date(2026, 11, 30))
