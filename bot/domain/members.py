"""Members: the people the bot talks to, and what they agreed to."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

PRIVACY_VERSION = "2026-12"
"""The version of the welcome text (`welcome.privacy`: what the bot keeps). Change it with the
text: every member is asked again at their next message, and nothing else is sent to them
until they answer (a test holds the text's fingerprint, so a change without it fails)."""


class Role(enum.StrEnum):
    MEMBER = "member"
    ORGANISER = "organiser"


class Subscription(enum.StrEnum):
    """Whether the member wants notifications.

    PENDING: registered, has not answered the consent question yet.
    SUBSCRIBED: agreed to receive notifications (consent time recorded).
    UNSUBSCRIBED: declined, or stopped with /stop; they can still use the menu.
    """

    PENDING = "pending"
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"


class Scope(enum.StrEnum):
    """Which notices a subscribed member wants (通知設定): all, or big actions only."""

    ALL = "all"
    RALLIES = "rallies"
    """Big actions only: invitations, nudges and digests for rallies alone. Reminders of an
    event the member answered still come: they asked to come."""


@dataclass(frozen=True)
class Region:
    """A ward or city council (or Tokyo as a whole) that events and members belong to.

    Events of a region `for_everyone` (Tokyo-wide) are shown to every member.
    """

    code: str
    name: str
    name_en: str
    for_everyone: bool = False


@dataclass
class Member:
    """A person on one channel. The same person on Telegram and LINE is two members."""

    channel: str
    external_id: str
    created_at: datetime
    last_seen_at: datetime
    display_name: str | None = None
    language: str = "ja"
    role: Role = Role.MEMBER
    regions: set[str] = field(default_factory=set)
    subscription: Subscription = Subscription.PENDING
    scope: Scope = Scope.ALL
    consent_at: datetime | None = None
    consent_version: str | None = None
    """The welcome text's version (`PRIVACY_VERSION`) the member last answered."""
    unsubscribed_at: datetime | None = None
    unreachable_at: datetime | None = None
    unreachable_reason: str | None = None
    last_question: str | None = None
    last_question_at: datetime | None = None
    last_answer: str | None = None
    """What the bot answered to `last_question`: an entry's title, or None if it could not."""
    shown: list[tuple[str, str]] = field(default_factory=list)
    """The choices of the screen last shown (label, encoded action), newest screen only."""
    id: int | None = None

    @property
    def is_organiser(self) -> bool:
        return self.role is Role.ORGANISER

    @property
    def is_subscribed(self) -> bool:
        return self.subscription is Subscription.SUBSCRIBED

    @property
    def consent_outdated(self) -> bool:
        """They answered an earlier welcome text: it is shown again before anything else.
        (Members stored before versions have "0", from migration 0010; only members written
        straight into the database, as tests and benchmarks do, have none.)"""
        return (
            self.subscription is not Subscription.PENDING
            and self.consent_version is not None
            and self.consent_version != PRIVACY_VERSION
        )

    def seen(self, now: datetime) -> None:
        """Any message proves the member can be reached again (they unblocked us)."""
        self.last_seen_at = now
        self.unreachable_at = None
        self.unreachable_reason = None

    def subscribe(self, now: datetime) -> None:
        self.subscription = Subscription.SUBSCRIBED
        self.consent_at = now
        self.consent_version = PRIVACY_VERSION
        self.unsubscribed_at = None

    def decline(self, now: datetime) -> None:
        """Answered the welcome (what the bot keeps) but wants no notices."""
        self.unsubscribe(now)
        self.consent_at = now
        self.consent_version = PRIVACY_VERSION

    def choose_notices(self, scope: Scope, now: datetime) -> None:
        """Receive notices, all of them or big actions only."""
        if not self.is_subscribed:
            self.subscribe(now)
        self.scope = scope

    def unsubscribe(self, now: datetime) -> None:
        self.subscription = Subscription.UNSUBSCRIBED
        self.unsubscribed_at = now

    def toggle_region(self, code: str) -> None:
        if code in self.regions:
            self.regions.discard(code)
        else:
            self.regions.add(code)

    def asked(self, question: str, now: datetime, answer: str | None = None) -> None:
        """Remember the last question and what the bot answered, for 世話人に聞く."""
        self.last_question = question
        self.last_question_at = now
        self.last_answer = answer

    def forget(self, now: datetime) -> None:
        """登録削除: nothing about the person is left on this object (the store anonymises
        the row and everything that refers to it the same way)."""
        self.display_name = None
        self.role = Role.MEMBER
        self.regions = set()
        self.subscription = Subscription.UNSUBSCRIBED
        self.scope = Scope.ALL
        self.consent_at = None
        self.consent_version = None
        self.unsubscribed_at = now
        self.unreachable_at = now
        self.unreachable_reason = "forgotten"
        self.last_seen_at = now
        self.last_question = self.last_question_at = self.last_answer = None
        self.shown = []

    def mark_unreachable(self, now: datetime, reason: str) -> None:
        """The platform told us this person blocked the bot or no longer exists."""
        self.unreachable_at = now
        self.unreachable_reason = reason
