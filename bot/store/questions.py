"""The question log (for organisers' quality loop) and relayed questions."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from bot.domain.members import Member
from bot.domain.ports import LoggedQuestion, Relay
from bot.store.tables import FaqQuestionRow, RelayRow

faq_questions = cast(Table, FaqQuestionRow.__table__)
relays = cast(Table, RelayRow.__table__)


class SqlQuestionLog:
    def __init__(self, session: Session) -> None:
        self._session = session

    def record(self, question: LoggedQuestion) -> None:
        self._session.execute(
            faq_questions.insert().values(
                text=question.text,
                normalised=question.normalised,
                outcome=question.outcome,
                entry_id=question.entry_id,
                score=question.score,
                language=question.language,
                asked_at=question.asked_at,
            )
        )

    def since(self, moment: datetime, outcomes: set[str]) -> list[LoggedQuestion]:
        rows = self._session.execute(
            select(faq_questions)
            .where(faq_questions.c.asked_at >= moment, faq_questions.c.outcome.in_(outcomes))
            .order_by(faq_questions.c.asked_at)
        )
        return [
            LoggedQuestion(
                text=r.text,
                normalised=r.normalised,
                outcome=r.outcome,
                entry_id=r.entry_id,
                score=r.score,
                language=r.language,
                asked_at=r.asked_at,
            )
            for r in rows
        ]


class SqlRelayRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def open(self, member: Member, question: str, at: datetime) -> Relay:
        assert member.id is not None
        relay_id = self._session.execute(
            relays.insert()
            .values(member_id=member.id, question=question, asked_at=at)
            .returning(relays.c.id)
        ).scalar_one()
        return Relay(relay_id, member.id, question, at)

    def get(self, relay_id: int) -> Relay | None:
        row = self._session.execute(select(relays).where(relays.c.id == relay_id)).first()
        if row is None:
            return None
        return Relay(
            row.id,
            row.member_id,
            row.question,
            row.asked_at,
            row.answer,
            row.answered_at,
            row.answered_by,
        )

    def answer(self, relay_id: int, organiser: Member, text: str, at: datetime) -> None:
        self._session.execute(
            relays.update()
            .where(relays.c.id == relay_id)
            .values(answer=text, answered_at=at, answered_by=organiser.id)
        )
