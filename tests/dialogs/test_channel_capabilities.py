"""The same screens on channels that show less: the region picker and もしかして on LINE's limits.

Replies go through `adapt` as the channel would send them (tests/dialogs/chat.py), against
the example configuration's region picker (16 regions and 決定) and the shipped knowledge base.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest

from bot.channels.console import ConsoleChannel
from bot.config import Settings
from bot.domain.capabilities import CONSOLE, LINE, TELEGRAM, Capabilities
from bot.domain.members import Member
from bot.domain.messages import MemberRef, Outgoing
from bot.services.conversation import Conversation
from bot.texts import Catalogues
from tests.dialogs.chat import Chat

Stored = Callable[..., Member]
NEXT, BACK, DONE = "次へ ▶", "◀ 戻る", "決定"


@pytest.fixture
def line(conversation: Conversation) -> Chat:
    return Chat(conversation, MemberRef("line", "U1", display_name="ハナ"), LINE)


@pytest.fixture
def region_names(settings: Settings) -> list[str]:
    return [region.name for region in settings.campaign().regions]


def picker(chat: Chat) -> Outgoing:
    return chat.reply_with("地域を選んでください")


def labels(message: Outgoing) -> list[str]:
    return [b.label for b in message.all_buttons()]


def regions_on(message: Outgoing) -> list[str]:
    return [
        label.removeprefix("✓ ") for label in labels(message) if label not in (NEXT, BACK, DONE)
    ]


def test_the_region_picker_pages_on_line_and_every_region_is_reachable(
    line: Chat, region_names: list[str]
) -> None:
    assert len(region_names) + 1 == 17, "16 regions and 決定: more than LINE's 13"
    line.say("/start")
    line.press("はい、受け取ります")

    first = picker(line)
    assert len(labels(first)) <= LINE.max_buttons
    assert labels(first)[-2:] == [NEXT, DONE], "決定 is on every page"
    assert "2ページのうち1ページ目です。" in first.text
    seen = regions_on(first)

    line.press(NEXT)
    second = picker(line)
    assert len(line.replies) == 1
    assert len(labels(second)) <= LINE.max_buttons
    assert labels(second)[-2:] == [BACK, DONE]
    assert "2ページのうち2ページ目です。" in second.text
    seen += regions_on(second)
    assert seen == region_names

    line.press(BACK)
    assert regions_on(picker(line)) == regions_on(first)


def test_choices_on_both_pages_are_kept_and_the_page_stays_put(
    line: Chat, settings: Settings, stored: Stored
) -> None:
    last_region = settings.campaign().regions[-1]
    last, last_code = last_region.name, last_region.code
    line.say("/start")
    line.press("はい、受け取ります")
    line.press("都全体")
    assert "✓ 都全体" in labels(picker(line))
    line.press(NEXT)
    line.press(last)

    after = picker(line)
    assert f"✓ {last}" in labels(after), "pressing a region on page 2 stays on page 2"
    assert BACK in labels(after)
    assert f"都全体、{last}" in after.text
    line.press(DONE)
    assert "登録が終わりました" in line.text
    assert stored("U1", "line").regions == {"tokyo", last_code}


@pytest.mark.parametrize("capabilities", [TELEGRAM, CONSOLE])
def test_telegram_and_the_console_still_show_every_region_at_once(
    conversation: Conversation, capabilities: Capabilities, region_names: list[str]
) -> None:
    chat = Chat(conversation, MemberRef(capabilities.channel, "42"), capabilities)
    chat.say("/start")
    chat.press("はい、受け取ります")
    shown = picker(chat)
    assert regions_on(shown) == region_names
    assert labels(shown)[-1] == DONE
    assert NEXT not in labels(shown)
    assert "ページ" not in shown.text


def test_the_console_numbers_every_region(
    conversation: Conversation, region_names: list[str]
) -> None:
    out = io.StringIO()
    ConsoleChannel(
        conversation.reply_to,
        MemberRef("console", "tty"),
        Catalogues.load()["ja"],
        io.StringIO("/start\n1\n"),
        out,
    ).run()
    shown = out.getvalue()
    for number, name in enumerate(region_names, start=1):
        assert f"  [{number}] {name}" in shown
    assert f"  [{len(region_names) + 1}] 決定" in shown
    assert "次へ" not in shown


@pytest.mark.parametrize(
    "data",
    [
        "1:page:1:settings_regions",  # a screen that is not redrawn by page buttons
        "1:page:1:regions_done:onboarding",  # an action that changes something
        "1:page:one:regions:onboarding",
        "1:page:1:regions:nowhere",
        "1:page",
    ],
)
def test_forged_page_buttons_are_refused_politely(line: Chat, data: str, stored: Stored) -> None:
    line.say("/start")
    line.press("はい、受け取ります")
    line.press("都全体")

    line.press_raw(data)
    assert "このボタンはもう使えません" in line.text
    assert "予定" in labels(line.replies[-1]), "with the menu to go on from"
    assert stored("U1", "line").regions == {"tokyo"}


def test_a_page_number_past_the_end_shows_the_first_page_with_a_note(line: Chat) -> None:
    line.say("/start")
    line.press("はい、受け取ります")

    line.press_raw("1:page:99:regions:onboarding")
    shown = picker(line)
    assert shown.text.startswith("そのページはもうありません。はじめのページを出します。")
    assert "2ページのうち1ページ目です。" in shown.text
    assert labels(shown)[0] == "都全体"


def test_long_faq_titles_are_shortened_with_the_full_title_in_the_message(
    conversation: Conversation, line: Chat
) -> None:
    question = "後期高齢者 確認書"
    console = Chat(conversation, MemberRef("console", "c1"))
    for chat in (console, line):
        chat.say("/start")
        chat.press("はい、受け取ります")
        chat.press("都全体")
        chat.press(DONE)
        chat.say(question)
    long_titles = [label for label in console.labels() if len(label) > LINE.max_label_chars]
    assert long_titles, f"{question!r} should offer a title longer than 20 characters"

    assert all(len(label) <= LINE.max_label_chars for label in line.labels())
    assert "①などの番号のボタンは、次のとおりです。" in line.text
    for number, title in enumerate(long_titles):
        mark = "①②③④⑤"[number]
        assert f"{mark}{title}" in line.text.splitlines()
        assert any(label.startswith(mark) and label.endswith("…") for label in line.labels())

    line.press(next(label for label in line.labels() if label.startswith("①")))
    assert "確認日:" in line.text, "a shortened button still opens its answer"
