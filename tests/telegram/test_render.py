"""Rendering details that do not need a server."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st
from telegram import Chat, Message, Update, User

from bot.channels.telegram.ordering import PerChatUpdateProcessor
from bot.channels.telegram.render import ShownMenus, chunks, inline_keyboard, menu_keyboard
from bot.domain.messages import Action, Button


@given(st.text(alphabet="あい\nう", max_size=20_000))
def test_chunks_keep_every_character_and_respect_the_limit(text: str) -> None:
    parts = chunks(text)
    assert all(len(part) <= 4096 for part in parts)
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")


def test_short_text_is_one_chunk() -> None:
    assert chunks("こんにちは") == ["こんにちは"]


def test_long_text_is_cut_at_a_line_break() -> None:
    text = ("あ" * 3000 + "\n") * 2
    assert chunks(text) == ["あ" * 3000, "あ" * 3000 + "\n"]


def test_buttons_carry_the_encoded_action() -> None:
    rows = ((Button("板橋区", Action("region", ("itabashi", "onboarding"))),),)
    markup = inline_keyboard(rows)
    assert markup.inline_keyboard[0][0].callback_data == "1:region:itabashi:onboarding"
    menu = menu_keyboard(rows)
    assert menu.keyboard[0][0].text == "板橋区"
    assert menu.is_persistent is True


def _update(update_id: int, chat_id: int) -> Update:
    user = User(chat_id, "x", is_bot=False)
    chat = Chat(chat_id, Chat.PRIVATE)
    return Update(update_id, message=Message(update_id, date=None, chat=chat, from_user=user))  # type: ignore[arg-type]


async def test_one_chat_in_order_other_chats_alongside() -> None:
    processor = PerChatUpdateProcessor(8)
    log: list[str] = []
    first_may_finish = asyncio.Event()

    async def handle(name: str, wait: asyncio.Event | None = None) -> None:
        log.append(f"{name} start")
        if wait is not None:
            await wait.wait()
        log.append(f"{name} end")

    a1 = asyncio.create_task(
        processor.do_process_update(_update(1, 100), handle("a1", first_may_finish))
    )
    await asyncio.sleep(0)
    a2 = asyncio.create_task(processor.do_process_update(_update(2, 100), handle("a2")))
    b1 = asyncio.create_task(processor.do_process_update(_update(3, 200), handle("b1")))
    await b1
    assert log == ["a1 start", "b1 start", "b1 end"], "another chat is not held up"
    first_may_finish.set()
    await asyncio.gather(a1, a2)
    assert log[-3:] == ["a1 end", "a2 start", "a2 end"], "the same chat waits its turn"


MENU_JA = ((Button("予定", Action("menu", ("events",))),),)
MENU_EN = ((Button("Events", Action("menu", ("events",))),),)


def test_a_shown_menu_is_not_sent_again_until_it_changes_or_expires() -> None:
    now = [0.0]
    menus = ShownMenus(ttl=60, clock=lambda: now[0])
    assert not menus.shows(1, MENU_JA)
    menus.remember(1, MENU_JA)
    assert menus.shows(1, MENU_JA)
    assert not menus.shows(1, MENU_EN), "a language switch changes the labels"
    assert not menus.shows(2, MENU_JA), "each chat on its own"
    now[0] = 61.0
    assert not menus.shows(1, MENU_JA), "sent again after a while, in case it was lost"


def test_shown_menus_forget_the_oldest_chats_beyond_capacity() -> None:
    menus = ShownMenus(capacity=2)
    for chat in (1, 2, 3):
        menus.remember(chat, MENU_JA)
    assert not menus.shows(1, MENU_JA)
    assert menus.shows(2, MENU_JA)
    assert menus.shows(3, MENU_JA)
