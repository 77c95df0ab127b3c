"""The LINE administration client, through the real line-bot-sdk against the fake LINE API:
the month's quota, and the rich menu put in place of the one before."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
from dataclasses import replace

import pytest
from linebot.v3.messaging import ApiException, RichMenuRequest

from bot.channels.line import richmenu
from bot.channels.line.admin import (
    LINE_DATA_API,
    LineAdmin,
    LineQuota,
    LineRefused,
    QuotaUse,
    data_host,
    message_quota,
    refusal,
)
from bot.config import Settings, load_settings
from bot.texts import Catalogues
from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.line_api import FakeLine, RateLimit
from tests.fakes_tests.test_line_api import png

JA = Catalogues.load()["ja"]


def menu_request() -> RichMenuRequest:
    return richmenu.request(JA)


# --- quota ------------------------------------------------------------------------------------


def test_the_quota_is_the_plans_limit_and_this_months_use(fake: FakeLine, admin: LineAdmin) -> None:
    fake.set_monthly_limit(200, used=150)

    use = admin.quota()

    assert use == QuotaUse(limit=200, used=150)
    assert use.remaining == 50
    assert [r.endpoint for r in fake.requests()] == [
        "get_message_quota",
        "get_message_quota_consumption",
    ]


def test_a_plan_without_a_limit_has_nothing_remaining_to_count(
    fake: FakeLine, admin: LineAdmin
) -> None:
    fake.set_monthly_limit(None, used=1234)

    use = admin.quota()

    assert (use.limit, use.used, use.remaining) == (None, 1234, None)


def test_used_past_the_limit_leaves_none_rather_than_less_than_none(
    fake: FakeLine, admin: LineAdmin
) -> None:
    fake.set_monthly_limit(200, used=230)

    assert admin.quota().remaining == 0


def test_a_wrong_token_is_refused_as_unauthorized_without_echoing_it(fake: FakeLine) -> None:
    wrong = LineAdmin(fake.base_url, "not-the-token")

    with pytest.raises(LineRefused) as refused:
        wrong.quota()

    assert (refused.value.reason, refused.value.status) == ("unauthorized", 401)
    assert refused.value.detail  # LINE's own message, shown to the organiser
    assert "not-the-token" not in str(refused.value)


def test_lines_rate_limit_is_named_with_lines_message(fake: FakeLine, admin: LineAdmin) -> None:
    fake.set_rate_limits({"get_message_quota": RateLimit(per_second=0.001, burst=1)})
    admin.quota()

    with pytest.raises(LineRefused) as refused:
        admin.quota()

    assert (refused.value.reason, refused.value.status) == ("rate_limited", 429)
    assert refused.value.detail == "The API rate limit has been exceeded. Try again later."


def test_an_error_of_lines_is_a_failure_to_try_again(fake: FakeLine, admin: LineAdmin) -> None:
    fake.fail_next(status=500, endpoints="get_message_quota")

    with pytest.raises(LineRefused) as refused:
        admin.quota()

    assert (refused.value.reason, refused.value.status) == ("failed", 500)


def test_a_forbidden_call_is_named_forbidden() -> None:
    # The fake has no channel without the right to call an endpoint; LINE answers 403 then.
    found = refusal(ApiException(status=403, reason="Forbidden"))

    assert (found.reason, found.status, found.detail) == ("forbidden", 403, "Forbidden")


def test_a_host_that_does_not_answer_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again at once: nobody listens there
    admin = LineAdmin(f"http://127.0.0.1:{port}", "token", timeout=(2.0, 2.0))

    with pytest.raises(LineRefused) as refused:
        admin.quota()

    assert refused.value.reason == "unreachable"


def test_the_preview_quota_is_read_afresh_and_unknown_when_line_fails(
    fake: FakeLine, admin: LineAdmin
) -> None:
    quota = LineQuota(admin)
    fake.set_monthly_limit(200, used=10)
    first = quota.remaining()
    fake.set_monthly_limit(200, used=60)
    second = quota.remaining()
    fake.fail_next(status=500, endpoints="get_message_quota_consumption")

    assert (quota.channel, first, second, quota.remaining()) == ("line", 190, 140, None)


def line_settings(*, enabled: bool, token: str | None, host: str = "") -> Settings:
    settings = load_settings(
        EXAMPLE_CONFIG, env={"LINE_CHANNEL_ACCESS_TOKEN": token} if token else {}
    )
    line = settings.config.channels.line.model_copy(
        update={"enabled": enabled, **({"api_host": host} if host else {})}
    )
    channels = settings.config.channels.model_copy(update={"line": line})
    config = settings.config.model_copy(update={"channels": channels})
    return replace(settings, config=config)


def test_the_composition_root_gets_a_quota_only_with_line_on_and_its_token(
    fake: FakeLine,
) -> None:
    fake.set_monthly_limit(500, used=100)

    on = message_quota(line_settings(enabled=True, token=fake.access_token, host=fake.base_url))

    assert on is not None
    assert on.remaining() == 400
    assert message_quota(line_settings(enabled=False, token=fake.access_token)) is None
    assert message_quota(line_settings(enabled=True, token=None)) is None


def test_rich_menu_images_go_to_lines_data_host_unless_the_host_is_not_lines() -> None:
    assert data_host("https://api.line.me") == LINE_DATA_API
    assert data_host("https://api.line.me/") == LINE_DATA_API
    assert data_host("http://127.0.0.1:8082") == "http://127.0.0.1:8082"


# --- rich menu --------------------------------------------------------------------------------


def test_the_rich_menu_is_created_with_its_image_and_made_everyones_default(
    fake: FakeLine, admin: LineAdmin
) -> None:
    image = richmenu.IMAGE.read_bytes()

    installed = admin.install_rich_menu(menu_request(), image)

    assert installed.replaced == ()
    assert fake.default_rich_menu_id == installed.rich_menu_id
    (menu,) = fake.rich_menus.values()
    assert (menu.image, menu.image_type) == (image, "image/png")
    assert menu.body["name"] == richmenu.NAME
    assert menu.body["size"] == {"width": 2500, "height": 1686}
    assert [area["action"]["displayText"] for area in menu.body["areas"]] == [
        "予定",
        "質問",
        "通知設定",
        "ヘルプ",
    ]


def test_setting_it_up_again_replaces_our_menu_and_leaves_others_alone(
    fake: FakeLine, admin: LineAdmin
) -> None:
    image = richmenu.IMAGE.read_bytes()
    first = admin.install_rich_menu(menu_request(), image)
    other = menu_request().copy(update={"name": "made by hand"})
    other_id = admin.install_rich_menu(other, image).rich_menu_id
    admin.install_rich_menu(menu_request(), image)  # back to ours

    second = admin.install_rich_menu(menu_request(), image)

    assert set(fake.rich_menus) == {other_id, second.rich_menu_id}
    assert fake.default_rich_menu_id == second.rich_menu_id
    assert first.rich_menu_id not in second.replaced
    assert len(second.replaced) == 1


def test_a_refused_image_leaves_the_old_menu_in_place_and_no_half_made_one(
    fake: FakeLine, admin: LineAdmin
) -> None:
    image = richmenu.IMAGE.read_bytes()
    before = admin.install_rich_menu(menu_request(), image)

    with pytest.raises(LineRefused) as refused:
        admin.install_rich_menu(menu_request(), png(2500, 843))  # not the menu's size

    assert refused.value.reason == "bad_request"
    assert refused.value.status == 400
    assert set(fake.rich_menus) == {before.rich_menu_id}
    assert fake.default_rich_menu_id == before.rich_menu_id


def test_a_failure_to_make_it_the_default_deletes_the_new_menu(
    fake: FakeLine, admin: LineAdmin
) -> None:
    fake.fail_next(status=500, endpoints="set_default_rich_menu")

    with pytest.raises(LineRefused):
        admin.install_rich_menu(menu_request(), richmenu.IMAGE.read_bytes())

    assert fake.rich_menus == {}
    assert fake.default_rich_menu_id is None


def test_an_old_menu_line_will_not_delete_is_reported_and_the_new_one_stays(
    fake: FakeLine, admin: LineAdmin
) -> None:
    image = richmenu.IMAGE.read_bytes()
    before = admin.install_rich_menu(menu_request(), image)
    fake.fail_next(status=500, endpoints="delete_rich_menu")

    after = admin.install_rich_menu(menu_request(), image)

    assert (after.replaced, after.kept) == ((), (before.rich_menu_id,))
    assert fake.default_rich_menu_id == after.rich_menu_id
    assert set(fake.rich_menus) == {before.rich_menu_id, after.rich_menu_id}


def test_without_the_sdk_there_is_no_quota_and_nothing_imports_it(
    fake: FakeLine, monkeypatch: pytest.MonkeyPatch
) -> None:
    on = line_settings(enabled=True, token=fake.access_token, host=fake.base_url)
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "linebot" else real(name, *a)
    )

    assert message_quota(on) is None
    # The commands and the composition root's quota import line-bot-sdk only when called.
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, bot.cli, bot.channels.line.admin; print('linebot' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "False"
