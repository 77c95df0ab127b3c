"""One transaction per update or job, holding the repositories that work inside it."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy.orm import Session, sessionmaker

from bot.store.broadcasts import SqlBroadcasts
from bot.store.calendar import SqlCalendarRepository
from bot.store.limits import SqlMemberLimits
from bot.store.my_data import SqlPrivacy
from bot.store.organisers import SqlDialogs, SqlOrganisers
from bot.store.outbox import SqlOutbox
from bot.store.questions import SqlQuestionLog, SqlRelayRepository
from bot.store.reminders import SqlReminderStore
from bot.store.repositories import SqlAuditLog, SqlMemberRepository
from bot.store.rsvps import SqlRsvpRepository
from bot.store.turns import SqlTurns


class SqlUnitOfWork:
    session: Session
    members: SqlMemberRepository
    audit: SqlAuditLog
    calendar: SqlCalendarRepository
    rsvps: SqlRsvpRepository
    outbox: SqlOutbox
    questions: SqlQuestionLog
    relays: SqlRelayRepository
    limits: SqlMemberLimits
    reminders: SqlReminderStore
    organisers: SqlOrganisers
    dialogs: SqlDialogs
    broadcasts: SqlBroadcasts
    privacy: SqlPrivacy
    turns: SqlTurns

    def __init__(
        self,
        sessions: sessionmaker[Session],
        on_enqueued: Callable[[], None] | None = None,
        on_answered: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._on_enqueued = on_enqueued
        self._on_answered = on_answered

    def __enter__(self) -> Self:
        self.session = self._sessions()
        self.members = SqlMemberRepository(self.session)
        self.audit = SqlAuditLog(self.session)
        self.calendar = SqlCalendarRepository(self.session)
        self.rsvps = SqlRsvpRepository(self.session, self.members)
        self.outbox = SqlOutbox(self.session)
        self.questions = SqlQuestionLog(self.session)
        self.relays = SqlRelayRepository(self.session)
        self.limits = SqlMemberLimits(self.session)
        self.reminders = SqlReminderStore(self.session)
        self.organisers = SqlOrganisers(self.session)
        self.dialogs = SqlDialogs(self.session)
        self.broadcasts = SqlBroadcasts(self.session, self.outbox)
        self.privacy = SqlPrivacy(self.session)
        self.turns = SqlTurns(self.session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Anything not committed explicitly is rolled back, errors included.
        self.session.rollback()
        self.session.close()

    def commit(self) -> None:
        self.session.commit()
        if self.outbox.enqueued and self._on_enqueued is not None:
            # Committed: the dispatcher can send it now rather than at its next round.
            self.outbox.enqueued = False
            self._on_enqueued()
        if self.rsvps.changed and self._on_answered is not None:
            # Committed: reminders are planned again for the new answers.
            self.rsvps.changed = False
            self._on_answered()
