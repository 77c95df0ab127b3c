"""The database schema, as SQLAlchemy 2 typed models. Alembic migrations create it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.store.dialect import Id, Json, UtcDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class MemberRow(Base):
    """A person on one channel (Telegram chat id, LINE user id, console name)."""

    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8))
    role: Mapped[str] = mapped_column(String(16))
    subscription: Mapped[str] = mapped_column(String(16))
    notify_scope: Mapped[str] = mapped_column(String(16), default="all", server_default="all")
    """What reminders the member wants besides those of events they answered: all, rallies."""
    consent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """When the member last answered the welcome (what the bot keeps, and notifications)."""
    consent_version: Mapped[str | None] = mapped_column(String(32))
    """The version of the welcome text they answered (`PRIVACY_VERSION`); another is asked
    again before anything else is sent to them."""
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    unreachable_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    unreachable_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_question: Mapped[str | None] = mapped_column(Text)
    last_question_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_answer: Mapped[str | None] = mapped_column(String(200))
    """What the bot answered to the last question (an entry's title), for a relay."""
    shown: Mapped[list[list[str]] | None] = mapped_column(Json)
    """The buttons of the screen last shown, as [label, action]: typed, a label presses it."""


class MemberRegionRow(Base):
    __tablename__ = "member_regions"

    member_id: Mapped[int] = mapped_column(
        Id, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    region: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)


class MemberTagRow(Base):
    """Free labels organisers give members (e.g. 看護師, 年金者組合) to target broadcasts."""

    __tablename__ = "member_tags"

    member_id: Mapped[int] = mapped_column(
        Id, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class EventRow(Base):
    """One entry of the campaign calendar (a schedule file's event), recurring or not."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    venue_name: Mapped[str | None] = mapped_column(String(200))
    venue_address: Mapped[str | None] = mapped_column(String(300))
    map_url: Mapped[str | None] = mapped_column(String(500))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    online_url: Mapped[str | None] = mapped_column(String(500))
    bring: Mapped[str | None] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(String(300))
    organiser: Mapped[str | None] = mapped_column(String(100))
    capacity: Mapped[int | None] = mapped_column(Integer)
    rsvp_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    rrule: Mapped[str | None] = mapped_column(String(300))
    reminders: Mapped[dict[str, Any] | None] = mapped_column(Json)
    """The schedule file's reminder rules for this event (`encode_overrides`), if any."""
    removed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class EventRegionRow(Base):
    __tablename__ = "event_regions"

    event_id: Mapped[int] = mapped_column(
        Id, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    region: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)


class OccurrenceRow(Base):
    """One dated instance of an event; `key` is its recurrence id and never changes."""

    __tablename__ = "occurrences"
    __table_args__ = (UniqueConstraint("event_id", "key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    event_id: Mapped[int] = mapped_column(Id, ForeignKey("events.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(32))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    venue_name: Mapped[str | None] = mapped_column(String(200))
    venue_address: Mapped[str | None] = mapped_column(String(300))
    venue_map_url: Mapped[str | None] = mapped_column(String(500))
    note: Mapped[str | None] = mapped_column(Text)
    rsvp_deadline: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    """Counts the changes members were told about; change notices are keyed by it."""
    published_at: Mapped[datetime] = mapped_column(UtcDateTime)
    """When members could first see it (invitations go out then)."""
    called_off_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """Called off from the chat or `campaign-bot cancel` (中止連絡), whatever the schedule
    file says; cleared by an undo."""
    called_off_reason: Mapped[str | None] = mapped_column(String(200))
    called_off_by: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RsvpRow(Base):
    """A member's answer to one occurrence: going, maybe, no, or waitlisted."""

    __tablename__ = "rsvps"
    __table_args__ = (UniqueConstraint("occurrence_id", "member_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    occurrence_id: Mapped[int] = mapped_column(
        Id, ForeignKey("occurrences.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    guests: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    waitlisted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class DeliveryRow(Base):
    """The outbox: one message the bot must send on its own initiative, and what became of it.

    Unique per (purpose, reference, member) so that planning the same thing twice never sends
    it twice. States: queued -> sending -> sent | failed | skipped.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("purpose", "reference", "member_id"),
        # Claims take the due rows of one lane at a time, oldest first.
        Index("ix_deliveries_state_lane_due_at", "state", "lane", "due_at"),
        Index("ix_deliveries_member_id_state", "member_id", "state"),
        # A broadcast's rows, for its progress and its cancellation; partial, so the tens of
        # thousands of reminders planned at once do not pay for it.
        Index(
            "ix_deliveries_broadcast_id",
            "broadcast_id",
            postgresql_where=text("broadcast_id IS NOT NULL"),
            sqlite_where=text("broadcast_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str] = mapped_column(String(128))
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id", ondelete="CASCADE"))
    payload: Mapped[dict[str, Any]] = mapped_column(Json)
    """What to render at send time (a template's arguments, or a fixed message); emptied once
    the row has been done with for `delivery.keep_message_days`."""
    lane: Mapped[int] = mapped_column(Integer, default=3)
    # What the message is about, looked up when it is due (skipped if it cannot be found):
    # no foreign keys, whose checks cost a trigger call per row queued (migration 0011).
    occurrence_id: Mapped[int | None] = mapped_column(Id)
    relay_id: Mapped[int | None] = mapped_column(Id)
    broadcast_id: Mapped[int | None] = mapped_column(Id)
    expect_rsvp: Mapped[str | None] = mapped_column(String(64))
    """Comma-separated answers the member must still have to the occurrence when it is sent."""
    state: Mapped[str] = mapped_column(String(16), default="queued")
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    skip_reason: Mapped[str | None] = mapped_column(String(64))
    channel_message_id: Mapped[str | None] = mapped_column(String(64))
    retry_key: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class BroadcastRow(Base):
    """An organiser's announcement; its deliveries reference it as `broadcast:<id>:<part>`."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    author_member_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("members.id", ondelete="SET NULL")
    )
    author_label: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str | None] = mapped_column(String(16))
    """Only members on this channel (None: every channel)."""
    audience: Mapped[dict[str, Any]] = mapped_column(Json)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Sent through the quiet hours (緊急)."""
    occurrence_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("occurrences.id", ondelete="SET NULL")
    )
    """An event card (with its answer buttons) sent under the text."""
    parts: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """Messages each member gets: a text over the platform's limit is split in advance."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    send_at: Mapped[datetime] = mapped_column(UtcDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class OrganiserRow(Base):
    """Organisers added by an admin (`campaign-bot organisers add`), besides the config's."""

    __tablename__ = "organisers"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(String(100))
    added_by: Mapped[str] = mapped_column(String(100))
    added_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DialogRow(Base):
    """A member's open multi-step flow (an answer being written, a broadcast being composed);
    at most one per member, forgotten after `expires_at`."""

    __tablename__ = "dialogs"

    member_id: Mapped[int] = mapped_column(
        Id, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(32))
    token: Mapped[str] = mapped_column(String(16))
    """Carried by the dialog's buttons: a button of an earlier dialog is refused."""
    data: Mapped[dict[str, Any]] = mapped_column(Json)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AuditRow(Base):
    """Who among the organisers did what, and when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    actor_member_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("members.id", ondelete="SET NULL")
    )
    actor_label: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(Json)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class RelayRow(Base):
    """A member's question forwarded to the organisers (世話人に聞く), and the answer."""

    __tablename__ = "relays"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id", ondelete="CASCADE"))
    question: Mapped[str] = mapped_column(Text)
    asked_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    answered_by: Mapped[int | None] = mapped_column(
        Id, ForeignKey("members.id", ondelete="SET NULL")
    )


class FaqQuestionRow(Base):
    """A question members asked, for the organisers' quality loop. No member id on purpose."""

    __tablename__ = "faq_questions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    normalised: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(16), index=True)
    entry_id: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[float | None] = mapped_column(Float)
    language: Mapped[str] = mapped_column(String(8))
    asked_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class RateBudgetRow(Base):
    """A channel's send budget shared by every process (GCRA): the theoretical arrival time
    of the next message, in seconds since the epoch."""

    __tablename__ = "rate_budgets"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    tat: Mapped[float] = mapped_column(Float)


class WebhookEventRow(Base):
    """A platform event already handled (LINE's webhookEventId, Telegram's update_id): one
    delivered again is recognised and not handled twice. Recorded in the transaction of the
    member's turn; forgotten after a few days, long after any platform stops redelivering."""

    __tablename__ = "webhook_events"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class MemberLimitRow(Base):
    """How much of a per-member allowance (relays, questions) the current window has used."""

    __tablename__ = "member_limits"

    member_id: Mapped[int] = mapped_column(
        Id, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    window_started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used: Mapped[int] = mapped_column(Integer)
