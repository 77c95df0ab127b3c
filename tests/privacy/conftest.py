"""The members, events and conversation of tests/events, for the privacy journeys."""

from __future__ import annotations

from tests.events.conftest import (  # noqa: F401  (fixtures, used by name)
    calendar_sync,
    conversation,
    member,
    stored,
)
