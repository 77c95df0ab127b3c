"""`campaign-bot line quota` and `campaign-bot line setup-richmenu`, as an organiser runs them,
through the real line-bot-sdk against the fake LINE API (2026-11-30 in Japan)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.channels.line import richmenu
from bot.cli import main
from bot.commands import line as line_commands
from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.clock import FakeClock
from tests.fakes.line_api import FakeLine
from tests.fakes_tests.test_line_api import png
from tests.line_admin.conftest import NOW

Run = Callable[..., int]


@pytest.fixture
def fake() -> Iterator[FakeLine]:
    with FakeLine(clock=lambda: NOW) as server:
        yield server
    assert server.internal_errors == []


@pytest.fixture
def config(tmp_path: Path, fake: FakeLine, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example config with LINE's host the fake, the token in the environment."""
    text = EXAMPLE_CONFIG.read_text("utf-8").replace(
        "api_host: https://api.line.me", f"api_host: {fake.base_url}"
    )
    assert fake.base_url in text
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("LINE_CHANNEL_ACCESS_TOKEN", fake.access_token)
    monkeypatch.delenv("CAMPAIGN_BOT_CONFIG", raising=False)
    return path


@pytest.fixture
def run(config: Path, clock: FakeClock) -> Run:
    def campaign_bot(*args: str) -> int:
        return main(["line", *args, "--config", str(config)], clock=clock)

    return campaign_bot


def test_the_quota_says_the_limit_the_use_and_what_is_left(
    run: Run, fake: FakeLine, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.set_monthly_limit(5000, used=1234)

    assert run("quota") == 0

    assert capsys.readouterr().out == (
        "LINEの11月の送信数\n"
        "上限: 5,000通\n"
        "使った数: 1,234通\n"
        "残り: 3,766通\n"
        "数えるのは、ボットから送ったお知らせ（プッシュ）を受け取った人数です。"
        "会員への返事は数えません。\n"
    )


def test_a_plan_without_a_limit_says_so(
    run: Run, fake: FakeLine, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.set_monthly_limit(None, used=42)

    assert run("quota") == 0

    out = capsys.readouterr().out
    assert "上限: なし\n使った数: 42通\n" in out
    assert "残り" not in out


def test_without_the_token_it_says_which_variable_to_set(
    run: Run, fake: FakeLine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LINE_CHANNEL_ACCESS_TOKEN")

    assert run("quota") == 1
    assert run("setup-richmenu") == 1

    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 2
    assert all(
        line.startswith("campaign-bot: LINE_CHANNEL_ACCESS_TOKEN が設定されていません")
        for line in lines
    )
    assert captured.out == ""
    assert fake.requests() == []


def test_a_token_line_refuses_is_one_line_without_the_token(
    run: Run, fake: FakeLine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LINE_CHANNEL_ACCESS_TOKEN", "expired-token-0123456789")

    assert run("quota") == 1
    assert run("setup-richmenu") == 1

    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 2
    for line in lines:
        assert line.startswith(
            "campaign-bot: LINEがチャネルアクセストークンを受け付けません（401: "
        )
        assert line.endswith("LINE_CHANNEL_ACCESS_TOKEN を確かめてください。")
    assert "expired-token" not in err
    assert fake.rich_menus == {}


def test_an_unreachable_line_names_the_host_to_check(
    config: Path, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    text = config.read_text("utf-8")
    start = text.index("api_host: ") + len("api_host: ")
    end = text.index("\n", start)
    config.write_text(text[:start] + f"http://127.0.0.1:{port}" + text[end:], encoding="utf-8")

    assert main(["line", "quota", "--config", str(config)], clock=clock) == 1

    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"campaign-bot: LINE（http://127.0.0.1:{port}）につながりません")
    assert "channels.line.api_host" in line


def test_setup_puts_the_member_menu_in_place_of_the_one_before(
    run: Run, fake: FakeLine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("setup-richmenu") == 0
    (first,) = fake.rich_menus
    capsys.readouterr()

    assert run("setup-richmenu") == 0

    (second,) = fake.rich_menus
    assert second != first
    assert fake.default_rich_menu_id == second
    menu = fake.rich_menus[second]
    assert menu.image == richmenu.IMAGE.read_bytes()
    assert [area["action"]["data"] for area in menu.body["areas"]] == [
        "1:menu:events",
        "1:menu:ask",
        "1:menu:settings",
        "1:menu:help",
    ]
    assert capsys.readouterr().out == (
        f"リッチメニューを設定しました（{second}）。"
        "LINEのトーク画面の下に「予定、質問、通知設定、ヘルプ」が出ます。\n"
        "前のメニュー1件を削除しました。\n"
    )


def test_an_image_outside_lines_rules_is_refused_before_anything_is_made(
    run: Run, fake: FakeLine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "menu.png"
    image.write_bytes(png(2500, 843))

    assert run("setup-richmenu", "--image", str(image)) == 1

    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"campaign-bot: {image}: LINEのリッチメニューに使えない画像です（")
    assert "not the menu's 2500x1686" in line
    assert fake.requests() == []


def test_line_refusing_the_menu_is_one_line_and_leaves_nothing_behind(
    run: Run, fake: FakeLine, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.fail_next(status=500, endpoints="set_rich_menu_image")

    assert run("setup-richmenu") == 1

    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("campaign-bot: LINEでエラーが起きました（500: ")
    assert fake.rich_menus == {}


def test_without_the_line_extra_it_says_what_to_install(
    run: Run, fake: FakeLine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(line_commands, "sdk_installed", lambda: False)

    assert run("quota") == 1
    assert run("setup-richmenu") == 1

    lines = capsys.readouterr().err.splitlines()
    assert (
        lines
        == [
            "campaign-bot: LINE用の部品（line-bot-sdk）が入っていません。"
            "pip install 'campaign-bot[line]' で入れてください。"
        ]
        * 2
    )
    assert fake.requests() == []
