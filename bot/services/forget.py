"""登録削除 (/forget): one confirmation, then everything that identifies the member goes, in
the turn's one transaction; the member is told what was kept, and why.

Organisers do the same for a member who asks by phone or on paper (`campaign-bot members
forget`), through `forget_member`.
"""

from __future__ import annotations

from datetime import datetime

from bot.domain.members import Member
from bot.domain.messages import Action, Button, Outgoing
from bot.domain.ports import UnitOfWork
from bot.domain.privacy import FORGOTTEN_CHANNEL, Forgotten
from bot.services import rsvp
from bot.services.turn import Turn
from bot.texts import Texts

DIALOG = "forget"
AUDIT_ACTION = "member_forgotten"


def ask(turn: Turn) -> list[Outgoing]:
    """What will be deleted and what kept; 「削除する」 or 「やめる」."""
    texts = turn.texts
    if turn.member.id is None:  # not stored: never answered the welcome
        return [turn.screens.with_menu(turn.member, texts("mydata.nothing"))]
    dialog = turn.start_dialog(DIALOG)
    return [
        Outgoing(
            texts("forget.confirm"),
            buttons=(
                (Button(texts("forget.yes"), Action("forget_yes", (dialog.token,))),),
                (Button(texts("forget.no"), Action("forget_no", (dialog.token,))),),
            ),
        )
    ]


def confirm(turn: Turn) -> list[Outgoing]:
    """Pressed 「削除する」: delete now; the reply is the last thing the bot says to them."""
    turn.end_dialog()
    member = turn.member
    texts = turn.texts  # before the member is forgotten (their language is kept until the reply)
    report = forget_member(turn.uow, member, turn.now, by_organiser=False)
    return [Outgoing(told(texts, report), replace=True)]


def cancel(turn: Turn) -> list[Outgoing]:
    turn.end_dialog()
    return [turn.screens.with_menu(turn.member, turn.texts("forget.cancelled"))]


def on_text(turn: Turn, _text: str) -> list[Outgoing]:
    """Words typed while the confirmation waits: nothing is deleted without the button."""
    return cancel(turn)


def forget_member(
    uow: UnitOfWork, member: Member, now: datetime, *, by_organiser: bool
) -> Forgotten:
    """Delete or anonymise everything about `member` in `uow`'s transaction; the audit log
    records that it happened, under the placeholder's number (no name, no channel id)."""
    if member.id is None:
        raise ValueError("only a stored member can be forgotten")
    report = uow.privacy.forget(member.id, now)
    member.forget(now)
    uow.members.save(member)
    for occurrence_id in report.freed:
        # Their seats at events to come go to the waiting list, as when someone says 行けない.
        occurrence = uow.calendar.occurrence(occurrence_id, lock=True)
        if occurrence is not None:
            rsvp.promote_waiting(uow, occurrence, now)
    uow.audit.record(
        None,
        AUDIT_ACTION,
        {
            "member": member.id,
            "by": "organiser" if by_organiser else "member",
            "deleted": dict(report.deleted),
            "kept_past_answers": report.past_answers,
            "kept_relays": report.relays,
            "kept_broadcasts": report.broadcasts,
        },
        now,
    )
    return report


def told(texts: Texts, report: Forgotten) -> str:
    """登録削除's reply: done, what was kept and why, and how to come back."""
    lines = [texts("forget.done")]
    kept = []
    if report.past_answers:
        kept.append(texts("forget.kept_answers", n=report.past_answers))
    if report.relays:
        kept.append(texts("forget.kept_relays", n=report.relays))
    if report.broadcasts:
        kept.append(texts("forget.kept_broadcasts", n=report.broadcasts))
    kept.append(texts("forget.kept_questions"))
    lines.append("\n".join([texts("forget.kept"), *kept]))
    lines.append(texts("forget.again"))
    return "\n\n".join(lines)


def is_forgotten(member: Member) -> bool:
    return member.channel == FORGOTTEN_CHANNEL
