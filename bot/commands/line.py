"""`campaign-bot line quota | setup-richmenu`: LINE's side of the campaign, for organisers.

`quota` says how many of the month's messages LINE has counted and how many are left (LINE
counts per person reached by a push or multicast; replies are free). `setup-richmenu` puts
the member menu (予定 / 質問 / 通知設定 / ヘルプ) under every LINE member's chat, replacing
the one set up before.

Both need LINE_CHANNEL_ACCESS_TOKEN, and talk to `channels.line.api_host`; neither needs the
database. A refusal is one line in the organisers' language saying what to change; the token
is never printed. line-bot-sdk (the `line` extra) is imported only here, when a LINE command
runs, so that the other commands work without it.
"""

from __future__ import annotations

import importlib.util
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from zoneinfo import ZoneInfo

from bot.commands import texts_for
from bot.commands.broadcasts import Streams
from bot.config import Settings
from bot.services.broadcasts import number
from bot.terminal import field
from bot.texts import Texts

if TYPE_CHECKING:
    from bot.channels.line.admin import LineRefused

LINE_TIME = ZoneInfo("Asia/Tokyo")
"""LINE's month starts at midnight in Japan, whatever the campaign's time zone."""


def sdk_installed() -> bool:
    return importlib.util.find_spec("linebot") is not None


def refusal(texts: Texts, exc: LineRefused, host: str) -> str:
    """LINE's refusal (or silence) as one line saying what to change."""
    return texts(
        f"cli.line.{exc.reason}",
        status=exc.status or "",
        detail=field(exc.detail),
        host=field(host),
    )


def describe_quota(texts: Texts, limit: int | None, used: int, now: datetime) -> str:
    month = texts.words("months")[now.astimezone(LINE_TIME).month - 1]
    lines = [texts("cli.line.quota_heading", month=month)]
    if limit is None:
        lines.append(texts("cli.line.quota_no_limit"))
        lines.append(texts("cli.line.quota_used", used=number(used)))
    else:
        lines.append(texts("cli.line.quota_limit", limit=number(limit)))
        lines.append(texts("cli.line.quota_used", used=number(used)))
        lines.append(texts("cli.line.quota_remaining", remaining=number(max(limit - used, 0))))
    lines.append(texts("cli.line.quota_note"))
    return "\n".join(lines)


def quota(
    settings: Settings, now: datetime, *, out: TextIO | None = None, err: TextIO | None = None
) -> bool:
    """Print this month's limit, use and what is left."""
    streams = Streams.of(None, out, err)
    texts = texts_for(settings)
    if not sdk_installed():
        return streams.refuse(texts("cli.line.no_sdk"))
    from bot.channels.line.admin import LineAdmin, LineRefused

    host = settings.config.channels.line.api_host
    try:
        use = LineAdmin.from_settings(settings).quota()
    except LineRefused as exc:
        return streams.refuse(refusal(texts, exc, host))
    print(describe_quota(texts, use.limit, use.used, now), file=streams.out)
    return True


def setup_richmenu(
    settings: Settings,
    *,
    image: Path | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> bool:
    """Create the member menu with its image (the committed one, or `image`), make it every
    member's default and delete the one set up before."""
    streams = Streams.of(None, out, err)
    texts = texts_for(settings)
    if not sdk_installed():
        return streams.refuse(texts("cli.line.no_sdk"))
    from bot.channels.line import richmenu
    from bot.channels.line.admin import LineAdmin, LineRefused

    host = settings.config.channels.line.api_host
    path = image or richmenu.IMAGE
    try:
        content = path.read_bytes()
    except OSError as exc:
        error = exc.strerror or type(exc).__name__
        return streams.refuse(texts("cli.broadcast.unreadable", path=field(str(path)), error=error))
    problems = richmenu.image_problems(content)
    if problems:
        return streams.refuse(
            texts("cli.line.bad_image", path=field(str(path)), problems="; ".join(problems))
        )
    try:
        installed = LineAdmin.from_settings(settings).install_rich_menu(
            richmenu.request(texts), content
        )
    except LineRefused as exc:
        return streams.refuse(refusal(texts, exc, host))
    words = texts.join(richmenu.labels(texts, richmenu.areas()))
    print(texts("cli.line.menu_done", id=installed.rich_menu_id, labels=words), file=streams.out)
    if installed.replaced:
        print(texts("cli.line.menu_replaced", count=len(installed.replaced)), file=streams.out)
    return True
