"""The fake LINE Messaging API behaves like LINE, as line-bot-sdk v3's own client sees it."""

from __future__ import annotations

import contextlib
import json
import struct
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pydantic.v1
import pytest
import urllib3
from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    ButtonsTemplate,
    Configuration,
    FlexBox,
    FlexBubble,
    FlexButton,
    FlexMessage,
    FlexText,
    MessagingApi,
    MessagingApiBlob,
    MulticastRequest,
    PostbackAction,
    PushMessageRequest,
    QuickReply,
    QuickReplyItem,
    ReplyMessageRequest,
    RichMenuArea,
    RichMenuBounds,
    RichMenuRequest,
    RichMenuSize,
    TemplateMessage,
    TextMessage,
)
from linebot.v3.messaging.exceptions import ServiceException, UnauthorizedException
from linebot.v3.webhooks import (
    FollowEvent,
    ImageMessageContent,
    LocationMessageContent,
    MessageEvent,
    PostbackEvent,
    StickerMessageContent,
    TextMessageContent,
    UnfollowEvent,
)

from tests.fakes import line_errors as errors
from tests.fakes.line_api import FakeLine, RateLimit
from tests.fakes.line_webhook import signature

ROOT = Path(__file__).resolve().parents[2]
START = 1_792_951_200.0  # 2026-10-26 03:00 in Japan (25th in UTC); moved only by hand
RETRY_KEY = "123e4567-e89b-12d3-a456-426614174000"


class ManualClock:
    """Unix seconds that move only when a test says so."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def png(width: int, height: int, size: int = 0) -> bytes:
    """A PNG's signature and IHDR chunk (all LINE reads for the size), padded to `size` bytes."""
    ihdr = struct.pack(">II", width, height) + b"\x08\x02\x00\x00\x00"
    head = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + ihdr + b"\x00\x00\x00\x00"
    return head + b"\x00" * max(0, size - len(head))


def jpeg(width: int, height: int) -> bytes:
    """A JPEG's SOI, an APP0 segment and a baseline SOF0 header."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x00" * 9
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


def body_of(error: ApiException) -> dict[str, Any]:
    return dict(json.loads(error.body))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fake(clock: ManualClock) -> Iterator[FakeLine]:
    with FakeLine(clock=clock) as server:
        yield server
    assert server.internal_errors == []


@pytest.fixture
def client(fake: FakeLine) -> Iterator[ApiClient]:
    configuration = Configuration(host=fake.base_url, access_token=fake.access_token)
    with ApiClient(configuration) as api_client:
        yield api_client


@pytest.fixture
def api(client: ApiClient) -> MessagingApi:
    return MessagingApi(client)


@pytest.fixture
def user(fake: FakeLine) -> str:
    return fake.add_user(display_name="花子")


def text(value: str) -> TextMessage:
    return TextMessage(text=value)


# --- reply ----------------------------------------------------------------------------------


def test_a_reply_token_answers_once(fake: FakeLine, api: MessagingApi, user: str) -> None:
    event = fake.text_event(user, "次の学習会はいつですか")
    request = ReplyMessageRequest(reply_token=event["replyToken"], messages=[text("11月7日です")])

    response = api.reply_message(request)
    with pytest.raises(ApiException) as second:
        api.reply_message(request)

    assert len(response.sent_messages) == 1
    assert second.value.status == 400
    assert body_of(second.value) == {"message": "Invalid reply token"}
    [delivered] = fake.messages(user)
    assert (delivered.endpoint, delivered.text) == ("reply_message", "11月7日です")
    assert delivered.message_id == response.sent_messages[0].id
    assert fake.reply_token_state(event["replyToken"]) == "used"


def test_a_reply_token_expires_after_a_minute(
    fake: FakeLine, api: MessagingApi, user: str, clock: ManualClock
) -> None:
    token = fake.text_event(user, "こんにちは")["replyToken"]
    clock.advance(61)

    with pytest.raises(ApiException) as refused:
        api.reply_message(ReplyMessageRequest(reply_token=token, messages=[text("遅すぎ")]))

    assert (refused.value.status, body_of(refused.value)) == (
        400,
        {"message": "Invalid reply token"},
    )
    assert fake.reply_token_state(token) == "expired"
    assert fake.messages(user) == []


def test_a_made_up_reply_token_is_refused_like_an_expired_one(api: MessagingApi) -> None:
    with pytest.raises(ApiException) as refused:
        api.reply_message(ReplyMessageRequest(reply_token="0" * 32, messages=[text("?")]))

    assert body_of(refused.value)["message"] == errors.INVALID_REPLY_TOKEN


# --- push and multicast ---------------------------------------------------------------------


def test_push_delivers_in_order_and_answers_with_request_and_message_ids(
    fake: FakeLine, api: MessagingApi, user: str
) -> None:
    request = PushMessageRequest(to=user, messages=[text("明日は学習会です"), text("13:00から")])

    response = api.push_message_with_http_info(request)

    assert response.status_code == 200
    assert [m.id for m in response.data.sent_messages] == [
        m.message_id for m in fake.messages(user)
    ]
    assert fake.texts(user) == ["明日は学習会です", "13:00から"]
    [call] = fake.requests("push_message")
    assert response.headers["x-line-request-id"] == call.request_id
    assert call.body == request.to_dict()


def test_multicast_reaches_every_recipient(fake: FakeLine, api: MessagingApi, user: str) -> None:
    other = fake.add_user(display_name="太郎")

    api.multicast(MulticastRequest(to=[user, other], messages=[text("雨天決行です")]))

    assert fake.texts(user) == fake.texts(other) == ["雨天決行です"]
    assert fake.last_message(other).endpoint == "multicast"


def test_multicast_to_501_users_is_refused(fake: FakeLine, api: MessagingApi) -> None:
    users = [fake.add_user() for _ in range(501)]
    with pytest.raises(pydantic.v1.ValidationError):  # the SDK checks it first...
        MulticastRequest(to=users, messages=[text("お知らせ")])
    unchecked = MulticastRequest.construct(to=users, messages=[text("お知らせ")])

    with pytest.raises(ApiException) as refused:  # ...and LINE again, if it gets through
        api.multicast(unchecked)

    assert refused.value.status == 400
    assert body_of(refused.value) == {
        "message": "The request body has 1 error(s)",
        "details": [{"message": "Size must be between 1 and 500", "property": "to"}],
    }
    assert fake.dropped() == []
    assert all(fake.messages(u) == [] for u in users)


def test_limits_on_messages_are_all_reported_with_their_property(
    fake: FakeLine, client: ApiClient, user: str
) -> None:
    items = [
        {"type": "action", "action": {"type": "message", "label": f"{n}", "text": f"{n}"}}
        for n in range(14)
    ]
    long_data = {"type": "postback", "label": "参加する", "data": "x" * 301}
    body = {
        "to": user,
        "messages": [
            {"type": "text", "text": "あ" * 5001},
            {"type": "text", "text": "どうしますか", "quickReply": {"items": items}},
            {
                "type": "template",
                "altText": "参加しますか",
                "template": {"type": "buttons", "text": "参加しますか", "actions": [long_data]},
            },
        ],
    }

    response = httpx.post(
        f"{fake.base_url}/v2/bot/message/push",
        json=body,
        headers={"Authorization": f"Bearer {fake.access_token}"},
    )

    assert response.status_code == 400
    assert response.json() == {
        "message": "The request body has 3 error(s)",
        "details": [
            {"message": "Length must be between 0 and 5000", "property": "messages[0].text"},
            {
                "message": "Size must be between 1 and 13",
                "property": "messages[1].quickReply.items",
            },
            {
                "message": "Length must be between 0 and 300",
                "property": "messages[2].template.actions[0].data",
            },
        ],
    }


@pytest.mark.parametrize(("count", "status"), [(5, 200), (6, 400), (0, 400)])
def test_one_to_five_messages_per_request(
    fake: FakeLine, api: MessagingApi, user: str, count: int, status: int
) -> None:
    # construct(): past the SDK's own check of the same rule, to see LINE's answer.
    request = PushMessageRequest.construct(to=user, messages=[text(f"{n}") for n in range(count)])

    if status == 200:
        api.push_message(request)
        assert len(fake.messages(user)) == count
        return
    with pytest.raises(ApiException) as refused:
        api.push_message(request)
    assert body_of(refused.value)["details"] == [
        {"message": "Size must be between 1 and 5", "property": "messages"}
    ]


def test_the_text_limit_counts_utf16_units(fake: FakeLine, api: MessagingApi, user: str) -> None:
    api.push_message(PushMessageRequest(to=user, messages=[text("😀" * 2500)]))

    with pytest.raises(ApiException) as refused:
        api.push_message(PushMessageRequest(to=user, messages=[text("😀" * 2500 + "!")]))

    assert body_of(refused.value)["details"][0]["property"] == "messages[0].text"


def test_template_flex_and_quick_replies_are_kept_as_the_sdk_sends_them(
    fake: FakeLine, api: MessagingApi, user: str
) -> None:
    rsvp = PostbackAction(label="参加する", data="rsvp:42:yes", display_text="参加します")
    later = PostbackAction(label="あとで", data="rsvp:42:later")
    quick = QuickReply(items=[QuickReplyItem(action=later)])
    card = FlexMessage(
        alt_text="11月7日(木) 13:00 学習会",
        contents=FlexBubble(
            body=FlexBox(layout="vertical", contents=[FlexText(text="学習会")]),
            footer=FlexBox(layout="vertical", contents=[FlexButton(action=rsvp)]),
        ),
        quick_reply=quick,
    )
    buttons = TemplateMessage(
        alt_text="参加しますか", template=ButtonsTemplate(text="参加しますか", actions=[rsvp])
    )

    api.push_message(PushMessageRequest(to=user, messages=[card, buttons]))

    flex, template = fake.messages(user)
    assert flex.message == card.to_dict()
    assert (flex.type, flex.text) == ("flex", "11月7日(木) 13:00 学習会")
    assert flex.postback_data == ["rsvp:42:yes", "rsvp:42:later"]
    assert flex.quick_reply_labels == ["あとで"]
    assert (template.type, template.postback_data) == ("template", ["rsvp:42:yes"])


def test_a_malformed_recipient_is_refused(api: MessagingApi) -> None:
    with pytest.raises(ApiException) as refused:
        api.push_message(PushMessageRequest(to="hanako", messages=[text("?")]))

    assert body_of(refused.value) == {"message": errors.INVALID_TO}


# --- retry keys -----------------------------------------------------------------------------


def test_a_repeated_retry_key_is_409_and_delivers_once(
    fake: FakeLine, api: MessagingApi, user: str
) -> None:
    request = PushMessageRequest(to=user, messages=[text("リマインダー: 明日13:00")])

    first = api.push_message_with_http_info(request, x_line_retry_key=RETRY_KEY)
    with pytest.raises(ApiException) as repeated:
        api.push_message(request, x_line_retry_key=RETRY_KEY)

    assert repeated.value.status == 409
    assert (
        repeated.value.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    )
    assert body_of(repeated.value) == {
        "message": "The retry key is already accepted",
        "sentMessages": [m.to_dict() for m in first.data.sent_messages],
    }
    assert fake.texts(user) == ["リマインダー: 明日13:00"]
    assert fake.retry_keys[RETRY_KEY].request_id == first.headers["x-line-request-id"]
    assert fake.quota_used == 1


def test_a_retry_after_a_lost_answer_is_409_not_a_second_message(
    fake: FakeLine, api: MessagingApi, user: str
) -> None:
    fake.drop_next(endpoints="push_message", after=True)
    request = PushMessageRequest(to=user, messages=[text("中止のお知らせ")])

    with pytest.raises(urllib3.exceptions.HTTPError):
        api.push_message(request, x_line_retry_key=RETRY_KEY)
    with pytest.raises(ApiException) as retried:
        api.push_message(request, x_line_retry_key=RETRY_KEY)

    assert retried.value.status == 409
    assert fake.texts(user) == ["中止のお知らせ"]
    assert [r.status for r in fake.requests("push_message")] == [0, 409]


def test_a_multicast_retry_key_is_409_without_sent_messages(
    fake: FakeLine, api: MessagingApi, user: str
) -> None:
    request = MulticastRequest(to=[user], messages=[text("お知らせ")])
    api.multicast(request, x_line_retry_key=RETRY_KEY)

    with pytest.raises(ApiException) as repeated:
        api.multicast(request, x_line_retry_key=RETRY_KEY)

    assert body_of(repeated.value) == {"message": errors.RETRY_KEY_ACCEPTED}
    assert len(fake.messages(user)) == 1


def test_a_refused_request_does_not_use_up_its_retry_key(
    fake: FakeLine, api: MessagingApi, user: str
) -> None:
    fake.fail_next(endpoints="push_message")
    request = PushMessageRequest(to=user, messages=[text("再送")])

    with pytest.raises(ServiceException):
        api.push_message(request, x_line_retry_key=RETRY_KEY)
    api.push_message(request, x_line_retry_key=RETRY_KEY)

    assert fake.texts(user) == ["再送"]
    assert [r.status for r in fake.requests("push_message")] == [500, 200]


def test_a_retry_key_elsewhere_or_not_a_uuid_is_400(
    fake: FakeLine, client: ApiClient, api: MessagingApi, user: str
) -> None:
    token = fake.text_event(user, "こんにちは")["replyToken"]
    reply = ReplyMessageRequest(reply_token=token, messages=[text("はい")])

    with pytest.raises(ApiException) as on_reply:
        api.reply_message(reply, _headers={"X-Line-Retry-Key": str(uuid.uuid4())})
    with pytest.raises(ApiException) as not_uuid:
        api.push_message(PushMessageRequest(to=user, messages=[text("x")]), x_line_retry_key="1")

    assert (on_reply.value.status, not_uuid.value.status) == (400, 400)
    assert fake.messages(user) == []
    assert fake.reply_token_state(token) == "valid"


# --- quota and rate limits ------------------------------------------------------------------


def test_pushes_count_per_recipient_against_the_monthly_limit(
    fake: FakeLine, api: MessagingApi, user: str
) -> None:
    others = [fake.add_user() for _ in range(2)]
    fake.set_monthly_limit(3)
    token = fake.text_event(user, "こんにちは")["replyToken"]

    api.push_message(PushMessageRequest(to=user, messages=[text("一"), text("二")]))
    api.multicast(MulticastRequest(to=others, messages=[text("三")]))
    api.reply_message(ReplyMessageRequest(reply_token=token, messages=[text("返信は無料")]))
    with pytest.raises(ApiException) as over:
        api.push_message(PushMessageRequest(to=user, messages=[text("四")]))

    quota = api.get_message_quota()
    assert (quota.type.value, quota.value) == ("limited", 3)
    assert api.get_message_quota_consumption().total_usage == 3
    assert over.value.status == 429
    assert body_of(over.value) == {"message": "You have reached your monthly limit."}
    assert "Retry-After" not in over.value.headers
    assert fake.texts(user) == ["一", "二", "返信は無料"]


def test_a_multicast_beyond_the_limit_sends_nothing(
    fake: FakeLine, api: MessagingApi, user: str
) -> None:
    other = fake.add_user()
    fake.set_monthly_limit(200, used=199)

    with pytest.raises(ApiException) as over:
        api.multicast(MulticastRequest(to=[user, other], messages=[text("お知らせ")]))

    assert body_of(over.value)["message"] == errors.MONTHLY_LIMIT
    assert fake.messages(user) == fake.messages(other) == []
    assert fake.quota_used == 199


def test_the_quota_starts_over_each_month_in_japan_time(
    fake: FakeLine, api: MessagingApi, user: str, clock: ManualClock
) -> None:
    fake.set_monthly_limit(1)
    api.push_message(PushMessageRequest(to=user, messages=[text("10月")]))
    clock.advance(6 * 24 * 3600)  # 2026-11-01 03:00 in Japan, still October 31st in UTC

    api.push_message(PushMessageRequest(to=user, messages=[text("11月")]))

    assert fake.quota_used == 1
    assert api.get_message_quota().type.value == "limited"


def test_without_a_plan_limit_the_quota_is_none(api: MessagingApi) -> None:
    quota = api.get_message_quota()

    assert (quota.type.value, quota.value) == ("none", None)


def test_the_rate_limit_answers_429_with_lines_message(
    fake: FakeLine, api: MessagingApi, user: str
) -> None:
    fake.set_rate_limits({"push_message": RateLimit(per_second=0.5, burst=2)})
    request = PushMessageRequest(to=user, messages=[text("連投")])

    api.push_message(request)
    api.push_message(request)
    with pytest.raises(ApiException) as limited:
        api.push_message(request)
    api.get_message_quota()  # other endpoints keep their own budget

    assert limited.value.status == 429
    assert body_of(limited.value) == {
        "message": "The API rate limit has been exceeded. Try again later."
    }
    assert "Retry-After" not in limited.value.headers
    assert len(fake.messages(user)) == 2


def test_the_rate_limit_refills_with_time(
    fake: FakeLine, api: MessagingApi, user: str, clock: ManualClock
) -> None:
    fake.set_rate_limits({"*": RateLimit(per_second=1, burst=1)})
    request = PushMessageRequest(to=user, messages=[text("一通")])
    api.push_message(request)
    with pytest.raises(ApiException):
        api.push_message(request)

    clock.advance(1)
    api.push_message(request)

    assert len(fake.messages(user)) == 2


# --- auth, blocked users, faults ------------------------------------------------------------


def test_a_wrong_access_token_is_401(fake: FakeLine, user: str) -> None:
    configuration = Configuration(host=fake.base_url, access_token="not-the-token")

    with ApiClient(configuration) as client, pytest.raises(UnauthorizedException) as refused:
        MessagingApi(client).push_message(PushMessageRequest(to=user, messages=[text("x")]))

    assert refused.value.status == 401
    assert body_of(refused.value) == {"message": errors.AUTH_FAILED}
    assert fake.messages(user) == []


def test_a_missing_bearer_header_is_401(fake: FakeLine) -> None:
    response = httpx.get(f"{fake.base_url}/v2/bot/message/quota")
    basic = httpx.get(f"{fake.base_url}/v2/bot/message/quota", auth=("id", "secret"))

    assert (response.status_code, response.json()) == (
        401,
        {"message": errors.AUTH_HEADER_REQUIRED},
    )
    assert basic.status_code == 401
    assert response.headers["x-line-request-id"]


def test_a_push_to_a_blocked_user_is_200_and_silently_dropped(
    fake: FakeLine, api: MessagingApi, user: str
) -> None:
    fake.set_monthly_limit(10)
    fake.block(user)

    response = api.push_message(PushMessageRequest(to=user, messages=[text("届かない")]))

    assert len(response.sent_messages) == 1
    assert fake.messages(user) == []
    [dropped] = fake.dropped(user)
    assert (dropped.text, dropped.dropped_because) == ("届かない", "blocked")
    assert fake.quota_used == 0
    fake.unblock(user)
    api.push_message(PushMessageRequest(to=user, messages=[text("届く")]))
    assert fake.texts(user) == ["届く"]


def test_a_500_and_a_dropped_connection_for_the_next_requests(
    fake: FakeLine, api: MessagingApi, user: str
) -> None:
    fake.fail_next(2, endpoints=["push_message"])
    fake.drop_next()
    request = PushMessageRequest(to=user, messages=[text("届くまで")])

    outcomes = []
    for _ in range(4):
        try:
            api.push_message(request)
            outcomes.append("ok")
        except ServiceException as error:
            outcomes.append(str(error.status))
        except urllib3.exceptions.HTTPError:
            outcomes.append("dropped")

    assert outcomes == ["500", "500", "dropped", "ok"]
    assert fake.texts(user) == ["届くまで"]
    assert fake.faults == []


def test_a_timed_out_push_may_still_be_delivered_and_its_retry_is_not(
    fake: FakeLine, api: MessagingApi, user: str
) -> None:
    fake.delay_next(1, 1.0, endpoints="push_message")
    request = PushMessageRequest(to=user, messages=[text("遅れて届く")])

    with pytest.raises(urllib3.exceptions.HTTPError):  # a read timeout
        api.push_message(request, x_line_retry_key=RETRY_KEY, _request_timeout=0.1)
    # The retry may overtake the slow first attempt or not: whichever comes second is the 409.
    with contextlib.suppress(ApiException):
        api.push_message(request, x_line_retry_key=RETRY_KEY)
    fake.wait_until(lambda: len(fake.requests("push_message")) == 2)

    assert sorted(r.status for r in fake.requests("push_message")) == [200, 409]
    assert fake.texts(user) == ["遅れて届く"]


def test_unknown_paths_are_404_and_wrong_methods_405(fake: FakeLine) -> None:
    headers = {"Authorization": f"Bearer {fake.access_token}"}

    unknown = httpx.post(f"{fake.base_url}/v2/bot/message/telepathy", headers=headers)
    wrong_method = httpx.get(f"{fake.base_url}/v2/bot/message/push", headers=headers)

    assert (unknown.status_code, unknown.json()) == (404, {"message": "Not found"})
    assert wrong_method.status_code == 405


# --- rich menus -----------------------------------------------------------------------------


def menu_request(width: int = 2500, height: int = 843) -> RichMenuRequest:
    area = RichMenuArea(
        bounds=RichMenuBounds(x=0, y=0, width=width, height=height),
        action=PostbackAction(data="menu:events"),
    )
    return RichMenuRequest(
        size=RichMenuSize(width=width, height=height),
        selected=True,
        name="campaign",
        chat_bar_text="メニュー",
        areas=[area],
    )


def upload(blob: MessagingApiBlob, rich_menu_id: str, image: bytes, kind: str = "png") -> None:
    # The SDK sends no Content-Type of its own for images: the caller must name it.
    blob.set_rich_menu_image(rich_menu_id, image, _headers={"Content-Type": f"image/{kind}"})


def test_a_rich_menu_is_created_given_its_image_and_made_the_default(
    fake: FakeLine, api: MessagingApi, client: ApiClient
) -> None:
    blob = MessagingApiBlob(client)

    rich_menu_id = api.create_rich_menu(menu_request()).rich_menu_id
    with pytest.raises(ApiException) as too_early:
        api.set_default_rich_menu(rich_menu_id)
    upload(blob, rich_menu_id, png(2500, 843))
    api.set_default_rich_menu(rich_menu_id)

    assert body_of(too_early.value) == {"message": errors.NO_RICH_MENU_IMAGE}
    assert fake.default_rich_menu_id == rich_menu_id
    assert api.get_default_rich_menu_id().rich_menu_id == rich_menu_id
    menu = fake.rich_menus[rich_menu_id]
    assert (menu.body["chatBarText"], menu.image, menu.image_type) == (
        "メニュー",
        png(2500, 843),
        "image/png",
    )
    assert [r.endpoint for r in fake.requests()] == [
        "create_rich_menu",
        "set_default_rich_menu",
        "set_rich_menu_image",
        "set_default_rich_menu",
        "get_default_rich_menu_id",
    ]


@pytest.mark.parametrize(
    ("image", "kind", "message"),
    [
        pytest.param(png(700, 300), "png", errors.IMAGE_SIZE_INVALID, id="under 800 wide"),
        pytest.param(png(2600, 1000), "png", errors.IMAGE_SIZE_INVALID, id="over 2500 wide"),
        pytest.param(png(1200, 900), "png", errors.IMAGE_SIZE_INVALID, id="aspect under 1.45"),
        pytest.param(
            png(2500, 843, 1024 * 1024 + 1), "png", errors.IMAGE_TOO_LARGE, id="over 1 MB"
        ),
        pytest.param(png(1200, 405), "png", errors.IMAGE_SIZE_MISMATCH, id="not the menu's size"),
        pytest.param(b"GIF89a" + b"\x00" * 20, "gif", errors.UNSUPPORTED_IMAGE, id="a GIF"),
        pytest.param(jpeg(2500, 843), "png", errors.UNSUPPORTED_IMAGE, id="a JPEG called PNG"),
    ],
)
def test_rich_menu_images_outside_lines_rules_are_refused(
    fake: FakeLine, api: MessagingApi, client: ApiClient, image: bytes, kind: str, message: str
) -> None:
    rich_menu_id = api.create_rich_menu(menu_request()).rich_menu_id

    with pytest.raises(ApiException) as refused:
        upload(MessagingApiBlob(client), rich_menu_id, image, kind)

    assert (refused.value.status, body_of(refused.value)) == (400, {"message": message})
    assert fake.rich_menus[rich_menu_id].image is None


def test_a_jpeg_of_the_right_size_is_read_from_its_header(
    fake: FakeLine, api: MessagingApi, client: ApiClient
) -> None:
    rich_menu_id = api.create_rich_menu(menu_request(1200, 810)).rich_menu_id

    upload(MessagingApiBlob(client), rich_menu_id, jpeg(1200, 810), "jpeg")

    assert fake.rich_menus[rich_menu_id].image_type == "image/jpeg"


def test_a_rich_menu_object_outside_lines_rules_is_refused(api: MessagingApi) -> None:
    fields = {**dict(menu_request(1200, 900)), "chat_bar_text": "とても長いメニューの名前です。"}
    request = RichMenuRequest.construct(**fields)  # past the SDK's own check of chatBarText

    with pytest.raises(ApiException) as refused:
        api.create_rich_menu(request)

    assert body_of(refused.value)["details"] == [
        {"message": "Width / height must be at least 1.45", "property": "size"},
        {"message": "Length must be between 0 and 14", "property": "chatBarText"},
    ]


# --- webhooks -------------------------------------------------------------------------------


class _Receiver:
    """A bot's webhook endpoint for the test: verifies with the SDK's parser, records events."""

    def __init__(self, channel_secret: str) -> None:
        parser = WebhookParser(channel_secret)
        self.events: list[Any] = []
        received = self.events

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                try:
                    received.extend(parser.parse(body, self.headers["x-line-signature"]))
                    status = 200
                except InvalidSignatureError:
                    status = 400
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/line/webhook"

    def __enter__(self) -> _Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_signature_is_the_one_the_sdk_verifies(fake: FakeLine, user: str) -> None:
    sender = fake.webhook_sender("http://127.0.0.1:9/unused")
    _, body, headers = sender.prepare([fake.text_event(user, "こんにちは")])
    parser = WebhookParser(fake.channel_secret)

    payload = parser.parse(body.decode(), headers["x-line-signature"], as_payload=True)

    assert headers["x-line-signature"] == signature(body, fake.channel_secret)
    assert payload.destination == fake.bot_user_id
    [event] = payload.events
    assert isinstance(event, MessageEvent)
    assert isinstance(event.message, TextMessageContent)
    assert event.message.text == "こんにちは"
    with pytest.raises(InvalidSignatureError):
        parser.parse(body.decode() + " ", headers["x-line-signature"])


def test_every_event_kind_reaches_the_bot_signed_and_typed(fake: FakeLine, user: str) -> None:
    with _Receiver(fake.channel_secret) as bot:
        sender = fake.webhook_sender(bot.url)
        newcomer = fake.follow_event(display_name="次郎")
        newcomer_id = newcomer["source"]["userId"]
        result = sender.post(
            [
                newcomer,
                fake.text_event(user, "参加します"),
                fake.sticker_event(user),
                fake.image_event(user),
                fake.location_event(user, 35.7356, 139.6517, title="練馬区役所"),
                fake.postback_event(user, "rsvp:42:yes"),
                fake.unfollow_event(newcomer_id),
            ]
        )
        forged = sender.post([fake.text_event(user, "偽物")], bad_signature=True)

    assert (result.status, forged.status) == (200, 400)
    follow, said, sticker, image, place, tapped, unfollow = bot.events
    assert isinstance(follow, FollowEvent)
    assert follow.follow.is_unblocked is False
    assert isinstance(said.message, TextMessageContent)
    assert isinstance(sticker.message, StickerMessageContent)
    assert isinstance(image.message, ImageMessageContent)
    assert isinstance(place.message, LocationMessageContent)
    assert place.message.title == "練馬区役所"
    assert isinstance(tapped, PostbackEvent)
    assert tapped.postback.data == "rsvp:42:yes"
    assert isinstance(unfollow, UnfollowEvent)
    assert fake.user_status(newcomer_id) == "blocked"
    assert all(e.mode.value == "active" for e in bot.events)
    assert all(not e.delivery_context.is_redelivery for e in bot.events)
    assert len({e.webhook_event_id for e in bot.events}) == 7


def test_an_event_s_reply_token_works_once_and_a_redelivery_repeats_the_event(
    fake: FakeLine, api: MessagingApi, user: str
) -> None:
    with _Receiver(fake.channel_secret) as bot:
        sender = fake.webhook_sender(bot.url)
        first = sender.post([fake.postback_event(user, "rsvp:42:yes")])
        [event] = bot.events
        api.reply_message(
            ReplyMessageRequest(reply_token=event.reply_token, messages=[text("受け付けました")])
        )
        again = sender.redeliver(first.events)

    original, redelivered = bot.events
    assert again.status == 200
    assert redelivered.webhook_event_id == original.webhook_event_id
    assert redelivered.delivery_context.is_redelivery is True
    assert original.delivery_context.is_redelivery is False
    with pytest.raises(ApiException) as reused:
        api.reply_message(
            ReplyMessageRequest(reply_token=redelivered.reply_token, messages=[text("二度目")])
        )
    assert body_of(reused.value) == {"message": errors.INVALID_REPLY_TOKEN}
    assert fake.texts(user) == ["受け付けました"]


def test_unblocking_is_a_follow_event_marked_unblocked(fake: FakeLine, user: str) -> None:
    fake.unfollow_event(user)

    event = fake.follow_event(user)

    assert event["follow"] == {"isUnblocked": True}
    assert fake.user_status(user) == "friend"
    assert fake.reply_token_state(event["replyToken"]) == "valid"


async def test_events_can_be_posted_from_async_tests(fake: FakeLine, user: str) -> None:
    with _Receiver(fake.channel_secret) as bot:
        result = await fake.webhook_sender(bot.url).apost([fake.text_event(user, "非同期")])

    assert result.ok
    assert bot.events[0].message.text == "非同期"


# --- control API and standalone use ---------------------------------------------------------


def test_the_control_api_drives_the_fake_over_http(fake: FakeLine, api: MessagingApi) -> None:
    with httpx.Client(base_url=fake.control_url + "/") as control:
        user = control.post("add_user", json={"display_name": "三郎"}).json()["result"]
        control.post("block", json={"user_id": user})
        api.push_message(PushMessageRequest(to=user, messages=[text("x")]))
        dropped = control.get("dropped").json()["result"]
        missing = control.post("text_event", json={"user_id": "U" + "f" * 32, "text": "?"})

    assert dropped[0]["user_id"] == user
    assert dropped[0]["dropped_because"] == "blocked"
    assert missing.status_code == 400
    assert "add_user() first" in missing.json()["error"]


@pytest.mark.slow
def test_the_fake_runs_standalone() -> None:
    command = [sys.executable, "-m", "tests.fakes.line_api", "--port", "0", "--monthly-limit", "5"]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            base_url = process.stdout.readline().strip()
            token = process.stdout.readline().split()[-1]
            quota = httpx.get(
                f"{base_url}/v2/bot/message/quota",
                headers={"Authorization": f"Bearer {token}"},
                timeout=5,
            )
        finally:
            process.terminate()
        assert process.wait(timeout=10) == 0

    assert quota.json() == {"type": "limited", "value": 5}
