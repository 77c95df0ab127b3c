"""The fake LINE API for the administration client, at a fixed moment (2026-11-30 in Japan)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from bot.channels.line.admin import LineAdmin
from tests.conftest import TOKYO
from tests.fakes.line_api import FakeLine

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=TOKYO).timestamp()


@pytest.fixture
def fake() -> Iterator[FakeLine]:
    with FakeLine(clock=lambda: NOW) as server:
        yield server
    assert server.internal_errors == []


@pytest.fixture
def admin(fake: FakeLine) -> LineAdmin:
    return LineAdmin(fake.base_url, fake.access_token)
