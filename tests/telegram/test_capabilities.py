"""Telegram's limits through the real python-telegram-bot stack and the fake Bot API.

The fake refuses what Telegram refuses (over 100 buttons, over 8 in a row, over 4096
characters), so a message that gets through was adapted on its way out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from bot.channels.telegram.messenger import TelegramMessenger
from bot.domain.capabilities import TELEGRAM
from bot.domain.messages import Action, Button, Outgoing, PagingWords
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123456:TEST-TOKEN"
HANAKO = 1001
WORDS = PagingWords("次へ ▶", "◀ 戻る", "{page}/{pages}", "全文:", "古いページです。", "続き")


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TOKEN) as server:
        server.add_user(HANAKO, started=True)
        yield server
    assert server.internal_errors == []


@pytest.fixture
async def messenger(fake: FakeTelegram) -> AsyncIterator[TelegramMessenger]:
    messenger = TelegramMessenger(TOKEN, base_url=fake.base_url, base_file_url=fake.base_file_url)
    await messenger.initialize()
    yield messenger
    await messenger.shutdown()


def many_choices(count: int) -> tuple[tuple[Button, ...], ...]:
    row = tuple(Button(f"選択肢{n}", Action("faq", (f"e{n}",))) for n in range(count))
    return (row,)


async def test_the_messenger_declares_telegram_and_pages_what_is_too_many(
    fake: FakeTelegram, messenger: TelegramMessenger
) -> None:
    assert messenger.capabilities is TELEGRAM
    message = Outgoing("どれですか？", buttons=many_choices(120)).with_paging(
        screen=Action("regions", ("settings",)), words=WORDS
    )
    assert messenger.parts(message) == 1
    await messenger.send(str(HANAKO), message, retry_key="k1")

    (sent,) = fake.messages(HANAKO)
    assert len(sent.button_labels) == 100
    assert sent.button_labels[-1] == "次へ ▶"
    assert sent.text == "どれですか？\n\n1/2"


async def test_a_long_text_arrives_in_parts_with_the_buttons_on_the_last(
    fake: FakeTelegram, messenger: TelegramMessenger
) -> None:
    message = Outgoing(("あ" * 1000 + "\n") * 9, buttons=many_choices(3))
    assert messenger.parts(message) == 3
    await messenger.send(str(HANAKO), message, retry_key="k2")

    sent = fake.messages(HANAKO)
    assert [len(m.text) <= 4096 for m in sent] == [True, True, True]
    assert [m.button_labels for m in sent] == [[], [], ["選択肢0", "選択肢1", "選択肢2"]]
    assert "".join(m.text for m in sent).replace("\n", "") == "あ" * 9000
