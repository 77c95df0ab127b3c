"""What the bot keeps about a member, what it gives them back, and what it keeps after 登録削除.

Pure: the store gathers the rows (`MemberData`), the services word them for the member.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.domain.deliveries import needs_subscription
from bot.domain.members import PRIVACY_VERSION, Role

FORGOTTEN_CHANNEL = "forgotten"
"""The channel of what is left of a member who deleted their registration: a row no channel
serves, with no name and a random id, that only past answers (anonymous counts) point to."""

FORGOTTEN_LABEL = "(deleted member)"
"""What replaces a forgotten member's name where organisers' records named them."""

MemberData = dict[str, list[dict[str, Any]]]
"""Everything stored about one member: for each table, its rows (JSON-ready values)."""


@dataclass(frozen=True)
class Forgotten:
    """What deleting a registration did: rows deleted per table, and what was kept
    (anonymously) and why."""

    deleted: Mapping[str, int] = field(default_factory=dict)
    past_answers: int = 0
    """Answers to events already held: kept as anonymous numbers (how many came)."""
    relays: int = 0
    """Questions sent to the organisers: kept as a count, their words deleted."""
    broadcasts: int = 0
    """Announcements the member wrote as an organiser: kept (members received them), unnamed."""
    freed: tuple[int, ...] = ()
    """Occurrences to come whose seats the member held: the waiting list moves up."""


# Files for Excel ------------------------------------------------------------------------

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A cell starting with one of these is a formula to Excel (CSV injection): it gets a quote."""


def spreadsheet_text(value: str) -> str:
    """`value` as a spreadsheet shows it as text, never as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


@dataclass(frozen=True)
class Retention:
    """How many days records about members are kept (config `retention:`)."""

    questions_days: int = 180
    deliveries_days: int = 90
    audit_days: int = 730

    def cutoffs(self, now: datetime) -> Cutoffs:
        return Cutoffs(
            questions=now - timedelta(days=self.questions_days),
            deliveries=now - timedelta(days=self.deliveries_days),
            audit=now - timedelta(days=self.audit_days),
        )


@dataclass(frozen=True)
class Cutoffs:
    """Records older than these are deleted by the purge (config `retention:`)."""

    questions: datetime
    deliveries: datetime
    audit: datetime


@dataclass(frozen=True)
class Purged:
    """How many rows the purge deleted (or, on a dry run, would delete)."""

    questions: int = 0
    deliveries: int = 0
    audit: int = 0


SKIP_CONSENT_OUTDATED = "consent outdated"
"""A delivery's skip reason: the member has not yet answered the welcome text as it is now."""


def consent_skip(purpose: str, role: str, consent_version: str | None) -> str | None:
    """Why a delivery must not go to a member who has not answered the welcome text as it is
    now (they are asked at their next message), or None.

    Notices (reminders, broadcasts, anything that needs a subscription) are skipped; what is
    about something the member did or asked for (a reply, an answer to their question, a
    change to an event they answered) still goes, as it does after /stop; so do organisers'
    work messages (a relayed question must reach them)."""
    if (
        not needs_subscription(purpose)
        or role == Role.ORGANISER.value
        or consent_version in (PRIVACY_VERSION, None)  # None: see `Member.consent_outdated`
    ):
        return None
    return SKIP_CONSENT_OUTDATED
