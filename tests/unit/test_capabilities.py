"""`adapt`: one message made to fit a channel's buttons, labels and text length."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.capabilities import (
    CONSOLE,
    LINE,
    PRESETS,
    TELEGRAM,
    Capabilities,
    adapt,
    page_action,
    split_text,
)
from bot.domain.messages import Action, Attachment, Button, Outgoing, PagingWords
from bot.texts import Catalogues

WORDS = PagingWords(
    next="次へ ▶",
    back="◀ 戻る",
    page="{pages}ページのうち{page}ページ目です。",
    full_labels="①などの番号のボタンは、次のとおりです。",
    stale="そのページはもうありません。はじめのページを出します。",
    continued="続きのボタンです。",
)
SCREEN = Action("regions", ("onboarding",))
DONE = Button("決定", Action("regions_done", ("onboarding",)))
MENU = ((Button("予定", Action("menu", ("events",))), Button("ヘルプ", Action("menu", ("help",)))),)


def choices(count: int, per_row: int = 2) -> tuple[tuple[Button, ...], ...]:
    buttons = [Button(f"地域{n}", Action("region", (f"r{n}", "onboarding"))) for n in range(count)]
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, count, per_row))


def picker(count: int = 17, **paging: object) -> Outgoing:
    message = Outgoing("地域を選んでください。", buttons=(*choices(count), (DONE,)), menu=MENU)
    return message.with_paging(screen=SCREEN, footer=1, words=WORDS, **paging)


def labels(message: Outgoing) -> list[str]:
    return [b.label for row in message.buttons for b in row]


def region_labels(message: Outgoing) -> list[str]:
    return [label for label in labels(message) if label.startswith("地域")]


def test_presets_follow_the_platform_limits() -> None:
    assert (LINE.max_buttons, LINE.max_label_chars, LINE.max_text_chars) == (13, 20, 5000)
    assert LINE.batch_send == 500
    assert (TELEGRAM.max_buttons, TELEGRAM.max_buttons_per_row, TELEGRAM.max_text_chars) == (
        100,
        8,
        4096,
    )
    assert TELEGRAM.batch_send == 1
    assert TELEGRAM.can_edit
    assert not LINE.can_edit
    assert set(PRESETS) == {"telegram", "line", "console"}
    with pytest.raises(ValueError, match="too few"):
        Capabilities("tiny", 100, max_buttons=2, max_buttons_per_row=1, max_label_chars=20)


@pytest.mark.parametrize("capabilities", [TELEGRAM, CONSOLE])
def test_a_channel_with_room_gets_the_message_as_written(capabilities: Capabilities) -> None:
    message = picker()
    (shown,) = adapt(message, capabilities)
    assert shown.text == message.text
    assert shown.buttons == message.buttons
    assert shown.menu == message.menu
    assert shown.paging is None


def test_seventeen_choices_on_line_are_two_pages_with_done_on_each() -> None:
    (first,) = adapt(picker(), LINE)
    assert len(labels(first)) == 13
    assert region_labels(first) == [f"地域{n}" for n in range(11)]
    assert labels(first)[-2:] == ["次へ ▶", "決定"]
    assert first.buttons[-2][0].action == page_action(SCREEN, 1)
    assert first.text.endswith("2ページのうち1ページ目です。")

    (second,) = adapt(picker(page=1), LINE)
    assert region_labels(second) == [f"地域{n}" for n in range(11, 17)]
    assert labels(second)[-2:] == ["◀ 戻る", "決定"]
    assert second.buttons[-2][0].action == page_action(SCREEN, 0)
    assert "2ページのうち2ページ目です。" in second.text


@given(count=st.integers(1, 120), page=st.integers(0, 12))
def test_every_choice_is_on_exactly_one_page_of_at_most_max_buttons(count: int, page: int) -> None:
    seen: list[str] = []
    number = 0
    while True:
        (shown,) = adapt(picker(count, page=number), LINE)
        assert len(labels(shown)) <= LINE.max_buttons
        assert "決定" in labels(shown)
        seen += region_labels(shown)
        nexts = [b for row in shown.buttons for b in row if b.label == WORDS.next]
        if not nexts:
            break
        assert nexts[0].action == page_action(SCREEN, number + 1)
        number += 1
    assert seen == [f"地域{n}" for n in range(count)]


def test_the_page_of_the_pressed_button_wins() -> None:
    pressed = Action("region", ("r15", "onboarding"))
    (shown,) = adapt(picker(focus=pressed), LINE)
    assert "地域15" in region_labels(shown)
    assert "◀ 戻る" in labels(shown)


def test_a_page_past_the_end_shows_the_first_page_with_a_note() -> None:
    (shown,) = adapt(picker(page=7), LINE)
    assert shown.text.startswith("そのページはもうありません。")
    assert region_labels(shown)[0] == "地域0"
    assert "2ページのうち1ページ目です。" in shown.text


def test_long_labels_are_cut_and_listed_in_full_with_their_marks() -> None:
    long = "75歳以上の資格確認書（2026年7月31日までの暫定運用）"
    short = "資格確認書とは"
    message = Outgoing(
        "もしかして、次のことですか？",
        buttons=(
            (Button(long, Action("faq", ("a",))),),
            (Button(short, Action("faq", ("b",))),),
            (Button(long + "の続き", Action("faq", ("c",))),),
        ),
    ).with_paging(words=WORDS)
    (shown,) = adapt(message, LINE)
    first, second, third = labels(shown)
    assert len(first) == 20
    assert first.startswith("①75歳以上の資格確認書")
    assert first.endswith("…")
    assert second == short, "a label that fits is left alone"
    assert third.startswith("②")
    assert shown.text.splitlines()[-3:] == [WORDS.full_labels, f"①{long}", f"②{long}の続き"]
    assert [b.action.args for row in shown.buttons for b in row] == [("a",), ("b",), ("c",)]


def test_long_text_is_split_with_the_buttons_menu_and_files_on_the_last_part() -> None:
    file = Attachment("a.ics", "text/calendar", b"BEGIN:VCALENDAR")
    message = Outgoing(
        ("あ" * 1000 + "\n") * 12,
        buttons=((DONE,),),
        menu=MENU,
        attachments=(file,),
        replace=True,
    )
    parts = adapt(message, TELEGRAM)
    assert len(parts) == 3
    assert all(len(part.text) <= 4096 for part in parts)
    assert "".join(p.text for p in parts).replace("\n", "") == "あ" * 12000
    assert [p.buttons for p in parts] == [(), (), ((DONE,),)]
    assert [p.attachments for p in parts] == [(), (), (file,)]
    assert parts[-1].menu == MENU
    assert [p.replace for p in parts] == [True, False, False], "only the first edits in place"
    assert len(adapt(message, LINE)) == 3
    assert not any(p.replace for p in adapt(message, LINE)), "LINE cannot edit a message"


def test_without_a_screen_to_redraw_choices_go_into_several_messages() -> None:
    message = Outgoing("どれですか？", buttons=choices(30, per_row=1)).with_paging(words=WORDS)
    parts = adapt(message, LINE)
    assert [len(labels(p)) for p in parts] == [13, 13, 4]
    assert [p.text for p in parts] == ["どれですか？", WORDS.continued, WORDS.continued]
    assert [label for p in parts for label in region_labels(p)] == [f"地域{n}" for n in range(30)]


def test_rows_wider_than_the_channel_wrap() -> None:
    message = Outgoing("どれ？", buttons=choices(20, per_row=20))
    (shown,) = adapt(message, TELEGRAM)
    assert [len(row) for row in shown.buttons] == [8, 8, 4]


def test_without_words_from_a_catalogue_symbols_stand_in() -> None:
    message = picker().with_paging(words=None)
    (shown,) = adapt(message, LINE)
    assert "▶" in labels(shown)
    assert shown.text == message.text


@pytest.mark.parametrize("capabilities", [LINE, TELEGRAM, CONSOLE])
@pytest.mark.parametrize("page", [0, 1, 5])
def test_adapting_twice_changes_nothing(capabilities: Capabilities, page: int) -> None:
    once = adapt(picker(page=page), capabilities)
    assert [part for message in once for part in adapt(message, capabilities)] == once


def test_the_outbox_keeps_paging() -> None:
    message = picker(page=1, focus=Action("region", ("r3", "onboarding")))
    assert Outgoing.from_payload(message.to_payload()) == message


@given(st.text(alphabet="あい\nう ", max_size=12_000), st.integers(20, 5000))
def test_split_text_keeps_every_character_and_respects_the_limit(text: str, limit: int) -> None:
    parts = split_text(text, limit)
    assert all(len(part) <= limit for part in parts)
    assert "".join(parts).replace("\n", "").strip() == text.replace("\n", "").strip()


@pytest.mark.parametrize("language", ["ja", "en"])
def test_every_paging_word_is_in_the_catalogues(language: str) -> None:
    texts = Catalogues.load()[language]
    for name in PagingWords.__dataclass_fields__:
        assert texts(f"paging.{name}")
    assert "{page}" in texts.entries["paging.page"]
