"""Questions are logged without phone numbers, e-mail addresses or people's names."""

from __future__ import annotations

import pytest

from bot.texts.masking import EMAIL_MASK, NAME_MASK, PHONE_MASK, mask_personal


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("電話は090-1234-5678です", f"電話は{PHONE_MASK}です"),
        ("０３（１２３４）５６７８にかけて", f"{PHONE_MASK}にかけて"),
        ("03 1234 5678", PHONE_MASK),
        ("+81 90-1234-5678", PHONE_MASK),
        ("taro.yamada+x@example.co.jp に返事を", f"{EMAIL_MASK} に返事を"),
        ("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ", EMAIL_MASK),
        ("田中さんに聞きました", f"{NAME_MASK}さんに聞きました"),
        ("佐々木様の保険証", f"{NAME_MASK}様の保険証"),
        ("私は山田です。保険証はいつまで？", f"私は{NAME_MASK}です。保険証はいつまで？"),
        ("わたしはたなかと申します", f"わたしは{NAME_MASK}と申します"),
    ],
)
def test_personal_details_are_masked(text: str, masked: str) -> None:
    assert mask_personal(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "マイナ保険証はいつから使えますか",
        "皆さんはどうしていますか",
        "お医者さんに聞いてもいいですか",
        "奥さんの保険証はどうなりますか",
        "2024年12月2日から何が変わりますか",
        "資格確認書は1年ごとですか",
        "保険料は12345円です",
    ],
)
def test_ordinary_questions_stay_as_they_are(text: str) -> None:
    assert mask_personal(text) == text


def test_the_askers_own_name_is_masked_wherever_it_is() -> None:
    masked = mask_personal("山田花子です。山田の保険証は", names=["山田 花子"])
    assert "山田" not in masked
    assert "花子" not in masked
    assert mask_personal("Hello, I am Alice Smith", names=["Alice Smith"]) == (
        f"Hello, I am {NAME_MASK}"
    )
