"""What queued deliveries would say if they were sent now: the dispatcher's renderer, without
claiming them, for tests that check the words of a notice."""

from __future__ import annotations

from sqlalchemy import select

from bot.domain.deliveries import Later, Pending, Skip
from bot.domain.messages import Outgoing
from bot.domain.ports import Clock
from bot.domain.reminders import QuietHours
from bot.services.deliveries import DeliveryContent
from bot.services.screens import Screens
from bot.store.database import Database
from bot.store.outbox import about_of
from bot.store.tables import DeliveryRow, MemberRow


def rendered(
    database: Database,
    screens: Screens,
    clock: Clock,
    purpose: str | None = None,
    *,
    quiet: QuietHours | None = None,
    queued_only: bool = False,
) -> list[tuple[DeliveryRow, Outgoing | Skip | Later]]:
    """Every delivery (of `purpose`; still queued only, if asked), in order, with what it
    would say now (with `quiet` hours, as the running bot renders)."""
    with database.session() as session:
        statement = select(DeliveryRow, MemberRow).join(
            MemberRow, MemberRow.id == DeliveryRow.member_id
        )
        if purpose is not None:
            statement = statement.where(DeliveryRow.purpose == purpose)
        if queued_only:
            statement = statement.where(DeliveryRow.state == "queued")
        rows = session.execute(statement.order_by(DeliveryRow.id)).all()
    pending = [
        Pending(
            id=row.id,
            purpose=row.purpose,
            reference=row.reference,
            member_id=row.member_id,
            language=member.language,
            role=member.role,
            payload=row.payload,
            about=about_of(row),
            due_at=row.due_at,
        )
        for row, member in rows
    ]
    content = DeliveryContent(database.unit_of_work, screens, clock, quiet=quiet).render(pending)
    return [(row, content[row.id]) for row, _ in rows]


def texts_of(
    database: Database, screens: Screens, clock: Clock, purpose: str
) -> list[tuple[int, str]]:
    """(member id, text) of each queued delivery of `purpose` that would be sent now."""
    return [
        (row.member_id, message.text)
        for row, message in rendered(database, screens, clock, purpose)
        if isinstance(message, Outgoing)
    ]
