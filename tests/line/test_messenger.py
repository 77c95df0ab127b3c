"""The outbox's way to LINE: pushes and multicasts through the real line-bot-sdk against the
fake LINE API, with retry keys, and every refusal told apart."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from linebot.v3.messaging import TextMessage  # type: ignore[import-untyped]  # no py.typed

from bot.channels.line.messenger import MULTICAST_RECIPIENTS, LineMessenger, call_key
from bot.config import LineConfig
from bot.delivery.model import (
    PermanentFailure,
    QuotaExhausted,
    RateLimited,
    TemporaryFailure,
    Unreachable,
)
from bot.domain.messages import Action, Button, Outgoing
from tests.fakes.line_api import FakeLine, RateLimit

KEY = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"


@pytest.fixture
def fake() -> AsyncIterator[FakeLine]:
    with FakeLine() as server:
        yield server


@pytest.fixture
async def messenger(fake: FakeLine) -> AsyncIterator[LineMessenger]:
    sender = LineMessenger(
        LineConfig(enabled=True, api_host=fake.base_url),
        fake.access_token,
        lambda attachment: None,
        timeout=2.0,
    )
    await sender.open()
    try:
        yield sender
    finally:
        await sender.close()


def notice(parts: int = 1) -> Outgoing:
    """A message that LINE takes as `parts` message objects (texts of 5,000 characters)."""
    text = "\n".join(f"お知らせ{n}です。" + "あ" * 4990 for n in range(parts))
    return Outgoing(text, buttons=((Button("予定", Action("events")),),))


async def test_a_push_carries_the_rows_retry_key_and_a_repeat_is_sent_once(
    fake: FakeLine, messenger: LineMessenger
) -> None:
    user = fake.add_user()
    first = await messenger.send(user, notice(), retry_key=KEY)
    again = await messenger.send(user, notice(), retry_key=KEY)
    assert [r.retry_key for r in fake.requests("push_message")] == [KEY, KEY]
    assert [r.status for r in fake.requests("push_message")] == [200, 409]
    assert len(fake.messages(user)) == 1, "the member got it once"
    assert first == again == fake.messages(user)[0].message_id


async def test_a_push_lost_on_the_way_back_is_not_sent_twice(
    fake: FakeLine, messenger: LineMessenger
) -> None:
    user = fake.add_user()
    fake.fail_next(endpoints="push_message", after=True)
    with pytest.raises(TemporaryFailure):
        await messenger.send(user, notice(), retry_key=KEY)
    fake.drop_next(endpoints="push_message", after=True)
    with pytest.raises(TemporaryFailure):
        await messenger.send(user, notice(), retry_key=KEY)
    await messenger.send(user, notice(), retry_key=KEY)
    assert len(fake.messages(user)) == 1


async def test_a_long_message_takes_several_calls_each_with_its_own_stable_key(
    fake: FakeLine, messenger: LineMessenger
) -> None:
    user = fake.add_user()
    message = notice(7)  # seven texts of 5,000 characters: two pushes (5 + 2)
    assert messenger.parts(message) == 7
    # The first call goes, the second is refused (one push allowed for a long while)...
    fake.set_rate_limits({"push_message": RateLimit(per_second=0.001, burst=1)})
    with pytest.raises(RateLimited):
        await messenger.send(user, message, retry_key=KEY)
    assert len(fake.messages(user)) == 5
    # ...and the row is retried as a whole: LINE drops the repeat of the first call.
    fake.set_rate_limits(None)
    await messenger.send(user, message, retry_key=KEY)
    received = [m.text for m in fake.messages(user)]
    assert len(received) == 7
    assert len(set(received)) == 7, "each text once"
    keys = [r.retry_key for r in fake.requests("push_message")]
    assert keys == [KEY, call_key(KEY, 1), KEY, call_key(KEY, 1)]
    assert [r.status for r in fake.requests("push_message")] == [200, 429, 409, 200]
    assert call_key(KEY, 1) == call_key(KEY, 1) != KEY
    assert ["quickReply" in m.message for m in fake.messages(user)] == [False] * 6 + [True]


async def test_refusals_are_told_apart(fake: FakeLine, messenger: LineMessenger) -> None:
    user = fake.add_user()
    with pytest.raises(Unreachable):
        await messenger.send("not-a-line-user", notice(), retry_key=str(uuid.uuid4()))
    fake.fail_next(status=503, endpoints="push_message")
    with pytest.raises(TemporaryFailure):
        await messenger.send(user, notice(), retry_key=str(uuid.uuid4()))
    fake.drop_next(endpoints="push_message")
    with pytest.raises(TemporaryFailure):
        await messenger.send(user, notice(), retry_key=str(uuid.uuid4()))
    too_long = Outgoing("あ" * 10, buttons=((Button("x", Action("events")),),))
    fake.set_rate_limits({"push_message": RateLimit(per_second=0.001, burst=1)})
    await messenger.send(user, too_long, retry_key=str(uuid.uuid4()))
    with pytest.raises(RateLimited) as limited:
        await messenger.send(user, too_long, retry_key=str(uuid.uuid4()))
    assert limited.value.everything
    assert limited.value.retry_after < 60
    fake.set_rate_limits(None)
    fake.set_monthly_limit(1, used=1)
    with pytest.raises(QuotaExhausted):
        await messenger.send(user, notice(), retry_key=str(uuid.uuid4()))
    assert fake.messages(user)[-1].text == "あ" * 10, "nothing more went"


async def test_a_message_line_refuses_is_a_permanent_failure(
    fake: FakeLine, messenger: LineMessenger
) -> None:
    user = fake.add_user()
    with pytest.raises(PermanentFailure) as refused:
        await messenger.push(user, [TextMessage(text="あ" * 5001)], str(uuid.uuid4()))
    assert "messages[0].text" in str(refused.value)
    assert fake.messages(user) == []


async def test_a_blocked_member_is_pushed_to_without_error(
    fake: FakeLine, messenger: LineMessenger
) -> None:
    user = fake.add_user(status="blocked")
    await messenger.send(user, notice(), retry_key=str(uuid.uuid4()))
    assert fake.messages(user) == []
    assert len(fake.dropped(user)) == 1


async def test_multicast_in_batches_of_500_with_retry_keys(
    fake: FakeLine, messenger: LineMessenger
) -> None:
    users = [fake.add_user() for _ in range(1200)]
    keys = [str(uuid.uuid4()) for _ in range(3)]
    batches = [users[start : start + MULTICAST_RECIPIENTS] for start in range(0, 1200, 500)]
    for batch, key in zip(batches, keys, strict=True):
        await messenger.send_many(batch, notice(), retry_key=key)
    # A crash after the second batch: the restart sends every batch again with its key.
    for batch, key in zip(batches, keys, strict=True):
        await messenger.send_many(batch, notice(), retry_key=key)
    statuses = [r.status for r in fake.requests("multicast")]
    assert statuses == [200, 200, 200, 409, 409, 409]
    assert all(len(fake.messages(user)) == 1 for user in users), "nobody got it twice"
    with pytest.raises(ValueError, match="at most 500"):
        await messenger.send_many(users[:501], notice(), retry_key=str(uuid.uuid4()))
