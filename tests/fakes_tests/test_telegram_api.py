"""The fake Telegram Bot API behaves like Telegram, for plain HTTP clients and for PTB 22."""

from __future__ import annotations

import asyncio
import json
import struct
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MenuButtonCommands,
    MenuButtonWebApp,
    Update,
    WebAppInfo,
)
from telegram.constants import ChatAction
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler, ContextTypes

from tests.fakes import telegram_errors as errors
from tests.fakes.telegram_api import FakeTelegram, FakeUsageError, RateLimits
from tests.fakes.telegram_updates import fixture_names, load_fixture, update_kind

ROOT = Path(__file__).resolve().parents[2]
MEMBER = 1001
OTHER = 1002
ADMIN = 1003
GROUP = -1001234567890  # a supergroup
BASIC_GROUP = -4012345678
CHANNEL = -1001987654321
STRANGER = 4242  # a user the fake has never heard of
RSVP = {"inline_keyboard": [[{"text": "参加する", "callback_data": "rsvp:42:yes"}]]}


def png(width: int, height: int) -> bytes:
    """The first bytes of a PNG file: enough for Telegram (and the fake) to read its size."""
    header = struct.pack(">II", width, height) + b"\x08\x02\x00\x00\x00"
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + header + b"\x00\x00\x00\x00"


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        server.add_user(MEMBER, "花子", "山田", "hanako_y", started=True)
        yield server
    assert server.internal_errors == []


@pytest.fixture
def api(fake: FakeTelegram) -> Iterator[httpx.Client]:
    """A plain HTTP client whose relative URLs are Bot API method names."""
    with httpx.Client(base_url=f"{fake.base_url}{fake.token}/", timeout=10) as client:
        yield client


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as ptb:
        yield ptb


def call(api: httpx.Client, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    response = api.post(method, json=params)
    return response.status_code, response.json()


def kinds(updates: list[dict[str, Any]]) -> list[str]:
    return [update_kind(update) for update in updates]


# --- basics ---------------------------------------------------------------------------------


def test_get_me_describes_the_bot(fake: FakeTelegram, api: httpx.Client) -> None:
    status, body = call(api, "getMe")

    assert status == 200
    assert body["ok"] is True
    assert body["result"]["id"] == 123456
    assert body["result"]["is_bot"] is True
    assert body["result"]["username"] == fake.bot_username


async def test_ptb_initialises_against_the_fake(fake: FakeTelegram, bot: Bot) -> None:
    assert (bot.id, bot.username) == (fake.bot_id, fake.bot_username)
    assert [r.method for r in fake.requests()] == ["getMe"]


def test_a_wrong_token_is_401_and_an_unknown_method_404(fake: FakeTelegram) -> None:
    with httpx.Client() as client:
        wrong_token = client.post(f"{fake.base_url}999:WRONG/getMe")
        no_such_method = client.post(fake.api_url("sendTelepathy"))

    assert (wrong_token.status_code, wrong_token.json()) == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    assert (no_such_method.status_code, no_such_method.json()["description"]) == (404, "Not Found")


async def test_ptb_refuses_to_start_with_a_wrong_token(fake: FakeTelegram) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG", base_url=fake.base_url):
            pass


def test_method_names_are_case_insensitive(fake: FakeTelegram, api: httpx.Client) -> None:
    assert api.post("GETME").status_code == 200
    assert [r.method for r in fake.requests("getme")] == ["getMe"]


def test_parameters_may_be_form_encoded_json_query_string_or_multipart(
    fake: FakeTelegram, api: httpx.Client
) -> None:
    form = {"chat_id": str(MEMBER), "text": "form", "reply_markup": json.dumps(RSVP)}
    document = ("申込書.pdf", b"%PDF-1.4\n", "application/pdf")

    responses = [
        api.post("sendMessage", data=form),
        api.post("sendMessage", json={"chat_id": MEMBER, "text": "json", "reply_markup": RSVP}),
        api.get("sendMessage", params={"chat_id": MEMBER, "text": "query"}),
        api.post("sendDocument", data={"chat_id": str(MEMBER)}, files={"document": document}),
    ]

    assert [r.status_code for r in responses] == [200, 200, 200, 200]
    form_call, json_call = fake.requests("sendMessage")[:2]
    assert form_call.params == {"chat_id": MEMBER, "text": "form", "reply_markup": RSVP}
    assert json_call.params == {"chat_id": MEMBER, "text": "json", "reply_markup": RSVP}
    *texts, upload = fake.messages(MEMBER)
    assert [m.text for m in texts] == ["form", "json", "query"]
    assert upload.document is not None
    assert (upload.document.filename, upload.document.content) == ("申込書.pdf", b"%PDF-1.4\n")


# --- getUpdates -----------------------------------------------------------------------------


def test_long_polling_answers_as_soon_as_an_update_arrives(fake: FakeTelegram) -> None:
    started = time.monotonic()
    with ThreadPoolExecutor(1) as pool:
        poll = pool.submit(httpx.post, fake.api_url("getUpdates"), json={"timeout": 10}, timeout=15)
        fake.wait_until(lambda: fake.waiting_pollers == 1)
        update_id = fake.send_text(MEMBER, "こんにちは")
        response = poll.result(timeout=5)

    assert time.monotonic() - started < 5
    [update] = response.json()["result"]
    assert update["update_id"] == update_id
    assert update["message"]["text"] == "こんにちは"


def test_offset_confirms_every_earlier_update(fake: FakeTelegram, api: httpx.Client) -> None:
    ids = [fake.send_text(MEMBER, text) for text in ("一", "二", "三")]

    assert [u["update_id"] for u in call(api, "getUpdates")[1]["result"]] == ids
    assert [u["update_id"] for u in call(api, "getUpdates", offset=ids[2])[1]["result"]] == ids[2:]
    assert fake.updates_pending() == 1
    call(api, "getUpdates", offset=ids[2] + 1)
    assert fake.updates_pending() == 0


def test_limit_caps_the_batch(fake: FakeTelegram, api: httpx.Client) -> None:
    for n in range(3):
        fake.send_text(MEMBER, f"{n}")

    assert len(call(api, "getUpdates", limit=2)[1]["result"]) == 2


def test_allowed_updates_is_remembered_and_filters(fake: FakeTelegram, api: httpx.Client) -> None:
    fake.send_text(MEMBER, "こんにちは")
    fake.block(MEMBER)

    first = call(api, "getUpdates", allowed_updates=["my_chat_member"])[1]["result"]
    fake.send_text(MEMBER, "また来ました")  # unblocks first: my_chat_member, then the message
    later = call(api, "getUpdates", offset=first[-1]["update_id"] + 1)[1]["result"]

    assert kinds(first) == ["my_chat_member"]
    assert kinds(later) == ["my_chat_member"]  # the setting sticks until changed


def test_get_updates_conflicts_while_a_webhook_is_set(
    fake: FakeTelegram, api: httpx.Client
) -> None:
    status, body = call(api, "setWebhook", url="http://127.0.0.1:9/hook")
    assert (status, body["description"]) == (200, "Webhook was set")

    status, body = call(api, "getUpdates")

    assert (status, body["description"]) == (409, errors.CONFLICT_WEBHOOK_ACTIVE)


async def test_ptb_raises_conflict_while_a_webhook_is_set(fake: FakeTelegram, bot: Bot) -> None:
    await bot.set_webhook("http://127.0.0.1:9/hook")

    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()


def test_a_second_poller_terminates_the_waiting_one(fake: FakeTelegram) -> None:
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(
            httpx.post, fake.api_url("getUpdates"), json={"timeout": 10}, timeout=15
        )
        fake.wait_until(lambda: fake.waiting_pollers == 1)
        second = httpx.post(fake.api_url("getUpdates"), json={"timeout": 0})
        older = first.result(timeout=5)

    assert second.status_code == 200
    assert (older.status_code, older.json()["description"]) == (409, errors.CONFLICT_OTHER_POLLER)


# --- text and formatting --------------------------------------------------------------------


def test_html_is_parsed_into_what_the_member_sees(fake: FakeTelegram, api: httpx.Client) -> None:
    html = (
        '<b>学習会</b>のお知らせ &lt;11月&gt; &amp; <a href="https://example.org/ev">詳細</a> '
        "&#9733;"
    )

    status, body = call(api, "sendMessage", chat_id=MEMBER, text=html, parse_mode="HTML")

    assert status == 200
    [sent] = fake.messages(MEMBER)
    assert sent.text == "学習会のお知らせ <11月> & 詳細 ★"
    assert sent.raw_text == html
    assert sent.entities == [
        {"offset": 0, "length": 3, "type": "bold"},
        {"offset": 17, "length": 2, "type": "text_link", "url": "https://example.org/ev"},
    ]
    assert body["result"]["entities"] == sent.entities


def test_entity_offsets_count_utf16_code_units(fake: FakeTelegram, api: httpx.Client) -> None:
    call(api, "sendMessage", chat_id=MEMBER, text="😀<i>絵文字</i>", parse_mode="HTML")

    assert fake.last_message(MEMBER).entities == [{"offset": 2, "length": 3, "type": "italic"}]


@pytest.mark.parametrize(
    ("html", "problem"),
    [
        ("日本<foo>語</foo>", 'Unsupported start tag "foo" at byte offset 6'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("改行<br>です", 'Unsupported start tag "br" at byte offset 6'),
        ("<b>太字", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>太字</i>", 'Unmatched end tag at byte offset 9, expected "</b>", found "</i>"'),
        ("太字</b>", "Unexpected end tag at byte offset 6"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
def test_html_that_telegram_rejects_is_rejected_the_same_way(
    fake: FakeTelegram, api: httpx.Client, html: str, problem: str
) -> None:
    status, body = call(api, "sendMessage", chat_id=MEMBER, text=html, parse_mode="HTML")

    assert (status, body["description"]) == (400, "Bad Request: can't parse entities: " + problem)


def test_the_4096_limit_counts_characters_after_parsing(
    fake: FakeTelegram, api: httpx.Client
) -> None:
    just_fits = "<b>" + "あ" * 4096 + "</b>"

    assert call(api, "sendMessage", chat_id=MEMBER, text=just_fits, parse_mode="HTML")[0] == 200
    status, body = call(api, "sendMessage", chat_id=MEMBER, text="あ" * 4097)
    assert (status, body["description"]) == (400, errors.TEXT_TOO_LONG)


@pytest.mark.parametrize("text", ["", " \n ", "<b> </b>"])
def test_text_that_is_empty_after_parsing_is_refused(
    fake: FakeTelegram, api: httpx.Client, text: str
) -> None:
    status, body = call(api, "sendMessage", chat_id=MEMBER, text=text, parse_mode="HTML")

    assert (status, body["description"]) == (400, errors.TEXT_EMPTY)


async def test_markdown_v2_demands_escaping(fake: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)character '\.' is reserved"):
        await bot.send_message(MEMBER, "参加費は500円です.", parse_mode="MarkdownV2")

    sent = await bot.send_message(MEMBER, "*参加費*は500円です\\.", parse_mode="MarkdownV2")

    assert sent.text == "参加費は500円です."
    assert fake.last_message(MEMBER).entities == [{"offset": 0, "length": 3, "type": "bold"}]


# --- keyboards ------------------------------------------------------------------------------


def test_callback_data_may_be_at_most_64_bytes(fake: FakeTelegram, api: httpx.Client) -> None:
    def keyboard(data: str) -> dict[str, Any]:
        return {"inline_keyboard": [[{"text": "はい", "callback_data": data}]]}

    fits = "あ" * 21 + "x"  # 63 + 1 bytes

    assert call(api, "sendMessage", chat_id=MEMBER, text="?", reply_markup=keyboard(fits))[0] == 200
    status, body = call(
        api, "sendMessage", chat_id=MEMBER, text="?", reply_markup=keyboard(fits + "x")
    )
    assert (status, body["description"]) == (400, errors.BUTTON_DATA_INVALID)


async def test_ptb_raises_bad_request_for_65_bytes_of_callback_data(bot: Bot) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("はい", callback_data="x" * 65)]])

    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(MEMBER, "参加しますか？", reply_markup=markup)


@pytest.mark.parametrize(
    "rows",
    [[[{"text": f"{n}", "callback_data": f"{n}"} for n in range(9)]],
     [[{"text": f"{n}", "callback_data": f"{n}"}] for n in range(101)]],
    ids=["9 in a row", "101 in all"],
)  # fmt: skip
def test_keyboards_are_limited_in_size(
    fake: FakeTelegram, api: httpx.Client, rows: list[list[dict[str, str]]]
) -> None:
    markup = {"inline_keyboard": rows}

    status, body = call(api, "sendMessage", chat_id=MEMBER, text="?", reply_markup=markup)

    assert (status, body["description"]) == (400, errors.REPLY_MARKUP_TOO_LONG)


@pytest.mark.parametrize(
    ("markup", "problem"),
    [
        ({"inline_keyboard": [{"text": "x"}]}, "must be an Array of Arrays"),
        ({"inline_keyboard": [[{"text": "x"}]]}, "Text buttons are unallowed"),
        (
            {"inline_keyboard": [[{"text": "x", "url": "javascript:alert(1)"}]]},
            "BUTTON_URL_INVALID",
        ),
        ("{not json", "can't parse reply keyboard markup JSON object"),
    ],
)
def test_malformed_reply_markup_is_rejected(
    fake: FakeTelegram, api: httpx.Client, markup: Any, problem: str
) -> None:
    status, body = call(api, "sendMessage", chat_id=MEMBER, text="?", reply_markup=markup)

    assert status == 400
    assert problem in body["description"]


def test_reply_keyboards_and_removal_are_kept(fake: FakeTelegram, api: httpx.Client) -> None:
    keyboard = {
        "keyboard": [
            ["参加する", {"text": "参加しない"}],
            [{"text": "電話番号を送る", "request_contact": True}],
        ],
        "resize_keyboard": True,
        "one_time_keyboard": True,
        "input_field_placeholder": "選んでください",
    }

    call(api, "sendMessage", chat_id=MEMBER, text="どうしますか？", reply_markup=keyboard)
    call(
        api, "sendMessage", chat_id=MEMBER, text="了解です", reply_markup={"remove_keyboard": True}
    )

    asked, answered = fake.messages(MEMBER)
    assert asked.reply_keyboard == [["参加する", "参加しない"], ["電話番号を送る"]]
    assert asked.reply_markup is not None
    assert asked.reply_markup["one_time_keyboard"] is True
    assert asked.inline_buttons == []
    assert answered.reply_markup == {"remove_keyboard": True}


# --- who can be reached ---------------------------------------------------------------------


async def test_unknown_chats_are_not_found(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)^chat not found$"):
        await bot.send_message(STRANGER, "こんにちは")


async def test_a_blocked_member_gets_403_and_the_bot_hears_of_it(
    fake: FakeTelegram, bot: Bot
) -> None:
    update_id = fake.block(MEMBER)

    with pytest.raises(Forbidden, match=r"^Forbidden: bot was blocked by the user$"):
        await bot.send_message(MEMBER, "リマインダー")
    [update] = await bot.get_updates()

    assert update.update_id == update_id
    change = update.my_chat_member
    assert change is not None
    assert (change.chat.id, change.from_user.id) == (MEMBER, MEMBER)
    assert (change.old_chat_member.status, change.new_chat_member.status) == ("member", "kicked")
    assert change.new_chat_member.user.id == fake.bot_id


def test_unblocking_lets_messages_through_again(fake: FakeTelegram, api: httpx.Client) -> None:
    fake.block(MEMBER)
    assert call(api, "sendMessage", chat_id=MEMBER, text="届かない")[0] == 403

    fake.unblock(MEMBER)

    assert call(api, "sendMessage", chat_id=MEMBER, text="届く")[0] == 200
    change = fake.pending_updates()[-1]["my_chat_member"]
    assert (change["old_chat_member"]["status"], change["new_chat_member"]["status"]) == (
        "kicked",
        "member",
    )


def test_writing_to_the_bot_again_unblocks_it(fake: FakeTelegram, api: httpx.Client) -> None:
    fake.block(MEMBER)

    fake.send_text(MEMBER, "やっぱり参加します")

    updates = fake.pending_updates()
    assert kinds(updates) == ["my_chat_member", "my_chat_member", "message"]
    assert updates[1]["my_chat_member"]["new_chat_member"]["status"] == "member"
    assert call(api, "sendMessage", chat_id=MEMBER, text="ありがとうございます")[0] == 200


@pytest.mark.parametrize(
    ("chat_id", "description"),
    [
        (OTHER, errors.CANT_INITIATE),
        (ADMIN, errors.DEACTIVATED),
        (BASIC_GROUP, errors.KICKED_FROM_GROUP),
        (GROUP, errors.KICKED_FROM_SUPERGROUP),
    ],
    ids=["never started", "deactivated", "kicked from group", "kicked from supergroup"],
)
def test_unreachable_chats_are_forbidden_in_telegrams_words(
    fake: FakeTelegram, api: httpx.Client, chat_id: int, description: str
) -> None:
    fake.add_user(OTHER, "次郎")
    fake.add_user(ADMIN, "三郎", started=True)
    fake.add_group(BASIC_GROUP, "練馬支部 世話人会")
    fake.add_group(GROUP, "社保協 練馬支部")
    fake.kick_bot(BASIC_GROUP, by_user_id=MEMBER)
    fake.kick_bot(GROUP, by_user_id=MEMBER)
    fake.deactivate(ADMIN)

    status, body = call(api, "sendMessage", chat_id=chat_id, text="お知らせ")

    assert (status, body["description"]) == (403, description)


def test_groups_are_chats_the_bot_can_write_to(fake: FakeTelegram, api: httpx.Client) -> None:
    fake.add_group(GROUP, "社保協 練馬支部")

    status, body = call(api, "sendMessage", chat_id=GROUP, text="明日は10時集合です")

    assert status == 200
    assert body["result"]["chat"] == {"id": GROUP, "title": "社保協 練馬支部", "type": "supergroup"}


# --- flood limits ---------------------------------------------------------------------------


def test_rate_limits_are_off_by_default(fake: FakeTelegram, api: httpx.Client) -> None:
    statuses = [call(api, "sendMessage", chat_id=MEMBER, text=f"{n}")[0] for n in range(40)]

    assert set(statuses) == {200}


@pytest.mark.parametrize(
    ("limits", "chat_id", "burst", "retry_after"),
    [
        (RateLimits(private_per_second=1, private_burst=2), MEMBER, 2, 1),
        (RateLimits(group_per_minute=20, group_burst=3), GROUP, 3, 3),
        (RateLimits(overall_per_second=0.5, overall_burst=2, private_burst=100), MEMBER, 2, 2),
    ],
    ids=["per private chat", "per group", "overall"],
)
def test_flooding_gets_429_with_retry_after(
    fake: FakeTelegram,
    api: httpx.Client,
    limits: RateLimits,
    chat_id: int,
    burst: int,
    retry_after: int,
) -> None:
    fake.add_group(GROUP, "社保協 練馬支部")
    fake.set_rate_limits(limits)
    for n in range(burst):
        assert call(api, "sendMessage", chat_id=chat_id, text=f"{n}")[0] == 200

    response = api.post("sendMessage", json={"chat_id": chat_id, "text": "もう一通"})

    assert response.status_code == 429
    assert response.json() == {
        "ok": False,
        "error_code": 429,
        "description": f"Too Many Requests: retry after {retry_after}",
        "parameters": {"retry_after": retry_after},
    }
    assert fake.stats.rate_limited == 1
    assert len(fake.messages(chat_id)) == burst


def test_only_sending_counts_against_the_limits(fake: FakeTelegram, api: httpx.Client) -> None:
    fake.set_rate_limits(RateLimits(private_per_second=1, private_burst=1))
    call(api, "sendMessage", chat_id=MEMBER, text="一通目")

    assert {call(api, "getMe")[0] for _ in range(5)} == {200}
    assert call(api, "sendChatAction", chat_id=MEMBER, action="typing")[0] == 200
    assert call(api, "sendMessage", chat_id=MEMBER, text="二通目")[0] == 429


async def test_ptb_raises_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22.8 reads its own deprecated int `retry_after` inside RetryAfter() unless opted in
    # to timedeltas; with warnings as errors that would replace RetryAfter by the warning.
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    with FakeTelegram(rate_limits=RateLimits(private_burst=1)) as fake:
        fake.add_user(MEMBER, started=True)
        async with Bot(fake.token, base_url=fake.base_url) as ptb:
            await ptb.send_message(MEMBER, "一通目")
            with pytest.raises(RetryAfter) as caught:
                await ptb.send_message(MEMBER, "二通目")

    assert caught.value.retry_after == timedelta(seconds=1)


# --- injected faults ------------------------------------------------------------------------


async def test_server_errors_reach_ptb_as_network_errors(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next(status=500)
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message(MEMBER, "一回目")
    fake.fail_next(status=502, html=True)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(MEMBER, "二回目")

    await bot.send_message(MEMBER, "三回目")

    assert [m.text for m in fake.messages(MEMBER)] == ["三回目"]
    assert [r.status for r in fake.requests("sendMessage")] == [500, 502, 200]


def test_an_nginx_error_page_is_html(fake: FakeTelegram, api: httpx.Client) -> None:
    fake.fail_next(status=502, html=True)

    response = api.post("getMe")

    assert response.status_code == 502
    assert response.headers["content-type"] == "text/html"
    assert "<h1>502 Bad Gateway</h1>" in response.text


async def test_a_dropped_connection_is_a_network_error(fake: FakeTelegram, bot: Bot) -> None:
    fake.drop_next(methods="sendMessage")

    with pytest.raises(NetworkError, match="disconnected"):
        await bot.send_message(MEMBER, "届かない")

    assert fake.messages(MEMBER) == []
    await bot.send_message(MEMBER, "届く")  # the next call goes through


async def test_an_answer_lost_after_processing_leaves_the_message_sent(
    fake: FakeTelegram, bot: Bot
) -> None:
    fake.drop_next(methods="sendMessage", after=True)

    with pytest.raises(NetworkError):
        await bot.send_message(MEMBER, "送られたが返事が来ない")

    assert [m.text for m in fake.messages(MEMBER)] == ["送られたが返事が来ない"]
    assert [r.status for r in fake.requests("sendMessage")] == [0]


async def test_a_slow_answer_times_out_in_ptb(fake: FakeTelegram, bot: Bot) -> None:
    fake.delay_next(1, 0.5, methods="sendMessage")

    with pytest.raises(TimedOut):
        await bot.send_message(MEMBER, "遅い", read_timeout=0.1)


def test_faults_can_target_methods_during_a_window(fake: FakeTelegram, api: httpx.Client) -> None:
    fake.fail_during(30, status=503, methods=["sendMessage"])

    assert api.post("getMe").status_code == 200
    assert api.post("sendMessage", json={"chat_id": MEMBER, "text": "x"}).status_code == 503
    assert api.post("sendMessage", json={"chat_id": MEMBER, "text": "x"}).status_code == 503
    fake.clear_faults()
    assert api.post("sendMessage", json={"chat_id": MEMBER, "text": "x"}).status_code == 200


# --- buttons --------------------------------------------------------------------------------


async def test_press_button_round_trip(fake: FakeTelegram, bot: Bot) -> None:
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("参加する", callback_data="rsvp:42:yes"),
                InlineKeyboardButton("参加しない", callback_data="rsvp:42:no"),
            ],
            [InlineKeyboardButton("地図", url="https://example.org/map")],
        ]
    )
    question = await bot.send_message(MEMBER, "学習会に参加しますか？", reply_markup=markup)
    assert fake.last_message(MEMBER).inline_buttons == [
        [("参加する", "rsvp:42:yes"), ("参加しない", "rsvp:42:no")],
        [("地図", "https://example.org/map")],
    ]

    update_id = fake.press_button(MEMBER, question.message_id, label="参加しない")
    [update] = await bot.get_updates()
    query = update.callback_query

    assert query is not None
    assert (update.update_id, query.data, query.from_user.id) == (update_id, "rsvp:42:no", MEMBER)
    assert query.message is not None
    assert query.message.message_id == question.message_id
    assert query.message.reply_markup == markup  # type: ignore[union-attr]
    assert await query.answer("受け付けました")
    answer = fake.callback_answer(update_id)
    assert answer is not None
    assert (answer.text, answer.data) == ("受け付けました", "rsvp:42:no")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await query.answer("二回目")


def test_pressing_a_button_that_is_not_there_says_what_is(
    fake: FakeTelegram, api: httpx.Client
) -> None:
    call(api, "sendMessage", chat_id=MEMBER, text="参加しますか？", reply_markup=RSVP)
    message_id = fake.last_message(MEMBER).message_id

    with pytest.raises(FakeUsageError, match=r"no button with label='いいえ'.*'参加する'"):
        fake.press_button(MEMBER, message_id, label="いいえ")
    with pytest.raises(FakeUsageError, match="sent no message 99"):
        fake.press_button(MEMBER, 99, data="rsvp:42:yes")


async def test_a_forged_callback_for_an_unknown_message_is_inaccessible(
    fake: FakeTelegram, bot: Bot
) -> None:
    fake.send_callback(MEMBER, 999, "admin:delete_all")

    [update] = await bot.get_updates()

    assert update.callback_query is not None
    assert update.callback_query.data == "admin:delete_all"
    # PTB 22.8 reads it as a Message dated 0 rather than an InaccessibleMessage.
    assert update.callback_query.message is not None
    assert not update.callback_query.message.is_accessible


def test_answers_are_limited_to_200_characters(fake: FakeTelegram, api: httpx.Client) -> None:
    call(api, "sendMessage", chat_id=MEMBER, text="参加しますか？", reply_markup=RSVP)
    update_id = fake.press_button(MEMBER, fake.last_message(MEMBER).message_id, data="rsvp:42:yes")
    query_id = fake.pending_updates()[0]["callback_query"]["id"]

    status, body = call(api, "answerCallbackQuery", callback_query_id=query_id, text="あ" * 201)

    assert (status, body["description"]) == (400, "Bad Request: MESSAGE_TOO_LONG")
    assert fake.callback_answer(update_id) is None


# --- edits ----------------------------------------------------------------------------------


async def test_edits_change_the_message_and_keep_its_history(fake: FakeTelegram, bot: Bot) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("参加する", callback_data="yes")]])
    sent = await bot.send_message(
        MEMBER, "<b>11月7日</b> 13:00", parse_mode="HTML", reply_markup=markup
    )

    edited = await bot.edit_message_text(
        "<b>11月8日</b> 13:00（変更）",
        chat_id=MEMBER,
        message_id=sent.message_id,
        parse_mode="HTML",
        reply_markup=markup,
    )

    assert not isinstance(edited, bool)
    assert edited.edit_date is not None
    current = fake.message(MEMBER, sent.message_id)
    assert current.text == "11月8日 13:00（変更）"
    assert current.edit_date is not None
    assert [version.text for version in current.edits] == ["11月7日 13:00"]
    assert current.button_labels == ["参加する"]


async def test_editing_to_identical_content_is_not_modified(bot: Bot) -> None:
    sent = await bot.send_message(MEMBER, "<b>受付中</b>", parse_mode="HTML")

    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "<b>受付中</b>", chat_id=MEMBER, message_id=sent.message_id, parse_mode="HTML"
        )


async def test_editing_text_without_a_keyboard_removes_it(fake: FakeTelegram, bot: Bot) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("参加する", callback_data="yes")]])
    sent = await bot.send_message(MEMBER, "参加しますか？", reply_markup=markup)

    await bot.edit_message_reply_markup(chat_id=MEMBER, message_id=sent.message_id)

    assert fake.message(MEMBER, sent.message_id).inline_buttons == []
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(chat_id=MEMBER, message_id=sent.message_id)


async def test_deleted_messages_stay_in_the_record_flagged(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(MEMBER, "間違いでした")

    assert await bot.delete_message(MEMBER, sent.message_id)

    assert fake.message(MEMBER, sent.message_id).deleted
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(MEMBER, sent.message_id)


# --- webhooks -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Post:
    secret: str | None
    body: dict[str, Any]


class WebhookReceiver:
    """A tiny HTTP server standing in for the bot's webhook endpoint."""

    def __init__(
        self, statuses: list[int] | None = None, reply: dict[str, Any] | None = None
    ) -> None:
        self.posts: list[Post] = []
        self._statuses = list(statuses or [])
        self._reply = json.dumps(reply).encode() if reply else b""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                secret = self.headers.get("X-Telegram-Bot-Api-Secret-Token")
                receiver.posts.append(Post(secret, json.loads(body)))
                status = receiver._statuses.pop(0) if receiver._statuses else 200
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(receiver._reply)))
                self.end_headers()
                self.wfile.write(receiver._reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/telegram/webhook"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def test_the_webhook_gets_each_update_with_the_secret_header(
    fake: FakeTelegram, api: httpx.Client
) -> None:
    with WebhookReceiver() as receiver:
        call(api, "setWebhook", url=receiver.url, secret_token="s3cret_token-1")
        first = fake.send_text(MEMBER, "一")
        second = fake.send_command(MEMBER, "start")
        fake.wait_until(lambda: fake.updates_pending() == 0)

    assert [post.body["update_id"] for post in receiver.posts] == [first, second]
    assert {post.secret for post in receiver.posts} == {"s3cret_token-1"}
    assert receiver.posts[1].body["message"]["text"] == "/start"
    info = call(api, "getWebhookInfo")[1]["result"]
    assert (info["url"], info["pending_update_count"]) == (receiver.url, 0)


def test_failed_deliveries_are_retried_in_order(fake: FakeTelegram, api: httpx.Client) -> None:
    with WebhookReceiver(statuses=[500, 503]) as receiver:
        call(api, "setWebhook", url=receiver.url)
        first = fake.send_text(MEMBER, "一")
        second = fake.send_text(MEMBER, "二")
        fake.wait_until(lambda: fake.updates_pending() == 0)

    assert [post.body["update_id"] for post in receiver.posts] == [first, first, first, second]
    assert [(d.update_id, d.attempt, d.status) for d in fake.webhook_deliveries] == [
        (first, 1, 500),
        (first, 2, 503),
        (first, 3, 200),
        (second, 1, 200),
    ]
    info = call(api, "getWebhookInfo")[1]["result"]
    assert info["last_error_message"] == "Wrong response from the webhook: 503 Service Unavailable"


def test_a_webhook_may_answer_with_a_method_call(fake: FakeTelegram, api: httpx.Client) -> None:
    reply = {"method": "sendMessage", "chat_id": MEMBER, "text": "受け付けました"}
    with WebhookReceiver(reply=reply) as receiver:
        call(api, "setWebhook", url=receiver.url)
        fake.send_text(MEMBER, "参加します")
        fake.wait_until(lambda: fake.messages(MEMBER))

    assert [m.text for m in fake.messages(MEMBER)] == ["受け付けました"]
    assert fake.requests("sendMessage")[0].status == 200


def test_deleting_the_webhook_reenables_polling(fake: FakeTelegram, api: httpx.Client) -> None:
    call(api, "setWebhook", url="http://127.0.0.1:9/hook")

    status, body = call(api, "deleteWebhook")

    assert (status, body["description"]) == (200, "Webhook was deleted")
    assert call(api, "deleteWebhook")[1]["description"] == "Webhook is already deleted"
    assert call(api, "getUpdates")[0] == 200


@pytest.mark.parametrize("secret", ["with space", "a" * 257, "base64+/="])
def test_webhook_secrets_are_validated(fake: FakeTelegram, api: httpx.Client, secret: str) -> None:
    status, body = call(api, "setWebhook", url="https://example.org/hook", secret_token=secret)

    assert status == 400
    assert "secret token" in body["description"]


# --- files ----------------------------------------------------------------------------------


async def test_documents_are_kept_and_downloadable(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_document(
        MEMBER, b"name,phone\n", filename="名簿.csv", caption="<b>名簿</b>", parse_mode="HTML"
    )

    [message] = fake.messages(MEMBER)
    assert message.document is not None
    assert (message.document.filename, message.document.content) == ("名簿.csv", b"name,phone\n")
    assert (message.text, message.document.caption) == ("名簿", "名簿")
    assert sent.document is not None
    assert sent.document.file_name == "名簿.csv"
    downloaded = await (await bot.get_file(sent.document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == b"name,phone\n"


async def test_photos_come_back_in_telegrams_sizes(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_photo(MEMBER, png(2000, 1000), caption="会場")

    assert [(size.width, size.height) for size in sent.photo] == [
        (90, 45),
        (320, 160),
        (800, 400),
        (1280, 640),
        (2000, 1000),
    ]
    photo = fake.last_message(MEMBER).photo
    assert photo is not None
    assert (photo.width, photo.height, photo.caption) == (2000, 1000, "会場")
    with pytest.raises(BadRequest, match=r"(?i)image_process_failed"):
        await bot.send_photo(MEMBER, b"not an image")


async def test_files_members_send_can_be_downloaded(fake: FakeTelegram, bot: Bot) -> None:
    fake.send_photo(MEMBER, caption="会場の入口です", content=png(640, 480))

    [update] = await bot.get_updates()

    assert update.message is not None
    assert update.message.caption == "会場の入口です"
    largest = update.message.photo[-1]
    data = await (await largest.get_file()).download_as_bytearray()
    assert bytes(data) == png(640, 480)


async def test_locations_and_venues_are_kept(fake: FakeTelegram, bot: Bot) -> None:
    await bot.send_location(MEMBER, latitude=35.7356, longitude=139.6517)
    venue = await bot.send_venue(
        MEMBER, latitude=35.7356, longitude=139.6517, title="練馬区役所", address="豊玉北6-12-1"
    )

    pin, place = fake.messages(MEMBER)
    assert pin.location == {"latitude": 35.7356, "longitude": 139.6517}
    assert place.venue is not None
    assert (place.venue["title"], place.venue["address"]) == ("練馬区役所", "豊玉北6-12-1")
    assert venue.venue is not None
    assert venue.venue.location.latitude == 35.7356


# --- real-shaped updates --------------------------------------------------------------------


@pytest.mark.parametrize("name", fixture_names())
def test_every_fixture_is_an_update_ptb_reads_without_leftovers(name: str) -> None:
    raw = load_fixture(name)

    update = Update.de_json(raw, None)

    content = getattr(update, update_kind(raw))
    assert content is not None
    assert content.api_kwargs == {}  # every field is one PTB knows: no typos in the fixture


def _edited(fake: FakeTelegram) -> int:
    fake.send_text(MEMBER, "保険証について")
    return fake.edit_text(MEMBER, "保険証の切り替えについて")


def _command_entity(update: Update) -> tuple[str, int, str]:
    [(entity, text)] = update.message.parse_entities().items()
    return entity.type, entity.offset, text


# (what the member does, what the bot reads from the update, what it should read)
HELPERS = [
    pytest.param(
        lambda f: f.send_text(MEMBER, "こんにちは"),
        lambda u: u.message.text,
        "こんにちは",
        id="text",
    ),
    pytest.param(
        lambda f: f.send_command(MEMBER, "start", "ev_42"),
        _command_entity,
        ("bot_command", 0, "/start"),
        id="command",
    ),
    pytest.param(
        lambda f: f.send_sticker(MEMBER, emoji="🙏"),
        lambda u: u.message.sticker.emoji,
        "🙏",
        id="sticker",
    ),
    pytest.param(lambda f: f.send_photo(MEMBER), lambda u: len(u.message.photo), 4, id="photo"),
    pytest.param(
        lambda f: f.send_voice(MEMBER, duration=7),
        lambda u: u.message.voice.duration,
        timedelta(seconds=7),
        id="voice",
    ),
    pytest.param(
        lambda f: f.send_document(MEMBER),
        lambda u: u.message.document.file_name,
        "申込書.pdf",
        id="document",
    ),
    pytest.param(
        lambda f: f.send_location(MEMBER, 35.7356, 139.6517),
        lambda u: u.message.location.latitude,
        35.7356,
        id="location",
    ),
    pytest.param(
        lambda f: f.send_contact(MEMBER, "819012345678"),
        lambda u: u.message.contact.user_id,
        MEMBER,
        id="contact",
    ),
    pytest.param(
        _edited, lambda u: u.edited_message.text, "保険証の切り替えについて", id="edited_message"
    ),
    pytest.param(
        lambda f: f.send_group_message(MEMBER, GROUP, "明日の集合場所は？"),
        lambda u: (u.effective_chat.title, u.effective_user.id),
        ("社保協 練馬支部", MEMBER),
        id="group_message",
    ),
    pytest.param(
        lambda f: f.post_in_channel(CHANNEL, "12月の予定"),
        lambda u: (u.effective_user, u.channel_post.sender_chat.id),
        (None, CHANNEL),
        id="channel_post",
    ),
    pytest.param(
        lambda f: f.send_without_sender(GROUP, "お知らせです"),
        lambda u: (u.effective_user, u.message.sender_chat.type),
        (None, "channel"),
        id="no_sender",
    ),
    pytest.param(
        lambda f: f.kick_bot(GROUP, by_user_id=MEMBER),
        lambda u: u.my_chat_member.new_chat_member.status,
        "kicked",
        id="bot_removed_from_group",
    ),
    pytest.param(
        lambda f: f.push_update(load_fixture("callback_query")),
        lambda u: u.callback_query.data,
        "rsvp:42:yes",
        id="raw_update",
    ),
]


@pytest.mark.parametrize(("act", "read", "expected"), HELPERS)
def test_member_helpers_build_updates_ptb_reads(
    fake: FakeTelegram,
    act: Callable[[FakeTelegram], int],
    read: Callable[[Update], object],
    expected: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # Voice.duration as a timedelta, without a warning
    fake.add_group(GROUP, "社保協 練馬支部")
    fake.add_channel(CHANNEL, "社保協ニュース", username="shahokyo_news")

    update_id = act(fake)
    [raw] = [u for u in fake.pending_updates() if u["update_id"] == update_id]
    update = Update.de_json(raw, None)

    assert update.update_id == update_id
    assert read(update) == expected


# --- commands, menu, chat info --------------------------------------------------------------


async def test_commands_are_kept_per_scope_and_language(fake: FakeTelegram, bot: Bot) -> None:
    await bot.set_my_commands([("start", "はじめる"), ("help", "使い方")], language_code="ja")
    await bot.set_my_commands(
        [BotCommand("events", "予定を見る")], scope=BotCommandScopeAllPrivateChats()
    )

    assert fake.commands(language_code="ja") == [
        {"command": "start", "description": "はじめる"},
        {"command": "help", "description": "使い方"},
    ]
    assert fake.commands("all_private_chats") == [
        {"command": "events", "description": "予定を見る"}
    ]
    assert fake.commands() == []
    assert [c.command for c in await bot.get_my_commands(language_code="ja")] == ["start", "help"]
    await bot.delete_my_commands(language_code="ja")
    assert fake.commands(language_code="ja") == []
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([("Start!", "はじめる")])


async def test_chat_info_menu_button_and_chat_actions(fake: FakeTelegram, bot: Bot) -> None:
    chat = await bot.get_chat(MEMBER)
    await bot.send_chat_action(MEMBER, ChatAction.TYPING)
    web_app = MenuButtonWebApp("申込", WebAppInfo("https://example.org/app"))
    await bot.set_chat_menu_button(chat_id=MEMBER, menu_button=web_app)

    assert (chat.id, chat.type, chat.first_name, chat.username) == (
        MEMBER,
        "private",
        "花子",
        "hanako_y",
    )
    assert fake.chat_actions(MEMBER) == ["typing"]
    assert await bot.get_chat_menu_button(MEMBER) == web_app
    assert isinstance(await bot.get_chat_menu_button(), MenuButtonCommands)


# --- waiting --------------------------------------------------------------------------------


def test_wait_until_times_out_showing_what_each_chat_received(
    fake: FakeTelegram, api: httpx.Client
) -> None:
    call(api, "sendMessage", chat_id=MEMBER, text="一通目", reply_markup=RSVP)

    with pytest.raises(TimeoutError) as caught:
        fake.wait_for_messages(MEMBER, 2, timeout=0.1)

    report = str(caught.value)
    assert "2 message(s) from the bot in chat 1001" in report
    assert "#1 bot : '一通目'  [buttons ['参加する']]" in report


async def test_until_leaves_the_event_loop_free(fake: FakeTelegram, bot: Bot) -> None:
    sending = asyncio.create_task(bot.send_message(MEMBER, "あとで"))

    [message] = await fake.messages_eventually(MEMBER, 1)

    assert message.text == "あとで"
    await sending


async def test_wait_until_refuses_to_block_the_event_loop(fake: FakeTelegram) -> None:
    with pytest.raises(RuntimeError, match=r"await fake\.until"):
        fake.wait_until(lambda: True)


# --- the whole PTB stack --------------------------------------------------------------------


async def test_a_ptb_application_polls_answers_and_edits(fake: FakeTelegram) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        keyboard = [[InlineKeyboardButton("参加する", callback_data="rsvp:yes")]]
        text = f"ようこそ（{' '.join(context.args or [])}）"
        await update.message.reply_text(text, reply_markup=InlineKeyboardMarkup(keyboard))

    async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("受け付けました")
        await query.edit_message_text(f"回答: {query.data}")

    app = (
        ApplicationBuilder()
        .token(fake.token)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .job_queue(None)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(answer))

    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=1)
        try:
            fake.send_command(MEMBER, "start", "ev_42")
            [welcome] = await fake.messages_eventually(MEMBER, 1)
            pressed = fake.press_button(MEMBER, welcome.message_id, label="参加する")
            await fake.until(lambda: fake.message(MEMBER, welcome.message_id).edits)
        finally:
            await app.updater.stop()
            await app.stop()

    assert welcome.text == "ようこそ（ev_42）"
    assert fake.message(MEMBER, welcome.message_id).text == "回答: rsvp:yes"
    answer_given = fake.callback_answer(pressed)
    assert answer_given is not None
    assert answer_given.text == "受け付けました"
    assert [r.method for r in fake.requests()][:2] == ["getMe", "deleteWebhook"]
    assert fake.updates_pending() == 0


# --- control API and standalone use ---------------------------------------------------------


def test_the_control_api_drives_the_fake_over_http(fake: FakeTelegram, api: httpx.Client) -> None:
    with httpx.Client(base_url=fake.control_url + "/") as control:
        added = control.post("add_user", json={"user_id": OTHER, "first_name": "次郎"})
        update_id = control.post("send_command", json={"user_id": OTHER, "command": "start"})
        pending = control.get("updates_pending")
        error = control.post(
            "press_button", json={"user_id": OTHER, "message_id": 99, "label": "x"}
        )

    assert added.json() == {"ok": True, "result": None}
    assert pending.json()["result"] == 1
    assert error.status_code == 400
    assert "sent no message 99" in error.json()["error"]
    [update] = call(api, "getUpdates")[1]["result"]
    assert update["update_id"] == update_id.json()["result"]


def test_the_fake_runs_standalone_and_answers_get_me() -> None:
    command = [
        sys.executable,
        "-m",
        "tests.fakes.telegram_api",
        "--port",
        "0",
        "--token",
        "42:SOLO",
    ]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            base_url = process.stdout.readline().strip()
            response = httpx.get(f"{base_url}42:SOLO/getMe", timeout=5)
        finally:
            process.terminate()
        assert process.wait(timeout=10) == 0

    assert base_url.startswith("http://127.0.0.1:")
    assert base_url.endswith("/bot")
    assert response.json()["result"]["id"] == 42
