"""「世話人に聞く」: a member's question goes to the organisers, and their answer comes back.

Both directions go through the outbox, so they arrive even if the other side is away, and
the organiser's answer is written with the member's id only on the relay, never in the log.
"""

from __future__ import annotations

from bot.domain.deliveries import RELAY_ANSWER, RELAY_QUESTION, About
from bot.domain.messages import Outgoing
from bot.services import contact
from bot.services.events import number
from bot.services.turn import Turn

DIALOG = "relay_reply"
RELAYS = "relays"
"""The member's allowance of relays (`Campaign.limits.relays`), as stored."""


def ask_human(turn: Turn) -> list[Outgoing]:
    """Forward the member's last question to every organiser who can be reached."""
    member, texts = turn.member, turn.texts
    question = member.last_question
    if not question:
        return [turn.screens.with_menu(member, texts("faq.no_question"))]
    organisers = [o for o in turn.uow.members.organisers() if o.id != member.id]
    if not organisers:
        card = contact.card(texts, turn.campaign.contact)
        text = texts("relay.no_organisers")
        return [turn.screens.with_menu(member, f"{text}\n\n{card}" if card else text)]
    assert member.id is not None  # buttons.decode: only members who consented get here
    allowance = turn.campaign.limits.relays
    until = turn.uow.limits.take(member.id, RELAYS, turn.now, allowance.count, allowance.per)
    if until is not None:
        # The question stays, so pressing again once the time has come sends it.
        when = texts.format_datetime(until, turn.campaign.timezone)
        return [turn.screens.with_menu(member, texts("limits.relays", when=when))]
    relay = turn.uow.relays.open(member, question, turn.now)
    payload = {
        "kind": RELAY_QUESTION,
        "name": member.display_name,
        "channel": member.channel,
        "question": question,
        "answered": member.last_answer,
    }
    for organiser in organisers:
        turn.uow.outbox.enqueue(
            RELAY_QUESTION,
            f"relay:{relay.id}",
            organiser,
            payload,
            turn.now,
            about=About(relay_id=relay.id),
        )
    member.last_question = member.last_answer = None  # pressing twice sends it once
    return [turn.screens.with_menu(member, texts("relay.sent"))]


def start_reply(turn: Turn, relay_id: str) -> list[Outgoing]:
    """An organiser pressed 返事を書く: their next message is the answer."""
    relay = turn.uow.relays.get(number(relay_id))
    if relay is None:
        return [turn.screens.with_menu(turn.member, turn.texts("relay.not_found"))]
    turn.start_dialog(DIALOG, relay_id=relay.id)
    return [Outgoing(turn.texts("relay.write_reply", id=relay.id))]


def cancel(turn: Turn) -> list[Outgoing]:
    turn.end_dialog()
    return [turn.screens.with_menu(turn.member, turn.texts("relay.cancelled"))]


def write_reply(turn: Turn, text: str) -> list[Outgoing]:
    """The organiser's answer goes to the member who asked, in the member's language."""
    organiser, texts = turn.member, turn.texts
    assert turn.dialog is not None
    relay = turn.uow.relays.get(int(turn.dialog.data["relay_id"]))
    turn.end_dialog()
    if relay is None:
        return [turn.screens.with_menu(organiser, texts("relay.not_found"))]
    asker = turn.uow.members.get_by_id(relay.member_id)
    if asker is None:
        return [turn.screens.with_menu(organiser, texts("relay.not_found"))]
    answered_before = relay.answer is not None
    turn.uow.relays.answer(relay.id, organiser, text, turn.now)
    reference = f"relay:{relay.id}:{organiser.id}:{int(turn.now.timestamp())}"
    payload = {"kind": RELAY_ANSWER, "question": relay.question, "answer": text}
    turn.uow.outbox.enqueue(
        RELAY_ANSWER, reference, asker, payload, turn.now, about=About(relay_id=relay.id)
    )
    reply = texts("relay.answered", id=relay.id)
    if answered_before:
        reply = f"{reply}\n{texts('relay.answered_before')}"
    return [turn.screens.with_menu(organiser, reply)]
