"""Who gets which deliveries, and how long to wait before trying again."""

from __future__ import annotations

from datetime import timedelta

from bot.domain.deliveries import needs_subscription
from bot.domain.members import Subscription

LOWER_LANE_SHARE = 0.1
"""The part of each claimed batch kept for lower lanes while a higher one is busy."""

SKIP_UNREACHABLE = "unreachable"
SKIP_UNSUBSCRIBED = "unsubscribed"
SKIP_NO_CONSENT = "not subscribed"


def skip_reason(purpose: str, subscription: str, *, unreachable: bool) -> str | None:
    """Why a delivery must not be sent to this member, or None if it may be sent."""
    if unreachable:
        return SKIP_UNREACHABLE
    if needs_subscription(purpose) and subscription != Subscription.SUBSCRIBED:
        return SKIP_UNSUBSCRIBED if subscription == Subscription.UNSUBSCRIBED else SKIP_NO_CONSENT
    return None


def exponential_backoff(
    attempts: int,
    *,
    first: timedelta = timedelta(seconds=30),
    longest: timedelta = timedelta(hours=1),
) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 30 s, 1 min, 2 min, ... at most 1 h."""
    if attempts < 1:
        raise ValueError("backoff follows a failed attempt; attempts starts at 1")
    # Capping the exponent first keeps 2**n small however many attempts were made.
    doublings = min(attempts - 1, 32)
    return min(first * (1 << doublings), longest)
