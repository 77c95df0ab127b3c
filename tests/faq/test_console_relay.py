"""The whole question flow on the console channel, relay round trip included."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest

from bot.app import App, build, run_console
from bot.config import Secrets, Settings
from bot.faq.matcher import FaqEngine
from tests.fakes.clock import FakeClock

REGISTER = ["/start", "1", "1", "17"]  # consent, 都全体, 決定


@pytest.fixture
def app(
    settings: Settings, database_url: str, clock: FakeClock, shipped_engine: FaqEngine
) -> Iterator[App]:
    local = Settings(
        config=settings.config, path=settings.path, secrets=Secrets(database_url=database_url)
    )
    built = build(local, clock=clock)
    built.library.engine = shipped_engine
    yield built
    built.close()


def human_button(transcript: str) -> str:
    """The number the console shows next to 世話人に聞く in the last turn."""
    last_turn = transcript.rsplit("\n> ", 1)[-1]
    for line in last_turn.splitlines():
        if line.strip().endswith("世話人に聞く"):
            return line.split("]")[0].strip(" [")
    raise AssertionError(f"no 世話人に聞く button in:\n{last_turn}")


def console(app: App, *lines: str, organiser: bool = False) -> str:
    out = io.StringIO()
    script = io.StringIO("\n".join(lines) + "\n")
    run_console(app, as_organiser=organiser, stdin=script, stdout=out)
    return out.getvalue()


def test_question_answer_suggestions_and_relay_round_trip(app: App) -> None:
    console(app, *REGISTER, organiser=True)

    member = console(
        app,
        *REGISTER,
        "マイナンバーカードをなくしました",
        "保険証のことで、区役所へ一緒に行ってくれる人はいますか",
    )
    assert "0120-95-0178" in member
    # The source is a named line under the answer; only there does the console print its address.
    assert re.search(r"^  出典: [^\n:]+: https://", member, re.M), member
    assert "確認日: 2026年11月20日" in member
    question = "保険証のことで、区役所へ一緒に行ってくれる人はいますか"
    relay = console(app, question, human_button(member))
    assert "世話人に質問を送りました" in relay

    reply = "はい、日程を相談しましょう。事務局から電話します。"
    organiser = console(app, "1", reply, organiser=True)
    assert "【会員からの質問 #" in organiser
    assert f"「{question}」" in organiser
    assert "[1] 返事を書く" in organiser
    assert "に返事を送りました" in organiser

    answer = console(app)
    assert "【世話人からの返事】" in answer
    assert reply in answer
    assert "【世話人からの返事】" not in console(app), "shown once"
