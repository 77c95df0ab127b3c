"""Property-based fuzzing through the fake Telegram and the real python-telegram-bot stack.

Arbitrary texts, stickers, photos and button payloads (random, and valid-looking forged
actions) from a member who consented and from a stranger who never did. Whatever arrives:
no apology, no request Telegram refuses (invalid markup or HTML would get a 400 from the
fake), and no stored row for the stranger.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.conftest import RunningBot
from tests.telegram.test_journey import HANAKO, register

STRANGER = 4242
ACTIONS = ["consent", "region", "regions_done", "rsvp", "guests", "event", "faq", "page", "menu"]

payloads = st.one_of(
    st.text(max_size=64).filter(lambda s: len(s.encode()) <= 64 and s != ""),
    st.builds(
        lambda name, args: ":".join(["1", name, *args])[:64],
        st.sampled_from(ACTIONS),
        st.lists(
            st.one_of(st.integers(-5, 10**9).map(str), st.sampled_from(["yes", "no", "en"])),
            max_size=3,
        ),
    ),
)
doings = st.tuples(
    st.sampled_from([HANAKO, STRANGER]),
    st.one_of(
        st.tuples(st.just("text"), st.text(min_size=1, max_size=300).filter(str.strip)),
        st.tuples(st.just("button"), payloads),
        st.tuples(st.just("sticker"), st.just("")),
    ),
)


def _wait(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_nothing_a_telegram_user_sends_breaks_the_bot(
    running: RunningBot, fake: FakeTelegram
) -> None:
    await register(fake, HANAKO)
    fake.add_user(STRANGER, "通りすがり")
    refused_before = len([r for r in fake.all_requests if 400 <= r.status < 500])
    consented: list[bool] = []

    @hypothesis_settings(
        max_examples=40,
        derandomize=True,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(doing=doings)
    def one(doing: tuple[int, tuple[str, str]]) -> None:
        user, (kind, value) = doing
        if user == STRANGER and kind == "button" and value.startswith("1:consent"):
            consented.append(True)
        before = len(fake.messages(user))
        if kind == "text":
            fake.send_text(user, value)
        elif kind == "sticker":
            fake.send_sticker(user)
        else:
            last = fake.messages(user)[-1].message_id if fake.messages(user) else 1
            update = fake.send_callback(user, last, value)
            assert _wait(lambda: fake.callback_answer(update) is not None), "spinner left on"
        # Every text and sticker is answered; a button may only stop the spinner.
        if kind != "button":
            assert _wait(lambda: len(fake.messages(user)) > before), f"no answer to {value!r}"
        time.sleep(0.05)
        new = fake.messages(user)[before:]
        assert all("申し訳ありません" not in m.text for m in new), [m.text for m in new]
        refused = [r for r in fake.all_requests if 400 <= r.status < 500]
        assert len(refused) == refused_before, [(r.method, r.description) for r in refused]
        with running.database.unit_of_work() as uow:
            stranger = uow.members.get("telegram", str(STRANGER))
        assert stranger is None or consented, "nobody is stored before consent"

    await asyncio.to_thread(one)
